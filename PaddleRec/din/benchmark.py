"""Where the time of a training step goes, on the demo data (or --data_dir).

Prints:
- the reader's throughput (lines/s) over a whole epoch, with its DataLoader workers and without;
- the training loop of train.py (samples/s), at the recipe's batch of 32;
- the pure model step (forward, backward, SGD with clipping) on the same batches already in memory;
- the two goals: reader >= 2x the loop, and loop overhead over the pure step <= 10%.
Each figure is the best of --repeats runs.

    python benchmark.py --model din --batch_size 32 --steps 200
"""
import argparse
import json
import os
import tempfile
import time

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
import train
from make_demo_data import make_demo_data
from models import build_model

WARMUP_STEPS = 20


def reader_lines_per_second(data_dir, batch_size, num_workers):
    _, item_count, cat_count = reader.read_config(data_dir)
    files, part = reader.split_source(data_dir, "train")
    stream = reader.DinStream(files, item_count, cat_count, batch_size, part=part,
                              shuffle=True, num_shards=max(1, num_workers))
    start, lines = time.perf_counter(), 0
    for batch in reader.make_loader(stream, num_workers):
        lines += batch[0].shape[0]
    return lines / (time.perf_counter() - start)


def loop_seconds_per_step(args):
    """train.py itself; the mean batch_cost of the logged intervals after the warm-up."""
    out = tempfile.mkdtemp(prefix="din_bench_")
    train.main(["--model", args.model, "--data_dir", args.data_dir, "--output_dir", out,
                "--batch_size", str(args.batch_size), "--max_steps", str(WARMUP_STEPS + args.steps),
                "--log_interval", str(WARMUP_STEPS), "--num_workers", str(args.num_workers), "--eval_interval", "0"])
    with open(os.path.join(out, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][1:]
    return float(np.mean([r["batch_cost"] for r in records])), float(np.mean([r["reader_cost"] for r in records]))


def pure_seconds_per_step(args):
    """The same model, optimizer and batches as train.py (same seed, same reader workers, same order),
    the batches loaded into memory first."""
    paddle.seed(42)
    _, item_count, cat_count = reader.read_config(args.data_dir)
    files, part = reader.split_source(args.data_dir, "train")
    stream = reader.DinStream(files, item_count, cat_count, args.batch_size, part=part,
                              shuffle=True, seed=42, num_shards=max(1, args.num_workers))
    batches = []
    for batch in reader.make_loader(stream, args.num_workers):
        batches.append([t.clone() for t in batch[:6]])
        if len(batches) == WARMUP_STEPS + args.steps:
            break
    model = build_model(args.model, item_count, cat_count)
    scheduler = paddle.optimizer.lr.PiecewiseDecay([410000], [0.85, 0.2])  # as train.py builds it
    optimizer = paddle.optimizer.SGD(scheduler, parameters=model.parameters(),
                                     grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    for i, batch in enumerate(batches):
        if i == WARMUP_STEPS:
            loss.item()
            start = time.perf_counter()
        loss = F.binary_cross_entropy_with_logits(model(*batch[:5]), batch[5])
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        scheduler.step()
    loss.item()
    return (time.perf_counter() - start) / args.steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="din", help="model to time")
    parser.add_argument("--batch_size", type=int, default=32, help="samples per step")
    parser.add_argument("--steps", type=int, default=200, help="timed steps (after a warm-up of 20)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (demo data is made if missing)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "paddle_train.txt")):
        make_demo_data(args.data_dir)

    # Alternated and repeated, keeping the best of each: on a shared machine a single run can
    # catch another job's burst, which would be read as overhead (or as its absence).
    read_workers = max(reader_lines_per_second(args.data_dir, args.batch_size, args.num_workers)
                       for _ in range(args.repeats))
    read_inline = max(reader_lines_per_second(args.data_dir, args.batch_size, 0) for _ in range(args.repeats))
    pures, loops = [], []
    for _ in range(args.repeats):
        pures.append(pure_seconds_per_step(args))
        loops.append(loop_seconds_per_step(args))
    pure = min(pures)
    loop, reader_cost = min(loops)
    loop_rate = args.batch_size / loop
    print(f"\n{args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}")
    print(f"reader, {args.num_workers} workers:          {read_workers:9.0f} lines/s")
    print(f"reader, in the main process:  {read_inline:9.0f} lines/s")
    print(f"pure training step:           {args.batch_size / pure:9.0f} samples/s  ({pure * 1000:.1f} ms/step)")
    print(f"training loop (train.py):     {loop_rate:9.0f} samples/s  ({loop * 1000:.1f} ms/step, "
          f"reader_cost {reader_cost * 1000:.2f} ms/step)")
    print(f"reader / loop:                {read_workers / loop_rate:9.1f}x  (goal >= 2)")
    print(f"loop overhead over pure step: {loop / pure - 1:9.1%}  (goal <= 10%)")


if __name__ == "__main__":
    utils.run_main(main)
