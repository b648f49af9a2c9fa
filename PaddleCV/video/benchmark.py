"""How the frame-based training keeps up, for one model (default TSM at demo size on the demo videos):

- reader throughput: frames/s the DataLoader (read, sample, crop; in --num_workers workers, or with 0 in
  the main process) delivers, against the frames/s the training step consumes (goal: >= 2x);
- reader CPU per training clip: ms of this process's CPU to read, sample, crop and normalise one clip, by
  decoding the video and (with the frame cache) from its cache entry, over the first training videos;
- loop overhead: a step of train.py's real loop (waiting for the loader, the step, the logger) against the
  pure step on a batch already in memory (goal: <= 10%). Each round times --steps steps of each, in turn,
  after a warm-up; the figures are the fastest of --rounds rounds' mean steps: the load of shared cores
  changes by the second, and a mean takes in every stall, so the least disturbed round of each is compared
  (the rounds in turn, so that a quiet spell serves both). The loop logs once per --steps steps
  (the logger's window, the repo's log line), so its timed window holds one log line, as every window of a
  real run at that --log_interval does; the pure step reads the loss once per round. The epoch boundaries
  (checkpoint, eval, forking new workers) are not in the window;
- the exported model's latency through utils.create_predictor (Paddle Inference, oneDNN): ms per video
  with its test views, from the export of a short run.

By default the loader reads the frame cache (DATA_DIR/frame_cache, built or brought up to date first, as
train.sh does); `--reader decode` measures decoding every video at every step instead. The first line
says which path was measured, with how many workers, under what load.

    python benchmark.py                                   # TSM, demo size, the demo data in data/demo/frames
    python benchmark.py --num_workers 2                   # the batches read by two worker processes
    python benchmark.py --reader decode                   # without the frame cache
    python benchmark.py --model TSN --rounds 5
"""
import argparse
import contextlib
import io
import json
import os
import tempfile
import time

import utils  # first: it silences the warning `import paddle` prints
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
    parser.add_argument("--steps", type=int, default=8, help="timed steps a round, after as many warm-up steps in "
                        "the loop (2 in the pure step); the loop's 2 x steps fit in one epoch of the demo at batch 16")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the loop and the pure step in turn")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers (0, as train.sh's demo: "
                        "the main process reads the batches)")
    return parser.parse_args(argv)


def train_argv(args, out_dir):
    """train.py's flags for the benchmarked run (the timed loop adds --max_steps and --log_interval)."""
    argv = ["--model", args.model, "--size", args.size, "--data_dir", args.data_dir, "--output_dir", out_dir,
            "--batch_size", str(args.batch_size), "--num_workers", str(args.num_workers), "--overwrite",
            "--eval_interval", "0"]
    if args.reader == "cache":
        argv += ["--frame_cache", os.path.join(args.data_dir, "frame_cache")]
    return argv


def loader_rate(ds, a, steps):
    """Frames/s the training loader delivers (read, sample, crop, collate), without training."""
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


def clip_cpu_ms(ds, count):
    """CPU ms of this process per training clip (read, sample, crop, normalise) over ds's first `count` items."""
    start = time.process_time()
    for i in range(count):
        ds[i]
    return (time.process_time() - start) / count * 1000


def pure_step_seconds(a, steps):
    """Mean seconds of a training step alone over `steps` steps (after 2 warm-up steps), on a batch already in
    memory; the loss is read once at the end (a no-op wait on the CPU, a sync on a GPU), as the logger does."""
    model = frames.build_model(a)
    a.lr, a.warmup_steps, a.momentum, a.weight_decay = 0.001, 0, 0.9, 1e-4
    optimizer, _ = frames.build_optimizer(a, model, 1000)  # the loop's optimizer (momentum, L2 decay)
    t = a.seg_num * a.seglen
    clips = paddle.randn([a.batch_size, t, 3, a.crop_size, a.crop_size])
    labels = paddle.randint(0, a.num_classes, [a.batch_size])
    for warm_up in (True, False):
        start = time.perf_counter()
        for _ in range(2 if warm_up else steps):
            loss = F.cross_entropy(model(clips), labels)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
        loss.item()
    return (time.perf_counter() - start) / steps


def loop_step_seconds(argv, out_dir, model, steps):
    """Mean batch_cost of train.py's loop (loader wait included) over its second log window of `steps` steps
    (the first, with the loader's start, is the warm-up)."""
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(io.StringIO()):  # the run's own log
        train.main(argv + ["--max_steps", str(2 * steps), "--log_interval", str(steps)])
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if '"loss"' in line]
    return records[1]["batch_cost"]


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
            loop_times.append(loop_step_seconds(argv, out, args.model, args.steps))
            step_times.append(pure_step_seconds(a, args.steps))
        loop, step = min(loop_times), min(step_times)
        trained = a.batch_size * a.seg_num * a.seglen / step
        ds = frames.datasets(a, ["train"])["train"]
        delivered = loader_rate(ds, a, args.steps)
        print(f"loader: {delivered:.0f} frames/s; training consumes {trained:.0f} frames/s: "
              f"ratio {delivered / trained:.1f} (goal >= 2)", flush=True)
        # after the loader test, so that its workers open their own memory maps
        count = min(len(ds), args.batch_size)
        decoding = reader.VideoDataset(ds.items[:count], ds.cfg, train=True, seed=ds.seed)
        decoding.check(skip_bad_samples=False)
        cost = f"decoding the video {clip_cpu_ms(decoding, count):.2f} ms"
        if a.frame_cache:
            cost += f", from the frame cache {clip_cpu_ms(ds, count):.2f} ms"
        print(f"reader CPU per training clip ({count} videos, this process): {cost}", flush=True)
        print(f"loop: {loop * 1000:.0f} ms/step, pure step {step * 1000:.0f} ms: overhead "
              f"{100 * (loop / step - 1):.0f}% (goal <= 10%)", flush=True)
        ms, shape = latency_ms(out)
        print(f"export latency: {ms:.1f} ms per video ({shape[0]} views of {shape[1]} frames)", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
