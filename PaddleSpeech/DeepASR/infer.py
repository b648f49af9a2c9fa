"""Transcribe your own audio files (wav, flac, anything soundfile reads; any sample rate, resampled to
16 kHz; stereo mixed down): prints `file<TAB>transcript` for each, and draws the first file's fbank
spectrogram with its frame-state alignment (the best state of every frame, and the phones the decoder
read from them) into a PNG.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference);
an export older than its checkpoint is refused:
    python infer.py my_recording.wav other.flac
From a training checkpoint (dynamic graph), or from another export:
    python infer.py --checkpoint output/deepasr_tiny/best.pdparams my_recording.wav
    python infer.py --inference_dir output/deepasr_tiny/inference my_recording.wav

--split transcribes a split of the data directory instead and, since it holds the transcripts (and
alignments), prints the frame accuracy, CER and WER as eval.py does.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from decoder import LexiconDecoder, best_states, collapse
from eval import fill_from_run, load_run, run_flags
from metric import error_counts, rates


def load_predictor(args):
    """(predict(feats [1, T, D], lengths [1]) -> posteriors [1, T, states], lang, frontend, label delay)."""
    if args.checkpoint and not args.inference_dir:  # dynamic graph from a checkpoint
        fill_from_run(args)
        paddle.set_device("cpu")
        model, lang, frontend, _ = load_run(args)

        def predict(feats, lengths):
            with paddle.no_grad():
                return F.softmax(model(paddle.to_tensor(feats), paddle.to_tensor(lengths)), axis=-1).numpy()
        return predict, lang, frontend, args.label_delay

    if not args.inference_dir:  # the export of the last run trained in OUTPUT_DIR (or of --model's)
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    lang = reader.Lang.load(args.inference_dir)
    frontend = reader.Frontend(reader.CMVN(os.path.join(args.inference_dir, reader.CMVN_FILE)), cfg["context"])
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda feats, lengths: run([feats, lengths])[0], lang, frontend, cfg["label_delay"]


def inputs(args, lang):
    """[(where, utterance, reference or None, alignment or None)] from the command line or --split; every
    file is checked (exists, is audio, not empty) before the first is transcribed."""
    items = []
    if args.split:
        if not args.data_dir:
            fill_from_run(args)
        for u in reader.load_split(args.data_dir, args.split, lang, args, need_ali=False, verbose=False):
            items.append((u.where, u, u.text, u.ali))
    for path in args.audio:
        reader.check_audio(path, path)
        items.append((path, reader.Utterance(os.path.basename(path), path, path), None, None))
    if not items:
        raise utils.DataError("nothing to transcribe; give audio files or --split")
    return items


def draw_alignment(feats, states, lang, context, path, title):
    """The normalised fbank of the centre frame (low frequencies at the bottom) and under it the frame-state
    alignment: a colour per state, the phone written where it starts, silence grey."""
    from PIL import Image, ImageDraw
    first = context * 3 * reader.NUM_MELS
    spec = feats[:, first:first + reader.NUM_MELS].T[::-1]
    lo, hi = np.percentile(spec, [2, 98])
    gray = (np.clip((spec - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)
    scale = max(1, 1000 // max(spec.shape[1], 1))
    image = Image.fromarray(gray).resize((spec.shape[1] * scale, spec.shape[0] * 2))
    canvas = Image.new("RGB", (image.width + 20, image.height + 90), "white")
    canvas.paste(image.convert("RGB"), (10, 25))
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 5), title[:150], fill="black")
    y = image.height + 30
    rng = np.random.default_rng(0)
    colours = [tuple(int(c) for c in rng.integers(60, 230, 3)) for _ in range(lang.num_states)]
    previous = None
    for t, s in enumerate(states.tolist()):
        x = 10 + t * scale
        phone, position = lang.states[s]
        colour = (200, 200, 200) if s in lang.silence else colours[s]
        draw.rectangle([x, y, x + scale - 1, y + 14], fill=colour)
        if s != previous and s not in lang.silence and (previous is None or lang.states[previous][0] != phone
                                                       or position <= lang.states[previous][1]):
            draw.line([(x, 25), (x, y + 14)], fill=(230, 60, 60))
            draw.text((x + 2, y + 17), phone, fill="black")
        previous = s
    draw.text((10, y + 40), "frame-state alignment (best state per 10 ms frame; colour = state, grey = silence; "
                            "red line = a phone starts)", fill="gray")
    canvas.save(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("audio", nargs="*", help="audio files to transcribe")
    parser.add_argument("--split", default=None, choices=reader.SPLITS,
                        help="transcribe this split of --data_dir (the run's) and score it")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--png", default="alignment.png", help="the first file's spectrogram and alignment")
    parser.add_argument("--skip_bad_samples", action="store_true", help="in a split, skip bad utterances and count them")
    args = utils.parse_args(parser, argv)  # the run's settings are read only when they are needed

    predict, lang, frontend, delay = load_predictor(args)
    decoder = LexiconDecoder(lang)
    items = inputs(args, lang)
    refs, hyps, frames = [], [], np.zeros(2)
    for k, (where, u, ref, ali) in enumerate(items):
        try:
            feats = frontend(reader.load_utterance(u))
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{where}: unreadable audio {u.audio}: {str(e)[-80:]}") from None
        posteriors = predict(feats[None], np.array([len(feats)], dtype=np.int64))[0, :len(feats)]
        states = best_states(posteriors, delay)
        text = decoder(states)
        print(f"{u.audio if ref is None else u.utt}\t{text}")
        if k == 0:
            phones = " ".join(p for chunk in collapse(states, lang) for p in chunk)
            png = draw_alignment(feats, states, lang, frontend.context, args.png,
                                 f"{os.path.basename(u.audio)}: {text}   (phones: {phones})")
            print(f"alignment of {u.audio}: {png}", file=sys.stderr)
        if ref is not None:
            refs.append(ref)
            hyps.append(text)
            if ali is not None:
                labels = reader.delay_labels(ali, delay)
                frames += [(posteriors.argmax(-1) == labels).sum(), len(labels)]
    if refs:
        result = rates(error_counts(refs, hyps))
        acc = frames[0] / frames[1] if frames[1] else float("nan")
        print(f"final metrics: frame_acc={acc:.4f} cer={result['cer']:.4f} wer={result['wer']:.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
