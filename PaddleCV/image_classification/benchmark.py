"""How close the training loop runs to the hardware.

Prints, for one model (default ResNet50, batch 16, 224x224):
- the pure training step on random tensors already in memory (images/s);
- the real training loop of train.py on the demo data (decode, augment, DataLoader workers);
- their ratio (goal: >= 0.9, i.e. the input pipeline costs at most 10%);
- the model FLOPs utilisation: achieved training FLOP/s over the fp32 matmul FLOP/s measured here.

    python benchmark.py --model ResNet50 --batch_size 16 --steps 8
"""
import argparse
import json
import os
import tempfile
import time

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import train
from make_demo_data import make_demo_data
from models import build_model


def matmul_flops_per_second(n=2048, repeats=5):
    a, b = paddle.randn([n, n]), paddle.randn([n, n])
    (a @ b).numpy()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        c = a @ b
    c.numpy()
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def multiply_adds(model, image_size):
    """Multiply-adds of one forward pass, counted on conv and linear layers (paddle.flops fails
    under numpy 2); the remaining layers (BN, activations, pooling) are a few percent."""
    total = []

    def count(layer, inputs, output):
        if isinstance(layer, paddle.nn.Conv2D):
            kh, kw = layer._kernel_size
            total.append(output.numel().item() * layer._in_channels // layer._groups * kh * kw)
        elif isinstance(layer, paddle.nn.Linear):
            total.append(output.numel().item() * layer.weight.shape[0])

    hooks = [m.register_forward_post_hook(count) for m in model.sublayers()
             if isinstance(m, (paddle.nn.Conv2D, paddle.nn.Linear))]
    model.eval()
    with paddle.no_grad():
        model(paddle.zeros([1, 3, image_size, image_size]))
    for h in hooks:
        h.remove()
    return sum(total)


def pure_step_images_per_second(model_name, batch_size, image_size, steps, warmup=2):
    model = build_model(model_name, num_classes=1000)
    opt = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters())
    images = paddle.randn([batch_size, 3, image_size, image_size])
    labels = paddle.randint(0, 1000, [batch_size])
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        out = model(images)
        loss = F.cross_entropy(out[0] if isinstance(out, list) else out, labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times))


def loop_images_per_second(model_name, batch_size, image_size, steps, num_workers, data_dir):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    train.main(["--model", model_name, "--data_dir", data_dir, "--output_dir", out, "--image_size", str(image_size),
                "--batch_size", str(batch_size), "--max_steps", str(steps + 2), "--log_interval", "1",
                "--num_workers", str(num_workers), "--eval_interval", "0"])
    with open(os.path.join(out, model_name, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="ResNet50", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=16, help="images per step")
    parser.add_argument("--image_size", type=int, default=224, help="crop size")
    parser.add_argument("--steps", type=int, default=8, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the train.py loop")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not os.path.isfile(os.path.join(args.data_dir, "test_list.txt")):
        make_demo_data(args.data_dir)

    matmul = matmul_flops_per_second()
    macs = multiply_adds(build_model(args.model), args.image_size)
    pure = pure_step_images_per_second(args.model, args.batch_size, args.image_size, args.steps)
    loop, reader_cost = loop_images_per_second(args.model, args.batch_size, args.image_size, args.steps,
                                               args.num_workers, args.data_dir)
    train_flops = 6 * macs  # forward 2 FLOPs per multiply-add, backward about twice the forward
    print(f"\n{args.model}, batch {args.batch_size}, {args.image_size}x{args.image_size}, "
          f"{utils.cpu_count()} CPU cores, MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}")
    print(f"matmul fp32 2048^2:        {matmul / 1e9:8.1f} GFLOP/s")
    print(f"pure training step:        {pure:8.2f} images/s")
    print(f"training loop (train.py):  {loop:8.2f} images/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:          {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"MFU (loop) vs matmul:      {loop * train_flops / matmul:8.1%}  ({train_flops / 1e9:.1f} GFLOP per image)")


if __name__ == "__main__":
    utils.run_main(main)
