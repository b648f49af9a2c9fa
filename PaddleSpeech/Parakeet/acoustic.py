"""The acoustic family (text -> log mel spectrogram): Transformer TTS, FastSpeech, Deep Voice 3, behind
the family interface train.py / eval.py / export.py / infer.py call (MODELS, add_flags,
build_model, train, evaluate, export, synthesize).

Training: Adam (betas 0.9/0.98) with the release's Noam schedule (peak --lr after --warmup_steps), global
gradient-norm clip --grad_clip, teacher forcing. best.pdparams is chosen on the dev split's teacher-forced
mel L1. Evaluation reports, on held-out sentences:
  mel_l1_teacher_forced  L1 (log mel) of the post-net output with the true previous frames fed in;
  mel_l1                 L1 of the FREE-RUNNING synthesis, stretched in time to the true length;
  mel_l1_mean_frame      the baseline: the mean training mel frame at every frame;
  mel_l1_nearest_sentence the baseline: the mel of the training sentence whose text is the most alike
                         (difflib ratio), stretched to the true length;
  diagonality            share of the attention mass near the diagonal (models.transformer_tts.diagonality),
                         of the decoder layer whose heads-average is the most diagonal (Deep Voice 3:
                         of its attention blocks, over decoder steps of r frames).
Deep Voice 3 trains on the L1 of its decoder's and its converter's mel, its done output's cross-entropy
and the optional guided attention (models/deepvoice3.py); its "teacher-forced" input is the last true
frame of each step of r frames.
"""
import difflib
import os

import numpy as np
import paddle
import paddle.nn.functional as F

import utils
import reader
import text as textlib
from models import count_parameters
from models import deepvoice3 as dv3
from models import fastspeech as fs
from models import transformer_tts as tts

MODELS = ("TransformerTTS", "FastSpeech", "DeepVoice3")
BUILT = ("TransformerTTS", "FastSpeech", "DeepVoice3")
N_MELS = 80
MIN_FRAMES = 4  # free-running synthesis: a stop token before this many frames is ignored


def add_flags(parser):
    g = parser.add_argument_group("acoustic models")
    g.add_argument("--hidden", type=int, default=0, help="width of the attention layers (0: the --size's)")
    g.add_argument("--layers", type=int, default=0, help="encoder and decoder layers each (0: the --size's)")
    g.add_argument("--warmup_steps", type=int, default=4000, help="Noam schedule: steps to the peak --lr")
    g.add_argument("--grad_clip", type=float, default=1.0, help="global gradient-norm clip")
    g.add_argument("--stop_weight", type=float, default=5.0, help="positive weight of the stop token's loss")
    g.add_argument("--guided_attention", type=float, default=0.0,
                   help="weight of the guided attention loss (0: plain attention, the release's)")
    g.add_argument("--eval_samples", type=int, default=0,
                   help="held-out sentences synthesised free-running in an evaluation (0: all)")
    g.add_argument("--max_decoder_steps", type=int, default=1000, help="free-running synthesis: frame cap")
    g.add_argument("--frames_per_char", type=float, default=10.0,
                   help="free-running synthesis: at most this many frames per character (+10)")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch)")
    return parser


def model_config(args):
    if args.model == "DeepVoice3":
        config = dict(dv3.RELEASE if args.size == "release" else dv3.DEMO)
        if getattr(args, "hidden", 0):
            half = max(8, args.hidden // 2)
            config.update(char_dim=args.hidden, postnet_dim=args.hidden, encoder_dim=half, attention_dim=half,
                          prenet_sizes=(half,))
        if getattr(args, "layers", 0):
            config["encoder_layers"] = config["decoder_layers"] = args.layers
        return config
    if args.model == "FastSpeech":
        config = dict(fs.RELEASE if args.size == "release" else fs.DEMO)
        if getattr(args, "hidden", 0):
            config.update(hidden=args.hidden, filter_size=4 * args.hidden, predictor=args.hidden,
                          postnet_channels=args.hidden)
        if getattr(args, "layers", 0):
            config["encoder_layers"] = config["decoder_layers"] = args.layers
        return config
    config = dict(tts.RELEASE if args.size == "release" else tts.DEMO)
    if getattr(args, "hidden", 0):
        config["hidden"] = args.hidden
        config["ffn"] = 4 * args.hidden
        config["postnet_channels"] = args.hidden
        config["embedding"] = min(config["embedding"], 2 * args.hidden) if args.size == "demo" else config["embedding"]
    if getattr(args, "layers", 0):
        config["encoder_layers"] = config["decoder_layers"] = args.layers
    return config


def build_model(args):
    if args.model not in BUILT:
        raise utils.CheckpointError(f"{args.model} is not built yet in this folder (README.md: status); "
                                    f"built: {', '.join(BUILT)}")
    if args.model == "FastSpeech":
        return fs.FastSpeech(textlib.NUM_SYMBOLS, N_MELS, **model_config(args))
    if args.model == "DeepVoice3":
        return dv3.DeepVoice3(textlib.NUM_SYMBOLS, N_MELS, **model_config(args))
    return tts.TransformerTTS(textlib.NUM_SYMBOLS, N_MELS, **model_config(args))


def dataset(args, split, entries):
    """The split's (ids, mel[, durations]): FastSpeech reads extract_durations.py's durations too."""
    if args.model == "FastSpeech":
        from extract_durations import load_durations
        return reader.TextMelDataset(args.data_dir, split, entries, durations=load_durations)
    return reader.TextMelDataset(args.data_dir, split, entries)


# ------------------------------------------------------------------------------------------- training

def _go_shift(mels):
    """The decoder's input: the go frame (silence), then the true frames but the last."""
    go = paddle.full([mels.shape[0], 1, mels.shape[2]], reader.MEL_PAD, dtype="float32")
    return paddle.concat([go, mels[:, :-1]], axis=1)


def compute_loss(args, model, batch):
    batch = [paddle.to_tensor(b) if isinstance(b, np.ndarray) else b for b in batch]
    ids, text_lengths, mels, mel_lengths = batch[:4]
    if args.model == "FastSpeech":
        return fs.loss(model(ids, batch[4]), mels, mel_lengths, batch[4], text_lengths)
    if args.model == "DeepVoice3":
        r = _reduction(model)
        return dv3.loss(model(ids, dv3.teacher_inputs(mels, r)), mels, mel_lengths, text_lengths, r,
                        args.stop_weight, args.guided_attention)
    out = model(ids, _go_shift(mels))
    return tts.loss(out, mels, mel_lengths, text_lengths, args.stop_weight, args.guided_attention)


def _reduction(model):
    """Deep Voice 3's frames per decoder step (through a DataParallel wrapper too)."""
    return getattr(model, "_layers", model).r


def make_optimizer(args, model):
    scheduler = paddle.optimizer.lr.NoamDecay(d_model=1.0 / (args.warmup_steps * args.lr ** 2),
                                              warmup_steps=args.warmup_steps)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, beta1=0.9, beta2=0.98, epsilon=1e-9,
                                      parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip))
    return optimizer, scheduler


def train(args, model, out_dir, log):
    """The whole loop (see the module docstring); log(message) prints on the main process."""
    entries = reader.read_metadata(args.data_dir, args.skip_bad_samples)
    train_set = dataset(args, "train", entries)
    dataset(args, "dev", entries)  # checked before the first step
    sampler = paddle.io.DistributedBatchSampler(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}/{reader.FEATURES}/train.txt:1: fewer training utterances than one "
                              "batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    optimizer, scheduler = make_optimizer(args, model)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, float("inf")
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        log(f"resumed from {args.resume} at step {step}")
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    log(f"{args.model} ({args.size}): {count_parameters(model):,} parameters, {len(train_set)} training "
           f"sentences, {steps_per_epoch} steps/epoch, peak lr {args.lr:g} after {args.warmup_steps} warm-up steps, "
           f"total batch {args.batch_size * utils.world_size()}")

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, best=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        result = evaluate(args, model, "dev", free_running=False)
        model.train()
        log(f"eval epoch {epoch}: dev mel_l1_teacher_forced {result['mel_l1_teacher_forced']:.4f} "
               f"(mean-frame baseline {result['mel_l1_mean_frame']:.4f})"
               + (f" diagonality {result['diagonality']:.3f}" if "diagonality" in result else ""))
        logger.write({"epoch": epoch, "step": step, **{k: v for k, v in result.items() if k != "samples"}})
        if result["mel_l1_teacher_forced"] < best:
            best = result["mel_l1_teacher_forced"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    model.train()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch)
        timer, skip = utils.Timer(), step - epoch * steps_per_epoch
        for batch in loader:
            if skip > 0:  # a resumed epoch: the batches already trained on
                skip -= 1
                timer.tick()
                continue
            reader_cost = timer.tick()
            loss, _ = compute_loss(args, train_model, batch)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if utils.is_main_process():
        log(f"best dev mel_l1_teacher_forced {best:.4f}; curves {utils.plot_curves(out_dir)}")


# ----------------------------------------------------------------------------------------- evaluation

def stretch(mel, frames):
    """mel [T, N] linearly interpolated in time to [frames, N]."""
    src = np.linspace(0, len(mel) - 1, frames)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, len(mel) - 1)
    w = (src - lo)[:, None]
    return mel[lo] * (1 - w) + mel[hi] * w


def max_frames(args, text_length):
    return int(min(args.max_decoder_steps, args.frames_per_char * text_length + 10))


def best_layer_alignment(attentions, text_lengths, mel_lengths):
    """(layer index, mean diagonality) of the decoder layer whose heads-averaged attention is the most
    diagonal over the batch."""
    scores = []
    for a in attentions:
        a = a.mean(axis=1).numpy()
        scores.append(np.mean([tts.diagonality(a[k], int(text_lengths[k]), int(mel_lengths[k]))
                               for k in range(len(a))]))
    return int(np.argmax(scores)), float(np.max(scores))


_BASELINES = {}  # (data_dir, split, n, split list's mtime) -> summed L1s: they do not change during training


def baselines(data_dir, data, n, entries):
    """Summed L1 of the mean-frame and the nearest-sentence baselines over the first n utterances of `data`
    (read once per split: every dev evaluation of a run reuses them)."""
    key = (os.path.abspath(data_dir), data.split, n,
           os.path.getmtime(os.path.join(data_dir, reader.FEATURES, f"{data.split}.txt")))
    if key not in _BASELINES:
        train_ids = reader.read_split(data_dir, "train")
        by_id = {e.uid: e for e in entries}
        train_mels = [reader.load_mel(data_dir, uid) for uid in train_ids]
        train_texts = [by_id[u].text for u in train_ids]
        mean_frame = np.concatenate(train_mels).mean(axis=0)
        base_sum, near_sum = 0.0, 0.0
        for k in range(n):
            mel = data[k][1]
            base_sum += float(np.abs(mel - mean_frame[None]).sum())
            matcher = difflib.SequenceMatcher(a=data.items[k].text, autojunk=False)
            scores = []
            for t in train_texts:
                matcher.set_seq2(t)
                scores.append(matcher.ratio())
            nearest = train_mels[int(np.argmax(scores))]
            near_sum += float(np.abs(stretch(nearest, len(mel)) - mel).sum())
        _BASELINES[key] = base_sum, near_sum
    return _BASELINES[key]


@paddle.no_grad()
def evaluate(args, model, split, free_running=True):
    """The split's metrics and the baselines' (see the module docstring)."""
    model.eval()
    entries = reader.read_metadata(args.data_dir, getattr(args, "skip_bad_samples", False), verbose=False)
    data = dataset(args, split, entries)
    tf_sum, count, diag, n_batches = 0.0, 0, [], 0
    batch_size = max(1, min(args.batch_size, 16))
    for start in range(0, len(data), batch_size):
        batch = reader.collate([data[k] for k in range(start, min(start + batch_size, len(data)))])
        ids, text_lengths, mels, mel_lengths = [paddle.to_tensor(b) for b in batch[:4]]
        if args.model == "FastSpeech":  # "teacher forced": with the extracted durations
            after = model(ids, paddle.to_tensor(batch[4]))[1][:, :mels.shape[1]]
        elif args.model == "DeepVoice3":  # attention per decoder step: r frames a step
            r = _reduction(model)
            _, after, _, attentions = model(ids, dv3.teacher_inputs(mels, r))
            after = after[:, :mels.shape[1]]
            diag.append(best_layer_alignment(attentions, batch[1], (batch[3] + r - 1) // r)[1] * len(batch[1]))
        else:
            _, after, _, attentions = model(ids, _go_shift(mels))
            diag.append(best_layer_alignment(attentions, batch[1], batch[3])[1] * len(batch[1]))
        mask = (np.arange(mels.shape[1])[None, :] < batch[3][:, None])
        tf_sum += float((np.abs(after.numpy() - batch[2]).sum(-1) * mask).sum())
        count += int(mask.sum()) * N_MELS
        n_batches += len(batch[1])
    result = {"mel_l1_teacher_forced": tf_sum / count}
    if diag:
        result["diagonality"] = float(sum(diag) / n_batches)
    n = len(data) if not getattr(args, "eval_samples", 0) else min(args.eval_samples, len(data))
    base_sum, near_sum = baselines(args.data_dir, data, n, entries)
    free_sum, frames_sum = 0.0, 0
    for k in range(n):
        ids, mel = data[k][:2]
        if free_running:
            pred = synthesize(args, model, [ids])[0][0].T
            free_sum += float(np.abs(stretch(pred, len(mel)) - mel).sum())
        frames_sum += len(mel)
    denom = frames_sum * N_MELS
    result.update({"mel_l1_mean_frame": base_sum / denom, "mel_l1_nearest_sentence": near_sum / denom})
    if free_running:
        result["mel_l1"] = free_sum / denom
    result["samples"] = len(data)
    return result


# ------------------------------------------------------------------------------------ export, synthesis

class DecoderStep(paddle.nn.Layer):
    """What is exported for Transformer TTS: (text ids [1, L], previous frames [1, N_MELS, t]) ->
    (mel [1, N_MELS, t], stop probability [1, t], alignment [1, t, L]); synthesis calls it once per new
    frame (infer.py), as the release's autoregressive loop does."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, text, mel_in):
        memory, key_mask = self.model.encode(text)
        _, after, stop, attentions = self.model.decode(memory, key_mask, mel_in.transpose([0, 2, 1]))
        alignment = attentions[-1].mean(axis=1)
        return after.transpose([0, 2, 1]), F.sigmoid(stop), alignment


class FastSpeechInference(paddle.nn.Layer):
    """What is exported for FastSpeech: text ids [1, L] -> (mel [1, N_MELS, frames], durations [1, L])."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, text):
        _, after, _, _, durations = self.model(text)
        return after.transpose([0, 2, 1]), durations


class DeepVoice3Step(paddle.nn.Layer):
    """What is exported for Deep Voice 3, one decoder step per call as for Transformer TTS, the whole
    sequence recomputed: (text ids [1, L], decoder inputs [1, N_MELS, S] (the go frame, then the last
    frame of each step), monotonic window anchors [1, layers, S] int64) -> (converter mel [1, N_MELS, S * r],
    decoder mel [1, N_MELS, S * r], done probability [1, S], alignment [1, S, L] (blocks averaged), each
    block's attention peak [1, layers, S])."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, text, mel_in, peaks):
        decoded, refined, done, attentions = self.model(text, mel_in.transpose([0, 2, 1]), peaks)
        stacked = paddle.concat(attentions, axis=1)  # [1, layers, S, L]
        return (refined.transpose([0, 2, 1]), decoded.transpose([0, 2, 1]), F.sigmoid(done), stacked.mean(axis=1),
                stacked.argmax(axis=-1))


def export(args, model, path_prefix):
    model.eval()
    if args.model == "DeepVoice3":
        specs = [paddle.static.InputSpec([1, None], "int64", name="text"),
                 paddle.static.InputSpec([1, N_MELS, None], "float32", name="mel_in"),
                 paddle.static.InputSpec([1, len(model.convs), None], "int64", name="peaks")]
        paddle.jit.save(paddle.jit.to_static(DeepVoice3Step(model), input_spec=specs, full_graph=True), path_prefix)
        return path_prefix
    if args.model == "FastSpeech":
        spec = [paddle.static.InputSpec([1, None], "int64", name="text")]
        paddle.jit.save(paddle.jit.to_static(FastSpeechInference(model), input_spec=spec, full_graph=True), path_prefix)
        return path_prefix
    specs = [paddle.static.InputSpec([1, None], "int64", name="text"),
             paddle.static.InputSpec([1, N_MELS, None], "float32", name="mel_in")]
    paddle.jit.save(paddle.jit.to_static(DecoderStep(model), input_spec=specs, full_graph=True), path_prefix)
    return path_prefix


def synthesize(args, model, batch_inputs):
    """[(mel [N_MELS, frames], alignment [frames, L])] of text id arrays, free-running (dynamic graph)."""
    model.eval()
    out = []
    if args.model == "FastSpeech":
        with paddle.no_grad():
            for ids in batch_inputs:
                _, after, _, frames, durations = model(paddle.to_tensor(np.asarray(ids)[None]))
                out.append((after.numpy()[0].T, durations_to_alignment(durations.numpy()[0])))
        return out
    if args.model == "DeepVoice3":
        for ids in batch_inputs:
            pred, frames, alignment = model.synthesize(paddle.to_tensor(np.asarray(ids)[None]),
                                                       max_steps(args, len(ids), model.r), MIN_FRAMES // model.r + 1)
            out.append((pred.numpy()[0, :frames].T, alignment.numpy()[0]))
        return out
    for ids in batch_inputs:
        pred, frames, alignment = model.synthesize(paddle.to_tensor(np.asarray(ids)[None]), max_frames(args, len(ids)),
                                                   MIN_FRAMES)
        out.append((pred.numpy()[0, :frames[0]].T, alignment.numpy()[0, :frames[0]]))
    return out


def max_steps(args, text_length, r):
    """Deep Voice 3's cap on decoder steps (r frames each)."""
    return max(1, -(-max_frames(args, text_length) // r))


def durations_to_alignment(durations):
    """The hard alignment [frames, L] the durations say (FastSpeech's "attention")."""
    return np.repeat(np.eye(len(durations), dtype=np.float32), durations, axis=0)


def synthesize_exported(run, ids, args):
    """The same synthesis over an export (Paddle Inference predictor `run`): FastSpeech in one call,
    Transformer TTS through its exported decoder step, one call per frame."""
    if args.model == "FastSpeech":
        mel, durations = run([np.asarray(ids, dtype=np.int64)[None]])
        return mel[0], durations_to_alignment(durations[0])
    if args.model == "DeepVoice3":  # the same loop as models.deepvoice3.DeepVoice3.synthesize
        config = model_config(args)
        r, layers = config["reduction"], config["decoder_layers"]
        text_in = np.asarray(ids, dtype=np.int64)[None]
        mel_in = np.full((1, N_MELS, 1), reader.MEL_PAD, dtype=np.float32)
        limit = max_steps(args, len(ids), r)
        peaks = np.zeros((1, layers, 1), dtype=np.int64)
        for step in range(limit):
            refined, decoded, done, alignment, new_peaks = run([text_in, mel_in, peaks])
            if (done[0, -1] > 0.5 and step + 1 >= MIN_FRAMES // r + 1) or step == limit - 1:
                return refined[0], alignment[0]
            mel_in = np.concatenate([mel_in, decoded[:, :, -1:]], axis=2)
            peaks = np.concatenate([peaks, new_peaks[:, :, -1:].astype(np.int64)], axis=2)
    mel_in = np.full((1, N_MELS, 1), reader.MEL_PAD, dtype=np.float32)
    limit = max_frames(args, len(ids))
    text_in = np.asarray(ids, dtype=np.int64)[None]
    for step in range(limit):
        mel, stop, alignment = run([text_in, mel_in])
        if (stop[0, -1] > 0.5 and step + 1 >= MIN_FRAMES) or step == limit - 1:
            return mel[0], alignment[0]
        mel_in = np.concatenate([mel_in, mel[:, :, -1:]], axis=2)
