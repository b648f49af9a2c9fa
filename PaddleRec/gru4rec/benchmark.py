"""Where the time of a training step goes, on the demo data (or --data_dir).

Prints:
- the reader's throughput (sessions/s) over the train split, with DataLoader workers and without;
- the pure model step (forward, backward, Adagrad) on batches already in memory, for each loss, with
  sparse and with dense tables, at the data's vocabulary and at RSC15's (37,484 rows: a dense
  Adagrad step then updates every row of a 3.7M-weight table, a sparse one only the batch's);
- the training loop of train.py (sessions/s) at the recipe's batch of 50;
- the two goals: reader >= 2x the loop, and loop overhead over the pure step <= 10%.
Each figure is the best of --repeats runs (the machine may be shared).

    python benchmark.py --steps 100
"""
import argparse
import json
import os
import tempfile
import time

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
import train
from models import build_model

WARMUP_STEPS = 10
RSC15_ROWS = 37484


def reader_sessions_per_second(data_dir, batch_size, num_workers):
    vocab = reader.read_vocab_size(data_dir)
    data = reader.load_split(data_dir, "train", vocab, argparse.Namespace(
        max_seq_len=reader.MAX_SEQ_LEN, skip_bad_samples=False, dev_every=reader.DEV_EVERY), verbose=False)
    sampler = reader.LengthBucketSampler(data.lengths, batch_size, shuffle=True)
    loader = utils.make_loader(data, argparse.Namespace(num_workers=num_workers, no_shared_memory=False),
                               batch_sampler=sampler, collate_fn=reader.collate)
    start, sessions = time.perf_counter(), 0
    for inputs, _, _ in loader:
        sessions += inputs.shape[0]
    return sessions / (time.perf_counter() - start)


def first_batches(data_dir, batch_size, count):
    """The first batches train.py trains on (same seed, same order), in memory."""
    vocab = reader.read_vocab_size(data_dir)
    data = reader.load_split(data_dir, "train", vocab, argparse.Namespace(
        max_seq_len=reader.MAX_SEQ_LEN, skip_bad_samples=False, dev_every=reader.DEV_EVERY), verbose=False)
    sampler = reader.LengthBucketSampler(data.lengths, batch_size, shuffle=True, seed=42)
    batches = [[paddle.to_tensor(a) for a in reader.collate([data[i] for i in b])] for b in sampler]
    return vocab, (batches * (count // max(len(batches), 1) + 1))[:count]


def pure_seconds_per_step(batches, rows, loss, sparse, lr=0.01):
    paddle.seed(42)
    model = build_model("gru4rec", rows - 1, sparse=sparse, sparse_output=sparse and loss == "bpr")
    optimizer = paddle.optimizer.Adagrad(lr, parameters=model.parameters())
    for i, (inputs, targets, lengths) in enumerate(batches):
        if i == WARMUP_STEPS:
            value.item()
            start = time.perf_counter()
        value = model(inputs, lengths, targets, loss=loss)
        value.backward()
        optimizer.step()
        optimizer.clear_grad()
    value.item()
    return (time.perf_counter() - start) / (len(batches) - WARMUP_STEPS)


def loop_seconds_per_step(args):
    """train.py itself; the mean batch_cost of the logged intervals after the warm-up."""
    out = tempfile.mkdtemp(prefix="gru4rec_bench_")
    with paddle.utils.unique_name.guard():
        train.main(["--data_dir", args.data_dir, "--output_dir", out, "--batch_size", str(args.batch_size),
                    "--max_steps", str(WARMUP_STEPS + args.steps), "--log_interval", str(WARMUP_STEPS),
                    "--num_workers", str(args.num_workers), "--eval_interval", "0", "--epochs", "100"])
    with open(os.path.join(out, "gru4rec", "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][1:]
    steps = [WARMUP_STEPS] * (len(records) - 1) + [records[-1]["step"] - records[-2]["step"] if len(records) > 1 else args.steps]
    return float(np.average([r["batch_cost"] for r in records], weights=steps))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--batch_size", type=int, default=50, help="sessions per step")
    parser.add_argument("--steps", type=int, default=100, help="timed steps (after a warm-up of 10)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes of the reader figure")
    parser.add_argument("--data_dir", default="data/demo", help="converted data (run train.sh once to make the demo)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the best is kept")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()

    read_workers = max(reader_sessions_per_second(args.data_dir, args.batch_size, args.num_workers)
                       for _ in range(args.repeats))
    read_inline = max(reader_sessions_per_second(args.data_dir, args.batch_size, 0) for _ in range(args.repeats))
    vocab, batches = first_batches(args.data_dir, args.batch_size, WARMUP_STEPS + args.steps)
    pure = {}
    for loss in ("ce", "bpr"):
        for rows in (vocab + 1, RSC15_ROWS):
            for sparse in (True, False):
                pure[loss, rows, sparse] = min(pure_seconds_per_step(batches, rows, loss, sparse)
                                               for _ in range(args.repeats))
    loop = min(loop_seconds_per_step(args) for _ in range(args.repeats))
    step = pure["ce", vocab + 1, True]  # what train.py runs on this data
    loop_rate = args.batch_size / loop
    print(f"\ngru4rec, batch {args.batch_size}, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}")
    print(f"reader, {args.num_workers} workers:            {read_workers:9.0f} sessions/s")
    print(f"reader, in the main process:    {read_inline:9.0f} sessions/s")
    for (loss, rows, sparse), seconds in pure.items():
        print(f"pure step, {loss:3s}, {rows:6d} rows, {'sparse' if sparse else 'dense '}: "
              f"{args.batch_size / seconds:7.0f} sessions/s ({seconds * 1000:.1f} ms/step)")
    print(f"training loop (train.py):       {loop_rate:9.0f} sessions/s  ({loop * 1000:.1f} ms/step)")
    print(f"reader / loop:                  {max(read_workers, read_inline) / loop_rate:9.1f}x  (goal >= 2)")
    print(f"loop overhead over pure step:   {loop / step - 1:9.1%}  (goal <= 10%)")


if __name__ == "__main__":
    utils.run_main(main)
