"""How close the training loop runs to the pure training step, and the exported networks' latency.

Prints, for one model (default: the demo's pointrcnn_lite, both stages):
- the pure training step on a batch already in memory (frames/s): RPN forward, its targets and loss,
  proposals, RoI sampling and pooling, RCNN forward and loss, backward, Adam step;
- the real training loop of train.py on demo data (reading, sampling, augmentation, DataLoader workers);
  their ratio (goal >= 0.9: the loop costs at most 10% over the step);
- whole-frame inference with the exported networks (Paddle Inference, oneDNN): ms per frame, proposals,
  pooling, decoding and NMS included.

    python benchmark.py --model pointrcnn_lite --batch_size 4 --steps 10
"""
import argparse
import json
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import pipeline
import reader
import train
from export import export
from make_demo_data import make_demo_data
from models import MODELS, build_model


def pure_step_frames_per_second(model_name, batch, steps, warmup=2):
    cfg = MODELS[model_name]
    model = build_model(model_name)
    opt = paddle.optimizer.Adam(0.001, parameters=model.parameters())
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss, _ = train.train_step(model, *batch[:3], cfg, "joint", np.random.default_rng(i))
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return len(batch[0]) / float(np.median(times))


def loop_frames_per_second(model_name, batch_size, steps, num_workers, data_dir):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    with paddle.utils.unique_name.guard():
        train.main(["--model", model_name, "--data_dir", data_dir, "--output_dir", out, "--batch_size", str(batch_size),
                    "--max_steps", str(steps + 2), "--log_interval", "1", "--num_workers", str(num_workers),
                    "--eval_interval", "0", "--epochs", "100"])
    with open(os.path.join(out, model_name, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def exported_ms_per_frame(model_name, points, repeats):
    cfg = MODELS[model_name]
    model = build_model(model_name)
    folder = export(model, cfg, tempfile.mkdtemp(prefix="bench_export_"))
    rpn = utils.create_predictor(os.path.join(folder, "rpn"))
    rcnn = utils.create_predictor(os.path.join(folder, "rcnn"))
    run = lambda: pipeline.detect(points[:1], lambda p: rpn([p]), lambda x: rcnn([x]), cfg, [0])  # noqa: E731
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="pointrcnn_lite", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=4, help="frames per step")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the loop")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of the exported networks")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    parser.add_argument("--frames", type=int, default=120, help="training frames of the demo data written when missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not reader.has_split(args.data_dir, "train"):
        make_demo_data(args.data_dir, args.frames, 2, 0)
    split = reader.KittiSplit(args.data_dir, "train")
    dataset = reader.FrameDataset(split, MODELS[args.model]["num_points"], train=True)
    batch = [np.stack(c) for c in zip(*[dataset[i] for i in range(args.batch_size)])]

    loop, reader_cost = loop_frames_per_second(args.model, args.batch_size, args.steps, args.num_workers, args.data_dir)
    pure = pure_step_frames_per_second(args.model, batch, args.steps)
    latency = exported_ms_per_frame(args.model, batch[0], args.repeats)
    print(f"\n{args.model}, batch {args.batch_size}, {MODELS[args.model]['num_points']} points, {utils.cpu_count()} CPU "
          f"cores, load average {os.getloadavg()[0]:.1f}")
    print(f"pure training step:          {pure:8.2f} frames/s")
    print(f"training loop (train.py):    {loop:8.2f} frames/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:            {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"exported networks, oneDNN:   {latency:8.1f} ms per frame, proposals, pooling and NMS included")


if __name__ == "__main__":
    utils.run_main(main)
