"""How close the training loop runs to the pure training step, and how fast the tracker tracks.

Prints, for one model (default SiamFC at the demo's width 0.5, batch 8):
- the pure training step on a batch already in memory (pairs/s);
- the real training loop of train.py on the demo data (pair sampling, crops, DataLoader);
- their ratio (goal: >= 0.9, i.e. the input pipeline costs at most 10%);
- tracking frames/s on the first demo test sequence (crops, network, response, update).

    python benchmark.py --model SiamFC --width 0.5 --batch_size 8 --steps 6
    python benchmark.py --model ATOM --width 0.25 --image_size 128
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
from eval import tracker_factory
from make_demo_data import make_demo_data
from models import build_model, model_kwargs, pair_config
from tracker import track_one_pass


def pure_step_pairs_per_second(args, batch, warmup=2):
    model = build_model(args.model, **model_kwargs(args))
    opt = paddle.optimizer.Momentum(1e-3, momentum=0.9, parameters=[p for p in model.parameters() if not p.stop_gradient])
    times = []
    for i in range(warmup + args.steps):
        start = time.perf_counter()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return args.batch_size / float(np.median(times)), model


def loop_pairs_per_second(args):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    train.main(["--model", args.model, "--data_dir", os.path.join(args.data_dir, "got10k"),
                "--test_dir", os.path.join(args.data_dir, "vot2018"), "--output_dir", out,
                "--width", str(args.width), "--image_size", str(args.image_size), "--batch_size", str(args.batch_size),
                "--max_steps", str(args.steps + 2), "--log_interval", "1", "--num_workers", str(args.num_workers),
                "--eval_interval", "0", "--dev_sequences", "1"])
    with open(os.path.join(out, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return args.batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="SiamFC", choices=["SiamFC", "ATOM"], help="which network")
    parser.add_argument("--width", type=float, default=0.5, help="channel multiplier")
    parser.add_argument("--image_size", type=int, default=0, help="ATOM's crop size (0: 288)")
    parser.add_argument("--batch_size", type=int, default=8, help="pairs per step")
    parser.add_argument("--steps", type=int, default=6, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the train.py loop")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    args.max_gap = 100
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "vot2018", "list.txt")):
        make_demo_data(args.data_dir)
    sequences, _ = reader.load_sequences(os.path.join(args.data_dir, "got10k"), "train")
    ds = reader.PairDataset(sequences, args.model.lower(), args.batch_size, 0, pair_config(args))
    batch = [paddle.to_tensor(np.stack(f)) for f in zip(*[ds[i] for i in range(args.batch_size)])]
    pure, model = pure_step_pairs_per_second(args, batch)
    loop, reader_cost = loop_pairs_per_second(args)
    test = reader.load_sequences(os.path.join(args.data_dir, "vot2018"), "test")[0][0]
    timing = [0.0, 0]
    track_one_pass(tracker_factory(args.model, model)(), test, timing)
    print(f"\n{args.model} (width {args.width}), batch {args.batch_size}, {utils.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"pure training step:        {pure:8.2f} pairs/s")
    print(f"training loop (train.py):  {loop:8.2f} pairs/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:          {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"tracking:                  {timing[1] / max(timing[0], 1e-9):8.2f} frames/s ({timing[1]} frames of {test.name})")


if __name__ == "__main__":
    utils.run_main(main)
