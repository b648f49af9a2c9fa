"""Training speed in questions/s: the whole training loop (DataLoader, collate, logging) against the
pure step (forward, backward, optimizer on batches already in memory) over the same batches (the
loop should add at most ~10%), then the exported model's latency per batch in Paddle Inference.

    python benchmark.py --data_dir data/demo --steps 40
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
from export import export
from models import build_model
from train import train_one_epoch, train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="dataset root, in the DuReader layout")
    parser.add_argument("--batch_size", type=int, default=32, help="questions per step")
    parser.add_argument("--embed_size", type=int, default=64, help="embedding size (the demo's)")
    parser.add_argument("--hidden_size", type=int, default=64, help="LSTM hidden size (the demo's)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=4, help="the steps are timed in this many alternating rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--latency_batches", type=int, default=20, help="batches timed through the export")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    args = parser.parse_args(argv)
    args.device, args.no_shared_memory = "cpu", False
    utils.setup(args)
    cfg = {"max_p_num": reader.MAX_P_NUM, "max_p_len": reader.MAX_P_LEN, "max_q_len": reader.MAX_Q_LEN}
    samples = reader.load_split(args.data_dir, "train", cfg)
    vocab = reader.Vocab.build(samples, 2)
    dataset = reader.SampleDataset(samples, vocab)
    sampler = reader.BatchSampler(len(dataset), args.batch_size, seed=args.seed)
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=reader.collate)
    batches = list(sampler)
    total = args.warmup + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{reader.split_files(args.data_dir, 'train')[0]}:0: {len(batches)} batches, "
                              f"need {total}; lower --steps")
    print(f"bidaf embed {args.embed_size} hidden {args.hidden_size}, batch {args.batch_size}, "
          f"{utils.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}", flush=True)
    model = build_model("bidaf", len(vocab), args.embed_size, args.hidden_size)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in b])] for b in batches[:total]]
    for batch in in_memory[:args.warmup]:
        train_step(model, optimizer, batch)

    def pure_step(first, count):
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(model, optimizer, batch)
        loss.item()
        return time.perf_counter() - start

    def training_loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, 10)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, logger, 0, count, 0, argparse.Namespace(epochs=1))
        return time.perf_counter() - start

    size = args.steps // args.rounds
    pure, loop = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):  # alternating rounds: a busy machine slows both alike
            first = args.warmup + r * size
            questions = sum(len(b) for b in batches[first:first + size])
            pure.append(questions / pure_step(first, size))
            loop.append(questions / training_loop(first, size, out_dir))
        pure, loop = float(np.median(pure)), float(np.median(loop))
        print(f"pure step:     {pure:8.1f} questions/s")
        print(f"training loop: {loop:8.1f} questions/s")
        print(f"the loop adds {100 * (pure / loop - 1):+.1f}% time over the pure step "
              f"(median of {args.rounds} rounds of {size} steps)")

        predictor = utils.create_predictor(export(model, os.path.join(out_dir, "inference", "model")))
        arrays = [reader.collate([dataset[i] for i in b])[:4] for b in batches[:args.latency_batches]]
        predictor(list(arrays[0]))
        times = []
        for a in arrays:
            start = time.perf_counter()
            predictor(list(a))
            times.append(time.perf_counter() - start)
        print(f"exported model: {1000 * np.median(times):.1f} ms per batch of {args.batch_size} questions "
              f"(median of {len(times)}, Paddle Inference, oneDNN)")


if __name__ == "__main__":
    utils.run_main(main)
