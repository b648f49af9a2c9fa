"""Whether the reader keeps up and how close the training loop runs to the pure model step.

Prints, for the folder's model at the recipe's batch size and optimizer, on the demo data:
- the reader's throughput: lines/s through the DataLoader with its workers, nothing else running;
- the training loop's throughput: train.py itself (reader, DataLoader, step, logging), samples/s;
- the pure training step on batches already in memory as tensors, samples/s;
- the goals: reader >= 2x the loop (the reader is never the bottleneck), loop >= 0.9x the pure step.
The loop and the pure step are timed alternately, --rounds times each, and their medians compared.

    python benchmark.py                      # recipe batch, 2 reader workers
    python benchmark.py --batch_size 1000 --num_workers 1
"""
import argparse
import json
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import reader
import train
from make_demo_data import make_demo_data
from models import DEFAULT_MODEL, RECIPE, build_model


def loop_samples_per_second(args, out_dir):
    """train.py on the demo data; the median throughput of its log intervals after the first."""
    log = os.path.join(out_dir, args.model, "metrics.jsonl")
    if os.path.exists(log):
        os.remove(log)
    with paddle.utils.unique_name.guard():
        train.main(["--model", args.model, "--data_dir", args.data_dir, "--output_dir", out_dir, "--batch_size",
                    str(args.batch_size), "--max_steps", str(args.steps), "--log_interval", str(args.steps // 10),
                    "--num_workers", str(args.num_workers), "--eval_interval", "0", "--epochs", "1"])
    with open(log) as f:
        records = [r for r in map(json.loads, f) if "ips" in r][1:]
    return float(np.median([r["ips"] for r in records]))


def reader_lines_per_second(args, encoder, files, line_counts, batches):
    plan = reader.StreamPlan(files, args.batch_size, 1, args.num_workers, line_counts)
    loader = reader.make_loader(reader.CriteoStream(plan, encoder), args.num_workers)
    lines, start = 0, None
    for i, (batch, _) in enumerate(loader):
        if i == 0:  # the workers have started
            start = time.perf_counter()
            continue
        lines += batch[0].shape[0]
        if i == batches:
            break
    return lines / (time.perf_counter() - start)


def pure_step_samples_per_second(args, vocab, encoder, files, steps, warmup=10):
    """The same model, loss and optimizer as train.py, on 8 real batches already in memory."""
    cursor = reader.LineCursor(files)
    batches = [[paddle.to_tensor(a) for a in encoder.encode_batch(cursor.take(args.batch_size))[0]]
               for _ in range(8)]
    paddle.seed(0)
    model = build_model(args.model, vocab.sizes)
    optimizer, _ = train.build_optimizer(train.get_args(["--batch_size", str(args.batch_size)]), model)
    regularization = getattr(model, "regularization", None)
    for i in range(warmup + steps):
        if i == warmup:
            loss.item()
            start = time.perf_counter()
        ids, dense, label, weight = batches[i % len(batches)]
        loss = train.ctr_loss(model(ids, dense), label, weight)
        if regularization is not None:
            loss = loss + regularization()
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    loss.item()
    return steps * args.batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--batch_size", type=int, default=RECIPE["batch_size"])
    parser.add_argument("--steps", type=int, default=300, help="training steps to time")
    parser.add_argument("--rounds", type=int, default=3, help="loop and pure step are timed this many times each")
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--data_dir", default="data/demo")
    args = parser.parse_args()
    paddle.set_device("cpu")
    if not os.path.isfile(os.path.join(args.data_dir, "test.txt")):
        make_demo_data(args.data_dir)

    out_dir = tempfile.mkdtemp(prefix="bench_")
    files = reader.list_data_files(os.path.join(args.data_dir, "train"))
    loops, pures = [], []
    for _ in range(args.rounds):  # alternate, so that a change in the machine's load hits both
        loops.append(loop_samples_per_second(args, out_dir))  # the first also builds the vocabulary
        paddle.base.core.set_num_threads(len(os.sched_getaffinity(0)))  # as utils.setup did for the loop
        vocab = reader.FeatureVocab.load(os.path.join(out_dir, args.model, "vocab.json"))
        encoder = reader.Encoder(vocab, RECIPE["dense_scaling"])
        pures.append(pure_step_samples_per_second(args, vocab, encoder, files, args.steps))
    loop, pure = float(np.median(loops)), float(np.median(pures))
    lines = reader_lines_per_second(args, encoder, files, [f["lines"] for f in vocab.files], args.steps)
    print(f"\n{args.model}, batch {args.batch_size}, {train.get_args([]).optimizer} (the recipe's), "
          f"{len(os.sched_getaffinity(0))} CPU cores, {args.num_workers} reader workers, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}")
    print(f"reader (DataLoader workers):  {lines:10.0f} lines/s")
    print(f"training loop (train.py):     {loop:10.0f} samples/s  (median of {', '.join(f'{v:.0f}' for v in loops)})")
    print(f"pure step (tensors in memory):{pure:10.0f} samples/s  (median of {', '.join(f'{v:.0f}' for v in pures)})")
    print(f"reader / loop:                {lines / loop:10.2f}  (goal >= 2)")
    print(f"loop / pure step:             {loop / pure:10.2f}  (goal >= 0.90)", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
