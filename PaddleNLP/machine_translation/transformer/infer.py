"""Translate your own sentences: a file, arguments, or standard input.

From the export of the last run trained in output/ (Paddle Inference; train.sh exports at its end):
    python infer.py "the old dog sees a red bird ."
    python infer.py --input_file sentences.txt --output translations.txt
    cat sentences.txt | python infer.py
From a training checkpoint (dynamic graph) instead:
    python infer.py --checkpoint output/small/best.pdparams "the old dog sees a red bird ."

Input is what the run was trained on: for the release's layout, tokenized and BPE-applied source
text (a line with a tab is read as `source TAB target` and its first field translated, so the
split files themselves can be given); with a sentencepiece run, raw text. `--ids` reads lines of
token ids instead. A sentence longer than the run's max_length is truncated, with a warning naming
the line. Output line k translates input line k (an empty line for an empty input line): the
tokenized text with BPE removed (what the release's predict.py + sed wrote), or with --detokenize
(and always for raw text) detokenized text. Beam search (beam 5, alpha 0.6) unless --beam_size 1.
"""
import argparse
import json
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import decode
import reader
from model import CONFIGS, MODELS, build_model, configure_threads


def load_translator(args):
    """(tokenizer, decoder, max_length) from --checkpoint (dynamic graph) or the export."""
    if args.checkpoint:
        paddle.set_device("cpu")
        configure_threads(CONFIGS[args.model])
        tokenizer = reader.run_tokenizer(os.path.join(args.output_dir, args.model), args.trg_lang)
        vocab = tokenizer.vocab
        model = build_model(args.model, len(vocab), vocab.bos_id, vocab.eos_id, max_length=args.max_length)
        utils.load_model(model, args.checkpoint)
        model.eval()
        return tokenizer, decode.CachedDecoder(model), args.max_length
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    tokenizer = reader.run_tokenizer(args.inference_dir, cfg["trg_lang"])
    return tokenizer, decode.PredictorDecoder(args.inference_dir), cfg["max_length"]


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


def encode_inputs(inputs, tokenizer, max_length, ids_input=False):
    """Source id arrays (ending with <e>), None for an empty line; long ones truncated with a warning."""
    vocab, sources = tokenizer.vocab, []
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
            wrong = [i for i in ids if not 0 <= i < len(vocab)]
            if wrong:
                raise utils.DataError(f"{where}: id {wrong[0]} is outside the vocabulary ({len(vocab)} entries)")
        else:
            ids = tokenizer.encode(text)
        if len(ids) + 1 > max_length:
            print(f"warning: {where}: {len(ids)} tokens, truncated to the model's max_length {max_length} "
                  "(with <e>)", file=sys.stderr, flush=True)
            ids = ids[:max_length - 1]
        sources.append(np.asarray(ids + [vocab.eos_id], dtype=np.int64))
    return sources


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences to translate (none and no --input_file: stdin)")
    parser.add_argument("--input_file", default=None, help="translate this file, one sentence a line")
    parser.add_argument("--output", default=None, help="write the translations here instead of stdout")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to use ({', '.join(MODELS)}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="translate with these weights in the dynamic graph instead")
    parser.add_argument("--beam_size", type=int, default=5, help="beam width (1: greedy)")
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences decoded together")
    parser.add_argument("--ids", action="store_true", help="input lines are token ids, not text")
    parser.add_argument("--detokenize", action="store_true", help="print detokenized text (BPE layout)")
    parser.add_argument("--max_length", type=int, default=256, help="(with --checkpoint) the run's, from the run")
    parser.add_argument("--trg_lang", default="de", help="(with --checkpoint) the run's, from the run")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.checkpoint or args.inference_dir is None:
        utils.load_run_config(args)
        args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    return args


def main(argv=None):
    args = get_args(argv)
    inputs = read_inputs(args)
    tokenizer, decoder, max_length = load_translator(args)
    sources = encode_inputs(inputs, tokenizer, max_length, args.ids)
    present = [i for i, s in enumerate(sources) if s is not None]
    outputs = decode.translate(decoder, [sources[i] for i in present], tokenizer.vocab.eos_id, max_length,
                               args.beam_size, args.alpha, args.batch_size, pad_id=tokenizer.vocab.bos_id,
                               what="translate")
    results = [""] * len(inputs)
    for i, ids in zip(present, outputs):
        tokenized, detokenized = tokenizer.to_text(ids)
        results[i] = detokenized if (args.detokenize or tokenizer.spm) else tokenized
    text = "".join(r + "\n" for r in results)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {len(results)} translations to {args.output}", file=sys.stderr, flush=True)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return results


if __name__ == "__main__":
    utils.run_main(main)
