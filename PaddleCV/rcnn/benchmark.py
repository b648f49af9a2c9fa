"""How close the training loop runs to the pure training step, how fast the data pipeline feeds it,
and the exported model's latency.

Prints, for one model (default: the demo's faster_rcnn_lite_fpn at the demo's 112 px):
- the pure training step on tensors already in memory, with two boxes per picture (images/s);
- the real training loop of train.py on the demo data (decode, resize, flip, DataLoader workers,
  host-side anchor and RoI sampling); their ratio (goal >= 0.9: at most 10% loop overhead);
- the data pipeline alone with its workers, over one epoch of the demo data (images/s);
- the exported model through Paddle Inference, one picture per call, RPN, RoIAlign and NMS
  included (ms per picture), without oneDNN and with it (oneDNN runs in a child process: in Paddle
  3.3.1 it can crash on an FPN level without RoIs, see infer.create_predictor).

    python benchmark.py --model faster_rcnn_lite_fpn --image_size 112 --batch_size 4 --steps 10
"""
import argparse
import json
import os
import subprocess
import sys
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


def pure_step_images_per_second(model_name, batch_size, size, steps, rois_per_image, num_classes=4, warmup=2):
    model = build_model(model_name, num_classes=num_classes)
    model.rois_per_image = rois_per_image
    opt = paddle.optimizer.Momentum(0.001, momentum=0.9, parameters=model.parameters())
    height, width = -(-size // 32) * 32, -(-size * 4 // 3 // 32) * 32  # padded to 32, as batches are
    images = paddle.randn([batch_size, 3, height, width])
    im_shape = paddle.to_tensor([[size, size * 4 // 3]] * batch_size, "float32")
    scale = paddle.ones([batch_size, 2])
    boxes = [np.array([[4, 6, size * 0.5, size * 0.6], [size * 0.4, size * 0.3, width - 5, size - 4]], np.float32)
             for _ in range(batch_size)]
    labels = [np.array([0, 1]) for _ in range(batch_size)]
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        targets = {"gt_boxes": boxes, "gt_labels": labels, "rng": np.random.default_rng(i),
                   "mask_targets": lambda k, g, rois, s: np.ones((len(rois), s, s), np.float32)}
        loss = paddle.add_n(list(model(images, im_shape, scale, targets).values()))
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return batch_size / float(np.median(times))


def loop_images_per_second(model_name, batch_size, size, steps, num_workers, data_dir, rois_per_image):
    """train.py itself, logging every step; the median of the steps after the first two."""
    out = tempfile.mkdtemp(prefix="bench_")
    with paddle.utils.unique_name.guard():
        train.main(["--model", model_name, "--data_dir", data_dir, "--output_dir", out, "--image_size", str(size),
                    "--max_size", str(size * 4 // 3), "--train_sizes", str(size), "--batch_size", str(batch_size),
                    "--max_steps", str(steps + 2), "--log_interval", "1", "--num_workers", str(num_workers),
                    "--eval_interval", "0", "--recipe_batch_size", str(batch_size), "--warmup_steps", "0",
                    "--rois_per_image", str(rois_per_image)])
    with open(os.path.join(out, model_name, "metrics.jsonl")) as f:
        records = [r for r in map(json.loads, f) if "loss" in r][2:]
    return batch_size / float(np.median([r["batch_cost"] for r in records])), float(
        np.median([r["reader_cost"] for r in records]))


def pipeline_images_per_second(data_dir, batch_size, size, num_workers):
    """The training DataLoader alone over one epoch, after its first batch."""
    args = argparse.Namespace(batch_size=batch_size, seed=0, num_workers=num_workers, no_shared_memory=False)
    dataset = reader.DetectionDataset(reader.CocoSplit(data_dir, "train"), [size], size * 4 // 3, seed=0)
    loader = reader.make_train_loader(dataset, args)
    it = iter(loader)
    next(it)
    start, n = time.perf_counter(), 0
    for (images, *_), _ in it:
        n += images.shape[0]
    return n / (time.perf_counter() - start)


def exported_latency_ms(prefix, arrays, repeats, onednn):
    run = create_predictor(prefix, use_onednn=onednn)
    for _ in range(3):
        run(arrays)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        rows = run(arrays)[0]
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)), 1000 * float(np.min(times)), len(rows)


def latency_in_child(prefix, arrays_path, repeats, onednn):
    """exported_latency_ms in a child process: (median, fastest, boxes) or the way it died."""
    code = (f"import numpy as np, benchmark; a = np.load({arrays_path!r}); "
            f"print(benchmark.exported_latency_ms({prefix!r}, [a['image'], a['im_shape'], a['scale_factor']], "
            f"{repeats}, {onednn}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    if run.returncode:
        return f"failed (exit {run.returncode}: {(run.stderr.strip().splitlines() or ['?'])[-1][:100]})"
    return eval(run.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="faster_rcnn_lite_fpn", help="a registered model name")
    parser.add_argument("--batch_size", type=int, default=4, help="images per step")
    parser.add_argument("--image_size", type=int, default=112, help="input short side (long side 4/3 of it)")
    parser.add_argument("--rois_per_image", type=int, default=64, help="RoIs sampled per picture (the demo's)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the loop and the pipeline")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls of the exported model")
    parser.add_argument("--data_dir", default="data/demo", help="demo data, written here if missing")
    args = parser.parse_args()
    paddle.set_device("cpu")
    utils.configure_cpu()
    if not reader.has_split(args.data_dir, "train"):
        make_demo_data(args.data_dir)

    loop, reader_cost = loop_images_per_second(args.model, args.batch_size, args.image_size, args.steps,
                                               args.num_workers, args.data_dir, args.rois_per_image)
    pure = pure_step_images_per_second(args.model, args.batch_size, args.image_size, args.steps, args.rois_per_image)
    pipeline = pipeline_images_per_second(args.data_dir, args.batch_size, args.image_size, args.num_workers)
    folder = tempfile.mkdtemp(prefix="bench_export_")
    prefix = export(build_model(args.model, num_classes=4), os.path.join(folder, "model"))
    split = reader.CocoSplit(args.data_dir, "val")
    image = reader.load_image(split.records[0]["file"], split.where(split.records[0]))
    chw, im_shape, scale = reader.preprocess(image, args.image_size, args.image_size * 4 // 3)
    arrays_path = os.path.join(folder, "inputs.npz")
    np.savez(arrays_path, image=reader.pad_batch([chw]), im_shape=im_shape[None], scale_factor=scale[None])
    plain = latency_in_child(prefix, arrays_path, args.repeats, False)
    onednn = latency_in_child(prefix, arrays_path, args.repeats, True)
    print(f"\n{args.model}, batch {args.batch_size}, short side {args.image_size}, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"pure training step:          {pure:8.2f} images/s")
    print(f"training loop (train.py):    {loop:8.2f} images/s  (median reader_cost {reader_cost * 1000:.1f} ms/step)")
    print(f"loop / pure step:            {loop / pure:8.2f}  (goal >= 0.90)")
    print(f"data pipeline, {args.num_workers} workers:   {pipeline:8.2f} images/s  ({pipeline / loop:.1f}x the loop)")
    for name, result in (("exported model, plain CPU:  ", plain), ("exported model, oneDNN:     ", onednn)):
        if isinstance(result, str):
            print(f"{name}{result}")
        else:
            print(f"{name}{result[0]:8.2f} ms per picture (median; fastest {result[1]:.2f} ms), NMS included "
                  f"({result[2]} boxes kept)")


if __name__ == "__main__":
    utils.run_main(main)
