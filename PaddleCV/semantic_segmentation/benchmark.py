"""Speed on this machine (2 CPU cores): the training loop's and the pure training step's images/s
for a model at the smoke crop size, the loop overhead between them, and the latency of the exported
model through Paddle Inference with oneDNN.

    python benchmark.py                       # fastscnn, crop 128x256, batch 8
    python benchmark.py --model hrnet_w18 --batch_size 4

The loop figure comes from train.py itself (its logged ips: reader, forward, backward, optimizer
and logging), the pure step from the same model, loss and optimizer on one batch held in memory;
both are medians over --steps steps, the best of --rounds alternating measurements.
"""
import argparse
import json
import os
import tempfile
import time

import utils  # first: it silences paddle's import-time warnings
import numpy as np
import paddle

import make_demo_data
import reader
import train
from export import export
from models import MODELS, build_model


def pure_step_ips(model_name, batch, crop, steps, warmup=2):
    model = build_model(model_name, num_classes=19)
    opt = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters(),
                                    weight_decay=paddle.regularizer.L2Decay(4e-5))
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.normal(size=(batch, 3, *crop)).astype("float32"))
    labels = paddle.to_tensor(rng.integers(0, 19, size=(batch, *crop)))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        loss = train.segmentation_loss(model(images), labels, model.loss_weights)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        times.append(time.perf_counter() - start)
    return batch / float(np.median(times[warmup:]))


def loop_ips(model_name, batch, crop, steps, data_dir, out_dir, num_workers):
    args = ["--model", model_name, "--data_dir", data_dir, "--output_dir", out_dir, "--batch_size", str(batch),
            "--crop_size", f"{crop[0]},{crop[1]}", "--max_steps", str(steps + 2), "--epochs", "100",
            "--log_interval", "1", "--eval_interval", "0", "--num_workers", str(num_workers), "--lr", "0.01"]
    with paddle.utils.unique_name.guard():
        train.main(args)
    with open(os.path.join(out_dir, model_name, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "ips" in r][2:]  # skip the warm-up steps
    return float(np.median([r["ips"] for r in records]))


def inference_latency_ms(model_name, sizes, prefix, repeats):
    model = build_model(model_name, num_classes=19)
    export(model, prefix)
    run = utils.create_predictor(prefix, use_onednn=True)
    result = {}
    for h, w in sizes:
        x = np.random.default_rng(0).normal(size=(1, 3, h, w)).astype("float32")
        for _ in range(2):
            run([x])
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run([x])
            times.append(time.perf_counter() - start)
        result[f"{h}x{w}"] = 1000 * float(np.median(times))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fastscnn", choices=sorted(MODELS))
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--crop_size", default="128,256")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating measurements; the best of each counts")
    parser.add_argument("--infer_sizes", default="128x256,256x512,512x1024")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    crop = [int(v) for v in args.crop_size.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = os.path.join(tmp, "data")
        make_demo_data.main(["--out_dir", data_dir, "--num_train", str(args.batch_size * 4), "--num_val", "1"])
        # Alternate the two measurements and keep the best of each, so that a burst of load from other
        # processes on the machine does not land on one side only.
        loops, pures = [], []
        for r in range(args.rounds):
            pures.append(pure_step_ips(args.model, args.batch_size, crop, args.steps))
            loops.append(loop_ips(args.model, args.batch_size, crop, args.steps, data_dir,
                                  os.path.join(tmp, f"out{r}"), args.num_workers))
        loop, pure = max(loops), max(pures)
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.infer_sizes.split(",")]
        latency = inference_latency_ms(args.model, sizes, os.path.join(tmp, "inference", "model"), repeats=5)
    print(f"model {args.model}, batch {args.batch_size}, crop {crop[0]}x{crop[1]}, "
          f"{utils.cpu_count()} CPU threads")
    print(f"training loop: {loop:.2f} images/s   pure step: {pure:.2f} images/s   "
          f"loop overhead: {100 * (1 - loop / pure):.1f}%")
    print("inference (Paddle Inference + oneDNN, batch 1): " +
          ", ".join(f"{size} {ms:.1f} ms" for size, ms in latency.items()))


if __name__ == "__main__":
    utils.run_main(main)
