"""How close the training loop runs to the hardware, how fast the data pipeline is, and the latency
of the exported model.

Prints, for one model (default SSD_MobileNetV1 at the smoke/demo input size, 96 px, batch 16):
- the pure training step on tensors already in memory (images/s);
- the real training loop of train.py on the demo data (decode, augment, match, DataLoader workers),
  and its ratio to the pure step (goal >= 0.9: the loop costs at most 10%);
- the data pipeline alone (the DataLoader with its workers, no training; goal >= 2x the training rate);
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
from export import export
from make_demo_data import make_demo_data
from models import build_model
from models.postprocess import SSDDetector
from ssd_loss import ssd_loss

SPLITS = ["--train_split", "VOC2007/train,VOC2012/trainval", "--val_split", ""]


def pure_step_images_per_second(args, names, warmup=2):
    ds = reader.VOCDetection(args.data_dir, "VOC2007/train", args.image_size, names, train=True,
                             model=args.model)
    batch = [ds[i] for i in range(args.batch_size)]
    images, loc, labels = (paddle.to_tensor(np.stack(x)) for x in zip(*batch))
    model = build_model(args.model, num_classes=len(names), image_size=args.image_size)
    opt = paddle.optimizer.RMSProp(0.001, parameters=model.parameters())
    times = []
    for i in range(warmup + args.steps):
        start = time.perf_counter()
        loss = ssd_loss(*model(images), loc, labels)
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
    train.main(["--model", args.model, "--data_dir", args.data_dir, "--output_dir", out, *SPLITS,
                "--image_size", str(args.image_size), "--batch_size", str(args.batch_size),
                "--max_steps", str(args.steps + 2), "--log_interval", "1", "--num_workers", str(args.num_workers),
                "--eval_interval", "0"])
    with open(os.path.join(out, args.model, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return args.batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def pipeline_images_per_second(args, names):
    """The training DataLoader alone (workers decode, augment and match), after one warm-up batch."""
    ds = reader.VOCDetection(args.data_dir, "VOC2007/train,VOC2012/trainval", args.image_size, names, train=True,
                             model=args.model)
    loader = reader.make_loader(ds, argparse.Namespace(batch_size=args.batch_size, seed=0, no_shared_memory=False,
                                                       num_workers=args.num_workers), train=True)
    it = iter(loader)
    next(it)
    start, count = time.perf_counter(), 0
    for _ in range(min(args.steps * 2, len(loader) - 1)):
        (images, _, _), _ = next(it)
        count += images.shape[0]
    return count / (time.perf_counter() - start)


def export_latency_ms(args, names, repeats=20):
    model = build_model(args.model, num_classes=len(names), image_size=args.image_size)
    prefix = export(SSDDetector(model), args.image_size, os.path.join(tempfile.mkdtemp(prefix="bench_"), "model"))
    run = utils.create_predictor(prefix)
    ds = reader.VOCDetection(args.data_dir, "VOC2007/test", args.image_size, names)
    arrays = [a[None] for a in ds[0][:3]]
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
    parser.add_argument("--model", default="SSD_MobileNetV1", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=16, help="images per step")
    parser.add_argument("--image_size", type=int, default=96, help="input side")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "VOCdevkit", "VOC2007", "ImageSets", "Main", "test.txt")):
        make_demo_data(args.data_dir)
    names = reader.class_names(args.data_dir)

    pure = pure_step_images_per_second(args, names)
    loop, reader_cost = loop_images_per_second(args)
    pipeline = pipeline_images_per_second(args, names)
    latency = export_latency_ms(args, names)
    print(f"\n{args.model}, batch {args.batch_size}, {args.image_size}x{args.image_size}, {utils.cpu_count()} CPU "
          f"cores, MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"pure training step:           {pure:8.2f} images/s")
    print(f"training loop (train.py):     {loop:8.2f} images/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:             {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"data pipeline, {args.num_workers} workers:    {pipeline:8.2f} images/s  ({pipeline / loop:.1f}x the loop; goal >= 2)")
    print(f"export, Paddle Inference + oneDNN, 1 picture incl. NMS: {latency:.1f} ms")


if __name__ == "__main__":
    utils.run_main(main)
