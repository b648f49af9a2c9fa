"""## Temporal action localisation (BMN, BSN, C-TCN) on ActivityNet-1.3

The localization family: train.py, eval.py, export.py and infer.py call this module's MODELS, add_flags,
build_model, train, evaluate, export and predict when --model is BMN, BSN or CTCN.

**Data layout** (`--data_dir`, default data/activitynet; the demo writes the same):

    activitynet_1.3_annotations.json   {"database": {video_id: {"duration_second": 82.7, "subset": "training",
                                        "annotations": [{"segment": [12.1, 40.3], "label": "Long jump"}]}}}
                                        (the official file; the release's flat {video_id: {...}} file and
                                        "duration" for "duration_second" are read too)
    features/<video_id>.csv            the release's per-video features: a header row, then one row of 400
                                       values per snippet (any number of snippets); or <video_id>.npy [T, 400]

Subsets: training = train, validation = val (best.pdparams is chosen on it), testing = test (the real
testing subset has no annotations: evaluate the real data with --split val). Each video's feature sequence is
rescaled by linear interpolation to the model's temporal scale (--tscale: 100 for BMN and BSN, as the
release; C-TCN: its --img_size, 512), and segments are taken relative to duration_second.
Bad input: a malformed json is an error naming file:line (json's position); a video with no usable
duration, or a segment with end <= start or entirely outside the video, is an error naming the video id
(skipped and counted with --skip_bad_samples); a segment partly outside [0, duration] is CLIPPED to the
video, with one notice counting the clipped segments; a feature file that is missing, unreadable, or not
400 values per row is an error naming the file (skipped and counted with --skip_bad_samples).

**Models** (parameter counts of the release configurations tested in tests/test_localization.py):

- BMN (models/bmn.py): base module, temporal evaluation module (start/end), proposal evaluation module with
  the boundary-matching layer (sampling-mask matrix of the paper and release: tscale 100, num_sample 32,
  num_sample_perbin 3, boundary ratio 0.5); loss = TEM + 10 x PEM regression + PEM classification;
  post-processing: candidate boundaries (peaks or > 0.5 max), score start x end x both map confidences,
  the release's soft-NMS (alpha 0.4, t1 0.5, t2 0.9: its infer setting, used for eval too; its test section
  has alpha 0.001), top 100. Release: 2,782,980 parameters.
- BSN (models/bsn.py): TEM (505,091 parameters), the proposal generation step (PGM: boundary candidates,
  boundary-sensitive features of 8 + 16 + 8 actionness samples), PEM (8,705 parameters); trained jointly
  here (the release trains the TEM, runs the PGM offline, then trains the PEM). Release: 513,796.
- CTCN (models/ctcn.py): the release's FPN C-TCN over the [img_size, feature] map: 8 pyramid levels,
  7 anchors per position (1,785 for img_size 512), smooth-L1 + hard-negative-mined cross-entropy, NMS then
  Gaussian soft-NMS. Release (img_size 512, 402 concept features, 201 classes): 318,021,421 trainable
  parameters (the (1 x 402) class head alone holds 289,594,368); with the real 400-d features, 316,573,485.

**Training** (the release's recipes): BMN and BSN: Adam, lr 0.001, x0.1 at step 4200 (--lr_decay_steps),
L2 1e-4, batch 16, 9 epochs: the flags' defaults. C-TCN: Momentum 0.9, lr 0.0005, x0.1 at step 9000, L2
1e-4, batch 16, 35 epochs: pass `--lr 0.0005 --epochs 35` (the defaults are BMN's). The LR is not scaled
with the number of processes.

**Metrics** (anet_metrics.py, the official ActivityNet evaluation kit's computations, tested on hand-made
cases): BMN, BSN: AR@AN for AN = 1..100 and the AUC of the AR-AN curve (tIoU 0.5:0.05:0.95); C-TCN:
detection mAP (interpolated AP per class at each tIoU of 0.5:0.05:0.95, averaged). The trivial baseline on
the same split: uniform proposals, the same 100 segments for every video (10 lengths 0.05..0.95 of the video
x 10 evenly spaced starts, in a fixed random order; for C-TCN each labelled with every class, scored by the
class's training frequency): `auc_uniform`, `ar@100_uniform`, `map_uniform`.

**Demo**: `make_demo` writes untrimmed feature sequences (40-160 snippets) with 1-3 planted action segments
per video: inside a segment a class-dependent 400-d pattern (4 classes) plus noise, outside background noise
only; 200 training / 50 validation / 50 testing videos (smoke: 8 / 4 / 4 of 24-40 snippets).

**Figures** on the demo's testing subset (50 videos), `--size demo`, best.pdparams chosen on validation,
each run by one command from a fresh copy of the folder (it writes the demo data first), measured under
load 11-21 on the 2 shared cores:

    MODEL=BMN TASK=localization bash train.sh --epochs 10 --eval_interval 5                  # ~7 min
    MODEL=BSN TASK=localization bash train.sh --epochs 10 --eval_interval 5 --output_dir output_bsn     # ~5 min
    MODEL=CTCN TASK=localization bash train.sh --epochs 10 --eval_interval 5 --lr 0.01 --output_dir output_ctcn
                                                                                             # ~14 min

    model (demo size, parameters)   AUC     AR@1    AR@10   AR@100  | uniform proposals: AUC  AR@100
    BMN  (72,068; tscale 32)        90.70   0.271   0.912   0.922   |                   54.77  0.747
    BSN  (91,588; tscale 32)        90.72   0.372   0.921   0.922   |                   54.77  0.747

    model (demo size, parameters)   mAP (0.5:0.95)  mAP@0.5  mAP@0.75 | uniform: mAP  mAP@0.5
    C-TCN (327,673; img_size 64)    0.606           0.969    0.691    |          0.017  0.049

AR@100 stops at 0.922 for both proposal models: at tscale 32 a proposal cannot end on the video's last
boundary (as in the release, an end must fall at a location < T), and the grid is coarse for tIoU 0.95.
The release's figures on ActivityNet-1.3 (AUC 67.19 BMN, 66.64 BSN; C-TCN mAP 31%) need the real features
and the release sizes (`--size release`), not run here. `python infer.py --timeline FEATURE_FILE` lists a
video's proposals (start, end, score in seconds; C-TCN with the label) and writes
OUTPUT_DIR/MODEL/infer/<video>_timeline.png, the proposals against the ground truth.

**Not done yet**: `--to_static` is applied to BMN and C-TCN only (BSN's step runs the numpy PGM between its
modules, so it trains in the dynamic graph); the release's video-level classification combined with BMN
proposals (its detection mAP for BMN) is not built; C-TCN reads our 400-d features, not the release's
402-d concept scores; the release sizes were only built and counted (no run on real data).
"""
import json
import os

import numpy as np
import paddle

import anet_metrics
import utils
from models.bmn import BMN, valid_map
from models.bmn import demo_config as bmn_demo
from models.bmn import release_config as bmn_release
from models.bsn import BSN, bsp_features, generate_proposals
from models.bsn import demo_config as bsn_demo
from models.bsn import release_config as bsn_release
from models.ctcn import CTCN, decode, encode
from models.ctcn import demo_config as ctcn_demo
from models.ctcn import release_config as ctcn_release

MODELS = ("BMN", "BSN", "CTCN")
TASK = "localization"
DEFAULT_DATA_DIR = "data/activitynet"
SHAPE_FLAGS = ("tscale", "img_size", "feat_dim", "num_classes")
ANNOTATIONS = "activitynet_1.3_annotations.json"
SUBSETS = {"train": "training", "val": "validation", "dev": "validation", "test": "testing"}
FEAT_DIM = 400
# the release's optimiser settings: (lr, decay step, epochs, batch size)
RECIPES = {"BMN": (0.001, 4200, 9, 16), "BSN": (0.001, 4200, 9, 16), "CTCN": (0.0005, 9000, 35, 16)}


def add_flags(parser):
    # the release's BMN/BSN recipe (C-TCN's: --lr 0.0005 --epochs 35); train.defaults_to_actions moves it
    # onto the flags
    parser.set_defaults(epochs=9, batch_size=16, lr=0.001)
    g = parser.add_argument_group("localization (BMN, BSN, CTCN)")
    g.add_argument("--feature_dir", default="features", help="per-video feature files, relative to --data_dir")
    g.add_argument("--tscale", type=int, default=None,
                   help="BMN, BSN: temporal scale the features are rescaled to (unset: the --size "
                        "configuration's: 100 release, 32 demo)")
    g.add_argument("--img_size", type=int, default=None,
                   help="CTCN: time steps of the input map (unset: 512 release, 64 demo)")
    g.add_argument("--feat_dim", type=int, default=FEAT_DIM, help="values per snippet in the feature files")
    g.add_argument("--num_classes", type=int, default=None,
                   help="CTCN: action classes + background (unset: 201 release, the data's classes + 1 demo)")
    g.add_argument("--lr_decay_steps", type=int, default=None,
                   help="step at which the LR drops x0.1 (unset: the release's: 4200 BMN/BSN, 9000 C-TCN)")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 regularisation (the release's)")
    g.add_argument("--snms_alpha", type=float, default=0.4, help="BMN/BSN soft-NMS: Gaussian width (the release's)")
    g.add_argument("--snms_t1", type=float, default=0.5, help="BMN/BSN soft-NMS: tIoU threshold at width 0")
    g.add_argument("--snms_t2", type=float, default=0.9, help="BMN/BSN soft-NMS: tIoU threshold at width 1")
    g.add_argument("--max_proposals", type=int, default=100, help="proposals / detections kept per video")
    g.add_argument("--score_thresh", type=float, default=0.001, help="CTCN: class score threshold (the release's)")
    g.add_argument("--nms_thresh", type=float, default=0.08, help="CTCN: hard-NMS tIoU (the release's)")
    g.add_argument("--snms_sigma", type=float, default=0.006,
                   help="CTCN: Gaussian soft-NMS width, also its score threshold (the release's sigma_thresh and "
                        "soft_thresh, both 0.006)")
    g.add_argument("--snippet_seconds", type=float, default=16 / 30,
                   help="infer: seconds per feature row for a video not in the annotation file")
    g.add_argument("--timeline", action="store_true",
                   help="infer: also write a timeline PNG of the proposals against the ground truth")
    return parser


# ----------------------------------------------------------------------------------------------- models

def model_config(args):
    release = getattr(args, "size", "release") == "release"
    if args.model == "BMN":
        cfg = bmn_release() if release else bmn_demo()
        if args.tscale:
            cfg["tscale"] = cfg["dscale"] = args.tscale
    elif args.model == "BSN":
        cfg = bsn_release() if release else bsn_demo()
        if args.tscale:
            cfg["tscale"] = args.tscale
    else:
        cfg = ctcn_release() if release else ctcn_demo()
        if args.img_size:
            cfg["img_size"] = args.img_size
        if args.num_classes:
            cfg["num_classes"] = args.num_classes
        elif not release:
            cfg["num_classes"] = len(class_names(args)) + 1
        cfg["concept_size"] = args.feat_dim if not release else cfg["concept_size"]
        return cfg
    cfg["feat_dim"] = args.feat_dim
    return cfg


def build_model(args):
    cls = {"BMN": BMN, "BSN": BSN, "CTCN": CTCN}[args.model]
    return cls(**model_config(args))


def count_parameters(model):
    import math
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


def temporal_scale(args, model=None):
    model = utils.unwrap(model) if model is not None else None
    if model is not None:
        return model.img_size if isinstance(model, CTCN) else model.tscale
    cfg = model_config(args)
    return cfg.get("img_size", cfg.get("tscale"))


# ------------------------------------------------------------------------------------------------- data

_ANNOTATION_CACHE = {}


def annotation_path(data_dir):
    return os.path.join(data_dir, ANNOTATIONS)


def load_annotations(data_dir, skip_bad=False, log=print):
    """{video_id: {"duration": s, "subset": .., "segments": [(start, end, label)]}}, checked (see the module
    docstring for what is clipped and what is refused)."""
    path = annotation_path(data_dir)
    key = (os.path.abspath(path), os.path.getmtime(path) if os.path.isfile(path) else 0, skip_bad)
    if key in _ANNOTATION_CACHE:
        return _ANNOTATION_CACHE[key]
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found (make_demo_data.py writes the demo)")
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise utils.DataError(f"{path}:{e.lineno}: malformed json ({e.msg}, column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise utils.DataError(f"{path}:1: not UTF-8 text (byte {e.start})") from None
    database = raw.get("database", raw) if isinstance(raw, dict) else None
    if not isinstance(database, dict):
        raise utils.DataError(f"{path}:1: expected an object of videos (or {{\"database\": {{...}}}})")
    videos, clipped, bad = {}, 0, 0
    for vid, info in database.items():
        try:
            duration = float(info.get("duration_second", info.get("duration")))
            if not np.isfinite(duration) or duration <= 0:
                raise ValueError(f"duration {duration}")
            segments = []
            for a in info.get("annotations", []):
                start, end = (float(v) for v in a["segment"])
                label = str(a["label"])
                if end <= start or end <= 0 or start >= duration:
                    raise ValueError(f"segment [{start}, {end}] is empty or outside the video (0 to {duration} s)")
                if start < 0 or end > duration:
                    clipped += 1
                    start, end = max(start, 0.0), min(end, duration)
                segments.append((start, end, label))
            videos[vid] = {"duration": duration, "subset": str(info.get("subset", "")), "segments": segments}
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            if not skip_bad:
                raise utils.DataError(f"{path}: video {vid}: bad annotation ({type(e).__name__}: {e})") from None
            bad += 1
    if clipped and utils.is_main_process():
        log(f"note: {path}: {clipped} segments reached outside their video and were clipped to it")
    if bad and utils.is_main_process():
        log(f"note: {path}: skipped {bad} videos with bad annotations (--skip_bad_samples)")
    _ANNOTATION_CACHE[key] = videos
    return videos


def class_names(args):
    """Sorted action labels of the whole annotation file (class i + 1 for C-TCN, 0 is background)."""
    videos = load_annotations(args.data_dir, getattr(args, "skip_bad_samples", False))
    return sorted({s[2] for v in videos.values() for s in v["segments"]})


def feature_file(data_dir, feature_dir, vid):
    base = os.path.join(data_dir, feature_dir, vid)
    for ext in (".csv", ".npy"):
        if os.path.isfile(base + ext):
            return base + ext
    return base + ".csv"


def read_features(path, feat_dim=FEAT_DIM):
    """[T, feat_dim] float32 from a csv (one header row) or npy file; a bad one is a DataError naming it."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: feature file not found")
    try:
        if path.endswith(".npy"):
            feats = np.load(path, allow_pickle=False)
        else:
            feats = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    except (ValueError, OSError) as e:
        raise utils.DataError(f"{path}: unreadable feature file ({str(e).splitlines()[0][:120]})") from None
    if feats.ndim != 2 or feats.shape[1] != feat_dim or feats.shape[0] < 1:
        raise utils.DataError(f"{path}: features of shape {list(feats.shape)}, expected [snippets, {feat_dim}]")
    if not np.isfinite(feats).all():
        raise utils.DataError(f"{path}: features hold NaN or infinite values")
    return feats.astype(np.float32)


def rescale(feats, length):
    """[T, D] -> [length, D] by linear interpolation over the video's span (the release's fixed-size input)."""
    t = feats.shape[0]
    if t == 1:
        return np.repeat(feats, length, axis=0)
    pos = (np.arange(length) + 0.5) * t / length - 0.5
    pos = pos.clip(0, t - 1)
    low = np.floor(pos).astype(int)
    high = np.minimum(low + 1, t - 1)
    frac = (pos - low)[:, None]
    return (feats[low] * (1 - frac) + feats[high] * frac).astype(np.float32)


_SPLIT_CACHE = {}


def load_split(args, split, length, log=print):
    """[{"video", "duration", "segments" [(start, end, label)], "features" [length, feat_dim]}] of a split;
    every file is read (and checked) here, before any step."""
    subset = SUBSETS.get(split)
    if subset is None:
        raise utils.DataError(f"unknown split {split}; one of {', '.join(SUBSETS)}")
    skip = getattr(args, "skip_bad_samples", False)
    path = annotation_path(args.data_dir)
    key = (os.path.abspath(args.data_dir), args.feature_dir, subset, length, args.feat_dim, skip,
           os.path.getmtime(path) if os.path.isfile(path) else 0)
    if key in _SPLIT_CACHE:
        return _SPLIT_CACHE[key]
    videos = load_annotations(args.data_dir, skip, log)
    items, bad = [], 0
    names = [v for v, info in videos.items() if info["subset"] == subset]
    for vid in utils.progress(names, len(names), f"reading {split} features"):
        try:
            feats = read_features(feature_file(args.data_dir, args.feature_dir, vid), args.feat_dim)
        except utils.DataError:
            if not skip:
                raise
            bad += 1
            continue
        items.append({"video": vid, **videos[vid], "features": rescale(feats, length)})
    if bad and utils.is_main_process():
        log(f"note: skipped {bad} {split} videos with bad feature files (--skip_bad_samples)")
    if not items:
        raise utils.DataError(f"{path}:1: no video of subset '{subset}' (split {split}) with its features")
    _SPLIT_CACHE[key] = items
    return items


def _ioa(anchor_min, anchor_max, box_min, box_max):
    inter = (np.minimum(anchor_max, box_max) - np.maximum(anchor_min, box_min)).clip(0)
    return inter / (anchor_max - anchor_min)


def relative_segments(item):
    return np.array([(s / item["duration"], e / item["duration"]) for s, e, _ in item["segments"]],
                    dtype=np.float64).reshape(-1, 2).clip(0, 1)


def boundary_targets(segments, tscale, region):
    """Start and end targets [T]: at location t (time t / T, its anchor [t - 1/2, t + 1/2] / T) the largest
    overlap of the anchor with a boundary region of width region(length) around a ground-truth start / end
    (as a fraction of the anchor)."""
    gap = 1.0 / tscale
    a_min, a_max = (np.arange(tscale) - 0.5) * gap, (np.arange(tscale) + 0.5) * gap
    start, end = np.zeros(tscale), np.zeros(tscale)
    for s, e in segments:
        half = region(e - s) / 2
        start = np.maximum(start, _ioa(a_min, a_max, s - half, s + half))
        end = np.maximum(end, _ioa(a_min, a_max, e - half, e + half))
    return start.astype(np.float32), end.astype(np.float32)


def bmn_targets(item, tscale):
    """(gt_iou_map [D, T]: the IoU of proposal [t, t + d + 1] / T with its best ground truth, gt_start,
    gt_end [T] with boundary regions 3 / T wide), as the release's reader."""
    segments = relative_segments(item)
    start, end = boundary_targets(segments, tscale, lambda length: 3.0 / tscale)
    d, t = np.meshgrid(np.arange(tscale), np.arange(tscale), indexing="ij")
    p_min, p_max = t / tscale, (t + d + 1) / tscale
    iou = np.zeros([tscale, tscale])
    for s, e in segments:
        inter = (np.minimum(p_max, e) - np.maximum(p_min, s)).clip(0)
        iou = np.maximum(iou, inter / (p_max - p_min + e - s - inter))
    return iou.astype(np.float32), start, end


def bsn_targets(item, tscale):
    """(gt_start, gt_end [T] with boundary regions max(1 / T, 0.1 x length) wide, gt_action [T]: the
    fraction of step [t, t + 1] / T inside an action), as the release's BSN reader."""
    segments = relative_segments(item)
    start, end = boundary_targets(segments, tscale, lambda length: max(1.0 / tscale, 0.1 * length))
    gap = 1.0 / tscale
    action = np.zeros(tscale)
    for s, e in segments:
        action = np.maximum(action, _ioa(np.arange(tscale) * gap, (np.arange(tscale) + 1) * gap, s, e))
    return start, end, action.astype(np.float32)


def ctcn_targets(item, anchors, img_size, classes):
    segments = relative_segments(item) * img_size
    labels = [classes.index(s[2]) + 1 for s in item["segments"]]
    return encode(anchors, segments, labels)


def make_batch(model, items, classes=None):
    """The model's inputs and targets for a list of videos (numpy)."""
    model = utils.unwrap(model)
    feats = np.stack([it["features"] for it in items])  # [B, T, D]
    if isinstance(model, CTCN):
        anchors = model.anchors.numpy()  # once per batch, not per video
        targets = [ctcn_targets(it, anchors, model.img_size, classes) for it in items]
        return (feats[:, None], np.stack([t[0] for t in targets]), np.stack([t[1] for t in targets]))
    feats = feats.transpose(0, 2, 1)
    if isinstance(model, BMN):
        targets = [bmn_targets(it, model.tscale) for it in items]
        return (feats, *[np.stack([t[i] for t in targets]) for i in range(3)])
    targets = [bsn_targets(it, model.tscale) for it in items]
    return (feats, *[np.stack([t[i] for t in targets]) for i in range(3)], [relative_segments(it) for it in items])


# ---------------------------------------------------------------------------------------- post-processing

def bmn_proposals(bm, start, end, args):
    """BMN: [(xmin, xmax, score)] in [0, 1] after soft-NMS. bm [2, D, T], start / end [T]."""
    from models.bsn import boundary_candidates
    tscale = len(start)
    start_ok = np.zeros(tscale, bool)
    start_ok[boundary_candidates(start)] = True
    end_ok = np.zeros(tscale, bool)
    end_ok[boundary_candidates(end)] = True
    d, t = np.nonzero(valid_map(tscale, bm.shape[1]) > 0)
    e = t + d + 1
    keep = e < tscale
    d, t, e = d[keep], t[keep], e[keep]
    keep = start_ok[t] & end_ok[e]
    d, t, e = d[keep], t[keep], e[keep]
    score = start[t] * end[e] * bm[0, d, t] * bm[1, d, t]
    rows = list(zip(t / tscale, e / tscale, score))
    return anet_metrics.soft_nms(rows, args.snms_alpha, args.snms_t1, args.snms_t2, args.max_proposals)


def bsn_proposals(tem, pem_fn, args, samples, ratio):
    """BSN: PGM on the TEM curves, PEM on the BSP features, score start x end x PEM, soft-NMS."""
    rows = generate_proposals(tem[0], tem[1], top_k=1000)
    if not len(rows):
        return []
    conf = pem_fn(bsp_features(tem[2], rows[:, :2], samples, ratio))
    out = list(zip(rows[:, 0], rows[:, 1], rows[:, 2] * rows[:, 3] * conf))
    return anet_metrics.soft_nms(out, args.snms_alpha, args.snms_t1, args.snms_t2, args.max_proposals)


def ctcn_detections(anchors, loc, probs, img_size, args):
    """C-TCN: [(xmin, xmax, class index >= 1, score)] in [0, 1]: per class, scores above --score_thresh,
    hard NMS at --nms_thresh, then Gaussian soft-NMS (--snms_sigma as both its width and its score threshold:
    the release's two settings are equal), as the release's decoder."""
    segments = decode(anchors, loc) / img_size
    out = []
    for c in range(1, probs.shape[1]):
        score = probs[:, c]
        ok = score > args.score_thresh
        if not ok.any():
            continue
        seg, sc = segments[ok], score[ok]
        keep = anet_metrics.nms(seg, sc, args.nms_thresh)
        seg, sc = anet_metrics.gaussian_soft_nms(seg[keep], sc[keep], args.snms_sigma, args.snms_sigma)
        out.extend((float(np.clip(a, 0, 1)), float(np.clip(b, 0, 1)), c, float(s)) for (a, b), s in zip(seg, sc))
    out.sort(key=lambda r: -r[3])
    return [r for r in out if r[1] > r[0]][:args.max_proposals]


def run_model(runner, model_kind, inputs):
    """Forward through a dygraph Layer or a Paddle Inference run(arrays) callable; numpy outputs."""
    if isinstance(runner, paddle.nn.Layer):
        with paddle.no_grad():
            if model_kind == "BSN":
                feats, bsp = inputs
                tem = runner(paddle.to_tensor(feats))
                return [tem.numpy(), runner.pem(paddle.to_tensor(bsp)).numpy()]
            out = runner(paddle.to_tensor(inputs[0]))
            if model_kind == "CTCN":
                out = (out[0], paddle.nn.functional.softmax(out[1], axis=-1))
            return [o.numpy() for o in out]
    return runner([np.asarray(x, np.float32) for x in inputs])


def predict_items(args, runner, items, model_kind, cfg):
    """{video: [(start s, end s, score)] or [(start s, end s, label index, score)]} for prepared items."""
    out = {}
    for item in items:
        feats = item["features"]
        if model_kind == "BMN":
            bm, start, end = run_model(runner, "BMN", [feats.T[None]])
            rows = bmn_proposals(bm[0], start[0], end[0], args)
        elif model_kind == "BSN":
            samples = (cfg["num_sample_start"], cfg["num_sample_action"], cfg["num_sample_end"])
            dummy = np.zeros([1, sum(samples)], np.float32)
            tem = run_model(runner, "BSN", [feats.T[None], dummy])[0][0]
            rows = bsn_proposals(tem, lambda bsp: run_model(runner, "BSN", [feats.T[None], bsp])[1], args,
                                 samples, cfg["bsp_boundary_ratio"])
        else:
            loc, probs = run_model(runner, "CTCN", [feats[None, None]])
            rows = ctcn_detections(ctcn_anchors(cfg), loc[0], probs[0], cfg["img_size"], args)
        d = item["duration"]
        out[item["video"]] = [(r[0] * d, r[1] * d, *r[2:]) for r in rows]
    return out


def ctcn_anchors(cfg):
    key = tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in cfg.items()))
    if key not in _ANCHORS:
        with paddle.LazyGuard():
            _ANCHORS[key] = CTCN(**cfg).default_anchors()
    return _ANCHORS[key]


_ANCHORS = {}


# ------------------------------------------------------------------------------------------- baselines

def uniform_proposals():
    """The 100 segments of the uniform baseline in [0, 1]: lengths 0.05, 0.15, .., 0.95 x 10 evenly spaced
    starts from 0 to 1 - length, in a fixed random order (scores 1.0 down to 0.01)."""
    rows = [(j * (1 - l) / 9, j * (1 - l) / 9 + l) for l in np.linspace(0.05, 0.95, 10) for j in range(10)]
    order = np.random.default_rng(0).permutation(len(rows))
    return [(rows[i][0], rows[i][1], 1.0 - k / 100.0) for k, i in enumerate(order)]


def evaluate(args, model, split):
    """BMN, BSN: AUC and AR@AN of the proposals; C-TCN: detection mAP; each with the uniform baseline's."""
    model = utils.unwrap(model)
    model.eval()
    kind = type(model).__name__
    items = load_split(args, split, temporal_scale(args, model))
    if all(not it["segments"] for it in items):
        raise utils.DataError(f"{annotation_path(args.data_dir)}: split {split} has no annotated segment "
                              "(the real testing subset has none; use --split val)")
    cfg = model_config(args)
    preds = predict_items(args, model, items, kind, cfg)
    uniform = uniform_proposals()
    if kind in ("BMN", "BSN"):
        gt = {it["video"]: it["segments"] for it in items}
        res = anet_metrics.proposal_metrics(gt, preds)
        base = anet_metrics.proposal_metrics(
            gt, {it["video"]: [(a * it["duration"], b * it["duration"], s) for a, b, s in uniform] for it in items})
        return {"auc": res["auc"], "ar@1": res["ar@1"], "ar@10": res["ar@10"], "ar@100": res["ar@100"],
                "auc_uniform": base["auc"], "ar@100_uniform": base["ar@100"], "samples": len(items)}
    classes = class_names(args)
    gt = {it["video"]: [(s, e, classes.index(label) + 1) for s, e, label in it["segments"]] for it in items}
    res = anet_metrics.detection_map(gt, preds)
    prior = class_prior(args, classes)
    base = anet_metrics.detection_map(gt, {it["video"]: [(a * it["duration"], b * it["duration"], c + 1, s * prior[c])
                                                         for a, b, s in uniform for c in range(len(classes))]
                                           for it in items})
    return {"map": res["map"], "map@0.5": res["map@0.5"], "map@0.75": res["map@0.75"], "map_uniform": base["map"],
            "map@0.5_uniform": base["map@0.5"], "samples": len(items)}


def class_prior(args, classes):
    videos = load_annotations(args.data_dir, getattr(args, "skip_bad_samples", False))
    counts = np.ones(len(classes))
    for v in videos.values():
        if v["subset"] == SUBSETS["train"]:
            for s in v["segments"]:
                counts[classes.index(s[2])] += 1
    return counts / counts.sum()


# ------------------------------------------------------------------------------------------- training

class LossOf(paddle.nn.Layer):
    """The model's loss as a forward, so that DataParallel (whose gradient sync starts in its forward) wraps
    the whole loss computation."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs, target1, target2, target3=None, segments=None):
        # named arguments, not *batch: paddle.jit.to_static needs a fixed signature
        if segments is not None:  # BSN: its ground-truth segments feed the numpy proposal generation
            return self.model.loss(inputs, target1, target2, target3, segments)[0]
        if target3 is None:  # C-TCN
            return self.model.loss(inputs, target1, target2)[0]
        return self.model.loss(inputs, target1, target2, target3)[0]


def to_tensors(batch):
    return [paddle.to_tensor(b) if isinstance(b, np.ndarray) else b for b in batch]


def train(args, model, out_dir, log):
    """The loop: the release's optimiser (Adam for BMN/BSN, Momentum 0.9 for C-TCN, L2 1e-4, LR x0.1 at
    --lr_decay_steps), resume from latest.pdckpt, DataParallel over several processes, dev evaluation every
    --eval_interval epochs choosing best.pdparams (by AUC, or mAP for C-TCN). Returns the best dev figure."""
    kind = args.model
    length = temporal_scale(args, model)
    train_items = load_split(args, "train", length, log)
    dev_items = load_split(args, "val", length, log)
    classes = class_names(args) if kind == "CTCN" else None
    world, rank = utils.world_size(), utils.rank()
    per_step = args.batch_size * world
    if len(train_items) < per_step:
        raise utils.DataError(f"{annotation_path(args.data_dir)}:1: {len(train_items)} training videos, fewer "
                              f"than one batch of {args.batch_size} x {world} processes")
    steps_per_epoch = len(train_items) // per_step
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    decay = args.lr_decay_steps or RECIPES[kind][1]
    scheduler = paddle.optimizer.lr.PiecewiseDecay([decay], [args.lr, args.lr * 0.1])
    decay_reg = paddle.regularizer.L2Decay(args.weight_decay)
    if kind == "CTCN":
        optimizer = paddle.optimizer.Momentum(scheduler, momentum=0.9, parameters=model.parameters(),
                                              weight_decay=decay_reg)
    else:
        optimizer = paddle.optimizer.Adam(scheduler, parameters=model.parameters(), weight_decay=decay_reg)
    device = paddle.get_device().split(":")[0]
    model, optimizer, scaler, amp = utils.amp_setup(args, "gpu" if device == "gpu" else "cpu", model, optimizer)
    step, best = 0, -1.0
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer, scheduler, logger)
        step, best = state["step"], state["best"]
        log(f"resumed from {args.resume} at step {step}")
    loss_layer = LossOf(model)
    if args.to_static:
        if kind == "BSN":
            log("note: --to_static ignored for BSN: its step runs the numpy proposal generation between TEM "
                "and PEM; training in the dynamic graph")
        else:
            loss_layer = paddle.jit.to_static(loss_layer)
    train_model = paddle.DataParallel(loss_layer) if world > 1 else loss_layer
    log(f"{kind}: {count_parameters(model):,} parameters ({args.size} size: {model_config(args)}); "
        f"{len(train_items)} training videos, {len(dev_items)} val videos rescaled to {length} steps; "
        f"{steps_per_epoch} steps/epoch, batch {args.batch_size} x {world} processes, lr {args.lr:g} "
        f"(x0.1 at step {decay})")
    metric = "map" if kind == "CTCN" else "auc"

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        utils.broadcast_from_rank0(model)
        if not utils.is_main_process():
            return
        result = evaluate(args, model, "val")
        model.train()
        log(f"eval epoch {epoch}: val " + " ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "samples"))
        logger.write({"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in result.items()}})
        if result[metric] > best:
            best = result[metric]
            paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        order = np.random.default_rng((args.seed, epoch)).permutation(len(train_items))
        model.train()
        timer = utils.Timer()
        for b in range(step - epoch * steps_per_epoch, steps_per_epoch):
            first = b * per_step + rank * args.batch_size
            batch = make_batch(model, [train_items[i] for i in order[first:first + args.batch_size]], classes)
            batch = to_tensors(batch)
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=amp, level=args.amp if amp else "O1"):
                loss = train_model(*batch)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, args.batch_size, reader_cost, reader_cost + timer.tick())
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
        log(f"best val {metric} {best:.4f}; curves {utils.plot_curves(out_dir)}")
    return best


# --------------------------------------------------------------------------------------- export, infer

class Exported(paddle.nn.Layer):
    """BMN: features -> (confidence map, start, end); C-TCN: features -> (offsets, class probabilities);
    BSN: (features, BSP features) -> (TEM curves, PEM confidences)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, features, bsp=None):
        if isinstance(self.model, BSN):
            return self.model(features), self.model.pem(bsp)
        out = self.model(features)
        if isinstance(self.model, CTCN):
            return out[0], paddle.nn.functional.softmax(out[1], axis=-1)
        return out


def export(args, model, path_prefix):
    model.eval()
    cfg = model_config(args)
    if args.model == "CTCN":
        spec = [paddle.static.InputSpec([None, 1, cfg["img_size"], cfg["concept_size"]], "float32", name="features")]
    else:
        spec = [paddle.static.InputSpec([None, args.feat_dim, cfg["tscale"]], "float32", name="features")]
    if args.model == "BSN":
        spec.append(paddle.static.InputSpec([None, cfg["num_sample_start"] + cfg["num_sample_action"]
                                             + cfg["num_sample_end"]], "float32", name="bsp"))
    paddle.jit.save(paddle.jit.to_static(Exported(model), input_spec=spec, full_graph=True), path_prefix)
    return path_prefix


def predict(args, predictor_or_model, paths):
    """Each path a feature file (csv/npy); a video of the annotation file takes its duration (and ground truth
    for --timeline) from it, another one --snippet_seconds per row. Returns [{"video", "file", "duration",
    "proposals": [{"start", "end", "score"(, "label")}]}], best first."""
    kind = args.model
    cfg = model_config(args)
    length = cfg.get("img_size", cfg.get("tscale"))
    try:
        videos = load_annotations(args.data_dir, True, log=lambda m: None)
    except utils.DataError:
        videos = {}
    classes = sorted({s[2] for v in videos.values() for s in v["segments"]}) if kind == "CTCN" else None
    results = []
    for path in paths:
        feats = read_features(path, args.feat_dim)
        vid = os.path.splitext(os.path.basename(path))[0]
        info = videos.get(vid, {"duration": feats.shape[0] * args.snippet_seconds, "segments": []})
        item = {"video": vid, "duration": info["duration"], "features": rescale(feats, length)}
        rows = predict_items(args, predictor_or_model, [item], kind, cfg)[vid]
        props = []
        for r in rows:
            p = {"start": round(float(r[0]), 2), "end": round(float(r[1]), 2), "score": round(float(r[-1]), 4)}
            if kind == "CTCN":
                p["label"] = classes[r[2] - 1] if classes and r[2] - 1 < len(classes) else int(r[2])
            props.append(p)
        result = {"video": vid, "file": path, "duration": round(info["duration"], 2), "proposals": props}
        if getattr(args, "timeline", False):
            out_dir = getattr(args, "out_dir", None) or os.path.join(args.output_dir, args.model, "infer")
            os.makedirs(out_dir, exist_ok=True)
            result["timeline"] = draw_timeline(os.path.join(out_dir, f"{vid}_timeline.png"), info["duration"],
                                               props, info["segments"])
        results.append(result)
    return results


def draw_timeline(path, duration, proposals, ground_truth, top=10, width=800):
    """A PNG: the ground-truth segments (green) on the first row, the top proposals (blue, darker = higher
    score, with the score) on the rows below, against a time axis in seconds."""
    from PIL import Image, ImageDraw
    rows = min(top, len(proposals))
    height = 40 + 18 * (rows + 1)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    x0, x1 = 90, width - 60

    def x(t):
        return x0 + (x1 - x0) * min(max(t / duration, 0), 1)

    draw.text((4, 22), "ground truth", fill="black")
    for s, e, *label in ground_truth:
        draw.rectangle([x(s), 22, x(e), 34], fill=(40, 160, 60))
        if label:
            draw.text((x(s) + 2, 22), str(label[0])[:20], fill="white")
    for i, p in enumerate(proposals[:rows]):
        y = 40 + 18 * i
        shade = int(220 - 180 * min(max(p["score"] / max(proposals[0]["score"], 1e-9), 0), 1))
        draw.rectangle([x(p["start"]), y, x(p["end"]), y + 12], fill=(shade, shade, 255))
        draw.text((4, y), f"#{i + 1} {p['score']:.3f}", fill="black")
    for k in range(6):
        t = duration * k / 5
        draw.line([x(t), height - 6, x(t), height - 2], fill="black")
        draw.text((x(t) - 10, 4), f"{t:.0f}s", fill="black")
    image.save(path)
    return path


# ---------------------------------------------------------------------------------------------- demo

DEMO_CLASSES = ("high_jump", "long_jump", "shot_put", "pole_vault")


def make_demo(out_dir, smoke=False, seed=0):
    """Untrimmed feature sequences in the ActivityNet-1.3 layout: 1-3 planted action segments per video; inside
    a segment the class's fixed 400-d pattern plus noise, outside noise only (with a slow drift). Splits:
    training / validation / testing = 200 / 50 / 50 videos of 40-160 snippets (smoke: 8 / 4 / 4 of 24-40)."""
    rng = np.random.default_rng(seed)
    counts = (8, 4, 4) if smoke else (200, 50, 50)
    lengths = (24, 40) if smoke else (40, 160)
    patterns = rng.normal(0, 1, (len(DEMO_CLASSES), FEAT_DIM)).astype(np.float32)
    feature_dir = os.path.join(out_dir, "features")
    os.makedirs(feature_dir, exist_ok=True)
    database = {}
    header = ",".join(f"f{i}" for i in range(FEAT_DIM))
    n = 0
    for subset, count in zip(("training", "validation", "testing"), counts):
        for _ in range(count):
            vid = f"v_demo{n:05d}"
            n += 1
            t = int(rng.integers(*lengths))
            feats = rng.normal(0, 1, (t, FEAT_DIM)).astype(np.float32)
            feats += np.sin(np.arange(t)[:, None] / rng.uniform(5, 20) + rng.uniform(0, 6, FEAT_DIM)) * 0.3
            seconds = t * 16 / 30
            segments, free = [], np.ones(t, bool)
            for _ in range(int(rng.integers(1, 4))):
                length = int(rng.integers(max(3, t // 10), max(4, int(t * 0.5))))
                start = int(rng.integers(0, t - length + 1))
                if not free[max(0, start - 2):start + length + 2].all():
                    continue
                free[start:start + length] = False
                c = int(rng.integers(len(DEMO_CLASSES)))
                feats[start:start + length] += patterns[c] * 0.8
                segments.append({"segment": [round(start * seconds / t, 2), round((start + length) * seconds / t, 2)],
                                 "label": DEMO_CLASSES[c]})
            np.savetxt(os.path.join(feature_dir, vid + ".csv"), feats, fmt="%.3f", delimiter=",", header=header,
                       comments="")
            database[vid] = {"duration_second": round(seconds, 2), "subset": subset, "annotations": segments}
    with open(os.path.join(out_dir, ANNOTATIONS), "w", encoding="utf-8") as f:
        json.dump({"version": "ActivityNet-1.3 demo", "database": database}, f, indent=1)
    return out_dir
