"""## Dense captioning: ETS on ActivityNet Captions (captioning.py, models/ets.py, caption_metrics.py)

Each annotated event of a video (start and end in seconds) is captioned from the video's frame features
within it, as the release's ETS does (it captions the ground-truth events; it does not propose them).

**Data layout** (the release's; DATA_DIR = data/activitynet_captions):

    captions/train.json, captions/val_1.json, captions/val_2.json   the ActivityNet Captions annotations,
        {"<video>": {"duration": s, "timestamps": [[start, end], ...], "sentences": ["...", ...]}}
    feat_data/<video>              the video's frame features, a pickled float array [frames, 2048] at
                                   5 frames/s (the release's ResNet-152 features; `<video>.npy` is read too)

Splits: train.json trains, val_1.json is the dev split (best.pdparams), val_2.json the test split (the
official test captions are hidden). An event's features are rows int(5 start) .. int(5 end + 0.5), as the
release; an event with no row is skipped and counted. The vocabulary: <s>, <e>, <unk> and the training
captions' words seen at least --min_word_count times (the release: 3), by count; lower-cased word tokens
(the release used the PTB tokenizer of coco-caption, which needs Java).

**Bad input** stops with one line naming the place (exit 2): malformed json (`file:line`), an event outside
its video (start < 0, end <= start or start >= duration; an end past the duration is cut to it), as many
timestamps as sentences or an empty sentence (`file: video <id>`), a feature file that is unreadable or not
[frames, --feat_size] (its path). --skip_bad_samples skips and counts such videos' annotations instead.

**Metrics** (caption_metrics.py): BLEU-4 (sacrebleu, corpus level, 0-1) and CIDEr-D (written out as
coco-caption computes it; agrees with pycocoevalcap 1.2 to 1e-12 on the tested cases) of each event's
caption against its reference, next to the **most frequent training caption** given for every event.
METEOR (the release's figure: 9.8 on val_1 in its README, 10.0 in our catalogue) is NOT computed: no
package-index implementation runs offline (nltk's needs a WordNet download, pycocoevalcap's needs Java).

**Model**: the release's sizes (configs/ets.yaml): 11,279,360 + 1,025 x V parameters for V words (tested).
Adam with the Noam schedule (d = 512, --warmup_steps 1000, --lr 1.0 scales it), L2 decay 1e-4, global-norm
clip 5, batch 256, 40 epochs, beam search of 3 beams and at most 80 words at test. The demo size has
different defaults (--size demo: warm-up 100, batch 32, 8 epochs, --max_length 12) unless given.
The LR is not scaled with the number of processes.
--to_static: refused for training (a message, exit 4). Measured on Paddle 3.3.1: traced per input shape,
the loss (loops over frames and words) compiles for ~35 s at every new (frames, words) shape; with free
dimensions in the input specs it compiles once, but every parameter's gradient comes out zero.
The export is two graphs: the encoder (features [B, T, F], mask [B, T]; T free, its GRU loops become a
while loop) -> (sequence, keys, initial state), saved as model, and one decoder step (words, state,
sequence, keys, mask) -> (log-probabilities, state), saved as model_step; infer.py runs the beam search
over the exported step.

**Demo data** (make_demo): videos of 20-40 s whose 5 frames/s features (32-d) are noise plus, during two
or three planted events, the codes of the event's colour, shape and direction; the caption of an event is
templated from them ("the red square moves left", "a blue circle slides up across the screen").

**Measured** on the demo (make_demo: 300 / 40 / 40 videos, 743 train / 102 dev / 98 test events), ETS at
demo size (90,390 parameters, 22 words), the demo recipe (Noam warm-up 100, batch 32, 8 epochs, 184
steps), best dev CIDEr-D 6.61 (epoch 8); 9 min wall, 59 s CPU, under load 17-20 on the 2 shared cores:

    TASK=captioning bash train.sh       # = make_demo_data.py --family captioning --out_dir data/demo/captioning;
                                        #   train.py --model ETS --size demo --data_dir data/demo/captioning;
                                        #   eval.py (test split = val_2.json, beam 3); export.py

    test split (98 events)               BLEU-4    CIDEr-D
    ETS (beam 3)                          0.766      6.969
    most frequent training caption        0.224      1.325

    python infer.py data/demo/captioning/captions/val_2.json   # from the export: every event's caption,
                                                               # and the file's BLEU-4 / CIDEr-D (as eval.py)

Not done: METEOR (see above); real ActivityNet Captions figures (the release: METEOR 9.8 on val_1; the
features are an 89 GB download); proposing the events (ETS, as released, captions the annotated ones).
The GRUs step frame by frame in Python: real events (often hundreds of frames at 5/s) train slowly on a CPU.
Needs sacrebleu (pip install sacrebleu).
"""
import argparse
import json
import math
import os
import pickle
import re
from collections import Counter

import numpy as np
import paddle

import caption_metrics
import utils
from models.ets import END, ETS, START, UNK, beam_search, caption_loss

MODELS = ("ETS",)
TASK = "captioning"
DEFAULT_DATA_DIR = "data/activitynet_captions"
SHAPE_FLAGS = ("feat_size", "fc_dim", "gru_hidden", "decoder_size", "word_emb_dim", "min_word_count")
SPLIT_FILES = {"train": "train.json", "dev": "val_1.json", "val": "val_1.json", "test": "val_2.json"}
SPECIALS = ["<s>", "<e>", "<unk>"]
DEMO_RECIPE = {"warmup_steps": 100, "batch_size": 32, "epochs": 8, "max_length": 12}


def add_flags(parser):
    parser.set_defaults(epochs=40, batch_size=256, lr=1.0)  # the release's recipe (configs/ets.yaml)
    g = parser.add_argument_group("captioning (ETS)")
    for name, release, what in (("feat_size", 2048, "frame feature size"), ("fc_dim", 1024, "input FC"),
                                ("gru_hidden", 512, "encoder GRU per direction"),
                                ("decoder_size", 512, "decoder GRU"), ("word_emb_dim", 512, "word embedding")):
        g.add_argument(f"--{name}", type=int, default=None,
                       help=f"{what} (the release: {release}; unset: the --size configuration's)")
    g.add_argument("--feature_fps", type=float, default=5.0, help="feature rows per second of video")
    g.add_argument("--min_word_count", type=int, default=3, help="rarer training words become <unk>")
    g.add_argument("--warmup_steps", type=int, default=None,
                   help="Noam warm-up (the release: 1000; unset: 1000, or 100 at --size demo)")
    g.add_argument("--beam_size", type=int, default=3, help="beams at test (1: greedy)")
    g.add_argument("--max_length", type=int, default=None,
                   help="longest caption decoded (the release: 80; unset: 80, or 12 at --size demo)")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 decay")
    g.add_argument("--grad_clip", type=float, default=5.0, help="global gradient-norm clip (0: none)")
    g.add_argument("--eval_events", type=int, default=0, help="caption only the first N events of a split (0: all)")
    return parser


def recipe(args, key):
    """--warmup_steps / --max_length: the flag when set, else the --size demo recipe's or the release's."""
    value = getattr(args, key, None)
    if value is not None:
        return value
    release = {"warmup_steps": 1000, "max_length": 80}
    return DEMO_RECIPE[key] if getattr(args, "size", "release") == "demo" else release[key]


def apply_demo_recipe(args):
    """A new --size demo run takes the demo's batch size and epochs unless they were given; the resolved
    values travel in the checkpoint (so a resumed run keeps them) and replace train_config.json's."""
    if getattr(args, "size", "release") == "demo" and not getattr(args, "resume", None):
        changed = False
        for key in ("batch_size", "epochs"):
            if key not in getattr(args, "explicit", set()) and getattr(args, key) != DEMO_RECIPE[key]:
                setattr(args, key, DEMO_RECIPE[key])
                changed = True
        path = os.path.join(args.output_dir, args.model, "train_config.json")
        if changed and utils.is_main_process() and os.path.isfile(path):
            with open(path, "w", encoding="utf-8") as f:
                json.dump(utils.run_config(args), f, indent=1, ensure_ascii=False, default=str)


# ----------------------------------------------------------------------------------------------- data

def tokenize(sentence):
    return re.findall(r"[a-z0-9]+", sentence.lower())


def read_annotations(path):
    """{video: record} of an ActivityNet Captions json; malformed json names the file and line."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise utils.DataError(f"{path}:{e.lineno}: malformed json ({e.msg})") from None
    except UnicodeDecodeError:
        raise utils.DataError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise utils.DataError(f"{path}:1: expected {{video: {{duration, timestamps, sentences}}}}")
    return data


def read_split(args, split):
    """[(video, start, end, caption, where)] of a split's events, checked (a segment inside the video,
    as many timestamps as sentences). Returns (events, bad count)."""
    path = os.path.join(args.data_dir, "captions", SPLIT_FILES[split])
    skip = getattr(args, "skip_bad_samples", False)
    events, bad = [], 0
    for video, record in read_annotations(path).items():
        where = f"{path}: video {video}"
        try:
            duration, stamps, sentences = float(record["duration"]), record["timestamps"], record["sentences"]
            if len(stamps) != len(sentences):
                raise utils.DataError(f"{where}: {len(stamps)} timestamps for {len(sentences)} sentences")
            for i, ((start, end), sentence) in enumerate(zip(stamps, sentences)):
                start, end = float(start), float(end)
                if start < 0 or end <= start or start >= duration:
                    raise utils.DataError(f"{where}: event {i} [{start:g}, {end:g}] lies outside the video "
                                          f"(duration {duration:g} s)")
                if not tokenize(sentence):
                    raise utils.DataError(f"{where}: event {i} has an empty sentence")
                events.append((video, start, min(end, duration), " ".join(tokenize(sentence)), f"{where} event {i}"))
        except utils.DataError:
            if not skip:
                raise
            bad += 1
        except (KeyError, TypeError, ValueError):
            if not skip:
                raise utils.DataError(f"{where}: expected {{duration, timestamps: [[start, end], ...], "
                                      "sentences: [...]}") from None
            bad += 1
    if not events:
        raise utils.DataError(f"{path}:1: no usable event")
    return events, bad


_FEATURES = {}


def video_features(args, video):
    """[frames, feat_size] of a video (feat_data/<video>, a pickle, or <video>.npy). Cached."""
    dim = config(args)["feat_size"]
    base = os.path.join(args.data_dir, "feat_data", video)
    key = (os.path.abspath(base), dim)
    if key in _FEATURES:
        return _FEATURES[key]
    path = base if os.path.isfile(base) else base + ".npy"
    if not os.path.isfile(path):
        raise utils.DataError(f"{base}: feature file not found")
    try:
        if path.endswith(".npy"):
            feats = np.load(path)
        else:
            with open(path, "rb") as f:
                feats = pickle.load(f, encoding="bytes")
        feats = np.asarray(feats, dtype=np.float32)
    except Exception as e:  # noqa: BLE001 (any unreadable file is bad input)
        raise utils.DataError(f"{path}: unreadable features ({type(e).__name__}: {e})") from None
    if feats.ndim != 2 or feats.shape[1] != dim:
        raise utils.DataError(f"{path}: features of shape {list(feats.shape)}, expected [frames, {dim}] (--feat_size)")
    _FEATURES[key] = feats
    return feats


def event_features(args, event):
    feats = video_features(args, event[0])
    return feats[int(event[1] * args.feature_fps):int(event[2] * args.feature_fps + 0.5)]


def usable(args, events):
    """The events with at least one feature row (the release skips the others), and how many were not;
    with --skip_bad_samples also those whose feature file is bad."""
    keep = []
    for e in events:
        try:
            if len(event_features(args, e)):
                keep.append(e)
        except utils.DataError:
            if not getattr(args, "skip_bad_samples", False):
                raise
    return keep, len(events) - len(keep)


def vocabulary(args):
    """<s>, <e>, <unk> and the training captions' words (>= --min_word_count, by count), built from
    DATA_DIR when its training captions are there (and saved in the run directory), else the saved one."""
    saved = os.path.join(args.output_dir, args.model, "vocab.txt")
    train_file = os.path.join(args.data_dir, "captions", "train.json")
    if os.path.isfile(train_file):
        counts = Counter()
        for record in read_annotations(train_file).values():
            for sentence in record.get("sentences", []) if isinstance(record, dict) else []:
                counts.update(tokenize(str(sentence)))
        words = SPECIALS + [w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
                            if c >= getattr(args, "min_word_count", 3) and w not in SPECIALS]
        if utils.is_main_process() and os.path.isdir(os.path.dirname(saved)):  # a run's directory
            with open(saved, "w", encoding="utf-8") as f:
                f.write("\n".join(words) + "\n")
        return words
    if not os.path.isfile(saved):
        raise utils.DataError(f"{train_file}: file not found (the vocabulary is built from it; no run's "
                              f"vocabulary at {saved} either)")
    return [w for _, w in utils.read_lines(saved)]


def pad_features(feature_list):
    """([B, T, F] float32, mask [B, T] float32) of B events' features."""
    t = max(len(f) for f in feature_list)
    feats = np.zeros((len(feature_list), t, feature_list[0].shape[1]), np.float32)
    mask = np.zeros((len(feature_list), t), np.float32)
    for i, f in enumerate(feature_list):
        feats[i, :len(f)], mask[i, :len(f)] = f, 1.0
    return feats, mask


def encode_captions(captions, word_ids):
    """(inputs [B, L+1] starting with <s>, targets [B, L+1] ending with <e>, target mask) of B captions."""
    rows = [[word_ids.get(w, UNK) for w in c.split()] for c in captions]
    length = max(len(r) for r in rows) + 1
    inputs = np.full((len(rows), length), END, np.int64)
    targets = np.full((len(rows), length), END, np.int64)
    mask = np.zeros((len(rows), length), np.float32)
    for i, r in enumerate(rows):
        inputs[i, :len(r) + 1] = [START] + r
        targets[i, :len(r) + 1] = r + [END]
        mask[i, :len(r) + 1] = 1.0
    return inputs, targets, mask


# ---------------------------------------------------------------------------------------------- model

def config(args):
    cfg = ETS.release_config() if getattr(args, "size", "release") == "release" else ETS.demo_config()
    for key in cfg:
        if getattr(args, key, None):
            cfg[key] = getattr(args, key)
    return cfg


def build_model(args):
    return ETS(len(vocabulary(args)), **config(args))


class Captioner:
    """Captions events with the dynamic model or the exported encoder + step predictors, by beam search."""

    def __init__(self, args, model_or_runs):
        self.args, self.words = args, vocabulary(args)
        self.dynamic = isinstance(model_or_runs, paddle.nn.Layer)
        self.model_or_runs = model_or_runs

    def __call__(self, feature_list):
        feats, mask = pad_features(feature_list)
        k = max(1, self.args.beam_size)
        if self.dynamic:
            model = self.model_or_runs
            model.eval()
            with paddle.no_grad():
                seq, keys, state = model.encode(paddle.to_tensor(feats), paddle.to_tensor(mask))
            seq, keys, state, m = [paddle.repeat_interleave(x, k, axis=0) for x in (seq, keys, state,
                                                                                    paddle.to_tensor(mask))]

            def step(words, state, order):
                if order is not None:
                    state = paddle.gather(state, paddle.to_tensor(order))
                with paddle.no_grad():
                    logp, state = model.step(paddle.to_tensor(words), state, seq, keys, m)
                return logp.numpy(), state
        else:
            encoder, decoder = self.model_or_runs
            seq, keys, state = encoder([feats, mask])
            seq, keys, state, m = [np.repeat(x, k, axis=0) for x in (seq, keys, state, mask)]

            def step(words, state, order):
                if order is not None:
                    state = state[order]
                logp, state = decoder([words, state, seq, keys, m])
                return logp, state
        ids = beam_search(step, state, len(feature_list), k, recipe(self.args, "max_length"))
        return [" ".join(self.words[i] if i < len(self.words) else "<unk>" for i in row) for row in ids]


# -------------------------------------------------------------------------------------------- metrics

def most_frequent_caption(args):
    events, _ = read_split(args, "train")
    return Counter(e[3] for e in events).most_common(1)[0][0]


def score(hypotheses, references, baseline):
    refs = [[r] for r in references]
    return {"bleu4": caption_metrics.bleu4(hypotheses, refs), "cider": caption_metrics.cider_d(hypotheses, refs)[0],
            "bleu4_most_frequent": caption_metrics.bleu4([baseline] * len(refs), refs),
            "cider_most_frequent": caption_metrics.cider_d([baseline] * len(refs), refs)[0],
            "samples": len(hypotheses)}


def evaluate(args, model, split):
    """BLEU-4 and CIDEr-D of the beam-searched captions of the split's events, and the most frequent
    training caption's; the events are shared among the ranks and the captions gathered."""
    events, _ = usable(args, read_split(args, split)[0])
    if getattr(args, "eval_events", 0):
        events = events[:args.eval_events]
    mine = list(range(utils.rank(), len(events), utils.world_size()))
    captioner = Captioner(args, model)
    hyps = {}
    batch = 64
    for start in utils.progress(range(0, len(mine), batch), math.ceil(len(mine) / batch), f"captioning {split}"):
        idx = mine[start:start + batch]
        for i, caption in zip(idx, captioner([event_features(args, events[i]) for i in idx])):
            hyps[i] = caption
    if utils.world_size() > 1:
        gathered = []
        paddle.distributed.all_gather_object(gathered, hyps)
        hyps = {k: v for part in gathered for k, v in part.items()}
    hypotheses = [hyps[i] for i in range(len(events))]
    return score(hypotheses, [e[3] for e in events], most_frequent_caption(args))


# ------------------------------------------------------------------------------------------- training

class LossOf(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, feats, mask, inputs, targets, target_mask):
        return caption_loss(self.model(feats, mask, inputs), targets, target_mask)


def train(args, model, out_dir, log):
    """Adam with the Noam schedule and L2 decay (the release's), teacher forcing, resume from latest.pdckpt,
    DataParallel, dev CIDEr-D every --eval_interval epochs choosing best.pdparams."""
    if args.to_static:
        raise utils.CheckpointError("ETS: --to_static is not supported (see captioning.py: a compile per "
                                    "input shape, or zero gradients with free shapes); train without it")
    events, bad = usable(args, read_split(args, "train")[0])
    dev, bad_dev = usable(args, read_split(args, "dev")[0])
    read_split(args, "test")  # every file the run reads is checked before the first step
    words = vocabulary(args)
    word_ids = {w: i for i, w in enumerate(words)}
    apply_demo_recipe(args)
    batch_size, epochs = args.batch_size, args.epochs
    world, rank = utils.world_size(), utils.rank()
    per_step = batch_size * world
    if len(events) < per_step:
        raise utils.DataError(f"{args.data_dir}: {len(events)} training events, fewer than one batch of "
                              f"{batch_size} x {world} processes")
    steps_per_epoch = len(events) // per_step
    total_steps = steps_per_epoch * epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    scheduler = paddle.optimizer.lr.NoamDecay(d_model=config(args)["gru_hidden"],
                                              warmup_steps=recipe(args, "warmup_steps"), learning_rate=args.lr)
    optimizer = paddle.optimizer.Adam(
        learning_rate=scheduler, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay) if args.weight_decay else None,
        grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip) if args.grad_clip else None)
    device = "gpu" if paddle.device.get_device().startswith("gpu") else "cpu"
    model, optimizer, scaler, amp_on = utils.amp_setup(args, device, model, optimizer)
    step, best = 0, -1.0
    if getattr(args, "resume", None):
        state = utils.load_checkpoint(args.resume, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        log(f"resumed from {args.resume} at step {step}")
    train_model = paddle.DataParallel(LossOf(model)) if world > 1 else LossOf(model)
    n_params = sum(math.prod(p.shape) for p in model.parameters())
    log(f"ETS: {n_params:,} parameters ({args.size} size, {len(words)} words), {len(events)} training events, "
        f"{steps_per_epoch} steps/epoch, batch {batch_size} x {world} processes, Noam lr x {args.lr:g} "
        f"warm-up {recipe(args, 'warmup_steps')}")
    if bad or bad_dev:
        log(f"skipped {bad + bad_dev} events without feature rows (or, with --skip_bad_samples, a bad feature file)")

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        utils.broadcast_from_rank0(model)
        result = evaluate(args, model, "dev")
        log(f"eval epoch {epoch}: dev CIDEr-D {result['cider']:.4f} BLEU-4 {result['bleu4']:.4f} (most frequent "
            f"caption {result['cider_most_frequent']:.4f} / {result['bleu4_most_frequent']:.4f})")
        logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["cider"] > best:
            best = result["cider"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    for epoch in range(step // steps_per_epoch, epochs):
        if step >= total_steps:
            break
        order = np.random.default_rng((args.seed, epoch)).permutation(len(events))
        model.train()
        timer = utils.Timer()
        for b in range(step - epoch * steps_per_epoch, steps_per_epoch):
            first = b * per_step + rank * batch_size
            batch = [events[i] for i in order[first:first + batch_size]]
            feats, mask = pad_features([event_features(args, e) for e in batch])
            inputs, targets, target_mask = encode_captions([e[3] for e in batch], word_ids)
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=amp_on, level=args.amp if amp_on else "O1"):
                loss = train_model(*[paddle.to_tensor(x) for x in (feats, mask, inputs, targets, target_mask)])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, len(batch), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, epochs, step, optimizer.get_lr())
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if utils.is_main_process():
        log(f"best dev CIDEr-D {best:.4f}; curves {utils.plot_curves(out_dir)}")
    return best


# -------------------------------------------------------------------------------------- export, infer

class _Encoder(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, feats, mask):
        return self.model.encode(feats, mask)


class _Step(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, words, state, seq, keys, mask):
        return self.model.step(words, state, seq, keys, mask)


def export(args, model, path_prefix):
    """Two graphs: PREFIX (the encoder; the frames axis is free) and PREFIX_step (one decoder step), with
    the run's vocabulary beside them."""
    model.eval()
    cfg = config(args)
    os.makedirs(os.path.dirname(path_prefix) or ".", exist_ok=True)
    two_h = 2 * cfg["gru_hidden"]
    enc_spec = [paddle.static.InputSpec([None, None, cfg["feat_size"]], "float32", name="feats"),
                paddle.static.InputSpec([None, None], "float32", name="mask")]
    step_spec = [paddle.static.InputSpec([None], "int64", name="words"),
                 paddle.static.InputSpec([None, cfg["decoder_size"]], "float32", name="state"),
                 paddle.static.InputSpec([None, None, two_h], "float32", name="sequence"),
                 paddle.static.InputSpec([None, None, cfg["decoder_size"]], "float32", name="keys"),
                 paddle.static.InputSpec([None, None], "float32", name="frame_mask")]
    paddle.jit.save(paddle.jit.to_static(_Encoder(model), input_spec=enc_spec, full_graph=True), path_prefix)
    paddle.jit.save(paddle.jit.to_static(_Step(model), input_spec=step_spec, full_graph=True), path_prefix + "_step")
    with open(os.path.join(os.path.dirname(path_prefix), "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocabulary(args)) + "\n")
    return path_prefix


def predict(args, predictor_or_model, paths):
    """One result per file: an ActivityNet Captions json (its events are captioned) or a feature file of
    feat_data/ (one event over the whole video). With the export, the encoder is PREFIX and the step
    PREFIX_step of the run's inference directory. Each caption with its start and end (s)."""
    if isinstance(predictor_or_model, paddle.nn.Layer):
        runner = predictor_or_model
    else:
        inference_dir = getattr(args, "inference_dir", None) or os.path.join(args.output_dir, args.model, "inference")
        runner = (predictor_or_model, utils.create_predictor(os.path.join(inference_dir, "model_step")))
    captioner = Captioner(args, runner)
    results = []
    for path in paths:
        if path.endswith(".json"):
            events = []
            for video, record in read_annotations(path).items():
                for i, (start, end) in enumerate(record.get("timestamps", [])):
                    sentence = record.get("sentences", [""] * (i + 1))[i]
                    events.append((video, float(start), float(end), " ".join(tokenize(sentence)), f"{path}: {video}"))
            feats = [event_features(args, e) for e in events]
            keep = [i for i, f in enumerate(feats) if len(f)]
            captions = captioner([feats[i] for i in keep]) if keep else []
            items = [{"video": events[i][0], "start": events[i][1], "end": events[i][2], "caption": c,
                      "reference": events[i][3]} for i, c in zip(keep, captions)]
            refs = [[it["reference"]] for it in items]
            results.append({"file": path, "events": len(items),
                            "bleu4": caption_metrics.bleu4([it["caption"] for it in items], refs) if items else 0.0,
                            "cider": caption_metrics.cider_d([it["caption"] for it in items], refs)[0],
                            "captions": items})
        else:
            video = os.path.basename(path)[:-4] if path.endswith(".npy") else os.path.basename(path)
            sub = argparse.Namespace(**{**vars(args), "data_dir": os.path.dirname(os.path.dirname(path)) or "."})
            feats = video_features(sub, video)
            results.append({"file": path, "start": 0.0, "end": round(len(feats) / args.feature_fps, 2),
                            "caption": captioner([feats])[0]})
    return results


# ----------------------------------------------------------------------------------------------- demo

COLORS = ("red", "blue", "green", "yellow", "purple")
SHAPES = ("square", "circle", "triangle", "star")
DIRECTIONS = ("left", "right", "up", "down")
DEMO_DIM, FPS = 32, 5
DEMO_SIGNAL = 0.25  # the planted codes' scale against unit noise: weak in one frame, clear over an event


def demo_caption(color, shape, direction):
    if DIRECTIONS[direction] in ("left", "right"):
        return f"the {COLORS[color]} {SHAPES[shape]} moves {DIRECTIONS[direction]}"
    return f"a {COLORS[color]} {SHAPES[shape]} slides {DIRECTIONS[direction]} across the screen"


def make_demo(out_dir, smoke=False, seed=0):
    """ActivityNet Captions-layout demo data (see the module docstring); smoke: 6/2/2 short videos."""
    rng = np.random.default_rng(seed)
    codes = np.random.default_rng(4321).normal(size=(len(COLORS) + len(SHAPES) + len(DIRECTIONS), DEMO_DIM))
    counts = {"train.json": 6, "val_1.json": 2, "val_2.json": 2} if smoke else \
        {"train.json": 300, "val_1.json": 40, "val_2.json": 40}
    os.makedirs(os.path.join(out_dir, "captions"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "feat_data"), exist_ok=True)
    index = 0
    for name, n in counts.items():
        annotations = {}
        for _ in range(n):
            index += 1
            video = f"v_demo{index:05d}"
            duration = float(rng.integers(10, 16) if smoke else rng.integers(20, 41))
            frames = int(duration * FPS)
            feats = rng.normal(size=(frames, DEMO_DIM)) + 0.5 * rng.normal(size=DEMO_DIM)
            k = int(rng.integers(2, 4))
            lengths = rng.integers(2 * FPS, 5 * FPS + 1, k)
            gaps = rng.multinomial(frames - lengths.sum(), np.ones(k + 1) / (k + 1))
            pos, stamps, sentences = 0, [], []
            for j in range(k):
                pos += gaps[j]
                c, s, d = rng.integers(len(COLORS)), rng.integers(len(SHAPES)), rng.integers(len(DIRECTIONS))
                code = codes[c] + codes[len(COLORS) + s] + codes[len(COLORS) + len(SHAPES) + d]
                feats[pos:pos + lengths[j]] += DEMO_SIGNAL * code
                stamps.append([round(pos / FPS, 2), round((pos + lengths[j]) / FPS, 2)])
                sentences.append(demo_caption(c, s, d).capitalize() + ".")
                pos += lengths[j]
            annotations[video] = {"duration": duration, "timestamps": stamps, "sentences": sentences}
            with open(os.path.join(out_dir, "feat_data", video), "wb") as f:
                pickle.dump(feats.astype(np.float32), f)
        with open(os.path.join(out_dir, "captions", name), "w", encoding="utf-8") as f:
            json.dump(annotations, f, indent=1)
    return out_dir
