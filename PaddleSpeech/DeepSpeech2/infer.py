"""Transcribe your own audio files (wav, flac, anything soundfile reads; any sample rate, resampled to
16 kHz; stereo mixed down): prints `file<TAB>transcript` for each, and draws the first file's
spectrogram with its greedy CTC alignment (the character each output frame votes for) into a PNG.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference);
an export older than its checkpoint is refused:
    python infer.py my_recording.wav other.flac
    python infer.py --decoder beam --lm data/demo/char_lm.json my_recording.wav
From a training checkpoint (dynamic graph), or from another export:
    python infer.py --checkpoint output/deepspeech2_tiny/best.pdparams my_recording.wav
    python infer.py --inference_dir output/deepspeech2_tiny/inference my_recording.wav

--manifest transcribes a manifest's utterances instead and, since it holds the transcripts, prints
the WER and CER as eval.py does.
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
from eval import Decoder, add_decoding_flags, fill_from_run, load_run, run_flags
from metric import error_counts, rates


def load_predictor(args):
    """(predict(feats [1, T, F], lengths [1]) -> (log_probs, out_lengths), vocab, normalizer, feature)."""
    if args.checkpoint and not args.inference_dir:  # dynamic graph from a checkpoint
        fill_from_run(args)
        paddle.set_device("cpu")
        model, vocab, normalizer, _ = load_run(args)

        def predict(feats, lengths):
            with paddle.no_grad():
                logits, out_lengths = model(paddle.to_tensor(feats), paddle.to_tensor(lengths))
                return F.log_softmax(logits, axis=-1).numpy(), out_lengths.numpy()
        return predict, vocab, normalizer, args.feature

    if not args.inference_dir:  # the export of the last run trained in OUTPUT_DIR (or of --model's)
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    vocab = reader.Vocab.load(os.path.join(args.inference_dir, reader.VOCAB_FILE))
    normalizer = reader.Normalizer(os.path.join(args.inference_dir, reader.MEAN_STD_FILE))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda feats, lengths: tuple(run([feats, lengths])), vocab, normalizer, cfg["feature"]


def inputs(args, vocab):
    """[(where, audio path, reference text or None)] from the command line or --manifest; every file is
    checked (exists, is audio, not empty) before the first is transcribed."""
    items = []
    if args.manifest:
        for e in reader.load_split(args.manifest, vocab, args, verbose=False):
            items.append((e.where, e.audio, e.text))
    for path in args.audio:
        entry = reader.Entry(path, 0, path, 0.0, "")
        try:
            reader.check_audio(entry)
        except utils.DataError as e:  # name the file alone, not a manifest line
            raise utils.DataError(str(e).replace(f"{path}:0: ", f"{path}: ", 1)) from None
        items.append((path, path, None))
    if not items:
        raise utils.DataError("nothing to transcribe; give audio files or --manifest")
    return items


def draw_alignment(feats, log_probs, vocab, path, title):
    """The (normalised) spectrogram, low frequencies at the bottom, and under it the greedy alignment:
    each output frame (3 input frames) marked with the character it votes for (blank: nothing)."""
    from PIL import Image, ImageDraw
    spec = feats.T[::-1]
    lo, hi = np.percentile(spec, [2, 98])
    gray = (np.clip((spec - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)
    scale = max(1, 900 // max(spec.shape[1], 1))
    image = Image.fromarray(gray).resize((spec.shape[1] * scale, spec.shape[0] * 2))
    canvas = Image.new("RGB", (image.width + 20, image.height + 70), "white")
    canvas.paste(image.convert("RGB"), (10, 25))
    draw = ImageDraw.Draw(canvas)
    draw.text((10, 5), title[:140], fill="black")
    best = log_probs.argmax(axis=1)
    y = image.height + 30
    for t, label in enumerate(best.tolist()):
        x = 10 + int((3 * t + 1.5) * scale)
        if label != vocab.blank:
            char = vocab.chars[label]
            draw.line([(x, 25), (x, y)], fill=(230, 60, 60))
            draw.text((x - 3, y + 2), "_" if char == " " else char, fill="black")
    draw.text((10, y + 22), "greedy CTC alignment: red lines = output frames that emit a character (others: blank)",
              fill="gray")
    canvas.save(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("audio", nargs="*", help="audio files to transcribe")
    parser.add_argument("--manifest", default=None, help="transcribe a manifest's utterances and score them")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--png", default="alignment.png", help="the first file's spectrogram and alignment")
    parser.add_argument("--skip_bad_samples", action="store_true", help="in a manifest, skip bad lines and count them")
    add_decoding_flags(parser)
    args = utils.parse_args(parser, argv)  # the run's settings are read only when they are needed

    predict, vocab, normalizer, feature = load_predictor(args)
    decoder = Decoder(vocab, args)
    items = inputs(args, vocab)
    refs, hyps = [], []
    for k, (where, path, ref) in enumerate(items):
        try:
            feats = normalizer(reader.features(reader.load_audio(path), feature))
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{where}: unreadable audio {path}: {str(e)[-80:]}") from None
        log_probs, out_lengths = predict(feats[None], np.array([len(feats)], dtype=np.int64))
        log_probs = log_probs[0, :int(out_lengths[0])]
        text = decoder(log_probs)
        print(f"{path}\t{text}")
        if k == 0:
            png = draw_alignment(feats, log_probs, vocab, args.png, f"{os.path.basename(path)}: {text}")
            print(f"alignment of {path}: {png}", file=sys.stderr)
        if ref is not None:
            refs.append(ref)
            hyps.append(text)
    if refs:
        result = rates(error_counts(refs, hyps))
        print(f"final metrics: wer={result['wer']:.4f} cer={result['cer']:.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
