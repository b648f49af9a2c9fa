"""How the frame-based training keeps up, for one model (default TSM at demo size on the demo videos):

- reader throughput: frames/s the DataLoader (read, sample, crop; in --num_workers workers, or with 0 in
  the main process) delivers, against the frames/s the training step consumes (goal: >= 2x);
- loop overhead: a step of train.py's real loop (waiting for the loader, the step, the logger) against the
  pure step on a batch already in memory (goal: <= 10%). Both are medians over --rounds rounds of --steps
  steps taken in turn, so that the load of shared cores, which changes by the second, moves them alike.
  The epoch boundaries (checkpoint, eval, forking new workers) are not in the window;
- the exported model's latency through utils.create_predictor (Paddle Inference, oneDNN): ms per video
  with its test views, from the export of a short run.

By default the loader reads the frame cache (DATA_DIR/frame_cache, built or brought up to date first, as
train.sh does); `--reader decode` measures decoding every video at every step instead. The first line
says which path was measured, with how many workers, under what load.

    python benchmark.py                                   # TSM, demo size, the demo data in data/demo/frames
    python benchmark.py --num_workers 2                   # the batches read by two worker processes
    python benchmark.py --reader decode                   # without the frame cache
    python benchmark.py --model TSN --steps 16
"""
import argparse
import contextlib
import io
import json
import os
import tempfile
import time

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import frames
import reader
import train


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="TSM", choices=frames.MODELS, help="frame-based model")
    parser.add_argument("--size", default="demo", choices=["demo", "release"], help="model size")
    parser.add_argument("--data_dir", default="data/demo/frames", help="demo videos (written here if missing)")
    parser.add_argument("--reader", choices=["cache", "decode"], default="cache",
                        help="cache: slice the frame cache DATA_DIR/frame_cache; decode: decode the videos each step")
    parser.add_argument("--batch_size", type=int, default=16, help="clips per step")
    parser.add_argument("--steps", type=int, default=12, help="timed steps a round (after 2 warm-up steps)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the loop and the pure step in turn")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers (0, as train.sh's demo: "
                        "the main process reads the batches)")
    return parser.parse_args(argv)


def train_argv(args, out_dir):
    """train.py's flags for the benchmarked run (the timed loops add --max_steps and --log_interval)."""
    argv = ["--model", args.model, "--size", args.size, "--data_dir", args.data_dir, "--output_dir", out_dir,
            "--batch_size", str(args.batch_size), "--num_workers", str(args.num_workers), "--overwrite",
            "--eval_interval", "0"]
    if args.reader == "cache":
        argv += ["--frame_cache", os.path.join(args.data_dir, "frame_cache")]
    return argv


def loader_rate(a, steps):
    """Frames/s the training loader delivers (read, sample, crop, collate), without training."""
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


def pure_step_seconds(a, steps):
    """Seconds of each training step alone (after 2 warm-up steps), on a batch already in memory."""
    model = frames.build_model(a)
    a.lr, a.warmup_steps, a.momentum, a.weight_decay = 0.001, 0, 0.9, 1e-4
    optimizer, _ = frames.build_optimizer(a, model, 1000)  # the loop's optimizer (momentum, L2 decay)
    t = a.seg_num * a.seglen
    clips = paddle.randn([a.batch_size, t, 3, a.crop_size, a.crop_size])
    labels = paddle.randint(0, a.num_classes, [a.batch_size])
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        loss = F.cross_entropy(model(clips), labels)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        loss.item()  # a no-op wait on the CPU, a sync on a GPU
        times.append(time.perf_counter() - start)
    return times[2:]


def loop_step_seconds(argv, out_dir, model, steps):
    """batch_cost of each step of train.py's loop (loader wait included) after 2 warm-up steps."""
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(io.StringIO()):  # the run's own log
        train.main(argv + ["--max_steps", str(steps + 2), "--log_interval", "1"])
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if '"loss"' in line]
    return [r["batch_cost"] for r in records[2:]]


def latency_ms(out, repeats=10):
    import eval as eval_script
    import export
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
        argv = train_argv(args, out)
        a = train.get_args(argv)
        frames.resolve(a)
        load = os.getloadavg()[0]
        path = f"frame cache {a.frame_cache}" if a.frame_cache else "decoding every video at every step"
        print(f"{args.model} ({args.size}), batch {args.batch_size}, {a.seg_num}x{a.seglen} frames of "
              f"{a.crop_size} px, {args.num_workers} loader workers, reader: {path}; load average {load:.1f} "
              f"on {utils.cpu_count()} cores", flush=True)
        # the loop first (it also brings the frame cache up to date), the loader test last: its loader workers
        # would otherwise still share the cores with the timed steps
        loop_times, step_times = [], []
        for _ in range(args.rounds):
            loop_times += loop_step_seconds(argv, out, args.model, args.steps)
            step_times += pure_step_seconds(a, args.steps)
        loop, step = float(np.median(loop_times)), float(np.median(step_times))
        trained = a.batch_size * a.seg_num * a.seglen / step
        delivered = loader_rate(a, args.steps)
        print(f"loader: {delivered:.0f} frames/s; training consumes {trained:.0f} frames/s: "
              f"ratio {delivered / trained:.1f} (goal >= 2)", flush=True)
        print(f"loop: {loop * 1000:.0f} ms/step, pure step {step * 1000:.0f} ms: overhead "
              f"{100 * (loop / step - 1):.0f}% (goal <= 10%)", flush=True)
        ms, shape = latency_ms(out)
        print(f"export latency: {ms:.1f} ms per video ({shape[0]} views of {shape[1]} frames)", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
