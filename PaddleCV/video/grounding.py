"""## Language grounding: TALL on TACoS (grounding.py, models/tall.py)

Given a sentence and an untrimmed video, find the moment it describes. TALL (Gao et al. 2017) scores
every (sentence, candidate clip) pair of sliding windows and regresses the clip's start and end offsets;
the top-scoring regressed windows after temporal NMS are the answer.

**Data layout** (the release's TACoS files, from the TALL authors; DATA_DIR = data/tacos):

    Interval64_128_256_512_overlap0.8_c3d_fc6/<movie>.avi_<start>_<end>.npy   training candidates: a C3D
                                         fc6 feature (4096-d) per sliding window of 64..512 frames
    Interval128_256_overlap0.8_c3d_fc6/<movie>.avi_<start>_<end>.npy          dev/test candidates
    {train,val,test}_clip-sentvec.pkl    the release's sentences: a pickled list of
                                         (b"<movie>.avi_<start>_<end>", float array [n, 4800]) pairs, the
                                         skip-thought vectors of the n sentences of that ground-truth moment
    {train,val,test}_clip-sentences.txt  OR the plain-text path (this folder's): lines
                                         `<movie>.avi_<start>_<end><TAB><sentence>`; a vocabulary is built
                                         from the training sentences and the word embeddings (averaged into
                                         the sentence vector) are learned with the model
    video_allframes_info.pkl             {movie: number of frames} (a moment beyond it is an error)

`--sentence_input auto` uses the vectors when train_clip-sentvec.pkl exists, else the text. The release
has no val files: without them every 10th training movie (sorted by name) is held out as the dev split,
with its candidates from the training directory. Each candidate's visual input is its feature with the
mean of its left and right context windows (--context_num windows of --context_size frames; a missing
one repeats the nearest, as the release): 3 x 4096 = 12,288. Training pairs are the windows with
IoU > 0.5 and non-overlap-over-length < 0.15 with a ground-truth moment, with the offsets to it.

**Bad input** stops with one line naming the place (exit 2): `file:line` of a text line that is not
`<clip><TAB><sentence>`, `file: entry i` of a pickle entry that is not the release's (clip, vectors) or has
fewer than --sentence_dim entries, a moment outside its video (start < 0, end <= start, or past the frames
of video_allframes_info.pkl), a candidate feature of the wrong size (its path). --skip_bad_samples skips
and counts the sentences and candidates instead.

**Metric**: R@1 and R@5 at IoU 0.1, 0.3, 0.5, 0.7 as the release computes it (per sentence, the
regressed windows of the movie's candidates, ranked by score, temporal NMS at IoU - 0.05, a hit when one
of the top n has IoU >= the threshold), and the **random-moment baseline** computed exactly: one of the
candidates uniformly at random (R@1 = share of candidates with IoU >= threshold), or 5 distinct ones
(R@5 = 1 - C(N-h, 5) / C(N, 5)). Published (release, TACoS test): R@1 0.13, R@5 0.24 at IoU 0.5.

**Model**: the release's sizes: 21,597,112 parameters (tested, --sentence_input vectors). Adam at 1e-3,
global-norm clip 5, batch 56, 25 epochs (the release's recipe; the LR is not scaled with the processes).
--to_static works (the scorer is one graph); the export maps (clips [N, 3 x feature_dim], sentences
[M, sentence_dim] or word ids [M, L]) -> [M, N, 3] (score, start offset, end offset).

**Demo data** (make_demo): movies of 48 units of 16 frames whose per-unit features are noise plus, during
three planted events, the codes of the event's colour, shape and direction; sentences like "the red square
moves left" (two templates per event, attributes unique within a movie); candidate windows of 64/128/256
frames (train) and 128/256 (dev/test) at 0.8 overlap, each the mean of its frames' features (32-d).
The demo uses the plain-text path (no skip-thought encoder offline).

**Measured** on the demo (make_demo: 40 train / 8 dev / 8 test movies, 240 / 48 / 48 sentences), TALL at
demo size (25,440 parameters, text sentences), the release's recipe (Adam 1e-3, batch 56, 25 epochs, 275
steps), best dev R@1@0.5 0.708 (epoch 24); 1 min 40 s wall, 16 s CPU, under load 17 on the 2 shared cores:

    TASK=grounding bash train.sh        # = make_demo_data.py --family grounding --out_dir data/demo/grounding;
                                        #   train.py --model TALL --size demo --data_dir data/demo/grounding;
                                        #   eval.py (test split); export.py

    test split (48 sentences)   R@1@0.1  R@1@0.3  R@1@0.5  R@1@0.7   R@5@0.1  R@5@0.3  R@5@0.5  R@5@0.7
    TALL                         0.917    0.833    0.500    0.083     1.000    1.000    0.750    0.292
    random moment (exact)        0.329    0.209    0.113    0.035     0.861    0.684    0.445    0.167

    python infer.py data/demo/grounding/test_clip-sentences.txt   # from the export: each sentence's moment,
                                                                  # and the file's R@1@0.5 (0.500, as eval.py);
                                                                  # output/TALL/infer/000_timeline.png

Not done: the real TACoS figures (the features and skip-thought vectors are a download); the release's
real-data recall is R@1 0.13 / R@5 0.24 at IoU 0.5. The candidate features of a split are read into memory
(about 2.6 GB for TACoS's 161k training windows of 4096 floats).
"""
import math
import os
import pickle
import re
from collections import Counter

import numpy as np
import paddle

import utils
from models.tall import TALL, tall_loss

MODELS = ("TALL",)
TASK = "grounding"
DEFAULT_DATA_DIR = "data/tacos"
SHAPE_FLAGS = ("feature_dim", "sentence_dim", "semantic_size", "hidden_size", "sentence_input", "min_word_count")

TRAIN_CLIPS = "Interval64_128_256_512_overlap0.8_c3d_fc6"
TEST_CLIPS = "Interval128_256_overlap0.8_c3d_fc6"
LENGTHS = "video_allframes_info.pkl"
IOUS = (0.1, 0.3, 0.5, 0.7)
TOP_NS = (1, 5)
PAD, UNK = "<pad>", "<unk>"


def add_flags(parser):
    parser.set_defaults(epochs=25, batch_size=56, lr=1e-3)  # the release's recipe (configs/tall.yaml)
    g = parser.add_argument_group("grounding (TALL)")
    g.add_argument("--feature_dim", type=int, default=None,
                   help="per-clip feature size (the release: 4096, C3D fc6; unset: the --size configuration's)")
    g.add_argument("--sentence_dim", type=int, default=None,
                   help="sentence vector size (the release: 4800 skip-thought; text: the word embedding size; "
                        "unset: the --size configuration's)")
    g.add_argument("--semantic_size", type=int, default=None,
                   help="common space of clip and sentence (the release: 1024; unset: the --size configuration's)")
    g.add_argument("--hidden_size", type=int, default=None,
                   help="hidden layer of the pair scorer (the release: 1000; unset: the --size configuration's)")
    g.add_argument("--sentence_input", choices=["auto", "vectors", "text"], default="auto",
                   help="vectors: *_clip-sentvec.pkl (the release's); text: *_clip-sentences.txt with a learned "
                        "vocabulary; auto: vectors when train_clip-sentvec.pkl exists")
    g.add_argument("--context_num", type=int, default=1, help="context windows on each side of a candidate")
    g.add_argument("--context_size", type=int, default=128, help="frames of a context window")
    g.add_argument("--min_word_count", type=int, default=1, help="text: rarer training words become <unk>")
    g.add_argument("--grad_clip", type=float, default=5.0, help="global gradient-norm clip (0: none)")
    return parser


# ----------------------------------------------------------------------------------------------- data

def _resolve_mode(args):
    mode = getattr(args, "sentence_input", "auto")
    if mode == "auto":
        mode = "vectors" if os.path.isfile(os.path.join(args.data_dir, "train_clip-sentvec.pkl")) else "text"
    return mode


def parse_clip(name, where):
    """'<movie>_<start>_<end>[.npy]' -> (movie, start, end) in frames."""
    base = name[:-4] if name.endswith(".npy") else name
    try:
        movie, start, end = base.rsplit("_", 2)
        start, end = int(float(start)), int(float(end))
    except ValueError:
        raise utils.DataError(f"{where}: clip name {name!r} is not <movie>_<start>_<end>") from None
    return movie, start, end


def _movie_key(movie):
    return movie.split(".")[0]


def movie_lengths(data_dir):
    path = os.path.join(data_dir, LENGTHS)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, "rb") as f:
            raw = pickle.load(f, encoding="bytes")
        return {_movie_key(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}
    except Exception as e:  # noqa: BLE001 (any unpickling failure is bad input)
        raise utils.DataError(f"{path}: not a pickled {{movie: frames}} dict ({type(e).__name__}: {e})") from None


def read_queries(args, prefix):
    """[(movie, start, end, sentence, where)] of one sentence file (text or vectors), checked: the moment
    must lie inside the video, a vector must have --sentence_dim entries. Returns (queries, bad count)."""
    mode, lengths, skip = _resolve_mode(args), movie_lengths(args.data_dir), getattr(args, "skip_bad_samples", False)
    queries, bad = [], 0

    def add(clip, sentence, where):
        nonlocal bad
        try:
            movie, start, end = parse_clip(clip, where)
            frames = lengths.get(_movie_key(movie))
            if start < 0 or end <= start or (frames is not None and end > frames):
                raise utils.DataError(f"{where}: moment [{start}, {end}] lies outside the video {movie} "
                                      f"({frames if frames is not None else '?'} frames)")
            queries.append((movie, start, end, sentence, where))
        except utils.DataError:
            if not skip:
                raise
            bad += 1

    if mode == "text":
        path = os.path.join(args.data_dir, f"{prefix}_clip-sentences.txt")
        for number, line in utils.read_lines(path):
            if not line.strip():
                continue
            parts = line.split("\t")
            where = f"{path}:{number}"
            if len(parts) != 2 or not tokenize(parts[1]):
                if not skip:
                    raise utils.DataError(f"{where}: expected `<movie>.avi_<start>_<end><TAB><sentence>`")
                bad += 1
                continue
            add(parts[0].strip(), parts[1].strip(), where)
    else:
        path = os.path.join(args.data_dir, f"{prefix}_clip-sentvec.pkl")
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
        try:
            with open(path, "rb") as f:
                entries = pickle.load(f, encoding="bytes")
            entries = list(entries)
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{path}: not a pickled list of (clip, vectors) ({type(e).__name__}: {e})") from None
        dim = sentence_dim(args)
        for i, entry in enumerate(entries):
            where = f"{path}: entry {i}"
            try:
                clip, vectors = entry
                clip = clip.decode() if isinstance(clip, bytes) else str(clip)
                vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, np.shape(vectors)[-1])
            except (TypeError, ValueError, IndexError):
                if not skip:
                    raise utils.DataError(
                        f"{where}: expected (b'<movie>.avi_<start>_<end>', array [n, {dim}])") from None
                bad += 1
                continue
            if vectors.shape[1] < dim:
                if not skip:
                    raise utils.DataError(f"{where}: sentence vectors of {vectors.shape[1]} entries, "
                                          f"expected {dim} (--sentence_dim)")
                bad += 1
                continue
            for vector in vectors:
                add(clip, vector[:dim], where)  # the release keeps the first sent_vec_dim entries
    if not queries:
        raise utils.DataError(f"{path}:1: no usable sentence")
    return queries, bad


def split_queries(args, split):
    """(queries, candidate directory) of a split: train, dev (val files, else every 10th training movie),
    test."""
    mode = _resolve_mode(args)
    has_val = os.path.isfile(os.path.join(
        args.data_dir, "val_clip-sentences.txt" if mode == "text" else "val_clip-sentvec.pkl"))
    if split in ("dev", "val") and has_val:
        return read_queries(args, "val")[0], TEST_CLIPS
    if split == "test":
        return read_queries(args, "test")[0], TEST_CLIPS
    if split not in ("train", "dev", "val"):
        raise ValueError(f"unknown split {split}")
    queries = read_queries(args, "train")[0]
    if has_val:
        return queries, TRAIN_CLIPS
    held_out = set(sorted({q[0] for q in queries})[::10])
    keep = (lambda m: m in held_out) if split != "train" else (lambda m: m not in held_out)
    return [q for q in queries if keep(q[0])], TRAIN_CLIPS


_LISTINGS, _CLIPS = {}, {}
SKIPPED_CLIPS = set()  # candidate files dropped by --skip_bad_samples


def movie_clips(args, clips_dir, movie):
    """(windows [N, 2] frames, visual inputs [N, 3 x feature_dim]) of a movie's candidates, each the
    clip's feature between the means of its left and right context windows. Cached."""
    directory = os.path.join(args.data_dir, clips_dir)
    dim = feature_dim(args)
    key = (os.path.abspath(directory), movie, dim, args.context_num, args.context_size)
    if key in _CLIPS:
        return _CLIPS[key]
    if directory not in _LISTINGS:
        if not os.path.isdir(directory):
            raise utils.DataError(f"{directory}: directory not found")
        listing = {}
        for name in sorted(os.listdir(directory)):
            if name.endswith(".npy"):
                m, s, e = parse_clip(name, os.path.join(directory, name))
                listing.setdefault(m, []).append((s, e, name))
        _LISTINGS[directory] = listing
    entries = _LISTINGS[directory].get(movie)
    if not entries:
        raise utils.DataError(f"{directory}: no candidate clip of movie {movie}")
    feats, good = {}, []
    for s, e, name in entries:
        path = os.path.join(directory, name)
        try:
            feat = np.load(path).astype(np.float32).reshape(-1)
            if feat.shape[0] != dim:
                raise utils.DataError(f"{path}: feature of {feat.shape[0]} entries, expected {dim} (--feature_dim)")
        except (OSError, ValueError, utils.DataError) as err:
            if not getattr(args, "skip_bad_samples", False):
                if isinstance(err, utils.DataError):
                    raise
                raise utils.DataError(f"{path}: unreadable feature ({type(err).__name__}: {err})") from None
            SKIPPED_CLIPS.add(path)  # --skip_bad_samples: the candidate is dropped
            continue
        feats[(s, e)] = feat
        good.append((s, e, name))
    entries = good
    if not entries:
        raise utils.DataError(f"{directory}: no readable candidate clip of movie {movie}")
    windows = np.array([(s, e) for s, e, _ in entries], dtype=np.float32)
    visual = np.empty((len(entries), 3 * dim), dtype=np.float32)
    size = args.context_size
    for i, (s, e, _) in enumerate(entries):
        left, right, last_left, last_right = [], [], feats[(s, e)], feats[(s, e)]
        for k in range(args.context_num):
            last_left = feats.get((s - size * (k + 1), s - size * k), last_left)
            last_right = feats.get((e + size * k, e + size * (k + 1)), last_right)
            left.append(last_left)
            right.append(last_right)
        visual[i] = np.concatenate([np.mean(left, axis=0), feats[(s, e)], np.mean(right, axis=0)])
    _CLIPS[key] = (windows, visual)
    return windows, visual


def sliding_windows(frames, sizes, overlap=0.8):
    """The candidate clips of a video of `frames` frames, as the release's directory names say (e.g.
    Interval64_128_256_512_overlap0.8): for each size, windows starting every (1 - overlap) x size frames
    (rounded) that fit in the video."""
    out = []
    for size in sizes:
        stride = (1.0 - overlap) * size
        for k in range(int((frames - size) / stride + 1e-9) + 1):
            start = int(round(k * stride))
            out.append((start, start + size))
    return out


def temporal_iou(a, b):
    """IoU of windows a [..., 2] and b [..., 2] (broadcast)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    inter = np.clip(np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    union = np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 0], b[..., 0])
    return inter / np.maximum(union, 1e-9)


def training_pairs(windows, gt):
    """Indices of the candidates a ground truth (start, end) trains (IoU > 0.5 and the part of the window
    outside the moment < 0.15 of its length), with their (start, end) offsets to it."""
    iou = temporal_iou(windows, gt)
    inter = np.clip(np.minimum(windows[:, 1], gt[1]) - np.maximum(windows[:, 0], gt[0]), 0, None)
    length = windows[:, 1] - windows[:, 0]
    niol = (length - inter) / np.maximum(length, 1e-9)
    idx = np.nonzero((iou > 0.5) & (niol < 0.15))[0]
    return idx, np.stack([gt[0] - windows[idx, 0], gt[1] - windows[idx, 1]], axis=1).astype(np.float32)


# ------------------------------------------------------------------------------------------ vocabulary

def tokenize(sentence):
    return re.findall(r"[a-z0-9]+", sentence.lower())


def vocabulary(args):
    """Text mode: [<pad>, <unk>, words of the training sentences by count], built from DATA_DIR when its
    training sentences are there (and saved in the run directory), else the run's saved vocab.txt."""
    saved = os.path.join(args.output_dir, args.model, "vocab.txt")
    train_file = os.path.join(args.data_dir, "train_clip-sentences.txt")
    if os.path.isfile(train_file):
        counts = Counter()
        for _, line in utils.read_lines(train_file):
            if "\t" in line:
                counts.update(tokenize(line.split("\t", 1)[1]))
        words = [PAD, UNK] + [w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
                              if c >= getattr(args, "min_word_count", 1)]
        if utils.is_main_process() and os.path.isdir(os.path.dirname(saved)):  # a run's directory
            with open(saved, "w", encoding="utf-8") as f:
                f.write("\n".join(words) + "\n")
        return words
    if not os.path.isfile(saved):
        raise utils.DataError(f"{train_file}: file not found (the vocabulary is built from it; no run's "
                              f"vocabulary at {saved} either)")
    return [w for _, w in utils.read_lines(saved)]


def encode_sentences(sentences, word_ids):
    """Word ids [M, L] (0-padded) of M sentences."""
    rows = [[word_ids.get(w, 1) for w in tokenize(s)] or [1] for s in sentences]
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


# ---------------------------------------------------------------------------------------------- model

def _config(args):
    cfg = TALL.release_config() if getattr(args, "size", "release") == "release" else TALL.demo_config()
    cfg["feature_dim"] = cfg["visual_dim"] // 3
    for key in ("feature_dim", "sentence_dim", "semantic_size", "hidden_size"):
        if getattr(args, key, None):
            cfg[key] = getattr(args, key)
    cfg["visual_dim"] = 3 * cfg.pop("feature_dim")
    return cfg


def feature_dim(args):
    return _config(args)["visual_dim"] // 3


def sentence_dim(args):
    return _config(args)["sentence_dim"]


def build_model(args):
    cfg = _config(args)
    if _resolve_mode(args) == "text":
        cfg["vocab_size"] = len(vocabulary(args))
    return TALL(**cfg)


class Scorer:
    """Scores a movie's candidates against sentences with a dynamic model or an exported predictor."""

    def __init__(self, args, model_or_run):
        self.text = _resolve_mode(args) == "text"
        self.word_ids = {w: i for i, w in enumerate(vocabulary(args))} if self.text else None
        self.model_or_run = model_or_run

    def sentences(self, items):
        if self.text:
            return encode_sentences(items, self.word_ids)
        return np.stack(items).astype(np.float32)

    def __call__(self, visual, items):
        sents = self.sentences(items)
        if isinstance(self.model_or_run, paddle.nn.Layer):
            with paddle.no_grad():
                return self.model_or_run(paddle.to_tensor(visual), paddle.to_tensor(sents)).numpy()
        return self.model_or_run([visual, sents])[0]


# --------------------------------------------------------------------------------------------- metric

def nms_temporal(windows, scores, overlap):
    """Indices kept by temporal NMS, best score first (a window overlapping a kept one by IoU > overlap is
    dropped)."""
    order, keep = list(np.argsort(-np.asarray(scores), kind="stable")), []
    while order:
        i = order.pop(0)
        keep.append(i)
        if order:
            iou = temporal_iou(windows[order], windows[i])
            order = [j for j, o in zip(order, iou) if o <= overlap]
    return keep


def hits(scores, windows, gt, top_n, iou):
    """1 when one of the top_n windows after NMS at iou - 0.05 has IoU >= iou with gt, else 0."""
    picks = nms_temporal(windows, scores, iou - 0.05)[:top_n]
    return float(np.any(temporal_iou(windows[picks], gt) >= iou)) if picks else 0.0


def random_hits(windows, gt, top_n, iou):
    """Expected hit of top_n distinct candidates drawn uniformly at random (exact)."""
    n = len(windows)
    h = int(np.sum(temporal_iou(windows, gt) >= iou))
    k = min(top_n, n)
    return 1.0 - math.comb(n - h, k) / math.comb(n, k)


def grounding_counts(outputs, windows, gts):
    """Sums over the sentences of a movie: outputs [M, N, 3] (score, start and end offsets), the candidates
    windows [N, 2], gts [M, 2]. Returns a vector ordered as metric_names()."""
    regressed = windows[None] + outputs[:, :, 1:3]
    row = []
    for top_n in TOP_NS:
        for iou in IOUS:
            row.append(sum(hits(outputs[i, :, 0], regressed[i], gts[i], top_n, iou) for i in range(len(gts))))
    for top_n in TOP_NS:
        for iou in IOUS:
            row.append(sum(random_hits(windows, gts[i], top_n, iou) for i in range(len(gts))))
    return np.array(row + [len(gts)], dtype=np.float64)


def metric_names():
    names = [f"r{n}@{iou}" for n in TOP_NS for iou in IOUS]
    return names + [f"{name}_random" for name in names]


def summarise(counts):
    names, total = metric_names(), max(counts[-1], 1)
    values = dict(zip(names, counts[:-1] / total))
    first = ["r1@0.5", "r5@0.5", "r1@0.5_random", "r5@0.5_random"]
    out = {k: values[k] for k in first}
    out.update({k: v for k, v in values.items() if k not in first})
    out["samples"] = int(counts[-1])
    return out


def group_by_movie(queries):
    movies = {}
    for q in queries:
        movies.setdefault(q[0], []).append(q)
    return movies


def evaluate(args, model, split):
    """R@{1,5} at IoU {0.1,0.3,0.5,0.7} and the random-moment baseline's over the split's sentences; the
    movies are shared among the ranks and the counts summed."""
    queries, clips_dir = split_queries(args, split)
    movies = group_by_movie(queries)
    names = sorted(movies)[utils.rank()::utils.world_size()]
    scorer = Scorer(args, model)
    model.eval()
    counts = np.zeros(len(metric_names()) + 1)
    for movie in utils.progress(names, len(names), f"grounding {split}"):
        windows, visual = movie_clips(args, clips_dir, movie)
        qs = movies[movie]
        outputs = scorer(visual, [q[3] for q in qs])
        counts += grounding_counts(outputs, windows, np.array([(q[1], q[2]) for q in qs], np.float64))
    return summarise(utils.all_reduce_sum(counts))


# ------------------------------------------------------------------------------------------- training

def training_samples(args, queries, clips_dir):
    """[(movie, candidate index, query index, offsets [2])] of every training pair."""
    samples, by_movie = [], {}
    for qi, q in enumerate(queries):
        by_movie.setdefault(q[0], []).append(qi)
    for movie in sorted(by_movie):
        windows, _ = movie_clips(args, clips_dir, movie)
        for qi in by_movie[movie]:
            idx, offsets = training_pairs(windows, np.array(queries[qi][1:3], np.float64))
            samples.extend((movie, int(i), qi, off) for i, off in zip(idx, offsets))
    return samples


class LossOf(paddle.nn.Layer):
    """The loss as a forward, so that DataParallel wraps the whole computation."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, visual, sentences, offsets):
        return tall_loss(self.model(visual, sentences), offsets)[0]


def train(args, model, out_dir, log):
    """Adam with global-norm clipping (the release's), batches of matching (candidate, sentence) pairs,
    resume from latest.pdckpt, DataParallel, dev R@1 at IoU 0.5 every --eval_interval epochs choosing
    best.pdparams. Returns the best dev R@1@0.5."""
    queries, clips_dir = split_queries(args, "train")
    split_queries(args, "dev")  # every file the run reads is checked before the first step
    split_queries(args, "test")
    samples = training_samples(args, queries, clips_dir)
    scorer = Scorer(args, model)
    world, rank = utils.world_size(), utils.rank()
    per_step = args.batch_size * world
    if len(samples) < per_step:
        raise utils.DataError(f"{args.data_dir}: {len(samples)} training pairs, fewer than one batch of "
                              f"{args.batch_size} x {world} processes")
    steps_per_epoch = len(samples) // per_step
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    clip = paddle.nn.ClipGradByGlobalNorm(args.grad_clip) if args.grad_clip else None
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(), grad_clip=clip)
    device = paddle.device.get_device().split(":")[0]
    device = "gpu" if device == "gpu" else "cpu"
    model, optimizer, scaler, amp_on = utils.amp_setup(args, device, model, optimizer)
    step, best = 0, -1.0
    if getattr(args, "resume", None):
        state = utils.load_checkpoint(args.resume, model, optimizer, logger=logger)
        step, best = state["step"], state["best"]
        log(f"resumed from {args.resume} at step {step}")
    loss_layer = LossOf(model)
    if args.to_static:
        loss_layer = paddle.jit.to_static(loss_layer, full_graph=True)
    train_model = paddle.DataParallel(loss_layer) if world > 1 else loss_layer
    n_params = sum(math.prod(p.shape) for p in model.parameters())
    if SKIPPED_CLIPS:
        log(f"skipped {len(SKIPPED_CLIPS)} unreadable candidate clips (--skip_bad_samples)")
    log(f"TALL: {n_params:,} parameters ({args.size} size, {_resolve_mode(args)} sentences), {len(queries)} "
        f"training sentences, {len(samples)} training pairs, {steps_per_epoch} steps/epoch, batch "
        f"{args.batch_size} x {world} processes, lr {args.lr:g}")

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        utils.broadcast_from_rank0(model)
        result = evaluate(args, model, "dev")
        log(f"eval epoch {epoch}: dev R@1@0.5 {result['r1@0.5']:.4f} R@5@0.5 {result['r5@0.5']:.4f} "
            f"(random moment {result['r1@0.5_random']:.4f} / {result['r5@0.5_random']:.4f})")
        logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["r1@0.5"] > best:
            best = result["r1@0.5"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        order = np.random.default_rng((args.seed, epoch)).permutation(len(samples))
        model.train()
        timer = utils.Timer()
        for b in range(step - epoch * steps_per_epoch, steps_per_epoch):
            first = b * per_step + rank * args.batch_size
            batch = [samples[i] for i in order[first:first + args.batch_size]]
            visual = np.stack([movie_clips(args, clips_dir, m)[1][c] for m, c, _, _ in batch])
            sents = scorer.sentences([queries[q][3] for _, _, q, _ in batch])
            offsets = np.stack([o for _, _, _, o in batch])
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=amp_on, level=args.amp if amp_on else "O1"):
                loss = train_model(paddle.to_tensor(visual), paddle.to_tensor(sents), paddle.to_tensor(offsets))
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            step += 1
            logger.update(loss, len(batch), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if utils.is_main_process():
        log(f"best dev R@1@0.5 {best:.4f}; curves {utils.plot_curves(out_dir)}")
    return best


# -------------------------------------------------------------------------------------- export, infer

def export(args, model, path_prefix):
    """The scorer: clips [N, 3 x feature_dim] and sentences ([M, sentence_dim] vectors, or word ids [M, L])
    -> [M, N, 3]. Text runs also write vocab.txt beside it."""
    model.eval()
    cfg = _config(args)
    os.makedirs(os.path.dirname(path_prefix) or ".", exist_ok=True)
    if _resolve_mode(args) == "text":
        sentences = paddle.static.InputSpec([None, None], "int64", name="words")
        words = vocabulary(args)
        with open(os.path.join(os.path.dirname(path_prefix), "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(words) + "\n")
    else:
        sentences = paddle.static.InputSpec([None, cfg["sentence_dim"]], "float32", name="sentences")
    spec = [paddle.static.InputSpec([None, cfg["visual_dim"]], "float32", name="clips"), sentences]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), path_prefix)
    return path_prefix


def predict(args, predictor_or_model, paths):
    """One result per file: a sentence file of the layout above (text lines, or the vectors' pkl) whose
    movies' candidates are in DATA_DIR's dev/test directory. For each sentence, the top moment (start, end
    in frames, score), the top 5 after NMS, and the IoU with the moment the file names; for the file, R@1
    at IoU 0.5 over its sentences (infer.py over the test file gives eval.py's figure)."""
    scorer = Scorer(args, predictor_or_model)
    results = []
    for path in paths:
        folder, name = os.path.split(path)
        if "_clip-" not in name:
            raise utils.DataError(f"{path}: expected a sentence file <split>_clip-sentences.txt or "
                                  "<split>_clip-sentvec.pkl")
        queries = read_queries(argparse_like(args, data_dir=folder or "."), name.split("_clip-")[0])[0]
        moments = []
        for movie, qs in group_by_movie(queries).items():
            windows, visual = movie_clips(args, TEST_CLIPS, movie)
            outputs = scorer(visual, [q[3] for q in qs])  # the movie's sentences at once, as evaluate does
            for (_, start, end, sentence, where), out in zip(qs, outputs):
                regressed = windows + out[:, 1:3]
                picks = nms_temporal(regressed, out[:, 0], 0.45)[:5]
                top = picks[0]
                moments.append({
                    "query": where, "movie": movie,
                    "sentence": sentence if isinstance(sentence, str) else f"vector[{len(sentence)}]",
                    "start": round(float(regressed[top, 0]), 1), "end": round(float(regressed[top, 1]), 1),
                    "score": round(float(out[top, 0]), 4),
                    "top5": [[round(float(regressed[i, 0]), 1), round(float(regressed[i, 1]), 1)] for i in picks],
                    "truth": [start, end],
                    "iou": float(temporal_iou(regressed[top], np.array([start, end])))})
        result = {"file": path, "sentences": len(moments),
                  "r1@0.5": float(np.mean([m["iou"] >= 0.5 for m in moments])), "moments": moments}
        out_dir = getattr(args, "out_dir", None) or os.path.join(args.output_dir, args.model, "infer")
        if os.path.isdir(os.path.dirname(os.path.abspath(out_dir))):
            os.makedirs(out_dir, exist_ok=True)
            result["timeline"] = draw_timeline(moments, movie_lengths(folder or "."),
                                               os.path.join(out_dir, f"{len(results):03d}_timeline.png"))
        results.append(result)
    return results


def draw_timeline(moments, lengths, path, max_rows=24):
    """A PNG: per sentence (up to max_rows), its movie as a bar with the true moment (green) and the
    predicted one (blue, hatched when IoU < 0.5), the sentence above it."""
    from PIL import Image, ImageDraw
    rows = moments[:max_rows]
    width, row_h = 640, 30
    image = Image.new("RGB", (width, 10 + row_h * len(rows)), "white")
    draw = ImageDraw.Draw(image)
    for i, m in enumerate(rows):
        y = 10 + i * row_h
        frames = lengths.get(_movie_key(m["movie"])) or max(m["truth"][1], m["end"]) * 1.1
        scale = (width - 20) / max(frames, 1.0)
        draw.text((10, y), f"{m['movie']}: {m['sentence']} (IoU {m['iou']:.2f})"[:100], fill="black")
        draw.rectangle([10, y + 14, width - 10, y + 24], outline="gray")
        draw.rectangle([10 + m["truth"][0] * scale, y + 14, 10 + m["truth"][1] * scale, y + 18], fill="seagreen")
        draw.rectangle([10 + max(m["start"], 0) * scale, y + 19, 10 + min(m["end"], frames) * scale, y + 24],
                       fill="steelblue" if m["iou"] >= 0.5 else "lightsteelblue")
    image.save(path)
    return path


def argparse_like(args, **changes):
    import argparse
    return argparse.Namespace(**{**vars(args), **changes})


# ----------------------------------------------------------------------------------------------- demo

COLORS = ("red", "blue", "green", "yellow", "purple")
SHAPES = ("square", "circle", "triangle", "star")
DIRECTIONS = ("left", "right", "up", "down")
TEMPLATES = ("the {c} {s} moves {d}", "a {c} {s} slides {d} across the screen")
UNIT, DEMO_DIM = 16, 32


def make_demo(out_dir, smoke=False, seed=0):
    """TACoS-layout demo data (see the module docstring); smoke: 4/2/2 short movies."""
    rng = np.random.default_rng(seed)
    codes = np.random.default_rng(1234).normal(size=(len(COLORS) + len(SHAPES) + len(DIRECTIONS), DEMO_DIM))
    units = 24 if smoke else 48
    counts = {"train": 4, "val": 2, "test": 2} if smoke else {"train": 40, "val": 8, "test": 8}
    dirs = {TRAIN_CLIPS: (64, 128, 256), TEST_CLIPS: (128, 256)}
    for d in dirs:
        os.makedirs(os.path.join(out_dir, d), exist_ok=True)
    lengths, index = {}, 0
    for split, n in counts.items():
        lines = []
        for _ in range(n):
            index += 1
            movie = f"s{index:02d}-d{rng.integers(10, 60):02d}.avi"
            feats = rng.normal(size=(units, DEMO_DIM)) + 0.5 * rng.normal(size=DEMO_DIM)
            colors = rng.choice(len(COLORS), 3, replace=False)
            shapes = rng.choice(len(SHAPES), 3, replace=False)
            # three events of 4-12 units, apart, at random places
            lens = rng.choice([4, 6, 8, 10, 12] if not smoke else [4, 6], 3)
            gaps = rng.multinomial(units - lens.sum(), np.ones(4) / 4)
            pos = 0
            for k in range(3):
                pos += gaps[k]
                direction = rng.integers(len(DIRECTIONS))
                code = codes[colors[k]] + codes[len(COLORS) + shapes[k]] + codes[len(COLORS) + len(SHAPES) + direction]
                feats[pos:pos + lens[k]] += code
                start, end = pos * UNIT, (pos + lens[k]) * UNIT
                for t in TEMPLATES:
                    sentence = t.format(c=COLORS[colors[k]], s=SHAPES[shapes[k]], d=DIRECTIONS[direction])
                    lines.append(f"{movie}_{start}_{end}\t{sentence}")
                pos += lens[k]
            frames = units * UNIT
            lengths[movie.split(".")[0]] = frames
            cum = np.concatenate([np.zeros((1, DEMO_DIM)), np.cumsum(np.repeat(feats, UNIT, axis=0), axis=0)])
            for d, sizes in dirs.items():
                if (d == TRAIN_CLIPS) != (split == "train"):
                    continue
                for s, e in sliding_windows(frames, sizes):
                    feat = ((cum[e] - cum[s]) / (e - s)).astype(np.float32)  # the window's mean feature
                    np.save(os.path.join(out_dir, d, f"{movie}_{s}_{e}.npy"), feat)
        with open(os.path.join(out_dir, f"{split}_clip-sentences.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, LENGTHS), "wb") as f:
        pickle.dump(lengths, f)
    return out_dir
