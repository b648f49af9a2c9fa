"""## Feature-based classification (YouTube-8M): Attention LSTM, Attention Cluster, NeXtVLAD

The family module of the feature-based video classifiers (train.py / eval.py / export.py / infer.py call
MODELS, add_flags, make_demo, build_model, train, evaluate, export, predict).

**Data layout** (the release's YouTube-8M pkl layout, DATA_DIR = data/youtube8m):

    DATA_DIR/train.list  val.list  test.list     one feature file a line (absolute, or relative to DATA_DIR)
    DATA_DIR/pkl/{train,val,test}/*.pkl         each a pickled list of per-video dicts:
        video    id (str or bytes)
        feature  [frames, 1024] RGB frame features (uint8, quantized from [-2, 2] as the release's tf2pkl.py
                 writes them; float arrays are taken as they are)
        audio    [frames, 128] audio features (same)
        label    list of class indices
        nframes  optional: frames to use
    DATA_DIR/vocabulary.csv                     optional: `Index,...,Name` rows (YouTube-8M's), class names
                                                for infer.py and the class count when --num_classes is 0
A list line may also name an `.npz` file holding one video (`feature`, `audio`, `label`, optional `video`).
Every file of the split is read and checked before the first step: a feature of the wrong dimension, an
empty sequence, a label out of range or a malformed list line stops with `file: video ID: what` or
`file:line: what` (exit 2), or is skipped and counted with --skip_bad_samples. The splits are held in
memory (fine for the demo and a few pkl files; the full YouTube-8M would need a streaming reader: not done).
Frames are capped at --max_frames (300, YouTube-8M's cap); Attention Cluster sees --seg_num (100) frames
sampled from them (random offsets in training, segment centres in evaluation), as the release's reader.

**Models** (`--size release` is the release's config, 3862 classes, RGB 1024 + audio 128; counted in
tests/test_features.py under paddle.LazyGuard, all but the LSTMs, which cannot be built under it):

| model | release config | parameters (trainable) |
| --- | --- | --- |
| AttentionLSTM | per modality tanh embedding 512, bidirectional LSTM 1024, attention pooling; fc 8192 (ReLU), 4096 (tanh) | 108,737,304 (the release's peephole LSTM has 12,288 more) |
| AttentionCluster | shifting attention, 32 clusters per modality; fc 1024, 4096 (tanh) | 57,807,830 |
| NeXtVLAD | cluster_size 128, expansion 2, groups 8, hidden 2048, SE gating (reduction 8) | 89,088,550 |

Loss: sigmoid cross-entropy summed over the classes, averaged over the videos. Optimizers as the release:
AttentionLSTM centered RMSProp, lr 1e-3, L2 8e-4, x0.1 at half the epochs (the release: epoch 5 of 10);
AttentionCluster Adam 1e-3; NeXtVLAD Adam 2e-4, x0.8 every --lr_decay_examples (2M) videos, L2 1e-5 on the
logit layer, global-norm clip 1. Without --lr, each model takes its release learning rate.
Metrics (youtube8m_metrics.py): GAP@20, Hit@1, PERR, next to the prior baseline (every video scored by the
training frequency of each class: gap_prior, hit1_prior, perr_prior). best.pdparams is chosen on val's GAP.

**Demo data** (`make_demo`): 20 classes (the `num_classes` argument), each an ORDERED pair of 8 events
(prototype directions in the RGB and the audio space, planted over a few frames in noise); 10 unordered
pairs appear in both orders, so telling (a then b) from (b then a) needs the order of the frames. 1-2
labels a video (the second label's events in the second half), 20-40 frames, 600/150/150 videos in
train/val/test (smoke: 24/8/8 of 8-12 frames).

**Demo figures** (test split of the demo, 150 videos, by train.sh's eval.py; best.pdparams chosen on val's GAP;
the prior baseline scores every video by the training frequency of each class). Each from a fresh copy of the
folder, `--size demo`, 20 epochs of 18 steps (batch 32), measured under load 11-18 on the 2 shared cores:

| model | command | GAP@20 | Hit@1 | PERR | prior GAP / Hit@1 / PERR | train time |
| --- | --- | --- | --- | --- | --- | --- |
| AttentionLSTM (308,502 params) | `MODEL=AttentionLSTM bash train.sh --epochs 20 --log_interval 20` | 0.8844 | 0.9267 | 0.8667 | 0.0733 / 0.0467 / 0.0600 | 208 s |
| AttentionCluster (613,676) | `MODEL=AttentionCluster bash train.sh --epochs 20 --log_interval 20` | 0.4576 | 0.4333 | 0.4367 | same | 105 s |
| NeXtVLAD (3,507,548) | `MODEL=NeXtVLAD bash train.sh --epochs 20 --log_interval 20` | 0.4716 | 0.5000 | 0.4900 | same | 526 s |

All three clearly beat the prior. Attention Cluster and NeXtVLAD pool the frames without their order, so each
(a then b) class is confused with its (b then a) twin: they stay near half the LSTM's figures, which is what
this demo is built to show; the bidirectional LSTM reads the order. NeXtVLAD (3.5 M parameters for 600
videos) peaks on val at epoch 6 (GAP 0.547) and then overfits; best.pdparams keeps epoch 6. The release's published figures on the
real YouTube-8M validation set (not reproduced here): AttentionLSTM GAP 0.8594, Hit@1 0.8885, PERR 0.8012;
AttentionCluster GAP 0.84, Hit@1 0.87, PERR 0.78; NeXtVLAD GAP 0.8709, Hit@1 0.8960, PERR 0.8132.

**Not done yet**: a streaming reader for the full dataset (the splits are read into memory). Differences from
the release: its reader feeds NeXtVLAD the raw 0-255 feature values (its eigen_file is read from the config but
never used); here every model gets the dequantized [-2, 2] features. The release sums the loss over the batch
for AttentionLSTM (RMSProp, nearly scale-free); here it is averaged. make_demo's class count is its
`num_classes` argument (make_demo_data.py uses the default, 20).
--to_static works for all three but re-traces for every new padded frame count, which makes it much slower
than the dynamic graph on the CPU (it is not tested; the default is off).
"""
import csv
import io
import math
import os
import pickle
import zipfile

import numpy as np
import paddle
import paddle.nn.functional as F

import utils
import youtube8m_metrics

MODELS = ("AttentionLSTM", "AttentionCluster", "NeXtVLAD")
TASK = "classification"
DEFAULT_DATA_DIR = "data/youtube8m"
SHAPE_FLAGS = ("num_classes", "seg_num", "max_frames")
FEATURE_DIMS = (1024, 128)
RELEASE_CLASSES = 3862
DEMO_CLASSES = 20
RELEASE_LR = {"AttentionLSTM": 1e-3, "AttentionCluster": 1e-3, "NeXtVLAD": 2e-4}
FAMILY_DEFAULTS = {"lr": 1e-3, "epochs": 10, "batch_size": 32, "num_workers": 0}
SPLITS = {"train": "train", "val": "val", "dev": "val", "test": "test"}


def add_flags(parser):
    # The common flags' defaults for this family: the release's lr (NeXtVLAD: 2e-4 unless --lr is given) and
    # epochs; 32 videos per step (the release: 128 AttentionLSTM, 256 AttentionCluster, 40 NeXtVLAD per GPU).
    parser.set_defaults(**FAMILY_DEFAULTS)  # moved onto the flags by train.defaults_to_actions
    for action in parser._actions:
        if action.dest == "lr" and "release's" not in action.help:
            action.help += " (unset: the release's, 1e-3; NeXtVLAD 2e-4)"
    g = parser.add_argument_group("feature-based classification (AttentionLSTM, AttentionCluster, NeXtVLAD)")
    g.add_argument("--num_classes", type=int, default=0,
                   help="classes (0: the rows of DATA_DIR/vocabulary.csv, else YouTube-8M's 3862)")
    g.add_argument("--max_frames", type=int, default=300, help="frames read per video at most")
    g.add_argument("--seg_num", type=int, default=100, help="AttentionCluster: frames sampled per video")
    g.add_argument("--top_k", type=int, default=20, help="GAP over each video's top-k predictions")
    g.add_argument("--lr_decay_examples", type=int, default=2000000,
                   help="NeXtVLAD: the lr is multiplied by 0.8 every this many training videos")
    return parser


# ---------------------------------------------------------------------------------------------- data

def _get(record, key):
    if key in record:
        return record[key]
    return record.get(key.encode(), None)


def dequantize(x):
    """uint8 features back to [-2, 2] as YouTube-8M quantized them; float features are kept."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) * (4.0 / 255.0) + (4.0 / 512.0 - 2.0)
    return x.astype(np.float32)


def quantize(x):
    return np.clip(np.round((x - (4.0 / 512.0 - 2.0)) * (255.0 / 4.0)), 0, 255).astype(np.uint8)


def read_list(data_dir, split, skip_bad=False):
    """The feature files named by DATA_DIR/<split>.list; a malformed line is a DataError file:line."""
    path = os.path.join(data_dir, f"{SPLITS[split]}.list")
    files, bad = [], 0
    for number, line in utils.read_lines(path):
        line = line.strip()
        if not line:
            continue
        where = f"{path}:{number}"
        if len(line.split()) != 1 or not line.endswith((".pkl", ".npz")):
            message = f"{where}: expected one .pkl or .npz path, got {line[:80]!r}"
        else:
            file = line if os.path.isabs(line) else os.path.join(data_dir, line)
            if os.path.isfile(file):
                files.append(file)
                continue
            message = f"{where}: {file}: file not found"
        if not skip_bad:
            raise utils.DataError(message)
        bad += 1
    if not files:
        raise utils.DataError(f"{path}: no feature files listed")
    return files, bad


def _load_file(path):
    """[(video id, record dict)] of one pkl or npz file."""
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                record = {k: z[k] for k in z.files}
            vid = str(record["video"]) if "video" in record else os.path.splitext(os.path.basename(path))[0]
            record["label"] = record.get("label", np.zeros([0], np.int64)).reshape(-1).tolist()
            return [record | {"video": vid}]
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="bytes")
    except (OSError, EOFError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise utils.DataError(f"{path}: not a readable feature file ({type(e).__name__}: {e})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise utils.DataError(f"{path}: expected a list of per-video dicts, got {type(data).__name__}")
    return data


def check_record(path, index, record, num_classes, max_frames):
    """(video id, rgb float32 [T, 1024], audio [T, 128], labels) of a record, or a DataError naming it."""
    if not isinstance(record, dict):
        raise utils.DataError(f"{path}: record {index}: not a dict")
    vid = _get(record, "video")
    vid = vid.decode() if isinstance(vid, bytes) else str(vid if vid is not None else f"#{index}")
    where = f"{path}: video {vid}"
    arrays = []
    for key, dim in zip(("feature", "audio"), FEATURE_DIMS):
        x = _get(record, key)
        if x is None:
            raise utils.DataError(f"{where}: no '{key}' sequence")
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != dim:
            raise utils.DataError(f"{where}: '{key}' has shape {list(x.shape)}, expected [frames, {dim}]")
        if x.shape[0] == 0:
            raise utils.DataError(f"{where}: empty '{key}' sequence (0 frames)")
        arrays.append(x)
    frames = min(arrays[0].shape[0], arrays[1].shape[0], max_frames)
    nframes = _get(record, "nframes")
    if nframes is not None:
        if int(nframes) <= 0:
            raise utils.DataError(f"{where}: nframes is {int(nframes)}")
        frames = min(frames, int(nframes))
    labels = _get(record, "label")
    labels = [] if labels is None else [int(c) for c in np.asarray(labels).reshape(-1)]
    wrong = [c for c in labels if not 0 <= c < num_classes]
    if wrong:
        raise utils.DataError(f"{where}: label {wrong[0]} outside [0, {num_classes})")
    return vid, dequantize(arrays[0][:frames]), dequantize(arrays[1][:frames]), labels


def read_split(args, split):
    """Every video of the split, checked before training: [(file, vid, rgb, audio, labels)]."""
    files, bad = read_list(args.data_dir, split, args.skip_bad_samples)
    videos, classes = [], num_classes(args)  # once: it may read vocabulary.csv
    for path in utils.progress(files, len(files), f"reading {split}"):
        try:
            records = _load_file(path)
        except utils.DataError:
            if not args.skip_bad_samples:
                raise
            bad += 1
            continue
        for index, record in enumerate(records):
            try:
                videos.append((path, *check_record(path, index, record, classes, args.max_frames)))
            except utils.DataError:
                if not args.skip_bad_samples:
                    raise
                bad += 1
    if bad and utils.is_main_process():
        print(f"note: {split}: skipped {bad} bad list lines, files or videos (--skip_bad_samples)", flush=True)
    if not videos:
        raise utils.DataError(f"{os.path.join(args.data_dir, SPLITS[split] + '.list')}: no usable videos")
    return videos


def vocabulary(data_dir):
    """Class names from DATA_DIR/vocabulary.csv (YouTube-8M's: Index,...,Name), or None."""
    path = os.path.join(data_dir, "vocabulary.csv")
    if not os.path.isfile(path):
        return None
    lines = [text for _, text in utils.read_lines(path)]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    try:
        names = {int(r["Index"]): r.get("Name") or str(r["Index"]) for r in rows}
    except (KeyError, ValueError):
        raise utils.DataError(f"{path}:1: expected a header with an Index column and integer indices") from None
    return [names.get(i, str(i)) for i in range(max(names) + 1)] if names else None


def num_classes(args):
    if getattr(args, "num_classes", 0):
        return args.num_classes
    names = vocabulary(args.data_dir) if getattr(args, "data_dir", None) else None
    return len(names) if names else RELEASE_CLASSES


def sample_frames(frames, seg_num, rng):
    """AttentionCluster: seg_num frame indices, one per equal segment (random offset with rng, else centre)."""
    offsets = rng.random(seg_num) if rng is not None else np.full(seg_num, 0.5)
    return np.minimum(((np.arange(seg_num) + offsets) * frames / seg_num).astype(int), frames - 1)


class VideoFeatures(paddle.io.Dataset):
    def __init__(self, videos, args, train):
        self.videos, self.classes, self.train = videos, num_classes(args), train
        self.seg_num = args.seg_num if args.model == "AttentionCluster" else 0
        self.seed, self.epoch = args.seed, 0  # the loop sets epoch: a video's frames depend on (seed, epoch, index)

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        _, _, rgb, audio, labels = self.videos[i]
        if self.seg_num:
            rng = np.random.default_rng([self.seed, self.epoch, i]) if self.train else None  # same after a resume
            index = sample_frames(len(rgb), self.seg_num, rng)
            rgb, audio = rgb[index], audio[index]
        target = np.zeros([self.classes], np.float32)
        target[labels] = 1.0
        return rgb, audio, target


def collate(batch):
    """Pad the frames of a batch: rgb [B, T, 1024], audio [B, T, 128], lengths [B] int64, targets [B, C]."""
    steps = max(len(b[0]) for b in batch)
    rgb = np.zeros([len(batch), steps, FEATURE_DIMS[0]], np.float32)
    audio = np.zeros([len(batch), steps, FEATURE_DIMS[1]], np.float32)
    for k, (r, a, _) in enumerate(batch):
        rgb[k, :len(r)], audio[k, :len(a)] = r, a
    lengths = np.array([len(b[0]) for b in batch], np.int64)
    return rgb, audio, lengths, np.stack([b[2] for b in batch])


# ---------------------------------------------------------------------------------------------- demo

def make_demo(out_dir, smoke=False, seed=0, num_classes=DEMO_CLASSES):
    """The demo set in the release's pkl layout (see the module docstring); returns out_dir."""
    rng = np.random.default_rng(seed)
    events = 8
    pairs = [(a, b) for a in range(events) for b in range(a + 1, events)]
    rng.shuffle(pairs)
    pairs = pairs[:(num_classes + 1) // 2]
    classes = [p for pair in pairs for p in (pair, pair[::-1])][:num_classes]  # both orders of each pair
    protos = [rng.standard_normal([events, d]).astype(np.float32) for d in FEATURE_DIMS]
    protos = [p / np.linalg.norm(p, axis=1, keepdims=True) * math.sqrt(p.shape[1]) for p in protos]
    amplitude = (0.6, 0.45)  # per dimension, against noise of 0.5
    sizes = (24, 8, 8) if smoke else (600, 150, 150)
    frames_range = (8, 12) if smoke else (20, 40)
    os.makedirs(out_dir, exist_ok=True)
    for split, count in zip(("train", "val", "test"), sizes):
        folder = os.path.join(out_dir, "pkl", split)
        os.makedirs(folder, exist_ok=True)
        per_file = max(count // (1 if smoke else 4), 1)
        listed = []
        for start in range(0, count, per_file):
            records = []
            for v in range(start, min(start + per_file, count)):
                frames = int(rng.integers(frames_range[0], frames_range[1] + 1))
                labels = [int(c) for c in rng.choice(num_classes, size=1 + int(rng.random() < 0.4), replace=False)]
                x = [0.5 * rng.standard_normal([frames, d]).astype(np.float32) for d in FEATURE_DIMS]
                parts = np.array_split(np.arange(frames), len(labels))
                for label, part in zip(labels, parts):
                    first, second = classes[label]
                    span = max(1, len(part) // 4)  # each event lasts a quarter of its part
                    a0 = part[0] + int(rng.integers(0, max(1, len(part) // 2 - span + 1)))
                    b0 = part[0] + len(part) // 2 + int(rng.integers(0, max(1, len(part) - len(part) // 2 - span + 1)))
                    for m in range(2):
                        x[m][a0:a0 + span] += amplitude[m] * protos[m][first]
                        x[m][b0:b0 + span] += amplitude[m] * protos[m][second]
                records.append({"video": f"{split}{v:05d}", "feature": quantize(x[0]), "audio": quantize(x[1]),
                                "label": labels, "nframes": frames})
            name = os.path.join(folder, f"{split}{start // per_file:04d}.pkl")
            with open(name, "wb") as f:
                pickle.dump(records, f, protocol=2)
            listed.append(os.path.relpath(name, out_dir))
        with open(os.path.join(out_dir, f"{split}.list"), "w") as f:
            f.write("\n".join(listed) + "\n")
    with open(os.path.join(out_dir, "vocabulary.csv"), "w") as f:
        f.write("Index,Name\n" + "".join(f"{c},event{a}-then-event{b}\n" for c, (a, b) in enumerate(classes)))
    return out_dir


# --------------------------------------------------------------------------------------------- model

def build_model(args):
    from models import attention_cluster, attention_lstm, nextvlad
    module = {"AttentionLSTM": attention_lstm, "AttentionCluster": attention_cluster, "NeXtVLAD": nextvlad}[args.model]
    config = module.RELEASE if args.size == "release" else module.DEMO
    cls = {"AttentionLSTM": attention_lstm.AttentionLSTM, "AttentionCluster": attention_cluster.AttentionCluster,
           "NeXtVLAD": nextvlad.NeXtVLAD}[args.model]
    return cls(num_classes(args), FEATURE_DIMS, **config)


def count_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters() if p.trainable)


def loss_fn(logits, targets):
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / logits.shape[0]


def make_optimizer(args, model, steps_per_epoch):
    lr = args.lr if "lr" in getattr(args, "explicit", ()) else RELEASE_LR[args.model]
    args.lr = lr
    clip = None
    if args.model == "AttentionLSTM":
        boundary = max(1, args.epochs // 2) * steps_per_epoch
        scheduler = paddle.optimizer.lr.PiecewiseDecay([boundary], [lr, lr * 0.1])
        optimizer = paddle.optimizer.RMSProp(scheduler, centered=True, parameters=model.parameters(),
                                             weight_decay=paddle.regularizer.L2Decay(8e-4))
    elif args.model == "NeXtVLAD":
        every = max(1, args.lr_decay_examples // (args.batch_size * utils.world_size()))
        total = steps_per_epoch * args.epochs
        bounds = list(range(every, max(total, every + 1), every))[:200]
        scheduler = paddle.optimizer.lr.PiecewiseDecay(bounds, [lr * 0.8 ** i for i in range(len(bounds) + 1)])
        decay = paddle.regularizer.L2Decay(1e-5)
        groups = [{"params": [p for n, p in model.named_parameters() if not n.startswith("logits.")]},
                  {"params": [p for n, p in model.named_parameters() if n.startswith("logits.")],
                   "weight_decay": decay}]
        clip = paddle.nn.ClipGradByGlobalNorm(1.0)
        optimizer = paddle.optimizer.Adam(scheduler, parameters=groups, grad_clip=clip)
    else:
        scheduler = paddle.optimizer.lr.PiecewiseDecay([10 ** 12], [lr, lr])  # constant, as the release
        optimizer = paddle.optimizer.Adam(scheduler, parameters=model.parameters())
    return optimizer, scheduler


# ------------------------------------------------------------------------------------------ training

def train(args, model, out_dir, log):
    """The whole loop (see the module docstring); log(message) prints on the main process."""
    train_videos = read_split(args, "train")
    read_split(args, "val")  # checked before the first step
    train_set = VideoFeatures(train_videos, args, train=True)
    sampler = paddle.io.DistributedBatchSampler(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{os.path.join(args.data_dir, 'train.list')}:1: fewer training videos "
                              f"({len(train_set)}) than one batch per rank ({args.batch_size})")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    optimizer, scheduler = make_optimizer(args, model, steps_per_epoch)
    device = paddle.get_device().split(":")[0]
    model, optimizer, scaler, amp_on = utils.amp_setup(args, "gpu" if device == "gpu" else "cpu", model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        log(f"resumed from {args.resume} at step {step}")
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    if args.to_static:
        train_model = paddle.jit.to_static(train_model)
    log(f"{args.model} ({args.size}): {count_parameters(model):,} parameters, {num_classes(args)} classes, "
        f"{len(train_set)} training videos, {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
        f"total batch {args.batch_size * utils.world_size()}")

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, best=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        result = evaluate(args, model, "val")
        result.pop("samples")
        model.train()
        log(f"eval epoch {epoch}: val gap {result['gap']:.4f} hit1 {result['hit1']:.4f} perr {result['perr']:.4f} "
            f"(prior baseline gap {result['gap_prior']:.4f})")
        logger.write({"epoch": epoch, "step": step, **result})
        if result["gap"] > best:
            best = result["gap"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    model.train()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch)
        train_set.epoch = epoch
        timer, skip = utils.Timer(), step - epoch * steps_per_epoch
        for batch in loader:
            if skip > 0:  # a resumed epoch: the batches already trained on
                skip -= 1
                timer.tick()
                continue
            reader_cost = timer.tick()
            rgb, audio, lengths, targets = [paddle.to_tensor(b) if isinstance(b, np.ndarray) else b for b in batch]
            with paddle.amp.auto_cast(enable=amp_on, level=args.amp if amp_on else "O1"):
                loss = loss_fn(train_model(rgb, audio, lengths).astype("float32"), targets)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, rgb.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if utils.is_main_process():
        log(f"best val gap {best:.4f}; curves {utils.plot_curves(out_dir)}")


# ---------------------------------------------------------------------------------------- evaluation

_PRIORS = {}


def class_prior(args):
    """Training frequency of every class (the prior baseline's scores), read once per data dir."""
    key = (os.path.abspath(args.data_dir), num_classes(args))
    if key not in _PRIORS:
        counts = np.zeros([num_classes(args)], np.float64)
        videos = read_split(args, "train")
        for *_, labels in videos:
            counts[labels] += 1
        _PRIORS[key] = counts / len(videos)
    return _PRIORS[key]


def predict_arrays(args, model, videos, batch_size=None):
    """Sigmoid scores [len(videos), C] of the model, in order (no dropout, batch-norm statistics)."""
    model.eval()
    data = VideoFeatures(videos, args, train=False)
    batch_size = batch_size or getattr(args, "batch_size", 32)
    out = []
    with paddle.no_grad():
        for start in range(0, len(data), batch_size):
            rgb, audio, lengths, _ = collate([data[i] for i in range(start, min(start + batch_size, len(data)))])
            logits = model(paddle.to_tensor(rgb), paddle.to_tensor(audio), paddle.to_tensor(lengths))
            out.append(F.sigmoid(logits).numpy())
    return np.concatenate(out) if out else np.zeros([0, num_classes(args)], np.float32)


def evaluate(args, model, split):
    """GAP@top_k, Hit@1, PERR of the model and of the prior baseline on a split; every rank scores its share
    of the videos and the metrics are computed once over all of them."""
    videos = read_split(args, split)
    mine = list(range(utils.rank(), len(videos), utils.world_size()))
    scores = predict_arrays(args, utils.unwrap(model), [videos[i] for i in mine])
    if utils.world_size() > 1:
        gathered = []
        paddle.distributed.all_gather_object(gathered, (mine, scores))
        scores = np.zeros([len(videos), num_classes(args)], np.float32)
        for index, part in gathered:
            scores[index] = part
    labels = np.zeros([len(videos), num_classes(args)], np.float32)
    for k, (*_, y) in enumerate(videos):
        labels[k, y] = 1.0
    result = youtube8m_metrics.all_metrics(scores, labels, args.top_k)
    prior = np.broadcast_to(class_prior(args), labels.shape)
    result.update({f"{k}_prior": v for k, v in youtube8m_metrics.all_metrics(prior, labels, args.top_k).items()})
    return {**result, "samples": len(videos)}


# ------------------------------------------------------------------------------------ export, predict

class _Scores(paddle.nn.Layer):
    """What the export computes: sigmoid class scores from the padded features and their lengths."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, rgb, audio, lengths):
        return F.sigmoid(self.model(rgb, audio, lengths))


def export(args, model, path_prefix):
    """rgb [B, T, 1024] float32, audio [B, T, 128], lengths [B] int64 -> scores [B, classes]."""
    model.eval()
    specs = [paddle.static.InputSpec([None, None, FEATURE_DIMS[0]], "float32", "rgb"),
             paddle.static.InputSpec([None, None, FEATURE_DIMS[1]], "float32", "audio"),
             paddle.static.InputSpec([None], "int64", "lengths")]
    paddle.jit.save(_Scores(model), path_prefix, input_spec=specs)
    return path_prefix


def predict(args, predictor_or_model, paths):
    """One result per .pkl/.npz feature file: its videos, each with its top-5 (class name, score) and, when the
    file has them, its true labels."""
    names = vocabulary(args.data_dir) if getattr(args, "data_dir", None) else None
    name = (lambda c: names[c] if names and c < len(names) else str(c))  # noqa: E731
    classes = num_classes(args)
    results = []
    for path in paths:
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
        videos = []
        for index, record in enumerate(_load_file(path)):
            vid, rgb, audio, labels = check_record(path, index, record, classes, args.max_frames)
            video = (path, vid, rgb, audio, labels)
            if isinstance(predictor_or_model, paddle.nn.Layer):
                scores = predict_arrays(args, predictor_or_model, [video], 1)[0]
            else:
                r, a, lengths, _ = collate([VideoFeatures([video], args, train=False)[0]])
                scores = predictor_or_model([r, a, lengths])[0][0]
            top = np.argsort(-scores, kind="stable")[:5]
            videos.append({"video": vid, "top5": [(name(int(c)), round(float(scores[c]), 4)) for c in top],
                           **({"labels": [name(c) for c in labels]} if labels else {})})
        results.append({"file": path, "videos": videos})
    return results
