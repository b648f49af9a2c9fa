"""The folder's own helpers: CPU setup, the common flags, distributed setup, logging, checkpoints,
clear errors for bad input, and loading an exported inference model.

This file is deliberately identical in every task folder of the repo, so that a fix made here can be
carried to every folder mechanically. Import it before paddle: it configures the CPU at import time.
"""
import argparse
import datetime
import json
import math
import os
import random
import signal
import sys
import threading
import time
import warnings


def _is_amd_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            return "AuthenticAMD" in f.read(4096)
    except OSError:
        return False


# Must happen before paddle is imported: the bundled MKL reads MKL_DEBUG_CPU_TYPE when it loads, and
# without it takes a code path about 3x slower on AMD processors (Intel ones ignore it anyway, but we
# only set it where it helps).
if _is_amd_cpu():
    os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message=".*can only be enabled on CUDAPlace.*")
warnings.filterwarnings("ignore", message="When training, we now always track global mean")

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.distributed as dist  # noqa: E402
from paddle.io.dataloader.collate import default_collate_fn  # noqa: E402


class DataError(Exception):
    """Bad input data. The message names the file and line: `path:line: what is wrong`."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite."""


_worker_data_errors = []


def _catch_loader_thread_errors(hook_args):
    # An error raised in a DataLoader worker reaches Paddle's prefetch thread, not the main thread,
    # which then only sees "Blocking queue is killed". Keep the real error for run_main to report.
    if issubclass(hook_args.exc_type, DataError):
        _worker_data_errors.append(hook_args.exc_value)
    else:
        threading.__excepthook__(hook_args)


def _one_line(error):
    # A worker's error arrives wrapped in the worker's traceback: keep its own message.
    return str(error).strip().splitlines()[-1].split("DataError: ", 1)[-1]


def _kill_child_processes():
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid():
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


def _exit_with_error(message, code):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Paddle's SIGCHLD handler would turn the workers' deaths into a traceback over our message.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _kill_child_processes()  # DataLoader workers would outlive us, holding our stdout open
    os._exit(code)  # skip interpreter teardown: a dead DataLoader's destructor would print noise


def run_main(main):
    """Run a script's main(); bad input ends with one clear line (exit 2) instead of a traceback,
    a diverged loss with exit 3."""
    threading.excepthook = _catch_loader_thread_errors
    try:
        main()
    except (DataError, SystemError) as e:
        if isinstance(e, SystemError):
            deadline = time.time() + 2.0  # the prefetch thread may still be on its way to the hook
            while not _worker_data_errors and time.time() < deadline:
                time.sleep(0.05)
            if not _worker_data_errors:
                raise
            e = _worker_data_errors[0]
        _exit_with_error(_one_line(e), 2)
    except TrainingDiverged as e:
        _exit_with_error(str(e), 3)


# ----------------------------------------------------------------------------------------------
# flags

def add_common_flags(parser, *, model, models=None, epochs, batch_size, lr, data_dir="data/demo",
                     num_workers=2, log_interval=10):
    """The flag dialect every train.py of the repo speaks; each folder passes its own defaults."""
    g = parser.add_argument_group("common flags (the same in every folder)")
    g.add_argument("--model", default=model, choices=sorted(models) if models else None,
                   help="model to train" + (f"; one of: {', '.join(sorted(models))}" if models else ""))
    g.add_argument("--data_dir", default=data_dir, help="dataset root, in the real dataset's layout")
    g.add_argument("--output_dir", default="output", help="checkpoints and logs go to OUTPUT_DIR/MODEL/")
    g.add_argument("--epochs", type=int, default=epochs)
    g.add_argument("--max_steps", type=int, default=0, help="stop after this many steps in all (0: no limit)")
    g.add_argument("--batch_size", type=int, default=batch_size, help="per process")
    g.add_argument("--lr", type=float, default=lr)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    g.add_argument("--amp", choices=["off", "O1", "O2"], default="off",
                   help="mixed precision on GPU; the CPU has no fp16/bf16 kernels, so it is a no-op there")
    g.add_argument("--to_static", action="store_true", help="train the model compiled by paddle.jit.to_static")
    g.add_argument("--num_workers", type=int, default=num_workers, help="DataLoader worker processes")
    g.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    g.add_argument("--log_interval", type=int, default=log_interval, help="steps between log lines")
    g.add_argument("--eval_interval", type=int, default=1, help="epochs between evaluations (0: only at the end)")
    g.add_argument("--pretrained", default=None, help="weights to start from (weights only, not the optimizer)")
    g.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="continue a run from a checkpoint (default: OUTPUT_DIR/MODEL/latest.pdckpt)")
    g.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad samples instead of stopping")
    return parser


# ----------------------------------------------------------------------------------------------
# device, threads, distributed

def world_size():
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def rank():
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def is_main_process():
    return rank() == 0


def setup(args):
    """Pick the device, spread the CPU cores over the local processes, seed, init distributed."""
    use_gpu = args.device == "gpu" or (args.device == "auto" and paddle.device.is_compiled_with_cuda()
                                       and paddle.device.cuda.device_count() > 0)
    paddle.set_device("gpu" if use_gpu else "cpu")
    if not use_gpu:
        # Dygraph uses one MKL thread by default; give each local process its share of the cores.
        local = int(os.environ.get("PADDLE_LOCAL_SIZE", os.environ.get("PADDLE_TRAINERS_NUM", "1")))
        paddle.base.core.set_num_threads(max(1, len(os.sched_getaffinity(0)) // max(1, local)))
    if world_size() > 1:
        dist.init_parallel_env()
    set_seed(args.seed)
    return "gpu" if use_gpu else "cpu"


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)


def unwrap(model):
    """The model itself, behind DataParallel and to_static wrappers."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def all_reduce_sum(array):
    """Sum a numpy array over all ranks (metric counts), so every rank sees the global figure."""
    array = np.asarray(array, dtype=np.float64)
    if world_size() == 1:
        return array
    t = paddle.to_tensor(array)
    dist.all_reduce(t)
    return t.numpy()


def broadcast_from_rank0(model):
    """Give every rank rank 0's weights and statistics. DataParallel keeps the trained weights in
    step but not BatchNorm's running statistics, so without this a distributed eval would mix the
    statistics of several ranks and differ from evaluating the checkpoint rank 0 saves."""
    if world_size() > 1:
        for tensor in unwrap(model).state_dict().values():
            dist.broadcast(tensor, src=0)


def amp_enabled(args, device):
    if args.amp != "off" and device != "gpu" and is_main_process():
        print(f"note: --amp {args.amp} ignored: this device has no fp16/bf16 kernels, training in fp32",
              flush=True)
    return args.amp != "off" and device == "gpu"


# ----------------------------------------------------------------------------------------------
# data

class ResumableBatchSampler(paddle.io.BatchSampler):
    """Batches of dataset indices: shuffled by (seed, epoch), sharded over ranks, and able to start
    mid-epoch, so that --resume neither re-reads nor skips a sample."""

    def __init__(self, num_samples, batch_size, shuffle=True, drop_last=True, seed=0):
        self.num_samples, self.batch_size = num_samples, batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        order = np.arange(self.num_samples)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(self.num_samples)
        world = world_size()
        per_rank = self.num_samples // world  # equal shares keep the ranks in step
        mine = order[rank() * per_rank:(rank() + 1) * per_rank] if world > 1 else order
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        return [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        """Batches in a whole epoch (not counting a resumed epoch's skipped start)."""
        per_rank = self.num_samples // world_size() if world_size() > 1 else self.num_samples
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


def eval_shard(dataset):
    """This rank's share of an eval set, without the padded duplicates a DistributedBatchSampler adds,
    so distributed eval gives exactly the single-process metric."""
    if world_size() == 1:
        return dataset
    return paddle.io.Subset(dataset, list(range(rank(), len(dataset), world_size())))


def make_loader(dataset, args, batch_sampler=None, batch_size=None, collate_fn=None):
    return paddle.io.DataLoader(
        dataset, batch_sampler=batch_sampler, batch_size=batch_size if batch_sampler is None else 1,
        shuffle=False, drop_last=False, num_workers=args.num_workers, collate_fn=collate_fn,
        use_shared_memory=not args.no_shared_memory)


_NO_GOOD_SAMPLES = "no_good_samples"


def collate_with_errors(samples, collate=None):
    """Collate a batch's good samples and pass the bad ones' messages along.

    A dataset returns a DataError for a bad sample instead of raising it: when __getitem__ raises,
    Paddle's DataLoader hangs (num_workers=0) or buries the message in a worker traceback. A batch
    with no good sample at all travels as a marker dict, since the DataLoader cannot carry None or
    empty arrays."""
    good = [s for s in samples if not isinstance(s, DataError)]
    errors = [str(s) for s in samples if isinstance(s, DataError)]
    batch = (collate or default_collate_fn)(good) if good else {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}
    return batch, errors



class BadSampleFilter:
    """Wraps a loader built with collate_with_errors: stops at the first bad sample with its message,
    or with --skip_bad_samples skips it and counts it."""

    def __init__(self, skip):
        self.skip, self.skipped = skip, 0

    def __call__(self, loader):
        for batch, errors in loader:
            for message in errors:
                if not self.skip:
                    raise DataError(message)
                self.skipped += 1
                if is_main_process():
                    print(f"skipped bad sample: {message}", flush=True)
            if not (isinstance(batch, dict) and _NO_GOOD_SAMPLES in batch):
                yield batch


def seed_sample(seed, epoch, index):
    """Seed Python's and numpy's global RNGs for one sample's random augmentation (paddle.vision
    transforms draw from both), so it is the same on every run, in every worker, and after a resume,
    whichever process loads the sample."""
    value = (seed * 1_000_003 + epoch * 10_007 + index) % (2 ** 32)
    random.seed(value)
    np.random.seed(value)


# ----------------------------------------------------------------------------------------------
# logging

class TrainLogger:
    """One log line every `log_interval` steps, with the same figures appended to metrics.jsonl.

    The loss is accumulated on the device and read back only when a line is written, so training
    never waits for the host between log steps."""

    def __init__(self, out_dir, total_steps, log_interval):
        self.path = os.path.join(out_dir, "metrics.jsonl")
        self.total_steps, self.log_interval = total_steps, log_interval
        self.reset()

    def reset(self):
        self.loss_sum, self.count, self.samples = None, 0, 0
        self.reader_cost = self.batch_cost = 0.0

    def update(self, loss, num_samples, reader_cost, batch_cost):
        loss = loss.detach()
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
        self.reset()
        return loss

    def write(self, record):
        if is_main_process():
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


# ----------------------------------------------------------------------------------------------
# checkpoints

def _rng_state():
    np_state = np.random.get_state()
    # paddle.save cannot hold a uint32 array, so the numpy key travels as a list of ints.
    return {"python": random.getstate(), "numpy": (np_state[0], np_state[1].tolist(), *np_state[2:]),
            "paddle": paddle.get_rng_state()}


def _set_rng_state(state):
    random.setstate(state["python"])
    name, key, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(key, dtype=np.uint32), *rest))
    paddle.set_rng_state(state["paddle"])


def save_checkpoint(path, model, optimizer, scheduler=None, **extra):
    """One dict: model, optimizer, LR scheduler, RNG state and whatever the loop passes (epoch, step,
    best metric, reader position). Written to a temporary file and renamed, so a kill mid-save leaves
    the previous checkpoint intact."""
    if not is_main_process():
        return
    state = {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict() if scheduler is not None else None,
             "rng": _rng_state(), **extra}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    paddle.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, model, optimizer=None, scheduler=None):
    """Restore everything save_checkpoint wrote; returns the dict for the loop's own fields."""
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no checkpoint to resume from")
    state = paddle.load(path)
    unwrap(model).set_state_dict(state["model"])
    if optimizer is not None:
        optimizer.set_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.set_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    return state


def load_weights(model, path, verbose=True):
    """Load weights only (from a checkpoint or a plain .pdparams), reporting keys that did not match."""
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: weights file not found")
    state = paddle.load(path)
    state = state.get("model", state)
    own = unwrap(model).state_dict()
    usable = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
    unwrap(model).set_state_dict(usable)
    missing = sorted(set(own) - set(usable))
    unused = sorted(set(state) - set(usable))
    if verbose and is_main_process():
        print(f"loaded {len(usable)}/{len(own)} tensors from {path}", flush=True)
        if missing:
            print(f"  not loaded (missing or other shape): {', '.join(missing[:20])}"
                  + (" ..." if len(missing) > 20 else ""), flush=True)
        if unused:
            print(f"  unused in file: {', '.join(unused[:20])}" + (" ..." if len(unused) > 20 else ""), flush=True)
    return missing, unused


# ----------------------------------------------------------------------------------------------
# inference

def inference_files(prefix):
    """The files paddle.jit.save wrote: `.json` (PIR, Paddle 3) or `.pdmodel` (older builds)."""
    for ext in (".json", ".pdmodel"):
        if os.path.isfile(prefix + ext):
            return prefix + ext, prefix + ".pdiparams"
    raise DataError(f"{prefix}.json:0: no exported model here; run export.py first")


def create_predictor(prefix, use_onednn=True):
    """A Paddle Inference predictor for an exported model; returns run(list of arrays) -> list of arrays."""
    from paddle import inference
    config = inference.Config(*inference_files(prefix))
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        config.enable_use_gpu(256, 0)
    else:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(len(os.sched_getaffinity(0)))
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


class Timer:
    """Wall time since the last tick; the loop uses it for reader_cost and batch_cost."""

    def __init__(self):
        self.last = time.perf_counter()

    def tick(self):
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed


def parse_args(parser, argv=None):
    args = parser.parse_args(argv)
    if args.resume == "auto":
        args.resume = os.path.join(args.output_dir, args.model, "latest.pdckpt")
    return args
