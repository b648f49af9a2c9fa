"""Frame-based video classification (the Kinetics-400 layout of reader.py): TSN, TSM, StNet, NonLocal.

Models and the release's configurations (--size release; parameter counts at 400 classes, tested exactly):

| model    | network | frames per clip (train / test) | test views | params |
| -------- | ------- | ------------------------------ | ---------- | ------ |
| TSN      | ResNet50 per frame, average consensus, linear | 3 segments x 1 / 25 x 1 | 10 crops (published 25 x 10) | 24,327,632 |
| TSM      | ResNet50 with temporal shift (1/8 of the channels each way) in every bottleneck, dropout 0.5 | 8 x 1 / 8 x 1 | 1 centre crop | 24,327,632 |
| StNet    | super-images of 5 frames (15 channels), temporal 3D conv blocks after res3 and res4, temporal Xception block | 7 x 5 / 25 x 5 | 1 crop of 256 | 33,158,864 |
| NonLocal | ResNet50 as 3D (the release's C2D: 1-frame kernels) with 5 non-local blocks (2 in res3, 3 in res4) | 8 frames, 8 apart | 10 clips x 3 crops of 256 | 31,686,096 (`--video_arc i3d`: 35,401,936) |

Training as the release: Momentum 0.9, L2 1e-4, lr 0.01 piecewise-decayed 0.1x twice (TSN and StNet at 1/3
and 2/3 of the run, TSM at epochs 40 and 60 of 65, NonLocal at 150k and 300k of 400k iterations: the same
fractions of --epochs here), cross-entropy on the logits. best.pdparams is chosen on val top-1.

evaluate() returns top1/top5 of the model with the averaged test views, and on the same split two trivial
baselines: `top1_single_frame` (the same model shown ONE frame: every frame of the clip replaced by its
centre frame, so only appearance is left) and `top1_majority` (always the most frequent training class).
"""
import math
import os
import types

import numpy as np

import utils
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

import reader

MODELS = ("TSN", "TSM", "StNet", "NonLocal")
TASK = "classification"
DEFAULT_DATA_DIR = "data/kinetics"
SHAPE_FLAGS = ("num_classes", "layers", "seg_num", "seglen", "sample_rate", "crop_size", "short_size",
               "test_seg_num", "test_crop_size", "dropout", "video_arc")

# The release's configurations (configs/<model>.yaml of PaddlePaddle/models release/1.7).
RELEASE = {
    "TSN": dict(seg_num=3, seglen=1, sample_rate=1, test_seg_num=25, test_clips=1, test_crops=10, short_size=256,
                crop_size=224, test_crop_size=224, dropout=0.0, decay_at=(1 / 3, 2 / 3), nesterov=False),
    "TSM": dict(seg_num=8, seglen=1, sample_rate=1, test_seg_num=8, test_clips=1, test_crops=1, short_size=256,
                crop_size=224, test_crop_size=224, dropout=0.5, decay_at=(40 / 65, 60 / 65), nesterov=False),
    "StNet": dict(seg_num=7, seglen=5, sample_rate=1, test_seg_num=25, test_clips=1, test_crops=1, short_size=256,
                  crop_size=224, test_crop_size=256, dropout=0.0, decay_at=(1 / 3, 2 / 3), nesterov=False),
    "NonLocal": dict(seg_num=1, seglen=8, sample_rate=8, test_seg_num=1, test_clips=10, test_crops=3,
                     short_size=256, crop_size=224, test_crop_size=256, dropout=0.5, decay_at=(0.375, 0.75),
                     nesterov=True),
}
# --size demo: the demo videos are 32x32 and 8 frames long.
DEMO = {"short_size": 32, "crop_size": 28, "test_crop_size": 28, "test_clips": 1, "test_crops": 1}
DEMO_CLIP = {"TSN": dict(seg_num=8), "TSM": dict(seg_num=8), "StNet": dict(seg_num=4, seglen=2),
             "NonLocal": dict(seglen=8, sample_rate=1)}  # test_seg_num: the training clip's
IMAGE_MEAN, IMAGE_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def add_flags(parser):
    g = parser.add_argument_group("frames.py (TSN, TSM, StNet, NonLocal); unset: the model's release value "
                                  "(--size demo: the demo's)")
    g.add_argument("--num_classes", type=int, default=None, help="classes (unset: the lines of label_map.txt)")
    g.add_argument("--layers", type=int, default=50, choices=[50, 101, 152], help="ResNet depth (release size)")
    g.add_argument("--seg_num", type=int, default=None, help="segments sampled per training clip")
    g.add_argument("--seglen", type=int, default=None, help="consecutive frames per segment (StNet 5, NonLocal 8)")
    g.add_argument("--sample_rate", type=int, default=None, help="frame step inside a segment (NonLocal 8)")
    g.add_argument("--test_seg_num", type=int, default=None, help="segments per test clip (unset: release TSN and StNet 25, else --seg_num)")
    g.add_argument("--test_clips", type=int, default=None, help="temporal test views (NonLocal 10)")
    g.add_argument("--test_crops", type=int, default=None, choices=[1, 3, 10], help="spatial test views")
    g.add_argument("--short_size", type=int, default=None, help="short side the frames are resized to")
    g.add_argument("--crop_size", type=int, default=None, help="training crop")
    g.add_argument("--test_crop_size", type=int, default=None, help="test crop")
    g.add_argument("--dropout", type=float, default=None, help="dropout before the classifier")
    g.add_argument("--video_arc", choices=["c2d", "i3d"], default="c2d",
                   help="NonLocal's ResNet: c2d (1-frame kernels, the release's video_arc_choice 1) or i3d (choice 2)")
    g.add_argument("--flip", choices=["auto", "on", "off"], default="auto",
                   help="random horizontal flips in training (auto: on at release size, off at demo size, whose "
                        "classes are motion directions a flip would swap)")
    g.add_argument("--frame_cache", default=None,
                   help="directory of decoded frames (uint8 .npy, see preprocess.py): entries missing or stale are "
                        "decoded before the first step, then a step only slices and crops; unset: decode every "
                        "video at every step")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 weight decay")
    g.add_argument("--warmup_steps", type=int, default=0, help="linear LR warm-up (the release: none)")
    g.add_argument("--save_interval", type=int, default=0, help="steps between extra checkpoints (0: each epoch)")
    parser.set_defaults(lr=0.01, batch_size=16, epochs=45)  # moved onto the flags by train.defaults_to_actions


def resolve(args):
    """Fill the unset model flags from the model's release configuration (or the demo's); idempotent."""
    cfg = dict(RELEASE[args.model])
    if args.size == "demo":
        cfg.update(DEMO)
        cfg.update(DEMO_CLIP[args.model])
    for key in ("seg_num", "seglen", "sample_rate", "test_clips", "test_crops", "short_size", "crop_size",
                "test_crop_size", "dropout"):
        if getattr(args, key, None) is None:
            setattr(args, key, cfg[key])
    if getattr(args, "test_seg_num", None) is None:  # demo size (and TSM, NonLocal): the training clip's
        same = args.size == "demo" or RELEASE[args.model]["test_seg_num"] == RELEASE[args.model]["seg_num"]
        args.test_seg_num = args.seg_num if same else cfg["test_seg_num"]
    for key in ("crop_size", "test_crop_size"):
        if getattr(args, key) > args.short_size:
            raise utils.DataError(f"--{key} {getattr(args, key)} is larger than --short_size {args.short_size}")
    args.decay_at, args.nesterov = cfg["decay_at"], cfg["nesterov"]
    if getattr(args, "flip", "auto") == "auto":
        args.flip = "off" if args.size == "demo" else "on"
    if args.num_classes is None:
        args.num_classes = len(reader.read_label_map(args.data_dir)) \
            if os.path.isfile(os.path.join(args.data_dir, "label_map.txt")) else 400
    args.mean, args.std = IMAGE_MEAN, IMAGE_STD
    return args


class ClipConfig:
    def __init__(self, args):
        for key in ("seg_num", "seglen", "sample_rate", "test_seg_num", "test_clips", "test_crops", "short_size",
                    "crop_size", "test_crop_size"):
            setattr(self, key, getattr(args, key))
        self.flip = getattr(args, "flip", "off") == "on"
        self.mean, self.std = IMAGE_MEAN, IMAGE_STD


def build_model(args):
    resolve(args)
    if args.model == "TSN":
        from models.tsn import TSN
        return TSN(args.num_classes, args.seg_num, args.size, args.layers, args.dropout)
    if args.model == "TSM":
        from models.tsm import TSM
        return TSM(args.num_classes, args.seg_num, args.size, args.layers, args.dropout)
    if args.model == "StNet":
        from models.stnet import StNet
        return StNet(args.num_classes, args.seg_num, args.seglen, args.size, args.layers)
    if args.model == "NonLocal":
        from models.nonlocal_net import NonLocal
        return NonLocal(args.num_classes, args.size, args.dropout, getattr(args, "video_arc", "c2d"))
    raise ValueError(args.model)


def count_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


# ------------------------------------------------------------------------------------------- data

def datasets(args, splits, train_split="train"):
    """Datasets of the given splits, every video checked (frame count) before the first step."""
    cfg = ClipConfig(args)
    out = {}
    for split in splits:
        ds = reader.VideoDataset.from_split(args.data_dir, split, cfg, train=(split == train_split),
                                            seed=args.seed, cache_dir=args.frame_cache)
        if len(ds.classes) != args.num_classes:
            raise utils.DataError(f"{args.data_dir}/label_map.txt: {len(ds.classes)} classes, the run has "
                                  f"{args.num_classes}")
        skipped = ds.check(args.skip_bad_samples)
        if skipped and utils.is_main_process():
            print(f"skipped {skipped} bad videos of {ds.list_path}: {ds.skipped[0]}" +
                  (" ..." if skipped > 1 else ""), flush=True)
        out[split] = ds
    return out


def loader(ds, args, shuffle):
    sampler = reader.EpochBatchSampler(len(ds), args.batch_size, shuffle, args.seed, drop_last=shuffle)
    return utils.make_loader(ds, args, batch_sampler=sampler), sampler


def majority_class(args):
    labels = reader.VideoDataset.from_split(args.data_dir, "train", ClipConfig(args), train=True).labels()
    return int(np.bincount(labels, minlength=args.num_classes).argmax())


# ------------------------------------------------------------------------------------------ train

def build_optimizer(args, model, total_steps):
    boundaries = sorted({max(1, int(round(f * total_steps))) for f in args.decay_at})
    values = [args.lr * 0.1 ** i for i in range(len(boundaries) + 1)]
    scheduler = paddle.optimizer.lr.PiecewiseDecay(boundaries, values)
    if args.warmup_steps:
        # LinearWarmup counts the wrapped schedule's steps from the end of the warm-up (a Paddle quirk):
        # shift the boundaries back so they stay where the run's fractions put them.
        shifted = [max(1, b - args.warmup_steps) for b in boundaries]
        scheduler = paddle.optimizer.lr.LinearWarmup(paddle.optimizer.lr.PiecewiseDecay(shifted, values),
                                                     args.warmup_steps, 0.0, args.lr)
    optimizer = paddle.optimizer.Momentum(learning_rate=scheduler, momentum=args.momentum,
                                          use_nesterov=args.nesterov, parameters=model.parameters(),
                                          weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    return optimizer, scheduler


def train(args, model, out_dir, log):
    resolve(args)
    state = paddle.load(args.resume) if args.resume else None
    device = paddle.get_device()
    if utils.is_main_process():  # the resolved settings, for eval/export/infer
        utils._write_json(os.path.join(out_dir, "train_config.json"), utils.run_config(args))
    splits = ["train", "val"] + (["test"] if reader.has_split(args.data_dir, "test") else [])
    data = datasets(args, splits)  # every video of every split is checked before the first step
    train_set, val_set = data["train"], data["val"]
    train_loader, sampler = loader(train_set, args, shuffle=True)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.list_path}: fewer videos than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    # the schedule follows the planned run (--epochs), as the release's; --max_steps only stops it early
    optimizer, scheduler = build_optimizer(args, model, steps_per_epoch * args.epochs)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best_top1"]
        log(f"resumed from {args.resume} at step {step}")
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model, full_graph=True) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    log(f"{args.model} ({args.size}): {count_parameters(model):,} parameters, {args.num_classes} classes, "
        f"{args.seg_num}x{args.seglen} frames of {args.crop_size} px, {len(train_set)} training videos, "
        f"{steps_per_epoch} steps/epoch, lr {args.lr:g}")

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_top1=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        utils.broadcast_from_rank0(model)
        result = evaluate_set(args, model, val_set, baselines=False)
        log(f"eval epoch {epoch}: val top1 {result['top1']:.4f} top5 {result['top5']:.4f}")
        logger.write({"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in result.items()}})
        if result["top1"] > best:
            best = result["top1"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        model.train()
        timer = utils.Timer()
        for clips, labels in train_loader:
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = F.cross_entropy(train_model(clips), labels)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, clips.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: a failing eval does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        log(f"best val top1 {best:.4f}; curves {curves}")
    return best


# --------------------------------------------------------------------------------------- evaluate

def view_scores(model, views):
    """views [B, V, T, 3, S, S] -> class probabilities [B, C] averaged over the V views."""
    b, v = views.shape[:2]
    probs = F.softmax(model(views.reshape([b * v, *views.shape[2:]])), axis=-1)
    return probs.reshape([b, v, -1]).mean(axis=1)


def single_frame(views):
    """Every frame of each clip replaced by the clip's centre frame: what one frame shows."""
    t = views.shape[2]
    centre = views[:, :, t // 2:t // 2 + 1]
    return paddle.expand(centre, views.shape)


@paddle.no_grad()
def evaluate_set(args, model, ds, baselines=True):
    net = utils.unwrap(model)
    was_training = net.training
    net.eval()
    majority = majority_class(args) if baselines else None
    eval_args = _eval_loader_args(args)
    data, _ = loader(ds, eval_args, shuffle=False)
    counts = np.zeros(5)  # n, top1, top5, single-frame top1, majority top1
    for views, labels in utils.progress(data, len(data), f"eval {ds.split}"):
        probs = view_scores(net, views)
        top = paddle.topk(probs, min(5, probs.shape[-1]), axis=-1)[1].numpy()
        y = labels.numpy()
        counts[0] += len(y)
        counts[1] += (top[:, 0] == y).sum()
        counts[2] += (top == y[:, None]).any(axis=1).sum()
        if baselines:
            counts[3] += (view_scores(net, single_frame(views)).argmax(-1).numpy() == y).sum()
            counts[4] += (y == majority).sum()
    counts = utils.all_reduce_sum(counts)
    if was_training:
        net.train()
    n = max(counts[0], 1)
    result = {"top1": counts[1] / n, "top5": counts[2] / n}
    if baselines:
        result.update(top1_single_frame=counts[3] / n, top1_majority=counts[4] / n)
    result["samples"] = int(counts[0])  # over all ranks
    return result


def _eval_loader_args(args):
    """The loader settings of evaluation: a batch holds batch_size views, not videos."""
    return types.SimpleNamespace(batch_size=max(1, args.batch_size // max(1, args.test_clips * args.test_crops)),
                                 seed=args.seed, num_workers=args.num_workers,
                                 no_shared_memory=args.no_shared_memory)


def evaluate(args, model, split):
    resolve(args)
    ds = datasets(args, [split], train_split=None)[split]
    return evaluate_set(args, model, ds)


# ---------------------------------------------------------------------------------- export, predict

def input_shape(args):
    return [args.test_seg_num * args.seglen, 3, args.test_crop_size, args.test_crop_size]


def export(args, model, path_prefix):
    """The classifier of one view: frames [N, T, 3, S, S] (T = test_seg_num x seglen) -> probabilities
    [N, classes]; predict() averages the views of a video."""
    resolve(args)
    model.eval()

    class Probabilities(nn.Layer):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, frames):
            return F.softmax(self.net(frames), axis=-1)

    spec = [paddle.static.InputSpec([None, *input_shape(args)], "float32", name="frames")]
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tensor do not have 'place'")
        paddle.jit.save(paddle.jit.to_static(Probabilities(model), input_spec=spec, full_graph=True), path_prefix)
    return path_prefix


def video_views(args, path):
    """[V, T, 3, S, S] test views of one video file / frame folder / pkl (bad input: DataError)."""
    return reader.VideoDataset.of_video(path, ClipConfig(args))[0][0]


def predict(args, predictor_or_model, paths):
    """Top-5 (label, probability) of each video, the views' probabilities averaged."""
    resolve(args)
    classes = reader.read_label_map(args.data_dir) if os.path.isfile(
        os.path.join(args.data_dir, "label_map.txt")) else [str(i) for i in range(args.num_classes)]
    results = []
    for path in paths:
        views = video_views(args, path).astype(np.float32)
        if isinstance(predictor_or_model, nn.Layer):
            with paddle.no_grad():
                probs = F.softmax(predictor_or_model(paddle.to_tensor(views)), axis=-1).numpy()
        else:
            probs = predictor_or_model([views])[0]
        mean = probs.mean(axis=0)
        top = np.argsort(-mean)[:5]
        results.append({"video": path, "top5": [(classes[i], round(float(mean[i]), 4)) for i in top],
                        "label": int(top[0])})
    return results


# ------------------------------------------------------------------------------------------- demo

DEMO_CLASSES = ("moving_left", "moving_right", "moving_up", "moving_down")


def draw_clip(rng, direction, size=32, frames=8):
    """One clip: a shape (disc or square, random colour and size) moving on a torus in `direction`, on a
    noisy background. Its start is uniform, so its position in any one frame says nothing of the class."""
    dx, dy = {"moving_left": (-1, 0), "moving_right": (1, 0), "moving_up": (0, -1), "moving_down": (0, 1)}[direction]
    speed = rng.uniform(2.5, 4.0) * size / 32
    x0, y0 = rng.uniform(0, size, 2)
    radius = rng.uniform(5, 9) * size / 64
    colour = rng.integers(60, 256, 3)
    square = rng.random() < 0.5
    background = rng.integers(0, 40, (size, size, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    clip = []
    for t in range(frames):
        cx, cy = (x0 + dx * speed * t) % size, (y0 + dy * speed * t) % size
        ddx = np.abs(xx - cx)
        ddy = np.abs(yy - cy)
        ddx, ddy = np.minimum(ddx, size - ddx), np.minimum(ddy, size - ddy)  # wrap around the edges
        mask = np.maximum(ddx, ddy) <= radius if square else ddx ** 2 + ddy ** 2 <= radius ** 2
        frame = background.copy()
        frame[mask] = colour
        clip.append(frame)
    return np.stack(clip)


def write_video(path, clip, fps=8):
    import cv2
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h, w = clip.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in clip:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()


def make_demo(out_dir, smoke=False, seed=0):
    """The demo in the Kinetics layout: videos/<class>/<id>.mp4 (32x32, 8 frames), label_map.txt and
    train/val/test lists. Smoke: 16 videos (2/1/1 per class); full: 4 classes x 64/16/16."""
    rng = np.random.default_rng(seed)
    per_class = {"train": 2, "val": 1, "test": 1} if smoke else {"train": 64, "val": 16, "test": 16}
    frames = 8
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "label_map.txt"), "w") as f:
        f.write("\n".join(DEMO_CLASSES) + "\n")
    for split, n in per_class.items():
        lines = []
        for i in range(n):
            for label, name in enumerate(DEMO_CLASSES):
                rel = f"videos/{name}/{split}_{i:03d}.mp4"
                write_video(os.path.join(out_dir, rel), draw_clip(rng, name, frames=frames))
                lines.append(f"{rel} {label}")
        order = rng.permutation(len(lines))
        with open(os.path.join(out_dir, f"{split}.list"), "w") as f:
            f.write("\n".join(lines[i] for i in order) + "\n")
    with open(os.path.join(out_dir, "README.txt"), "w") as f:
        f.write("Demo videos for frames.py: a shape moves left, right, up or down (wrapping around the edges); "
                "the class is the direction, so one frame cannot tell the classes apart.\n")
    return out_dir
