"""Where the time of a training step goes, on the demo data (or --data_dir).

Prints:
- the reader's throughput (samples/s: parsing is done once at start, so this is building the batch
  graphs, reader.make_batch) over the training split, with DataLoader workers and without;
- the training loop of train.py (samples/s), at the recipe's batch of 100;
- the pure model step (forward, backward, Adam with L2) on the same batches already in memory;
- the two goals: reader >= 2x the loop, and loop overhead over the pure step <= 10%.
Each figure is the best of --repeats runs.

    python benchmark.py --batch_size 100 --steps 100
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
import train
from models import build_model

WARMUP_STEPS = 10


def reader_samples_per_second(samples, indices, batch_size, num_workers):
    batches = reader.train_batches(indices, batch_size, seed=0, epoch=0)
    start, count = time.perf_counter(), 0
    for batch in reader.make_loader(samples, batches, num_workers):
        count += batch[6].shape[0]
    return count / (time.perf_counter() - start)


def loop_seconds_per_step(args):
    """train.py itself; the mean batch_cost of the logged intervals after the warm-up."""
    out = tempfile.mkdtemp(prefix="srgnn_bench_")
    with paddle.utils.unique_name.guard():
        train.main(["--data_dir", args.data_dir, "--output_dir", out, "--batch_size", str(args.batch_size),
                    "--max_steps", str(WARMUP_STEPS + args.steps), "--log_interval", str(WARMUP_STEPS),
                    "--num_workers", str(args.num_workers), "--eval_interval", "0", "--epochs", "100"])
    with open(os.path.join(out, "srgnn", "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][1:]
    return float(np.mean([r["batch_cost"] for r in records])), float(np.mean([r["reader_cost"] for r in records]))


def pure_seconds_per_step(args, samples, indices):
    """The same model, optimizer and batches as train.py, the batches built in memory first."""
    paddle.seed(42)
    batches = reader.train_batches(indices, args.batch_size, seed=42, epoch=0)[:WARMUP_STEPS + args.steps]
    batches = [[paddle.to_tensor(a) for a in reader.make_batch(samples, b)[:7]] for b in batches]
    model = build_model("srgnn", samples.items_num)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters(),
                                      weight_decay=paddle.regularizer.L2Decay(1e-5))
    for i, batch in enumerate(batches):
        if i == WARMUP_STEPS:
            loss.item()
            start = time.perf_counter()
        loss = F.cross_entropy(model(*batch[:6]), batch[6] - 1)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    loss.item()
    return (time.perf_counter() - start) / (len(batches) - WARMUP_STEPS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--batch_size", type=int, default=100, help="samples per step")
    parser.add_argument("--steps", type=int, default=100, help="timed steps (after a warm-up of 10)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (demo data is made if missing)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "train.txt")):
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "make_demo_data.py"), "--out_dir", args.data_dir], check=True)
        subprocess.run([sys.executable, os.path.join(here, "preprocess.py"),
                        os.path.join(args.data_dir, "train-item-views.csv"), "--out_dir", args.data_dir], check=True)
    items_num = reader.read_config(args.data_dir)
    samples, indices, _, _ = reader.load_train_dev(args.data_dir, items_num)

    # Alternated and repeated, keeping the best of each: on a shared machine a single run can
    # catch another job's burst, which would be read as overhead (or as its absence).
    read_workers = max(reader_samples_per_second(samples, indices, args.batch_size, args.num_workers)
                       for _ in range(args.repeats))
    read_inline = max(reader_samples_per_second(samples, indices, args.batch_size, 0) for _ in range(args.repeats))
    pures, loops = [], []
    for _ in range(args.repeats):
        pures.append(pure_seconds_per_step(args, samples, indices))
        loops.append(loop_seconds_per_step(args))
    pure = min(pures)
    loop, reader_cost = min(loops)
    loop_rate = args.batch_size / loop
    print(f"\nsrgnn, batch {args.batch_size}, {items_num} item rows, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load {os.getloadavg()[0]:.1f}")
    print(f"reader, {args.num_workers} workers:          {read_workers:9.0f} samples/s")
    print(f"reader, in the main process:  {read_inline:9.0f} samples/s")
    print(f"pure training step:           {args.batch_size / pure:9.0f} samples/s  ({pure * 1000:.1f} ms/step)")
    print(f"training loop (train.py):     {loop_rate:9.0f} samples/s  ({loop * 1000:.1f} ms/step, "
          f"reader_cost {reader_cost * 1000:.2f} ms/step)")
    print(f"reader / loop:                {read_workers / loop_rate:9.1f}x  (goal >= 2)")
    print(f"loop overhead over pure step: {loop / pure - 1:9.1%}  (goal <= 10%)")


if __name__ == "__main__":
    utils.run_main(main)
