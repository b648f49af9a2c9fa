"""Translate your own sentences: arguments, a file, or standard input.

From the export of the last run trained in output/ (Paddle Inference; train.sh exports at its end):
    python infer.py "the old dog sees a red bird ."
    python infer.py --input_file sentences.txt --output translations.txt
    cat sentences.txt | python infer.py
From a training checkpoint (dynamic graph) instead:
    python infer.py --checkpoint output/attention_seq2seq/best.pdparams "the old dog sees a red bird ."

Input is tokenized source text, as the run's files hold it (a line with a tab is read as `source
TAB target` and its first field translated); `--ids` reads lines of source token ids instead, and an
id outside the vocabulary stops with the line. A sentence longer than the run's max_len is
truncated, with a warning naming the line. Output line k translates input line k (an empty line for
an empty input line). Beam search (beam 10) unless --beam_size 1.
"""
import argparse
import json
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import numpy as np

import decode
import eval as evaluation
import reader
import vae


def load_translator(args):
    """(source vocabulary, target vocabulary, decoder, max_len) from --checkpoint or the export."""
    if args.checkpoint:
        utils.setup(argparse.Namespace(device="cpu", seed=42))
        model, src_vocab, trg_vocab, _ = evaluation.load_run_model(args, args.checkpoint)
        return src_vocab, trg_vocab, decode.ModelDecoder(model), args.max_len
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    src_vocab, trg_vocab = reader.run_vocabs(args.inference_dir)
    return src_vocab, trg_vocab, decode.PredictorDecoder(args.inference_dir), cfg["max_len"]


def read_inputs(args):
    """[(where, text)] in input order: the arguments, then --input_file, or standard input."""
    inputs = [(f"argument {i}", s) for i, s in enumerate(args.sentences, 1)]
    if args.input_file:
        inputs += [(f"{args.input_file}:{n}", text) for n, text in utils.read_lines(args.input_file)]
    elif not inputs:
        raw = sys.stdin.buffer.read().split(b"\n")
        if raw and raw[-1] == b"":
            raw.pop()
        for n, line in enumerate(raw, 1):
            try:
                inputs.append((f"<stdin>:{n}", line.decode("utf-8").rstrip("\r")))
            except UnicodeDecodeError as e:
                raise utils.DataError(f"<stdin>:{n}: not UTF-8 text (byte {e.start + 1} of the line)") from None
    if not inputs:
        raise utils.DataError("<stdin>:1: no sentences given (pass them as arguments, --input_file or on stdin)")
    return inputs


def encode_inputs(inputs, src_vocab, max_len, ids_input=False):
    """Source id arrays (ending with </s>), None for an empty line; long ones truncated with a warning."""
    sources = []
    for where, text in inputs:
        text = text.split("\t")[0].strip()
        if not text:
            sources.append(None)
            continue
        if ids_input:
            try:
                ids = [int(t) for t in text.split()]
            except ValueError:
                raise utils.DataError(f"{where}: --ids expects token ids, found {text.split()[0]!r}") from None
            wrong = [i for i in ids if not 0 <= i < len(src_vocab)]
            if wrong:
                raise utils.DataError(f"{where}: id {wrong[0]} is outside the source vocabulary "
                                      f"({len(src_vocab)} entries)")
        else:
            ids = src_vocab.encode(text)
        if len(ids) > max_len:
            print(f"warning: {where}: {len(ids)} tokens, truncated to the run's max_len {max_len}",
                  file=sys.stderr, flush=True)
            ids = ids[:max_len]
        sources.append(np.asarray(ids + [reader.EOS_ID], dtype=np.int64))
    return sources


def build_parser():
    parser = evaluation.build_parser()
    parser.description = __doc__
    parser.add_argument("sentences", nargs="*", help="sentences to translate (none and no --input_file: stdin)")
    parser.add_argument("--input_file", default=None, help="translate this file, one sentence a line")
    parser.add_argument("--output", default=None, help="write the translations here instead of stdout")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--ids", action="store_true", help="input lines are source token ids, not text")
    g = parser.add_argument_group("vae (--model vae runs)")
    g.add_argument("--sample", type=int, default=5, help="sentences decoded from z drawn from the prior")
    g.add_argument("--greedy", action="store_true", help="decode the samples greedily instead of drawing every word")
    g.add_argument("--interpolate", action="store_true",
                   help="decode --interp_steps points between the posterior means of the two given sentences")
    g.add_argument("--interp_steps", type=int, default=5, help="points of the interpolation, ends included")
    for action in parser._actions:
        if action.dest == "checkpoint":
            action.help = "translate with these weights in the dynamic graph instead of the export"
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.checkpoint or args.inference_dir is None:
        utils.load_run_config(args)
        args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    return args


def main(argv=None):
    args = get_args(argv)
    if args.model == "vae":
        return infer_vae(args)
    inputs = read_inputs(args)
    src_vocab, trg_vocab, decoder, max_len = load_translator(args)
    sources = encode_inputs(inputs, src_vocab, max_len, args.ids)
    present = [i for i, s in enumerate(sources) if s is not None]
    outputs = decode.translate(decoder, [sources[i] for i in present], reader.EOS_ID, args.beam_size, args.alpha,
                               args.batch_size, reader.PAD_ID, what="translate")
    results = [""] * len(inputs)
    for i, ids in zip(present, outputs):
        results[i] = trg_vocab.decode(ids)
    text = "".join(r + "\n" for r in results)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {len(results)} translations to {args.output}", file=sys.stderr, flush=True)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return results


def infer_vae(args):
    """Sentences from the prior (every word drawn, or --greedy), or an interpolation in latent space
    decoded greedily; with the export unless --checkpoint (the posterior means come from the run's
    checkpoint)."""
    utils.setup(argparse.Namespace(device="cpu", seed=args.seed))
    if args.checkpoint:
        model, vocab, _, _ = evaluation.load_run_model(args, args.checkpoint)
        start, step = vae.model_fns(model)
    else:
        info = utils.check_export(args.inference_dir)
        vocab = reader.Vocabulary.load(os.path.join(args.inference_dir, "vocab.trg.txt"))
        start, step = vae.predictor_fns(args.inference_dir)
        model = None
    if args.interpolate:
        if len(args.sentences) != 2:
            raise utils.DataError(f"argument {len(args.sentences) + 1}: --interpolate takes exactly two sentences")
        if model is None:
            model, _, _, _ = evaluation.load_run_model(args, info["checkpoint"])
        a, b = vae.posterior_means(model, args.sentences, vocab.ids)
        z = np.stack([(1 - t) * a + t * b for t in np.linspace(0, 1, args.interp_steps)]).astype("float32")
        rng = None
    else:
        rng = np.random.RandomState(args.seed)
        z = rng.standard_normal((args.sample, args.latent_size)).astype("float32")
        rng = None if args.greedy else rng
    results = [vocab.decode(ids) for ids in vae.decode_from_z(step, start, z, args.max_len, rng)]
    text = "".join(r + "\n" for r in results)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return results


if __name__ == "__main__":
    utils.run_main(main)
