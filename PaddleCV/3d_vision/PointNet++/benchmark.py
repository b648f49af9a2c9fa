"""How much the training loop costs on top of the training step.

Prints, for one model and setting:
- the pure training step on random tensors already in memory (samples/s);
- the real training loop of train.py on the demo data (reader, batching, logging);
- their ratio (goal: >= 0.9, i.e. the loop costs at most 10%).

    python benchmark.py --model pointnet2_cls_ssg --num_points 512 --width 0.5 --npoint_scale 0.125
"""
import argparse
import json
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import train
from make_demo_data import make_demo_data


def pure_step_samples_per_second(args, steps, warmup=2):
    settings = train.get_args(["--model", args.model, "--width", str(args.width), "--npoint_scale",
                               str(args.npoint_scale)])
    settings.num_classes = 8 if "_cls_" in args.model else 13
    settings.in_channels = 0 if "_cls_" in args.model else 6
    model = train.model_from_args(settings)
    opt = paddle.optimizer.Adam(0.001, parameters=model.parameters())
    points = paddle.rand([args.batch_size, args.num_points, 3 + settings.in_channels])
    shape = [args.batch_size] if "_cls_" in args.model else [args.batch_size, args.num_points]
    labels = paddle.randint(0, settings.num_classes, shape)
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = train.loss_fn(model(points), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return args.batch_size / float(np.median(times))


def loop_samples_per_second(args, steps):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    train.main(["--model", args.model, "--data_dir", args.data_dir, "--output_dir", out, "--num_points",
                str(args.num_points), "--width", str(args.width), "--npoint_scale", str(args.npoint_scale),
                "--batch_size", str(args.batch_size), "--max_steps", str(steps + 2), "--log_interval", "1",
                "--num_workers", str(args.num_workers), "--eval_interval", "0", "--epochs", "100"])
    with open(os.path.join(out, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return args.batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="pointnet2_cls_ssg", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=16, help="samples per step")
    parser.add_argument("--num_points", type=int, default=512, help="points per sample")
    parser.add_argument("--width", type=float, default=0.5, help="channel scale")
    parser.add_argument("--npoint_scale", type=float, default=0.125, help="centre-count scale")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers of the train.py loop")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "indoor3d_sem_seg_hdf5_data", "room_filelist.txt")):
        make_demo_data(args.data_dir)
    pure = pure_step_samples_per_second(args, args.steps)
    loop, reader_cost = loop_samples_per_second(args, args.steps)
    print(f"\n{args.model}, batch {args.batch_size}, {args.num_points} points, width {args.width}, npoint_scale "
          f"{args.npoint_scale}, {utils.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}")
    print(f"pure training step:        {pure:8.2f} samples/s")
    print(f"training loop (train.py):  {loop:8.2f} samples/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:          {loop / pure:8.2f}  (goal >= 0.90)")


if __name__ == "__main__":
    utils.run_main(main)
