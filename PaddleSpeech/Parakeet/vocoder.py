"""The vocoder family: mel spectrogram -> waveform. train.py, eval.py, export.py and infer.py call this
module's MODELS, add_flags, build_model, train, evaluate, export and synthesize when
--model is one of MODELS.

Data: the feature cache preprocess.py writes (DATA_DIR/features/<id>.npz with `wav` [frames * 256] and
`mel` [80, frames], and {train,dev,test}.txt). Training takes one random aligned segment of
--segment_frames frames (wav and mel) per utterance and step; evaluation synthesises whole utterances from
their mel and scores the wav against the recorded one by spectral convergence (SC) and log-STFT distance
(LSD, natural log, mean over bins), next to the baseline: Griffin-Lim from the same mel (audio.py).
best.pdparams is picked by the dev SC; eval.py reports the test split once.

Models (the classes in models/, each with release_config() and demo_config()):
  WaveFlow   flow on the audio squeezed to h rows; trained by maximum likelihood; synthesis inverts the
             flows row by row from Gaussian noise (scaled by --temperature).
             Release configuration: 5,891,794 parameters (tested; the release states 5.9M).
  WaveNet    autoregressive, single-Gaussian output (the release's LJSpeech configuration); synthesis
             one sample at a time (numpy), so it is slow and not exportable: evaluate it with
             --eval_utterances. Release configuration: 2,629,701 parameters (tested).
  ClariNet   the IAF student distilled from a trained WaveNet teacher, given by --teacher (a WaveNet run's
             best.pdparams at the same --size); synthesis in one parallel pass, exportable.
             Release configuration: 4,786,073 parameters, 2,156,372 of them the student's (tested).

Measured on the demo corpus (README.md, Vocoders, where the commands are): no vocoder beats Griffin-Lim
from the same mel yet. Held-out WaveNet runs of up to 6,300 steps on idle cores, ClariNet distilled for 900
steps and WaveFlow's 450- and 540-step runs score SC 0.85-1.2 against Griffin-Lim's 0.34-0.35; even a perfect
vocoder would be only 16% below it on SC there (vocoder_floor.py: 0.284 vs 0.337), and the release trains
these models for 2-3M steps. --dither 0.01 (with --lr_schedule cosine) lets WaveNet beat Griffin-Lim on a
steady tone (overfit_vocoder.py --tone 200: SC 0.061 vs 0.27-0.31).
"""
import argparse
import math
import os

import numpy as np
import paddle

import audio
import reader
import utils
from models import count_parameters
from models.clarinet import ClariNet
from models.waveflow import WaveFlow
from models.wavenet import WaveNet

MODELS = ("WaveFlow", "WaveNet", "ClariNet")
CLASSES = {"WaveFlow": WaveFlow, "WaveNet": WaveNet, "ClariNet": ClariNet}
# flags that shape a model (None: the --size configuration's value)
SHAPE_FLAGS = ("n_flows", "n_layers", "channels", "n_group", "n_loop", "n_layer", "output_dim", "teacher_channels")
# the flags each model uses: its configuration's shape flags (model_config); ClariNet's shape the student and
# its teacher, and it alone reads --teacher (train)
READS = {**{m: tuple(k for k in SHAPE_FLAGS if k in CLASSES[m].demo_config()) for m in ("WaveFlow", "WaveNet")},
         "ClariNet": ("n_flows", "channels", "n_loop", "n_layer", "output_dim", "teacher_channels", "teacher")}


def add_flags(parser):
    g = parser.add_argument_group("vocoders (WaveFlow, WaveNet, ClariNet)")
    g.add_argument("--n_flows", type=int, default=None, help="WaveFlow: flows (unset: the --size configuration's)")
    g.add_argument("--n_layers", type=int, default=None,
                   help="WaveFlow: residual layers per flow (unset: the --size configuration's)")
    g.add_argument("--channels", type=int, default=None,
                   help="WaveFlow, WaveNet: residual channels; ClariNet: the student's "
                        "(unset: the --size configuration's)")
    g.add_argument("--n_group", type=int, default=None,
                   help="WaveFlow: squeeze height h (unset: the --size configuration's)")
    g.add_argument("--n_loop", type=int, default=None,
                   help="WaveNet: blocks per stack, dilations 1 .. 2**(n_loop-1) (unset: the --size configuration's)")
    g.add_argument("--n_layer", type=int, default=None, help="WaveNet: stacks (unset: the --size configuration's)")
    g.add_argument("--output_dim", type=int, default=None,
                   help="WaveNet: 3 x Gaussian components (the release: 3, one Gaussian; "
                        "unset: the --size configuration's)")
    g.add_argument("--teacher_channels", type=int, default=None,
                   help="ClariNet: the teacher WaveNet's channels (unset: the --size configuration's)")
    g.add_argument("--teacher", default=None,
                   help="ClariNet: the trained WaveNet teacher (its run's best.pdparams, at the same --size)")
    g.add_argument("--segment_frames", type=int, default=16,
                   help="mel frames per training segment (x 256 samples; the release: 16000 samples, ~62 frames)")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="scale of the synthesis noise: WaveFlow's and ClariNet's z, WaveNet's predicted std")
    g.add_argument("--dither", type=float, default=0.0,
                   help="std of Gaussian noise added to the training wav segments only (dequantisation: the demo "
                        "corpus has exact digital silence, whose likelihood a flow can raise without bound; for "
                        "WaveNet also noisy teacher-forced inputs, so that its own samples do not derail it; "
                        "evaluation scores the untouched recordings)")
    g.add_argument("--grad_clip", type=float, default=1.0,
                   help="global gradient-norm clip (0: none; the release's WaveNet: 100)")
    g.add_argument("--lr_schedule", choices=["constant", "cosine"], default="constant",
                   help="cosine: --lr decayed to 0 over the run's steps (constant: the release's, which halves it "
                        "every 200k steps)")
    g.add_argument("--eval_utterances", type=int, default=0,
                   help="score only the first N utterances of a split (0: all)")
    g.add_argument("--synthesis_seed", type=int, default=1,
                   help="seed of the synthesis noise (evaluation and export use the same, so they agree)")
    return parser


def model_config(args):
    """The model's constructor arguments: the --size configuration, with the shape flags given applied.
    ClariNet: --n_flows and --channels shape the student; the teacher is the WaveNet of the same --size
    with --n_loop, --n_layer, --output_dim and --teacher_channels."""
    cls = CLASSES[args.model]
    cfg = cls.release_config() if getattr(args, "size", "demo") == "release" else cls.demo_config()
    if args.model == "ClariNet":
        cfg["teacher"] = model_config(argparse_like(args, "WaveNet", channels=getattr(args, "teacher_channels", None)))
        if getattr(args, "n_flows", None):
            cfg["n_loops"] = (cfg["n_loops"][0],) * args.n_flows
        if getattr(args, "channels", None):
            cfg["channels"] = args.channels
        return cfg
    for key in SHAPE_FLAGS:
        if getattr(args, key, None) is not None and key in cfg:
            cfg[key] = getattr(args, key)
    return cfg


def argparse_like(args, model, **changes):
    """args with another --model (ClariNet's teacher is built as the WaveNet of the same --size)."""
    return argparse.Namespace(**{**vars(args), "model": model, **changes})


def build_model(args):
    """The model of --model; a shape flag (or --teacher) that this model does not read is an error, not
    silently ignored."""
    unused = [k for k in SHAPE_FLAGS + ("teacher",) if getattr(args, k, None) is not None and k not in READS[args.model]]
    if unused:
        raise utils.CheckpointError(f"--model {args.model} does not use {', '.join('--' + k for k in unused)} "
                                    f"(it reads {', '.join('--' + k for k in READS[args.model])})")
    return CLASSES[args.model](**model_config(args))


# ----------------------------------------------------------------------------------------------- data

def load_pair(path):
    with np.load(path) as f:
        return f["wav"].astype(np.float32), f["mel"].astype(np.float32)


def check_split(data_dir, split, skip_bad=False):
    """The split's ids whose cache file is readable and consistent (wav length = mel frames x 256);
    a bad one is a DataError naming the file, or skipped and counted with --skip_bad_samples."""
    good, bad = [], 0
    for uid in reader.read_split(data_dir, split):
        path = reader.feature_path(data_dir, uid)
        problem = None
        try:
            wav, mel = load_pair(path)
            if mel.ndim != 2 or mel.shape[0] != audio.N_MELS:
                problem = f"mel of shape {list(mel.shape)}, expected [{audio.N_MELS}, frames]"
            elif wav.ndim != 1 or len(wav) != mel.shape[1] * audio.HOP_LENGTH or not len(wav):
                problem = (f"wav of {len(wav)} samples for {mel.shape[1]} mel frames "
                           f"(expected frames x {audio.HOP_LENGTH})")
        except (OSError, KeyError, ValueError) as e:
            problem = f"unreadable feature file ({type(e).__name__}: {e}); run preprocess.py again"
        if problem:
            if not skip_bad:
                raise utils.DataError(f"{path}: {problem}")
            bad += 1
            continue
        good.append(uid)
    if not good:
        raise utils.DataError(f"{os.path.join(data_dir, reader.FEATURES, split + '.txt')}:1: no usable utterance")
    return good, bad


def random_segment(wav, mel, frames, rng):
    """(wav [frames*256], mel [80, frames]): one random aligned segment of an utterance; a shorter
    utterance is padded with silence (and draws nothing from rng)."""
    n = mel.shape[1]
    if n < frames:
        mel = np.pad(mel, ((0, 0), (0, frames - n)), constant_values=reader.MEL_PAD)
        wav = np.pad(wav, (0, (frames - n) * audio.HOP_LENGTH))
        start = 0
    else:
        start = int(rng.integers(0, n - frames + 1))
    return wav[start * audio.HOP_LENGTH:(start + frames) * audio.HOP_LENGTH], mel[:, start:start + frames]


def segment_batch(data_dir, uids, frames, rng):
    """(wav [B, frames*256], mel [B, 80, frames]) of one random aligned segment per utterance."""
    pairs = [random_segment(*load_pair(reader.feature_path(data_dir, uid)), frames, rng) for uid in uids]
    return np.stack([wav for wav, _ in pairs]), np.stack([mel for _, mel in pairs])


# ---------------------------------------------------------------------------------------- synthesis

def synthesize(args, model, batch_inputs):
    """mel (array or tensor [B, 80, frames], or [80, frames]) -> wav float32 numpy [B, frames * 256]."""
    mel = batch_inputs
    if not isinstance(mel, paddle.Tensor):
        mel = paddle.to_tensor(np.asarray(mel, np.float32))
    if mel.ndim == 2:
        mel = mel.unsqueeze(0)
    model.eval()
    with paddle.no_grad():
        wav = model.synthesize(mel, sigma=getattr(args, "temperature", 1.0),
                               seed=getattr(args, "synthesis_seed", 1) or 1)
    return wav.numpy()


_GRIFFIN_LIM = {}  # (data_dir, uid) -> (sc, lsd): the baseline does not change during training


def evaluate(args, model, split):
    """Mean SC and LSD over the split's utterances (whole, from their mel) and the Griffin-Lim baseline's."""
    uids, _ = check_split(args.data_dir, split, getattr(args, "skip_bad_samples", False))
    if getattr(args, "eval_utterances", 0):
        uids = uids[:args.eval_utterances]
    sums = np.zeros(4)
    for uid in utils.progress(uids, len(uids), f"synthesising {split}"):
        ref, mel = load_pair(reader.feature_path(args.data_dir, uid))
        est = synthesize(args, model, mel)[0]
        key = (os.path.abspath(args.data_dir), uid)
        if key not in _GRIFFIN_LIM:
            _GRIFFIN_LIM[key] = audio.scores(ref, audio.griffin_lim(mel))
        sums += [*audio.scores(ref, est), *_GRIFFIN_LIM[key]]
    sc, lsd, sc_gl, lsd_gl = sums / len(uids)
    return {"sc": sc, "lsd": lsd, "sc_griffin_lim": sc_gl, "lsd_griffin_lim": lsd_gl, "samples": len(uids)}


# -------------------------------------------------------------------------------------------- export

class Exported(paddle.nn.Layer):
    """mel [1, 80, frames] -> wav [1, frames * 256], the synthesis noise seeded (--synthesis_seed)."""

    def __init__(self, model, temperature, seed):
        super().__init__()
        self.model, self.temperature, self.seed = model, temperature, seed

    def forward(self, mel):
        return self.model.synthesize(mel, sigma=self.temperature, seed=self.seed)


def export(args, model, path_prefix):
    if isinstance(model, WaveNet):
        raise SystemExit("error: WaveNet synthesises one sample at a time (numpy loop), which is not exported; "
                         "export a ClariNet student distilled from it, or WaveFlow")
    model.eval()
    layer = Exported(model, getattr(args, "temperature", 1.0), getattr(args, "synthesis_seed", 1) or 1)
    spec = [paddle.static.InputSpec([1, audio.N_MELS, None], "float32", name="mel")]
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=spec, full_graph=True), path_prefix)
    return path_prefix


# ------------------------------------------------------------------------------------------ training

def cosine_schedule(lr, total_steps):
    """lr * (1 + cos(pi * step / total_steps)) / 2, in closed form: a resumed run (its step restored from the
    checkpoint) continues the same curve, or, given a new --max_steps or --epochs, the new one from the
    step after the saved one."""
    return paddle.optimizer.lr.LambdaDecay(
        lr, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1))))


def train(args, model, out_dir, log):
    """The training loop: Adam (the release's), a random segment per utterance, resume from
    latest.pdckpt, DataParallel over several processes, dev SC every --eval_interval epochs choosing
    best.pdparams. `log(message)` prints on the main process. Returns the best dev SC."""
    train_ids, bad = check_split(args.data_dir, "train", args.skip_bad_samples)
    dev_ids, bad_dev = check_split(args.data_dir, "dev", args.skip_bad_samples)
    world, rank = utils.world_size(), utils.rank()
    per_step = args.batch_size * world
    steps_per_epoch = max(1, len(train_ids) // per_step)
    if len(train_ids) < per_step:
        raise utils.DataError(f"{os.path.join(args.data_dir, reader.FEATURES, 'train.txt')}:1: {len(train_ids)} training "
                              f"utterances, fewer than one batch of {args.batch_size} x {world} processes")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    resuming = bool(getattr(args, "resume", None))
    if isinstance(model, ClariNet) and not resuming:  # a resumed run has the teacher in its checkpoint
        if not getattr(args, "teacher", None):
            raise utils.CheckpointError("ClariNet distils a trained WaveNet: pass --teacher "
                                        f"OUTPUT_DIR/WaveNet/best.pdparams (a WaveNet trained at --size {args.size})")
        teacher = WaveNet(**model_config(args)["teacher"])
        utils.load_model(teacher, args.teacher)
        model.load_teacher(teacher.state_dict())
        log(f"teacher: {args.teacher}")
    scheduler = cosine_schedule(args.lr, total_steps) if getattr(args, "lr_schedule", "constant") == "cosine" else None
    optimizer = paddle.optimizer.Adam(
        learning_rate=scheduler or args.lr, parameters=[p for p in model.parameters() if not p.stop_gradient],
        grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip) if args.grad_clip else None)
    step, best_sc = 0, float("inf")
    if resuming:
        state = utils.load_checkpoint(args.resume, model, optimizer, scheduler, logger=logger)
        step, best_sc = state["step"], state["best_sc"]
        log(f"resumed from {args.resume} at step {step}")
    train_model = paddle.DataParallel(LossOf(model)) if world > 1 else LossOf(model)
    log(f"{args.model}: {count_parameters(model):,} parameters ({args.size} size: {model_config(args)}), "
        f"{len(train_ids)} training utterances, segments of {args.segment_frames} frames, {steps_per_epoch} "
        f"steps/epoch, batch {args.batch_size} x {world} processes, lr {args.lr:g}")
    if bad or bad_dev:
        log(f"skipped {bad + bad_dev} bad feature files (--skip_bad_samples)")

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_sc=best_sc)

    def evaluate_and_keep_best(epoch):
        nonlocal best_sc
        utils.broadcast_from_rank0(model)
        if not utils.is_main_process():
            return
        result = evaluate(args, model, "dev")
        log(f"eval epoch {epoch}: dev sc {result['sc']:.4f} lsd {result['lsd']:.4f} (Griffin-Lim sc "
            f"{result['sc_griffin_lim']:.4f} lsd {result['lsd_griffin_lim']:.4f})")
        logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["sc"] < best_sc:
            best_sc = result["sc"]
            paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        order = np.random.default_rng((args.seed, epoch)).permutation(len(train_ids))
        model.train()
        timer = utils.Timer()
        for b in range(step - epoch * steps_per_epoch, steps_per_epoch):
            first = b * per_step + rank * args.batch_size
            uids = [train_ids[i] for i in order[first:first + args.batch_size]]
            seg_rng = np.random.default_rng((args.seed, epoch, b, rank))
            wav, mel = segment_batch(args.data_dir, uids, args.segment_frames, seg_rng)
            if getattr(args, "dither", 0.0):
                wav = wav + seg_rng.normal(0.0, args.dither, wav.shape).astype(np.float32)
            wav, mel = paddle.to_tensor(wav), paddle.to_tensor(mel)
            reader_cost = timer.tick()
            loss = train_model(wav, mel)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            if scheduler is not None:
                scheduler.step()
            step += 1
            logger.update(loss, len(uids), reader_cost, reader_cost + timer.tick())
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
        log(f"best dev sc {best_sc:.4f}; curves {utils.plot_curves(out_dir)}")
    return best_sc



class LossOf(paddle.nn.Layer):
    """The model's loss as a forward, so that DataParallel (whose gradient sync starts in its forward)
    wraps the whole loss computation."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, wav, mel):
        return self.model.loss(wav, mel)[0]
