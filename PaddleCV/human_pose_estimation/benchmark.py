"""How close the training loop runs to the pure training step, how fast the data pipeline feeds it,
and the exported model's latency.

Prints, for one model (default: the demo's pose_resnet18_x0_25 at the demo's 96x64):
- the pure training step on random tensors already in memory (people/s);
- the real training loop of train.py on the demo data (decode, affine crop, targets, DataLoader
  workers); their ratio (goal >= 0.9: the loop costs at most 10% over the step);
- the data pipeline alone with its workers, over the demo's training people (people/s);
- the exported model through Paddle Inference with oneDNN, one person crop per call (ms per person;
  the decoding is not included), and twice that for the flip test's two passes (computed, not timed).

    python benchmark.py --model pose_resnet18_x0_25 --input_size 96x64 --batch_size 32 --steps 10
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


def pure_step_per_second(model_name, batch_size, input_hw, steps, warmup=2):
    model = build_model(model_name, num_joints=17)
    opt = paddle.optimizer.Adam(0.001, parameters=model.parameters())
    images = paddle.randn([batch_size, 3, *input_hw])
    target = paddle.rand([batch_size, 17, input_hw[0] // 4, input_hw[1] // 4])
    weight = paddle.ones([batch_size, 17, 1])
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = train.heatmap_loss(model(images), target, weight)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times))


def loop_per_second(model_name, batch_size, input_size, steps, num_workers, data_dir):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    with paddle.utils.unique_name.guard():
        train.main(["--model", model_name, "--data_dir", data_dir, "--output_dir", out, "--input_size", input_size,
                    "--batch_size", str(batch_size), "--max_steps", str(steps + 2), "--log_interval", "1",
                    "--num_workers", str(num_workers), "--eval_interval", "0", "--epochs", "1"])
    with open(os.path.join(out, model_name, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def pipeline_per_second(data_dir, batch_size, input_hw, num_workers, batches=10):
    args = argparse.Namespace(batch_size=batch_size, seed=0, num_workers=num_workers, no_shared_memory=False)
    dataset = reader.TrainDataset(reader.CocoKeypoints(data_dir, "train", input_hw[1] / input_hw[0]), input_hw)
    it = iter(reader.make_train_loader(dataset, args))
    next(it)
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        (images, *_), _ = next(it)
        n += images.shape[0]
    return n / (time.perf_counter() - start)


def exported_latency_ms(model_name, input_hw, repeats):
    model = build_model(model_name, num_joints=17)
    prefix = export(model, input_hw, os.path.join(tempfile.mkdtemp(prefix="bench_export_"), "model"))
    run = utils.create_predictor(prefix)
    image = np.random.default_rng(0).standard_normal((1, 3, *input_hw)).astype(np.float32)
    for _ in range(3):
        run([image])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run([image])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="pose_resnet18_x0_25", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=32, help="people per step")
    parser.add_argument("--input_size", default="96x64", help="HEIGHTxWIDTH")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the loop and the pipeline")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls of the exported model")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    input_hw = reader.parse_size(args.input_size)
    if not reader.has_split(args.data_dir, "train"):
        make_demo_data(args.data_dir)
    loop, reader_cost = loop_per_second(args.model, args.batch_size, args.input_size, args.steps, args.num_workers,
                                        args.data_dir)
    pure = pure_step_per_second(args.model, args.batch_size, input_hw, args.steps)
    pipeline = pipeline_per_second(args.data_dir, args.batch_size, input_hw, args.num_workers)
    latency = exported_latency_ms(args.model, input_hw, args.repeats)
    print(f"\n{args.model}, batch {args.batch_size}, {args.input_size}, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load average {os.getloadavg()[0]:.1f}")
    print(f"pure training step:          {pure:8.2f} people/s")
    print(f"training loop (train.py):    {loop:8.2f} people/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:            {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"data pipeline, {args.num_workers} workers:   {pipeline:8.2f} people/s  ({pipeline / loop:.1f}x the loop)")
    print(f"exported model, oneDNN:      {latency:8.2f} ms per crop (median), {2 * latency:.2f} ms with the flip test (x2)")


if __name__ == "__main__":
    utils.run_main(main)
