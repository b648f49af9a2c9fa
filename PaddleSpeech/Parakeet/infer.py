"""Synthesise your own sentences: text -> acoustic model -> mel -> wav. For each sentence OUT_DIR gets
<n>.wav, <n>_mel.png (the predicted log mel, low frequencies at the bottom) and <n>_alignment.png (the
attention: characters up, decoder frames right). The wav comes from the exported vocoder given by
--vocoder (e.g. output/WaveFlow/inference, what `TASK=vocoder bash train.sh` wrote), else from Griffin-Lim
(audio.griffin_lim).

When the run (or --inference_dir) is a vocoder, the inputs are mel files instead of sentences: a
feature-cache .npz (its `mel`) or a .npy [80, frames]; each gives <n>.wav and <n>_mel.png.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference), an
export older than its checkpoint is refused:
    python infer.py "bepe muke labi?" "zapi de noshe."
    python infer.py --text_file sentences.txt --out_dir synth
From a training checkpoint (dynamic graph):
    python infer.py --checkpoint output/TransformerTTS/best.pdparams "bepe muke labi?"

--split dev|test synthesises that split's sentences instead and, since their true mels are known,
prints the mel L1 as eval.py does (over the run's --eval_samples first sentences).
"""
import argparse
import json
import os
import sys
from types import SimpleNamespace

import utils  # first: it silences the warning `import paddle` prints
import numpy as np

import reader
import text as textlib
from train import VOCODER_MODELS, family_of, model_from_argv


def draw_matrix(matrix, path, title, scale=3):
    """A matrix as a grey image (bright = high), row 0 at the bottom, with a title line."""
    from PIL import Image, ImageDraw
    m = np.asarray(matrix, dtype=np.float64)[::-1]
    lo, hi = np.percentile(m, [1, 99.5])
    gray = (np.clip((m - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)
    image = Image.fromarray(gray).resize((m.shape[1] * scale, m.shape[0] * scale), Image.NEAREST)
    canvas = Image.new("RGB", (max(image.width + 20, 420), image.height + 35), "white")
    canvas.paste(image.convert("RGB"), (10, 25))
    ImageDraw.Draw(canvas).text((10, 6), title[:120], fill="black")
    canvas.save(path)
    return path


def load_vocoder(args):
    """mel [80, frames] -> wav: the exported vocoder of --vocoder, else Griffin-Lim."""
    import audio
    if not args.vocoder:
        return lambda mel: audio.griffin_lim(mel, args.griffin_lim_iters)
    utils.check_export(args.vocoder)
    run = utils.create_predictor(os.path.join(args.vocoder, "model"))
    return lambda mel: run([np.asarray(mel, dtype=np.float32)[None]])[0][0]


def vocode_files(args, synthesize):
    """A vocoder run: mel files in, wavs and mel PNGs out."""
    import audio
    import soundfile
    if not args.text:
        raise utils.DataError("nothing to vocode; give feature .npz or mel .npy files")
    os.makedirs(args.out_dir, exist_ok=True)
    for n, path in enumerate(args.text):
        try:
            if path.endswith(".npz"):
                with np.load(path) as f:
                    mel = f["mel"]
            else:
                mel = np.load(path)
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{path}: not a mel file ({str(e)[-80:]})") from None
        wav = synthesize(np.asarray(mel, dtype=np.float32))
        stem = os.path.join(args.out_dir, f"{n:03d}")
        soundfile.write(stem + ".wav", wav, audio.SAMPLE_RATE)
        draw_matrix(mel, stem + "_mel.png", f"{os.path.basename(path)}")
        print(f"{path}\t{stem}.wav\t{len(wav)} samples", flush=True)


def load_synthesizer(args):
    """(synthesize(ids) -> (mel [80, frames], alignment [frames, L]), run settings)."""
    if args.checkpoint and not args.inference_dir:
        import paddle
        from eval import fill_from_run, load_run
        fill_from_run(args)
        paddle.set_device("cpu")
        model, _ = load_run(args)
        family = family_of(args.model)
        return lambda ids: family.synthesize(args, model, [ids])[0], args
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(args.inference_dir)
    config = SimpleNamespace(**info["config"])
    family = family_of(config.model)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    if config.model in VOCODER_MODELS:
        return lambda mel: run([mel[None]])[0][0], config
    return lambda ids: family.synthesize_exported(run, ids, config), config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("text", nargs="*", help="sentences to speak")
    parser.add_argument("--text_file", default=None, help="more sentences, one a line")
    parser.add_argument("--split", default=None, choices=["dev", "test"], help="synthesise and score a split")
    parser.add_argument("--model", default=None, help="model of the run (unset: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--checkpoint", default=None, help="synthesise from these weights in the dynamic graph")
    parser.add_argument("--inference_dir", default=None, help="an export (unset: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--data_dir", default=None, help="--split: the dataset (unset: the run's)")
    parser.add_argument("--out_dir", default="synth", help="where the wavs and PNGs go")
    parser.add_argument("--griffin_lim_iters", type=int, default=32, help="Griffin-Lim iterations")
    parser.add_argument("--vocoder", default=None,
                        help="an exported vocoder (e.g. output/WaveFlow/inference) to turn the mels into wavs; "
                        "unset: Griffin-Lim")
    argv = sys.argv[1:] if argv is None else argv
    if "--checkpoint" in argv:  # the dynamic graph needs the model's own flags, filled from the run
        from eval import run_flags
        run_flags(parser, argv)
    args = utils.parse_args(parser, argv)
    args.model = args.model or model_from_argv(argv, None)
    synthesize, config = load_synthesizer(args)
    if config.model in VOCODER_MODELS:
        return vocode_files(args, synthesize)
    to_wav = load_vocoder(args)
    sentences = list(args.text)
    if args.text_file:
        sentences += [line for _, line in utils.read_lines(args.text_file) if line.strip()]
    targets = []
    if args.split:
        data_dir = args.data_dir or config.data_dir
        dataset = reader.TextMelDataset(data_dir, args.split)
        n = len(dataset) if not getattr(config, "eval_samples", 0) else min(config.eval_samples, len(dataset))
        for k in range(n):
            sentences.append(dataset.items[k].text)
            targets.append(dataset[k][1])
    if not sentences:
        raise utils.DataError("nothing to say; give sentences, --text_file or --split")
    import audio
    os.makedirs(args.out_dir, exist_ok=True)
    l1_sum, frames_sum = 0.0, 0
    for n, sentence in enumerate(sentences):
        ids, dropped = textlib.text_to_ids(sentence)
        if dropped:
            print(f"note: sentence {n + 1}: {sum(dropped.values())} characters outside the symbol set dropped "
                  f"({''.join(sorted(dropped))!r})", file=sys.stderr)
        mel, alignment = synthesize(ids)
        if n <= len(sentences) - len(targets):  # the user's, and the first of a split
            stem = os.path.join(args.out_dir, f"{n:03d}")
            import soundfile
            soundfile.write(stem + ".wav", to_wav(mel), audio.SAMPLE_RATE)
            draw_matrix(mel, stem + "_mel.png", f"{config.model}: {sentence}")
            draw_matrix(np.asarray(alignment).T, stem + "_alignment.png", f"alignment (chars up, frames right): {sentence}")
            print(f"{sentence}\t{stem}.wav\t{mel.shape[1]} frames", flush=True)
        k = n - (len(sentences) - len(targets))
        if k >= 0:
            import acoustic
            true = targets[k]
            l1_sum += float(np.abs(acoustic.stretch(np.asarray(mel).T, len(true)) - true).sum())
            frames_sum += len(true)
    if targets:
        print(f"final metrics: mel_l1={l1_sum / (frames_sum * true.shape[1]):.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
