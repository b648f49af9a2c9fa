"""How the frame-based training keeps up, for one model (default TSM at demo size on the demo videos):

- decode throughput: frames/s the DataLoader (its --num_workers workers: decode, sample, crop) delivers,
  against the frames/s the training step consumes (goal: >= 2x);
- loop overhead: the real loop of train.py (loader, logging, checkpoint of the epoch) against the pure step
  on a batch already in memory (goal: <= 10%);
- the exported model's latency through utils.create_predictor (Paddle Inference, oneDNN): ms per video
  with its test views, from the export of a short run.

    python benchmark.py                                   # TSM, demo size, the demo data in data/demo/frames
    python benchmark.py --model TSN --steps 16 --num_workers 2
"""
import argparse
import os
import tempfile
import time

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import frames
import reader


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="TSM", choices=frames.MODELS, help="frame-based model")
    parser.add_argument("--size", default="demo", choices=["demo", "release"], help="model size")
    parser.add_argument("--data_dir", default="data/demo/frames", help="demo videos (written here if missing)")
    parser.add_argument("--batch_size", type=int, default=16, help="clips per step")
    parser.add_argument("--steps", type=int, default=12, help="timed steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers")
    return parser.parse_args(argv)


def run_args(args, out_dir):
    import train
    argv = ["--model", args.model, "--size", args.size, "--data_dir", args.data_dir, "--output_dir", out_dir,
            "--batch_size", str(args.batch_size), "--num_workers", str(args.num_workers), "--overwrite",
            "--max_steps", str(args.steps), "--log_interval", str(args.steps), "--eval_interval", "0"]
    return argv, train.get_args(argv)


def decode_rate(a, steps):
    ds = frames.datasets(a, ["train"])["train"]
    loader, _ = frames.loader(ds, a, shuffle=True)
    it = iter(loader)
    next(it)  # workers started
    start, n = time.perf_counter(), 0
    for _ in range(steps):
        try:
            clips, _ = next(it)
        except StopIteration:
            it = iter(loader)
            clips, _ = next(it)
        n += clips.shape[0] * clips.shape[1]
    return n / (time.perf_counter() - start)


def pure_step_rate(a, steps):
    model = frames.build_model(a)
    a.lr, a.warmup_steps, a.momentum, a.weight_decay = 0.001, 0, 0.9, 1e-4
    optimizer, _ = frames.build_optimizer(a, model, 1000)  # the loop's optimizer (momentum, L2 decay)
    t = a.seg_num * a.seglen
    clips = paddle.randn([a.batch_size, t, 3, a.crop_size, a.crop_size])
    labels = paddle.randint(0, a.num_classes, [a.batch_size])
    for i in range(steps + 2):
        if i == 2:
            start = time.perf_counter()
        loss = F.cross_entropy(model(clips), labels)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    loss.item()
    seconds = (time.perf_counter() - start) / steps
    return a.batch_size * t / seconds, seconds


def loop_step_seconds(argv, steps):
    """Mean batch_cost of train.py's loop (loader wait included) over the logged steps after warm-up."""
    import contextlib
    import io
    import json
    import train
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(io.StringIO()):  # the run's own log
        train.main(argv + ["--max_steps", str(steps + 2), "--log_interval", "2"])
    out = argv[argv.index("--output_dir") + 1]
    with open(os.path.join(out, argv[argv.index("--model") + 1], "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if '"loss"' in line]
    return float(np.mean([r["batch_cost"] for r in records[1:]]))


def latency_ms(argv, repeats=10):
    import eval as eval_script
    import export
    out = argv[argv.index("--output_dir") + 1]
    import contextlib
    import io
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(io.StringIO()):
        export.main(["--output_dir", out])
    args = eval_script.parse(argparse.ArgumentParser(), ["--output_dir", out])
    first = reader.read_list(args.data_dir, "test", args.num_classes)[0][0]
    views = frames.video_views(args, first).astype("float32")
    run = utils.create_predictor(os.path.join(out, args.model, "inference", "model"))
    run([views])
    start = time.perf_counter()
    for _ in range(repeats):
        run([views])
    return (time.perf_counter() - start) / repeats * 1000, views.shape


def main(argv=None):
    args = get_args(argv)
    utils.configure_cpu()
    paddle.set_device("cpu")
    if not os.path.isfile(os.path.join(args.data_dir, "train.list")):
        frames.make_demo(args.data_dir)
    with tempfile.TemporaryDirectory() as out:
        train_argv, a = run_args(args, out)
        frames.resolve(a)
        load = os.getloadavg()[0]
        print(f"{args.model} ({args.size}), batch {args.batch_size}, {a.seg_num}x{a.seglen} frames of "
              f"{a.crop_size} px, {args.num_workers} loader workers; load average {load:.1f} on "
              f"{utils.cpu_count()} cores", flush=True)
        # the loop first: the decode test's loader workers would otherwise still share the cores with it
        loop = loop_step_seconds(train_argv[:-6] + ["--eval_interval", "0"], args.steps)
        trained, step = pure_step_rate(a, args.steps)
        decoded = decode_rate(a, args.steps)
        print(f"decode: {decoded:.0f} frames/s; training consumes {trained:.0f} frames/s: "
              f"ratio {decoded / trained:.1f} (goal >= 2)", flush=True)
        print(f"loop: {loop * 1000:.0f} ms/step, pure step {step * 1000:.0f} ms: overhead "
              f"{100 * (loop / step - 1):.0f}% (goal <= 10%)", flush=True)
        ms, shape = latency_ms(train_argv[:-6])
        print(f"export latency: {ms:.1f} ms per video ({shape[0]} views of {shape[1]} frames)", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
