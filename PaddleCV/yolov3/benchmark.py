"""How close the training loop runs to the pure training step, how fast the data pipeline feeds it,
and the exported model's latency.

Prints, for one model (default: the demo's yolov3_mobilenet_v1_x0_25 at the smoke run's 96 px):
- the pure training step on random tensors already in memory (images/s);
- the real training loop of train.py on the demo data (decode, augmentation, DataLoader workers);
  their ratio (goal >= 0.9: the loop costs at most 10% over the step);
- the data pipeline alone with its workers, over one epoch of the demo data (images/s; goal >= 2x
  the training rate);
- the exported model through Paddle Inference with oneDNN, one picture per call, yolo_box decoding
  and NMS included (ms per picture).

    python benchmark.py --model yolov3_mobilenet_v1_x0_25 --image_size 96 --batch_size 8 --steps 10
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
from infer import create_predictor
from make_demo_data import make_demo_data
from models import build_model


def pure_step_images_per_second(model_name, batch_size, size, steps, num_classes=4, warmup=2):
    model = build_model(model_name, num_classes=num_classes)
    opt = paddle.optimizer.Momentum(0.001, momentum=0.9, parameters=model.parameters())
    images = paddle.randn([batch_size, 3, size, size])
    rng = np.random.default_rng(0)
    gt_box = np.zeros((batch_size, reader.NUM_MAX_BOXES, 4), np.float32)
    centres, sizes = rng.uniform(0.3, 0.7, (batch_size, 3, 2)), rng.uniform(0.1, 0.4, (batch_size, 3, 2))
    gt_box[:, :3] = np.concatenate([centres, sizes], 2)  # three boxes per picture
    gt_box = paddle.to_tensor(gt_box)
    gt_label = paddle.to_tensor(rng.integers(0, num_classes, (batch_size, reader.NUM_MAX_BOXES)).astype("int32"))
    gt_score = paddle.to_tensor((gt_box.numpy()[..., 2] > 0).astype("float32"))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = model.loss(model(images), gt_box, gt_label, gt_score)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times))


def loop_images_per_second(model_name, batch_size, size, steps, num_workers, data_dir):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    with paddle.utils.unique_name.guard():
        train.main(["--model", model_name, "--data_dir", data_dir, "--output_dir", out, "--image_size", str(size),
                    "--train_sizes", str(size), "--batch_size", str(batch_size), "--max_steps", str(steps + 2),
                    "--log_interval", "1", "--num_workers", str(num_workers), "--eval_interval", "0",
                    "--recipe_batch_size", str(batch_size), "--warmup_steps", "0", "--mixup_epochs", "1"])
    with open(os.path.join(out, model_name, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def pipeline_images_per_second(data_dir, batch_size, size, num_workers):
    """The training DataLoader alone over one epoch (mixup on, as in the first epochs), after its
    first batch."""
    args = argparse.Namespace(batch_size=batch_size, seed=0, num_workers=num_workers, no_shared_memory=False)
    dataset = reader.DetectionDataset(reader.CocoSplit(data_dir, "train"), seed=0, mixup_epochs=1)
    loader = reader.make_train_loader(dataset, args, [size])
    it = iter(loader)
    next(it)
    start, n = time.perf_counter(), 0
    for (images, *_), _ in it:
        n += images.shape[0]
    return n / (time.perf_counter() - start)


def exported_latency_ms(model_name, size, repeats, num_classes=4):
    """Paddle Inference (oneDNN) on one picture per call; an untrained model, so NMS gets its full
    1000 candidates and keeps 100 boxes: the slowest case."""
    model = build_model(model_name, num_classes=num_classes)
    prefix = export(model, size, os.path.join(tempfile.mkdtemp(prefix="bench_export_"), "model"))
    run = create_predictor(prefix)
    image = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    arrays = [image, np.array([[size, size]], np.float32), np.array([[size / 480, size / 640]], np.float32)]
    for _ in range(3):
        run(arrays)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        rows, _ = run(arrays)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)), 1000 * float(np.min(times)), len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="yolov3_mobilenet_v1_x0_25", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=8, help="images per step")
    parser.add_argument("--image_size", type=int, default=96, help="input size (a multiple of 32)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the loop and the pipeline")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls of the exported model")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not reader.has_split(args.data_dir, "train"):
        make_demo_data(args.data_dir)

    loop, reader_cost = loop_images_per_second(args.model, args.batch_size, args.image_size, args.steps,
                                               args.num_workers, args.data_dir)
    pure = pure_step_images_per_second(args.model, args.batch_size, args.image_size, args.steps)
    pipeline = pipeline_images_per_second(args.data_dir, args.batch_size, args.image_size, args.num_workers)
    latency, fastest, boxes = exported_latency_ms(args.model, args.image_size, args.repeats)
    print(f"\n{args.model}, batch {args.batch_size}, {args.image_size}x{args.image_size}, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"pure training step:          {pure:8.2f} images/s")
    print(f"training loop (train.py):    {loop:8.2f} images/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:            {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"data pipeline, {args.num_workers} workers:   {pipeline:8.2f} images/s  "
          f"({pipeline / loop:.1f}x the loop; goal >= 2)")
    print(f"exported model, oneDNN:      {latency:8.2f} ms per picture (median; fastest {fastest:.2f} ms), "
          f"NMS included ({boxes} boxes kept)")


if __name__ == "__main__":
    utils.run_main(main)
