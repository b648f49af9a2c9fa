"""How close the training loop runs to the hardware, and the latency of the exported model.

Prints, for one model (default BlazeFace at the demo's input size, 96 px, batch 16):
- the pure training step on tensors already in memory (images/s);
- the real training loop of train.py on the demo data (decode, augment, match, DataLoader workers),
  and its ratio to the pure step (goal >= 0.9: the loop costs at most 10%);
- the exported model's latency through Paddle Inference with oneDNN, one picture, NMS included.

    python benchmark.py --image_size 96 --batch_size 16 --steps 8
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
from export import create_predictor, export
from face_loss import detection_loss
from make_demo_data import make_demo_data
from models import MODELS, build_model
from models.postprocess import FaceDetector


def pure_step_images_per_second(args, warmup=2):
    records, _ = reader.read_split(args.data_dir, "train")
    ds = reader.WiderFace(records, args.image_size, train=True, spec=MODELS[args.model], anchor_sampling=0)
    batch = [ds[i] for i in range(args.batch_size)]
    images, *targets = (paddle.to_tensor(np.stack(x)) for x in zip(*batch))
    model = build_model(args.model)
    opt = paddle.optimizer.RMSProp(0.001, parameters=model.parameters())
    times = []
    for i in range(warmup + args.steps):
        start = time.perf_counter()
        loss = detection_loss(model(images), targets)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return args.batch_size / float(np.median(times))


def loop_images_per_second(args):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    train.main(["--model", args.model, "--data_dir", args.data_dir, "--output_dir", out, "--dev_every", "0",
                "--image_size", str(args.image_size), "--batch_size", str(args.batch_size), "--anchor_sampling", "0",
                "--max_steps", str(args.steps + 2), "--log_interval", "1", "--num_workers", str(args.num_workers),
                "--eval_interval", "0"])
    with open(os.path.join(out, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return args.batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def export_latency_ms(args, repeats=20):
    model = build_model(args.model)
    prefix = export(FaceDetector(model, MODELS[args.model]), args.image_size,
                    os.path.join(tempfile.mkdtemp(prefix="bench_"), "model"))
    run = create_predictor(prefix)
    records, _ = reader.read_split(args.data_dir, "val")
    arrays = [a[None] for a in reader.WiderFace(records, args.image_size)[0][:3]]
    for _ in range(3):
        run(arrays)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(arrays)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="blazeface", choices=sorted(MODELS), help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=16, help="images per step")
    parser.add_argument("--image_size", type=int, default=96, help="input side")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "ground_truth", "wider_hard_val.mat")):
        make_demo_data(args.data_dir)
    pure = pure_step_images_per_second(args)
    loop, reader_cost = loop_images_per_second(args)
    latency = export_latency_ms(args)
    print(f"\n{args.model}, batch {args.batch_size}, {args.image_size}x{args.image_size}, {utils.cpu_count()} CPU "
          f"cores, MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"pure training step:           {pure:8.2f} images/s")
    print(f"training loop (train.py):     {loop:8.2f} images/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:             {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"export, Paddle Inference + oneDNN, 1 picture incl. NMS: {latency:.1f} ms")


if __name__ == "__main__":
    utils.run_main(main)
