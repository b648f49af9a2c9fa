"""The folder's helpers: the common flags, CPU/device/distributed setup, run settings, the training
logger, checkpoints, clear errors, and the inference predictor.

This file is identical in every task folder (`python ci/sync_utils.py` copies it from
ci/template/utils.py), so a fix made once reaches every folder. What only some folders need lives
in their own files. Import it anywhere; nothing happens until `setup()` is called.
"""
import argparse
import ctypes
import datetime
import json
import math
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")  # printed by `import paddle` otherwise
warnings.filterwarnings("ignore", message=".*can only be enabled on CUDAPlace.*")
warnings.filterwarnings("ignore", message="When training, we now always track global mean")

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.distributed as dist  # noqa: E402

# Flags that may change when a run is resumed (with a notice); any other differing flag is refused.
RESUMABLE_FLAGS = {"epochs", "max_steps", "log_interval", "eval_interval", "save_interval", "num_workers",
                   "no_shared_memory", "device", "data_dir", "skip_bad_samples", "resume", "overwrite",
                   "output_dir", "to_static"}


class DataError(Exception):
    """Bad input data. The message names the file and line: `path:line: what is wrong`."""


class CheckpointError(Exception):
    """A checkpoint, export or run setting that is missing or does not fit (exit code 4)."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite (exit code 3)."""


def run_main(main):
    """Run a script's main(); bad input ends with one clear line and exit 2 instead of a traceback,
    a diverged loss with 3, a checkpoint problem with 4."""
    worker_errors = []

    def keep_data_errors(hook):  # a worker's error reaches Paddle's prefetch thread, not ours
        if issubclass(hook.exc_type, DataError):
            worker_errors.append(hook.exc_value)
        else:
            threading.__excepthook__(hook)

    threading.excepthook = keep_data_errors
    try:
        main()
    except (DataError, SystemError) as e:
        if isinstance(e, SystemError):  # "Blocking queue is killed": look for the worker's reason
            deadline = time.time() + 2.0
            while not worker_errors and time.time() < deadline:
                time.sleep(0.05)
            if not worker_errors:
                raise
            e = worker_errors[0]
        _exit_with_error(str(e).strip().splitlines()[-1].split("DataError: ", 1)[-1], 2)
    except TrainingDiverged as e:
        _exit_with_error(str(e), 3)
    except CheckpointError as e:
        _exit_with_error(str(e), 4)


def _exit_with_error(message, code):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    if hasattr(signal, "SIGCHLD"):  # Paddle's handler would print the workers' deaths over our message
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for child in multiprocessing.active_children():  # DataLoader workers would outlive us
        child.kill()
    os._exit(code)  # skip teardown: a dead DataLoader's destructor prints noise


# ---------------------------------------------------------------------------------------------- flags

def add_common_flags(parser, *, model, models=None, epochs, batch_size, lr, data_dir="data/demo",
                     num_workers=2, log_interval=10):
    """The flag dialect every train.py speaks; each folder passes its own defaults."""
    parser.formatter_class = HelpFormatter
    g = parser.add_argument_group("common flags (the same in every folder)")
    g.add_argument("--model", default=model, choices=sorted(models) if models else None, metavar="NAME",
                   help="model to train" + (f": {', '.join(sorted(models))}" if models else ""))
    g.add_argument("--data_dir", default=data_dir, help="dataset root, in the real dataset's layout")
    g.add_argument("--output_dir", default="output", help="runs go to OUTPUT_DIR/MODEL/")
    g.add_argument("--epochs", type=int, default=epochs, help="passes over the training data")
    g.add_argument("--max_steps", type=int, default=0, help="stop after this many steps in all (0: no limit)")
    g.add_argument("--batch_size", type=int, default=batch_size, help="samples per step, per process")
    g.add_argument("--lr", type=float, default=lr, help="base learning rate")
    g.add_argument("--seed", type=int, default=42, help="seed of every random number generator")
    g.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    g.add_argument("--amp", choices=["off", "O1", "O2"], default="off",
                   help="mixed precision on GPU (O2: pure fp16); ignored on the CPU, which has no fp16 kernels")
    g.add_argument("--to_static", action="store_true", help="train the model compiled by paddle.jit.to_static")
    g.add_argument("--num_workers", type=int, default=num_workers, help="DataLoader worker processes")
    g.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    g.add_argument("--log_interval", type=int, default=log_interval, help="steps between log lines")
    g.add_argument("--eval_interval", type=int, default=1, help="epochs between evaluations (0: only at the end)")
    g.add_argument("--pretrained", default=None, help="weights to start from (weights only, not the optimizer)")
    g.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="continue a run with its own settings (default file: OUTPUT_DIR/MODEL/latest.pdckpt)")
    g.add_argument("--overwrite", action="store_true", help="start over in an OUTPUT_DIR/MODEL that holds a run")
    g.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad samples instead of stopping")
    return parser


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the docstring's layout and shows every default."""


def parse_args(parser, argv=None):
    """Parse, and remember which flags were given on the command line (args.explicit), so that a
    resumed run or an eval can tell a user's choice from a default."""
    args = parser.parse_args(argv)
    defaults = {a.dest: a.default for a in parser._actions}
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    try:
        args.explicit = set(vars(parser.parse_args(argv)))
    finally:
        for action in parser._actions:
            action.default = defaults[action.dest]
    if getattr(args, "resume", None) == "auto":
        last = os.path.join(args.output_dir, "last_run.json")
        if "model" not in args.explicit and os.path.isfile(last):  # resume the last run trained here
            with open(last) as f:
                args.model = json.load(f)["model"]
        args.resume = os.path.join(args.output_dir, args.model, "latest.pdckpt")
    return args


# ------------------------------------------------------------------------ device, threads, distributed

def world_size():
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def rank():
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def is_main_process():
    return rank() == 0


def cpu_count():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def configure_cpu():
    """Give this process its share of the cores (dygraph uses one MKL thread otherwise) and, on AMD,
    the bundled MKL's fast code path (about 3x faster matmul; MKL reads the variable at its first call)."""
    try:
        with open("/proc/cpuinfo") as f:
            if "AuthenticAMD" in f.read(4096):
                os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
    except OSError:
        pass
    local = int(os.environ.get("PADDLE_LOCAL_SIZE", os.environ.get("PADDLE_TRAINERS_NUM", "1")))
    paddle.base.core.set_num_threads(max(1, cpu_count() // max(1, local)))


def setup(args):
    """Pick the device, configure the CPU, seed, and join the distributed group; returns the device."""
    device = getattr(args, "device", "auto")
    use_gpu = device == "gpu" or (device == "auto" and paddle.device.is_compiled_with_cuda()
                                  and paddle.device.cuda.device_count() > 0)
    paddle.set_device("gpu" if use_gpu else "cpu")
    if not use_gpu:
        configure_cpu()
    if world_size() > 1:
        dist.init_parallel_env()
    seed = getattr(args, "seed", 42)
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)
    return "gpu" if use_gpu else "cpu"


def amp_setup(args, device, model, optimizer):
    """Mixed precision on GPU: O1 autocasts, O2 also keeps the weights in fp16 (paddle.amp.decorate).
    Returns (model, optimizer, GradScaler, enabled); on the CPU, which has no fp16 kernels, a notice."""
    enabled = args.amp != "off" and device == "gpu"
    if args.amp != "off" and not enabled and is_main_process():
        print(f"note: --amp {args.amp} ignored: the CPU has no fp16 kernels, training in fp32", flush=True)
    if enabled and args.amp == "O2":
        model, optimizer = paddle.amp.decorate(model, optimizer, level="O2")
    return model, optimizer, paddle.amp.GradScaler(enable=enabled, init_loss_scaling=1024), enabled


def all_reduce_sum(array):
    """Sum a numpy array over all ranks (metric counts), so every rank sees the global figure."""
    array = np.asarray(array, dtype=np.float64)
    if world_size() == 1:
        return array
    t = paddle.to_tensor(array)
    dist.all_reduce(t)
    return t.numpy()


def broadcast_from_rank0(model):
    """Give every rank rank 0's weights and BatchNorm statistics (DataParallel syncs only the
    gradients), so a distributed eval equals evaluating the checkpoint rank 0 saves."""
    if world_size() > 1:
        for tensor in unwrap(model).state_dict().values():
            dist.broadcast(tensor, src=0)


def unwrap(model):
    return model._layers if isinstance(model, paddle.DataParallel) else model


def die_with_parent(worker_id=None):
    """DataLoader worker_init_fn: on Linux the worker is killed when its parent dies, even by kill -9
    (otherwise workers outlive it by more than a minute)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def make_loader(dataset, args, batch_sampler=None, batch_size=None, collate_fn=None):
    return paddle.io.DataLoader(
        dataset, batch_sampler=batch_sampler, batch_size=batch_size if batch_sampler is None else 1,
        shuffle=False, drop_last=False, num_workers=args.num_workers, collate_fn=collate_fn,
        use_shared_memory=not args.no_shared_memory, worker_init_fn=die_with_parent)


def read_lines(path):
    """[(line number, text)] of a UTF-8 text file; a byte that is not UTF-8 is a DataError naming
    the file and line."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines = []
    for number, line in enumerate(raw, 1):
        try:
            lines.append((number, line.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError as e:
            raise DataError(f"{path}:{number}: not UTF-8 text (byte {e.start + 1} of the line)") from None
    return lines


def progress(items, total, what, every=5.0):
    """Yield from items, printing `what: i/total (p%) eta` every few seconds for long phases."""
    start = last = time.time()
    for i, item in enumerate(items, 1):
        yield item
        now = time.time()
        if now - last >= every and is_main_process():
            eta = datetime.timedelta(seconds=int((now - start) / i * max(total - i, 0)))
            print(f"{what}: {i}/{total} ({100 * i / max(total, 1):.0f}%) eta {eta}", flush=True)
            last = now


# --------------------------------------------------------------------------------------- run settings

def prepare_run(args):
    """Called by train.py after parsing. A resumed run takes its settings from the checkpoint: a flag
    given now that differs is applied with a notice when it is in RESUMABLE_FLAGS and refused otherwise.
    A new run refuses to replace another run's results without --overwrite. Returns the checkpoint dict
    when resuming (for load_checkpoint), else None."""
    out_dir = os.path.join(args.output_dir, args.model)
    state = None
    if args.resume:
        if not os.path.isfile(args.resume):
            raise CheckpointError(f"no checkpoint to resume from at {args.resume}")
        state = paddle.load(args.resume)
        for key, saved in state.get("config", {}).items():
            now = getattr(args, key, saved)
            if key not in args.explicit:
                setattr(args, key, saved)
            elif now != saved and key not in RESUMABLE_FLAGS:
                raise CheckpointError(f"--{key} {now} differs from the run being resumed ({saved}); "
                                      f"drop the flag, or start a new run with --overwrite")
            elif now != saved and is_main_process():
                print(f"note: --{key} {now} replaces the resumed run's {saved}", flush=True)
    elif os.path.isfile(os.path.join(out_dir, "latest.pdckpt")) and not args.overwrite:
        raise CheckpointError(f"{out_dir} already holds a trained run; pass --resume to continue it, "
                              "--overwrite to replace it, or another --output_dir")
    if is_main_process():
        os.makedirs(out_dir, exist_ok=True)
        if not args.resume and os.path.exists(os.path.join(out_dir, "metrics.jsonl")):
            os.remove(os.path.join(out_dir, "metrics.jsonl"))  # --overwrite: the old curve is not this run's
        _write_json(os.path.join(out_dir, "train_config.json"), run_config(args))
        _write_json(os.path.join(args.output_dir, "last_run.json"), {"model": args.model})
    return state


def run_config(args):
    return {k: v for k, v in vars(args).items() if k not in ("explicit", "resume", "overwrite", "pretrained")}


def load_run_config(args, keep=("output_dir", "batch_size", "num_workers", "device")):
    """For eval/export/infer: fill every flag the user did not give from the saved settings of the run
    they use: OUTPUT_DIR/MODEL/train_config.json, MODEL defaulting to the last run trained there.
    `keep`: flags whose own default stays (eval may use another batch size than training)."""
    if getattr(args, "model", None) is None or "model" not in args.explicit:
        last = os.path.join(args.output_dir, "last_run.json")
        if os.path.isfile(last):
            with open(last) as f:
                args.model = json.load(f)["model"]
    if args.model is None:
        raise CheckpointError(f"no trained run in {args.output_dir}; train one first or pass --model")
    path = os.path.join(args.output_dir, args.model, "train_config.json")
    if os.path.isfile(path):
        with open(path) as f:
            for key, value in json.load(f).items():
                if hasattr(args, key) and key not in args.explicit and key not in keep:
                    setattr(args, key, value)
    return args


def _write_json(path, obj):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False, default=str)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------- logging

class TrainLogger:
    """One log line every `log_interval` steps, with the same figures appended to metrics.jsonl. The
    loss is summed on the device and read only when a line is written: no host sync between log steps.
    Its window travels in the checkpoint, so the first line after a resume equals the unbroken run's."""

    def __init__(self, out_dir, total_steps, log_interval):
        self.path = os.path.join(out_dir, "metrics.jsonl")
        self.total_steps, self.log_interval = total_steps, log_interval
        self.load_state_dict({})

    def state_dict(self):
        loss = self.loss_sum.item() if self.loss_sum is not None else None
        return {"loss_sum": loss, "count": self.count, "samples": self.samples,
                "reader_cost": self.reader_cost, "batch_cost": self.batch_cost}

    def load_state_dict(self, state):
        loss = state.get("loss_sum")
        self.loss_sum = paddle.to_tensor(loss, dtype="float32") if loss is not None else None
        self.count, self.samples = state.get("count", 0), state.get("samples", 0)
        self.reader_cost, self.batch_cost = state.get("reader_cost", 0.0), state.get("batch_cost", 0.0)

    def update(self, loss, num_samples, reader_cost, batch_cost):
        loss = loss.detach().astype("float32").reshape([])
        self.loss_sum = loss if self.loss_sum is None else self.loss_sum + loss
        self.count += 1
        self.samples += num_samples
        self.reader_cost += reader_cost
        self.batch_cost += batch_cost

    def should_log(self, step):
        return step % self.log_interval == 0 or step == self.total_steps

    def log(self, epoch, epochs, step, lr):
        loss = self.loss_sum.item() / self.count
        if not math.isfinite(loss):
            raise TrainingDiverged(f"loss is {loss} at step {step}; lower --lr or check the data")
        record = {"epoch": epoch, "step": step, "loss": round(loss, 6), "lr": lr,
                  "ips": self.samples * world_size() / max(self.batch_cost, 1e-9),
                  "reader_cost": self.reader_cost / self.count, "batch_cost": self.batch_cost / self.count}
        record["eta"] = str(datetime.timedelta(seconds=int(record["batch_cost"] * (self.total_steps - step))))
        if is_main_process():
            print(f"epoch {epoch}/{epochs} step {step}/{self.total_steps} loss {loss:.4f} lr {lr:.6f} "
                  f"ips {record['ips']:.1f} samples/s reader_cost {record['reader_cost']:.4f} s "
                  f"batch_cost {record['batch_cost']:.4f} s eta {record['eta']}", flush=True)
        self.write(record)
        if step % self.log_interval == 0:  # a line at another step (the last) leaves the window open, so a
            self.load_state_dict({})       # run resumed from there logs what the unbroken run would
        return loss

    def write(self, record):
        if is_main_process():
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


class Timer:
    """Wall time since the last tick; the loop uses it for reader_cost and batch_cost."""

    def __init__(self):
        self.last = time.perf_counter()

    def tick(self):
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed


def plot_curves(out_dir, size=(900, 360)):
    """OUTPUT_DIR/MODEL/curves.png: the training loss, and the first eval metric, against the step."""
    from PIL import Image, ImageDraw
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    evals = [r for r in records if "loss" not in r]
    name = next((k for r in evals for k, v in r.items() if k not in ("epoch", "step", "samples")
                 and isinstance(v, (int, float))), None)
    panels = [("train loss", train)] + ([(name, [(r["step"], r[name]) for r in evals if name in r])] if name else [])
    image = Image.new("RGB", size, "white")
    draw, width = ImageDraw.Draw(image), size[0] // len(panels)
    for i, (title, points) in enumerate(panels):
        x0, y0, x1, y1 = i * width + 50, 30, (i + 1) * width - 20, size[1] - 40
        draw.rectangle([x0, y0, x1, y1], outline="black")
        if not points:
            continue
        (s_lo, s_hi), (v_lo, v_hi) = [(min(a), max(a)) for a in zip(*points)]
        draw.text((x0, 8), f"{title}: last {points[-1][1]:.4g}   steps {s_lo}-{s_hi}", fill="black")
        draw.text((x0 - 45, y0), f"{v_hi:.3g}", fill="black")
        draw.text((x0 - 45, y1 - 10), f"{v_lo:.3g}", fill="black")
        xy = [(x0 + (x1 - x0) * (s - s_lo) / max(s_hi - s_lo, 1), y1 - (y1 - y0) * (v - v_lo) / max(v_hi - v_lo, 1e-12))
              for s, v in points]
        if len(xy) > 1:
            draw.line(xy, fill="steelblue", width=2)
        else:  # a single point (one eval) as a dot
            draw.ellipse([xy[0][0] - 3, xy[0][1] - 3, xy[0][0] + 3, xy[0][1] + 3], fill="steelblue")
    image.save(os.path.join(out_dir, "curves.png"))
    return os.path.join(out_dir, "curves.png")


# ---------------------------------------------------------------------------------------- checkpoints

def _rng_state():
    key = np.random.get_state()
    # paddle.save cannot hold a uint32 array, so the numpy key travels as a list of ints.
    return {"python": random.getstate(), "numpy": (key[0], key[1].tolist(), *key[2:]),
            "paddle": paddle.get_rng_state()}


def save_checkpoint(path, model, optimizer, scheduler=None, args=None, logger=None, **extra):
    """One dict: model, optimizer, LR scheduler, RNG state, the run's settings, the logger's window
    and the loop's own fields (epoch, step, best metric). Written to a temporary file and renamed, so a
    kill mid-save leaves the previous checkpoint intact; a killed save's leftovers are removed."""
    if not is_main_process():
        return
    state = {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict() if scheduler is not None else None, "rng": _rng_state(),
             "config": run_config(args) if args is not None else {},
             "logger": logger.state_dict() if logger is not None else {}, **extra}
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    for old in os.listdir(folder or "."):
        if old.startswith(name + ".tmp"):
            os.remove(os.path.join(folder, old))
    tmp = f"{path}.tmp{os.getpid()}"
    paddle.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path_or_state, model, optimizer=None, scheduler=None, logger=None):
    """Restore everything save_checkpoint wrote (strictly: the weights must fit the model); returns
    the dict for the loop's own fields."""
    state = path_or_state if isinstance(path_or_state, dict) else _load(path_or_state)
    check_fits(unwrap(model), state["model"], path_or_state if isinstance(path_or_state, str) else "checkpoint")
    unwrap(model).set_state_dict(state["model"])
    if optimizer is not None:
        optimizer.set_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.set_state_dict(state["scheduler"])
    if logger is not None:
        logger.load_state_dict(state.get("logger", {}))
    random.setstate(state["rng"]["python"])
    name, key, *rest = state["rng"]["numpy"]
    np.random.set_state((name, np.asarray(key, dtype=np.uint32), *rest))
    paddle.set_rng_state(state["rng"]["paddle"])
    return state


def _load(path):
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}; train first, or pass --checkpoint")
    return paddle.load(path)


def check_fits(model, weights, where):
    """A checkpoint that does not fit the model is an error, never a warning."""
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    wrong = sorted(k for k in own if k in weights and list(weights[k].shape) != list(own[k].shape))
    if missing or wrong:
        detail = [f"{k}: {list(weights[k].shape)} in the file, {list(own[k].shape)} in the model" for k in wrong[:3]]
        raise CheckpointError(f"{where} does not fit the model: " + "; ".join(
            ([f"{len(missing)} tensors missing ({', '.join(missing[:3])})"] if missing else []) + detail))


def load_model(model, path):
    """Weights for eval/export/infer, from a checkpoint or a .pdparams file; strict."""
    state = _load(path)
    state = state.get("model", state)
    check_fits(model, state, path)
    model.set_state_dict(state)
    return model


def load_pretrained(model, path):
    """--pretrained: weights only; loads what fits and reports the keys that did not."""
    state = _load(path)
    state = state.get("model", state)
    own = unwrap(model).state_dict()
    usable = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
    unwrap(model).set_state_dict(usable)
    skipped = sorted(set(own) - set(usable))
    if is_main_process():
        print(f"loaded {len(usable)}/{len(own)} tensors from {path}"
              + (f"; not loaded: {', '.join(skipped[:10])}" if skipped else ""), flush=True)
    return skipped


# ------------------------------------------------------------------------------------------ inference

def save_export_info(inference_dir, checkpoint, args):
    """Beside an export: which checkpoint it came from and when, and the run's settings."""
    _write_json(os.path.join(inference_dir, "export_info.json"),
                {"checkpoint": os.path.abspath(checkpoint), "checkpoint_mtime": os.path.getmtime(checkpoint),
                 "config": run_config(args)})


def check_export(inference_dir):
    """Refuse an export older than the checkpoint it came from; say which one it is. Returns its info."""
    path = os.path.join(inference_dir, "export_info.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"no exported model in {inference_dir}; run export.py first")
    with open(path) as f:
        info = json.load(f)
    if os.path.isfile(info["checkpoint"]) and os.path.getmtime(info["checkpoint"]) > info["checkpoint_mtime"]:
        raise CheckpointError(f"the export in {inference_dir} is older than {info['checkpoint']}, which was "
                              "trained further since; run export.py again")
    print(f"using the export of {info['config'].get('model')} from {info['checkpoint']}", file=sys.stderr)
    return info


def inference_files(prefix):
    """The files paddle.jit.save wrote: `.json` (PIR, Paddle 3) or `.pdmodel` (older builds)."""
    for ext in (".json", ".pdmodel"):
        if os.path.isfile(prefix + ext):
            return prefix + ext, prefix + ".pdiparams"
    raise CheckpointError(f"no exported model at {prefix}.json; run export.py first")


def create_predictor(prefix, use_onednn=True):
    """A Paddle Inference predictor for an exported model; returns run(list of arrays) -> list of arrays."""
    from paddle import inference
    config = inference.Config(*inference_files(prefix))
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        config.enable_use_gpu(256, 0)
    else:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(cpu_count())
        if use_onednn:
            config.enable_mkldnn()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)

    def run(arrays):
        for name, array in zip(predictor.get_input_names(), arrays):
            predictor.get_input_handle(name).copy_from_cpu(np.ascontiguousarray(array))
        predictor.run()
        return [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]

    return run
