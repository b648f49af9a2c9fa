"""Where the time of a training step goes, on the demo data (or --data_dir), and what the sparse
embedding gradient saves.

Prints:
- the reader's throughput (samples/s) over a whole epoch, with two DataLoader workers and without;
- the training loop of train.py (samples/s), at the recipe's batch of 50;
- the pure model step (forward, backward, Adagrad) on the same batches already in memory;
- the pure step with sparse and with dense table gradients, at the data's vocabulary and at the
  RSC15 vocabulary (37,483 items), where a dense Adagrad step updates the whole table;
- the goals: reader >= 2x the loop, and loop overhead over the pure step <= 10%.
Step times are medians over the timed steps; each figure is the best of --repeats runs.

    python benchmark.py --steps 200
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import utils
import paddle

import reader
import train
from models import build_model
from models.ssr import hinge_loss

WARMUP_STEPS = 20
RSC15_VOCAB = 37483


def reader_samples_per_second(samples, vocab, batch_size, num_workers):
    batches = reader.SessionBatches(samples, batch_size, vocab, shuffle=True)
    start, count = time.perf_counter(), 0
    for batch in reader.make_loader(batches, num_workers):
        count += batch[0].shape[0]
    return count / (time.perf_counter() - start)


def run_train(args, steps, log_interval):
    """train.py itself for `steps` steps; returns its metrics.jsonl records and the CPU time it took."""
    out = tempfile.mkdtemp(prefix="ssr_bench_")
    cpu = time.process_time()
    with paddle.utils.unique_name.guard():
        train.main(["--data_dir", args.data_dir, "--output_dir", out, "--batch_size", str(args.batch_size),
                    "--max_steps", str(steps), "--log_interval", str(log_interval),
                    "--num_workers", str(args.num_workers), "--eval_interval", "0"])
    cpu = time.process_time() - cpu
    with open(os.path.join(out, "ssr", "metrics.jsonl")) as f:
        return [r for r in map(json.loads, f) if "loss" in r], cpu


def loop_seconds_per_step(args):
    """train.py: the median wall batch_cost and reader_cost of its steps after the warm-up (logged
    every step), and its CPU time per step: the difference between a run of warm-up + steps and a run
    of the warm-up alone (start-up, data loading and the final evaluation cancel out)."""
    records, cpu_long = run_train(args, WARMUP_STEPS + args.steps, 1)
    _, cpu_short = run_train(args, WARMUP_STEPS, 1)
    records = records[WARMUP_STEPS:]
    return (statistics.median(r["batch_cost"] for r in records),
            statistics.median(r["reader_cost"] for r in records), (cpu_long - cpu_short) / args.steps)


def pure_seconds_per_step(batches, vocab, sparse, steps):
    """The model, optimizer and batches of train.py, the batches already in memory as tensors; the
    median time of a step after the warm-up (a median: another job's burst does not count)."""
    paddle.seed(42)
    model = build_model("ssr", vocab, sparse=sparse)
    optimizer = paddle.optimizer.Adagrad(0.01, parameters=model.parameters())
    times, cpu = [], 0.0
    for i, batch in enumerate(batches[:WARMUP_STEPS + steps]):
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = hinge_loss(*model(*batch))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        loss.item()
        times.append(time.perf_counter() - start)
        cpu += (time.process_time() - start_cpu) if i >= WARMUP_STEPS else 0.0
    return statistics.median(times[WARMUP_STEPS:]), cpu / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--batch_size", type=int, default=50, help="samples per step")
    parser.add_argument("--steps", type=int, default=200, help="timed steps (after a warm-up of 20)")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers of the loop (train.py's default: 0)")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (demo data is made if missing)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "vocab.txt")):
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, "make_demo_data.py", "--out_dir", args.data_dir], cwd=here, check=True)
        subprocess.run([sys.executable, "convert_rsc15.py", os.path.join(args.data_dir, "yoochoose-clicks.dat"),
                        args.data_dir], cwd=here, check=True)
    vocab = reader.read_vocab(args.data_dir)
    samples = reader.load_split(args.data_dir, "train", vocab)

    # Alternated and repeated, keeping the best of each: on a shared machine a single run can
    # catch another job's burst, which would be read as overhead (or as its absence).
    read_workers = max(reader_samples_per_second(samples, vocab, args.batch_size, 2) for _ in range(args.repeats))
    read_inline = max(reader_samples_per_second(samples, vocab, args.batch_size, 0) for _ in range(args.repeats))
    source = reader.SessionBatches(samples, args.batch_size, vocab, shuffle=True, seed=42)
    batches = [[paddle.to_tensor(a) for a in source[k][:4]] for k in range(min(len(source), WARMUP_STEPS + args.steps))]
    steps = len(batches) - WARMUP_STEPS
    timings = {}
    for _ in range(args.repeats):
        for name, v, sparse in (("sparse", vocab, True), ("dense", vocab, False),
                                ("sparse_rsc15", RSC15_VOCAB, True), ("dense_rsc15", RSC15_VOCAB, False)):
            timings.setdefault(name, []).append(pure_seconds_per_step(batches, v, sparse, steps))
        timings.setdefault("loop", []).append(loop_seconds_per_step(args))
    best = {k: min(v) for k, v in timings.items()}  # (wall median, CPU) pairs: the run with the best wall time
    pure, pure_cpu = best["sparse"]
    loop, reader_cost, loop_cpu = best["loop"]
    loop_rate = args.batch_size / loop
    print(f"\nssr, batch {args.batch_size}, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load {os.getloadavg()[0]:.1f}")
    print(f"reader, 2 workers (whole epoch, incl. start-up): {read_workers:9.0f} samples/s")
    print(f"reader, in the main process:   {read_inline:9.0f} samples/s")
    print(f"pure training step (sparse):   {args.batch_size / pure:9.0f} samples/s  ({pure * 1000:.1f} ms/step; "
          f"CPU {pure_cpu * 1000:.1f} ms/step)")
    print(f"training loop (train.py):      {loop_rate:9.0f} samples/s  ({loop * 1000:.1f} ms/step, "
          f"reader_cost {reader_cost * 1000:.2f} ms/step; CPU {loop_cpu * 1000:.1f} ms/step)")
    used = read_inline if args.num_workers == 0 else read_workers
    print(f"reader / loop:                 {used / loop_rate:9.1f}x  (goal >= 2; the reader the loop used)")
    print(f"loop overhead over pure step:  {loop / pure - 1:9.1%}  wall, {loop_cpu / pure_cpu - 1:.1%} CPU time  (goal <= 10%)")
    for label, v, s, d in (("demo", vocab, "sparse", "dense"), ("RSC15", RSC15_VOCAB, "sparse_rsc15", "dense_rsc15")):
        print(f"{label} vocabulary ({v} items): sparse {best[s][0] * 1000:.1f} ms/step (CPU {best[s][1] * 1000:.1f}), "
              f"dense {best[d][0] * 1000:.1f} ms/step (CPU {best[d][1] * 1000:.1f}): dense/sparse "
              f"{best[d][0] / best[s][0]:.2f}x wall, {best[d][1] / best[s][1]:.2f}x CPU")


if __name__ == "__main__":
    utils.run_main(main)
