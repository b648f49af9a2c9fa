"""Training speed in tokens/s (real words, padding not counted): the whole training loop (DataLoader,
bucketing, collate, logging) against the pure step (forward, backward, optimizer on batches already
in memory), over the same batches. The loop should add at most ~10% over the pure step.

    python benchmark.py --model textcnn --steps 200
"""
import argparse
import contextlib
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import reader
from models import MODELS, build_model
from train import train_loader, train_one_epoch, train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="textcnn", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=10, help="the steps are timed in this many rounds")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--log_interval", type=int, default=50)
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    args.device, args.amp, args.epochs, args.max_seq_len, args.no_shared_memory = "cpu", "off", 1, 128, False
    utils.setup(args)
    print(f"{args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores", flush=True)

    vocab = reader.load_vocab(args.data_dir)
    train_set = reader.load_split(args.data_dir, "train", vocab, args.max_seq_len)
    sampler, loader = train_loader(args, train_set, vocab.pad_id)
    sampler.set_epoch(0)
    batches = list(sampler)
    total = args.warmup + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{args.data_dir}/train.tsv:0: {len(batches)} batches, need {total}; lower --steps")
    model = build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id)
    optimizer = paddle.optimizer.Adagrad(learning_rate=0.02, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([train_set[i] for i in b], vocab.pad_id)]
                 for b in batches[:total]]
    for batch in in_memory[:args.warmup]:
        train_step(model, optimizer, scaler, batch, False, "O1")

    def pure_step(first, count):
        """Seconds for the pure step over batches [first, first + count), already tensors."""
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(model, optimizer, scaler, batch, False, "O1")
        loss.item()  # wait for the last step
        return time.perf_counter() - start

    def training_loop(first, count, out_dir):
        """Seconds for train.py's loop (DataLoader, collate, logging) over the same batches."""
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, args.log_interval)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scaler, logger, 0, count, 0,
                            argparse.Namespace(epochs=1, amp="off"), False)
        return time.perf_counter() - start

    # Rounds alternate the two, so that a busy machine slows both alike; the medians are reported.
    size = args.steps // args.rounds
    pure, loop, tokens = [], [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):
            first = args.warmup + r * size
            tokens.append(int(sum(train_set.lengths[b].sum() for b in batches[first:first + size])))
            pure.append(tokens[-1] / pure_step(first, size))
            loop.append(tokens[-1] / training_loop(first, size, out_dir))
    pure, loop = float(np.median(pure)), float(np.median(loop))
    words = sum(tokens) / (size * args.rounds * args.batch_size)
    print(f"pure step:     {pure:9.0f} tokens/s")
    print(f"training loop: {loop:9.0f} tokens/s")
    print(f"the loop adds {100 * (pure / loop - 1):+.1f}% time over the pure step "
          f"(median of {args.rounds} rounds of {size} steps; {words:.1f} words per text)")


if __name__ == "__main__":
    utils.run_main(main)
