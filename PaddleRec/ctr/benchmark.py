"""How close the training loop runs to the pure model step, and how fast the data paths are.

For a model at its recipe's batch size and optimizer, on the demo data, prints:
- the training loop's throughput: train.py itself (binary cache, batches, step, logging), samples/s;
- the pure training step: the same model, loss and optimizer on the same batches, already tensors
  in memory (nothing but train.train_step), samples/s;
- their ratio (the goal: loop >= 0.9 of the pure step), two ways: loop and pure-step rounds that
  alternate, and, inside the loop itself, the share of its time spent in the model step
  (train.train_step timed in place: the same batches, and the machine's load hits both alike);
- how fast the cache is built (lines/s, parsed once) and read (lines/s, slices to tensors), and
  the text stream through DataLoader workers (lines/s, parsed on every epoch; --no_cache).
The loop and the pure step are timed alternately, --rounds times each, each loop round against the
pure round right after it; the machine's load average is printed with them (on a loaded machine the
figures move with the other jobs, and the text stream's DataLoader workers get their own share of
the cores, which flatters --no_cache).

    python benchmark.py                          # DeepFM, batch 100 (its recipe), SGD
    python benchmark.py --model xdeepfm --rounds 5
"""
import argparse
import json
import os
import tempfile
import time

import utils  # first: it silences Paddle's import-time warnings
import numpy as np
import paddle

import reader
import train
from eval import split_batches
from make_demo_data import make_demo_data
from models import DEFAULT_MODEL, MODELS


def bench_data(data_dir, out_dir):
    """The demo's train/ with a small valid/: the loop's final evaluation is not what is timed."""
    root = os.path.join(out_dir, "data")
    os.makedirs(os.path.join(root, "valid"))
    os.symlink(os.path.abspath(os.path.join(data_dir, "train")), os.path.join(root, "train"))
    with open(os.path.join(data_dir, "valid", "part-00000")) as f, \
            open(os.path.join(root, "valid", "part-00000"), "w") as out:
        out.writelines(line for _, line in zip(range(1000), f))
    return root


def loop_figures(args, out_dir):
    """train.py on the demo data: its samples/s (the median of its log intervals after the first),
    and the share of its time, over those intervals, spent in train.train_step (timed inside the
    loop, so the load of the machine hits the step and the rest of the loop alike)."""
    step_seconds, real_step = [], train.train_step

    def timed_step(*a, **k):
        start = time.perf_counter()
        loss = real_step(*a, **k)
        step_seconds.append(time.perf_counter() - start)
        return loss

    train.train_step = timed_step
    try:
        with paddle.utils.unique_name.guard():
            train.main(["--model", args.model, "--data_dir", args.bench_dir, "--output_dir", out_dir, "--max_steps",
                        str(args.steps), "--log_interval", str(args.steps // 10), "--eval_interval", "0", "--overwrite",
                        "--epochs", "1", "--cache_dir", args.cache_dir] + (["--no_cache"] if args.no_cache else []))
    finally:
        train.train_step = real_step
    with open(os.path.join(out_dir, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "ips" in r]
    first = records[0]["step"]
    loop_seconds = sum(r["batch_cost"] * (r["step"] - q["step"]) for q, r in zip(records, records[1:]))
    return float(np.median([r["ips"] for r in records[1:]])), sum(step_seconds[first:]) / loop_seconds


def pure_step_samples_per_second(args, train_args, vocab, batches, warmup=10):
    """The same model, loss and optimizer as train.py, on the loop's first batches, already tensors."""
    paddle.seed(0)
    with paddle.utils.unique_name.guard():
        model = train.build_model(args.model, vocab.sizes)
        optimizer, _ = train.build_optimizer(train_args, model)
    scaler = paddle.amp.GradScaler(enable=False)
    for i in range(warmup + args.steps):
        if i == warmup:
            loss.item()
            start = time.perf_counter()
        loss = train.train_step(model, optimizer, scaler, False, train_args, batches[i % len(batches)])
    loss.item()
    return args.steps * train_args.batch_size / (time.perf_counter() - start)


def lines_per_second(batches, limit):
    """Lines/s through a split's batches (after the first, once workers have started)."""
    lines, start = 0, None
    for i, batch in enumerate(batches):
        if i == 0:
            start = time.perf_counter()
            continue
        lines += batch[0].shape[0]
        if i == limit:
            break
    return lines / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=MODELS, help="the model to time, at its recipe")
    parser.add_argument("--steps", type=int, default=200, help="training steps to time per round")
    parser.add_argument("--rounds", type=int, default=5, help="the loop and the pure step are timed this many times each")
    parser.add_argument("--data_dir", default="data/demo", help="written by make_demo_data.py if missing")
    parser.add_argument("--cache_dir", default=None, help="default: a fresh temporary directory (the build is timed)")
    parser.add_argument("--no_cache", action="store_true", help="time the loop on the streamed text instead")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.data_dir, "test.txt")):
        make_demo_data(args.data_dir)
    out_dir = tempfile.mkdtemp(prefix="bench_")
    args.cache_dir = args.cache_dir or os.path.join(out_dir, "cache")
    args.bench_dir = bench_data(args.data_dir, out_dir)
    train_args = train.get_args(["--model", args.model, "--data_dir", args.bench_dir, "--output_dir", out_dir,
                                 "--cache_dir", args.cache_dir])
    utils.setup(train_args)

    # the data paths: vocabulary, cache build, cache read, text stream
    files = reader.list_data_files(os.path.join(args.bench_dir, "train"))
    vocab = reader.FeatureVocab.build(files, train_args.min_freq)
    os.makedirs(os.path.join(out_dir, args.model), exist_ok=True)
    vocab.save(os.path.join(out_dir, args.model, "vocab.json"))  # what train.py would count
    encoder = reader.Encoder(vocab, train_args.dense_scaling)
    start = time.perf_counter()
    cached = split_batches(train_args, encoder, "train")
    build = cached.lines / (time.perf_counter() - start)
    read = lines_per_second(cached.batches(train_args.batch_size), 2000)
    train_args.no_cache = True
    streamed = lines_per_second(split_batches(train_args, encoder, "train").batches(train_args.batch_size), 1000)
    train_args.no_cache = False
    batches = list(b for _, b in zip(range(args.steps), cached.batches(train_args.batch_size)))

    loops, shares, pures, loads = [], [], [], []
    for _ in range(args.rounds):  # alternate, so that a change in the machine's load hits both
        loads.append(os.getloadavg()[0])
        loop, share = loop_figures(args, out_dir)
        loops.append(loop)
        shares.append(share)
        pures.append(pure_step_samples_per_second(args, train_args, vocab, batches))
    loads.append(os.getloadavg()[0])
    ratios = [a / b for a, b in zip(loops, pures)]  # each loop round against the pure round right after it
    print(f"\n{args.model}, batch {train_args.batch_size}, {train_args.optimizer} (its recipe), {utils.cpu_count()} CPU "
          f"cores, MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load average "
          f"{min(loads):.1f}-{max(loads):.1f} during the rounds")
    print(f"binary cache build (parse once):     {build:10.0f} lines/s")
    print(f"binary cache read (slices, tensors): {read:10.0f} lines/s")
    print(f"text stream (DataLoader workers):    {streamed:10.0f} lines/s")
    label = "training loop (train.py, --no_cache):" if args.no_cache else "training loop (train.py):"
    print(f"{label:37s}{np.median(loops):10.0f} samples/s  (rounds: {', '.join(f'{v:.0f}' for v in loops)})")
    print(f"{'pure step (tensors in memory):':37s}{np.median(pures):10.0f} samples/s  (rounds: "
          f"{', '.join(f'{v:.0f}' for v in pures)})")
    print(f"{'loop / pure step, alternate rounds:':37s}{np.median(ratios):10.2f}  (goal >= 0.90; the median of the "
          f"rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"{'loop / pure step, inside the loop:':37s}{np.median(shares):10.2f}  (goal >= 0.90; the step's share of "
          f"the loop's time, rounds: {', '.join(f'{r:.2f}' for r in shares)})", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
