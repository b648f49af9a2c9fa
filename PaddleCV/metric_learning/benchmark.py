"""How close the training loop runs to the pure training step, and the export's latency.

Prints, for one model and loss (default ResNet18 + triplet, batch 32 = 8 products x 4, 32x32 demo):
- the pure training step on random tensors already in memory (images/s);
- the real training loop of train.py on the demo data (decode, augment, P x K batches, DataLoader);
- their ratio (goal: >= 0.9, i.e. the input pipeline costs at most 10%);
- the exported model's latency per batch and per image (Paddle Inference, oneDNN on CPU).

    python benchmark.py --model ResNet18 --loss triplet --batch_size 32 --image_size 32 --steps 8
"""
import argparse
import json
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import export
import train
from losses import ELEMENT_LOSSES, compute_loss
from make_demo_data import make_demo_data
from models import build_model


def pure_step_images_per_second(args, num_classes, warmup=2):
    model = build_model(args.model, num_classes=num_classes, loss=args.loss)
    opt = paddle.optimizer.Momentum(0.001, momentum=0.9, parameters=model.parameters())
    images = paddle.randn([args.batch_size, 3, args.image_size, args.image_size])
    labels = paddle.to_tensor(np.repeat(np.arange(args.batch_size // 4), 4)[:args.batch_size])
    loss_args = train.get_args(["--loss", args.loss])
    times = []
    for i in range(warmup + args.steps):
        start = time.perf_counter()
        outputs = model(images, labels) if args.loss in ELEMENT_LOSSES else model(images)
        loss = compute_loss(outputs, labels, loss_args)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return args.batch_size / float(np.median(times))


def loop_images_per_second(args, out):
    """train.py itself, logging every step; the median of the steps after the first two."""
    train.main(["--model", args.model, "--loss", args.loss, "--data_dir", args.data_dir, "--output_dir", out,
                "--image_size", str(args.image_size), "--batch_size", str(args.batch_size),
                "--samples_each_class", "0" if args.loss in ELEMENT_LOSSES else "4",
                "--max_steps", str(args.steps + 2), "--log_interval", "1", "--num_workers", str(args.num_workers),
                "--eval_interval", "0", "--dev_fraction", "0.2", "--lr", "0.001"])
    with open(os.path.join(out, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return args.batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def export_latency(model, args, out, repeats=10):
    prefix = export.export(model, args.image_size, os.path.join(out, "bench_export", "model"))
    run = utils.create_predictor(prefix)
    batch = np.random.default_rng(0).normal(size=(args.batch_size, 3, args.image_size, args.image_size))
    batch = batch.astype(np.float32)
    run([batch])  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run([batch])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="ResNet18", help="a registered model name")
    parser.add_argument("--loss", default="triplet", help="the training loss")
    parser.add_argument("--batch_size", type=int, default=32, help="images per step")
    parser.add_argument("--image_size", type=int, default=32, help="input size")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the train.py loop")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "Ebay_test.txt")):
        make_demo_data(args.data_dir)
    out = tempfile.mkdtemp(prefix="bench_")
    pure = pure_step_images_per_second(args, num_classes=120)
    loop, reader_cost = loop_images_per_second(args, out)
    latency = export_latency(build_model(args.model), args, out)
    print(f"\n{args.model} + {args.loss}, batch {args.batch_size}, {args.image_size}x{args.image_size}, "
          f"{utils.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    print(f"pure training step:        {pure:8.2f} images/s")
    print(f"training loop (train.py):  {loop:8.2f} images/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:          {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"export latency:            {latency * 1000:8.1f} ms per batch of {args.batch_size}, "
          f"{latency * 1000 / args.batch_size:.2f} ms per image")


if __name__ == "__main__":
    utils.run_main(main)
