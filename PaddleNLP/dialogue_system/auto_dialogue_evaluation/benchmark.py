"""Training speed in pairs/s: the whole training loop (DataLoader, bucketing, collate, logging) against
the pure step (forward, backward, optimizer on batches already in memory), over the same batches (the
loop should add at most ~10%), and the exported model's latency per batch in Paddle Inference.

    python benchmark.py --model match --steps 100
"""
import argparse
import contextlib
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import export
import reader
from models import MODELS, build_model, is_match
from train import train_loader, train_one_epoch, train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="match", choices=sorted(MODELS), help="stage (loss and data)")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root")
    parser.add_argument("--batch_size", type=int, default=64, help="pairs per step")
    parser.add_argument("--emb_size", type=int, default=64, help="embedding size")
    parser.add_argument("--hidden_size", type=int, default=64, help="LSTM hidden size")
    parser.add_argument("--steps", type=int, default=100, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=5, help="the steps are timed in this many rounds")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--latency_runs", type=int, default=50, help="timed runs of the exported model")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers of the loop")
    args = parser.parse_args(argv)
    args.device, args.amp, args.epochs, args.seed, args.no_shared_memory = "cpu", "off", 1, 42, False
    args.max_seq_len, args.sample_pro, args.log_interval = reader.MAX_SEQ_LEN, 1.0, 50
    utils.setup(args)
    print(f"{args.model}, batch {args.batch_size}, emb/hidden {args.emb_size}/{args.hidden_size}, "
          f"{utils.cpu_count()} CPU cores", flush=True)

    vocab_size = reader.load_vocab(args.data_dir).size
    train_set = reader.load_split(args.data_dir, args.model, "train", vocab_size, args.max_seq_len)
    sampler, loader = train_loader(args, train_set)
    sampler.set_epoch(0)
    batches = list(sampler)
    total = args.warmup + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{reader.split_path(args.data_dir, args.model, 'train')}:0: {len(batches)} batches, "
                              f"need {total}; lower --steps")
    match = is_match(args.model)
    model = build_model(args.model, vocab_size, args.emb_size, args.hidden_size)
    optimizer = paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByValue(1.0))
    scaler = paddle.amp.GradScaler(enable=False)
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([train_set[i] for i in b])] for b in batches[:total]]
    for batch in in_memory[:args.warmup]:
        train_step(model, optimizer, scaler, batch, match, False, "O1")

    def pure_step(first, count):
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(model, optimizer, scaler, batch, match, False, "O1")
        loss.item()
        return time.perf_counter() - start

    def training_loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, args.log_interval)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scaler, logger, 0, count, 0,
                            argparse.Namespace(epochs=1, amp="off", model=args.model), False)
        return time.perf_counter() - start

    size = args.steps // args.rounds
    pure, loop = [], []
    with tempfile.TemporaryDirectory() as out_dir:  # rounds alternate, so a busy machine slows both alike
        for r in range(args.rounds):
            first = args.warmup + r * size
            pairs = sum(len(b) for b in batches[first:first + size])
            pure.append(pairs / pure_step(first, size))
            loop.append(pairs / training_loop(first, size, out_dir))
        pure, loop = float(np.median(pure)), float(np.median(loop))
        print(f"pure step:     {pure:9.0f} pairs/s")
        print(f"training loop: {loop:9.0f} pairs/s")
        print(f"the loop adds {100 * (pure / loop - 1):+.1f}% time over the pure step "
              f"(median of {args.rounds} rounds of {size} steps)")

        predictor = utils.create_predictor(export.export(model, match, os.path.join(out_dir, "inference", "model")))
        arrays = list(reader.collate([train_set[i] for i in batches[0]])[:4])
        predictor(arrays)
        start = time.perf_counter()
        for _ in range(args.latency_runs):
            predictor(arrays)
        latency = (time.perf_counter() - start) / args.latency_runs
        print(f"exported model: {1000 * latency:.2f} ms per batch of {len(arrays[0])} "
              f"({len(arrays[0]) / latency:.0f} pairs/s, Paddle Inference, oneDNN)")


if __name__ == "__main__":
    utils.run_main(main)
