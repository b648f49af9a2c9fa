"""Score text pairs: prints `similarity<TAB>query1<TAB>query2` per pair, the similarity in [0, 1].
Texts are words separated by spaces, as in the dataset; a text with no space (raw Chinese) is cut into
words by forward maximum matching over the vocabulary. A text that is mostly unknown words gets a
warning on stderr: its score says little.

From the export of the last run trained in output/ (Paddle Inference; train.sh exports at its end):
    python infer.py --input_file data/demo/infer_data                       # `query1<TAB>query2` lines
    python infer.py --query "手机 多少 钱" --candidate "移动电话 的 价格 是 多少" --candidate "手机 怎么 用"
From a training checkpoint (dynamic graph) instead:
    python infer.py --input_file data/demo/infer_data --checkpoint output/bow_pairwise/best.pdparams
Output line k answers input line k: an empty input line gives an empty output line. A labelled file
(`query1<TAB>query2<TAB>label`) is read too, so infer.py over the test file gives the scores eval.py
computes its metrics from.
"""
import argparse
import json
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

from eval import data_paths
from models import MODELS, build_model
from reader import Vocab, collate_pair, eval_batches, parse_line

MAX_WARNINGS = 5


def read_pairs(args, vocab):
    """[(where, texts or None, id sample or None)] in input order; None keeps the place of an empty
    line (or a bad one skipped with --skip_bad_samples)."""
    if args.query is not None:
        if not args.candidate:
            raise utils.DataError("give at least one --candidate to compare --query with")
        lines = [(f"--candidate {n}", f"{args.query}\t{c}") for n, c in enumerate(args.candidate, 1)]
    elif args.input_file:
        lines = [(f"{args.input_file}:{n}", text) for n, text in utils.read_lines(args.input_file)]
    else:
        raise utils.DataError("no pairs given (pass --input_file, or --query and --candidate)")
    pairs, skipped = [], 0
    for where, line in lines:
        if not line.strip():
            pairs.append((where, None, None))
            continue
        try:
            path, lineno = where.rsplit(":", 1) if args.query is None else (where, 1)
            sample = parse_line(line, path, lineno, "infer", vocab)
        except utils.DataError as e:
            if not args.skip_bad_samples:
                raise
            skipped += 1
            print(f"skipped bad sample: {e}", file=sys.stderr, flush=True)
            pairs.append((where, None, None))
            continue
        pairs.append((where, tuple(line.split("\t")[:2]), sample))
    if skipped:
        print(f"skipped {skipped} bad samples", file=sys.stderr, flush=True)
    return pairs


def warn_about_unknown_words(pairs, vocab):
    """Most words of a text unknown: the model sees (almost) nothing of it."""
    warned = 0
    for where, texts, _ in pairs:
        for name, text in zip(("query1", "query2"), texts or ()):
            unknown, words = vocab.unknown(text)
            if unknown * 2 > words:
                if warned < MAX_WARNINGS:
                    print(f"warning: {where}: {unknown} of {words} words of {name} are not in the vocabulary "
                          f"({text!r}); SimNet expects texts segmented into words separated by spaces, as in "
                          "the dataset (raw Chinese without spaces is cut by forward maximum matching over "
                          "the vocabulary, which fails when the words are not in it)", file=sys.stderr, flush=True)
                warned += 1
    if warned > MAX_WARNINGS:
        print(f"warning: {warned} texts in all are mostly unknown words", file=sys.stderr, flush=True)
    return warned


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_file", default=None, help="`query1<TAB>query2[<TAB>label]` lines")
    parser.add_argument("--query", default=None, help="score this text against each --candidate instead")
    parser.add_argument("--candidate", action="append", default=[], help="a text to compare --query with")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to use ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="score with these weights in the dynamic graph instead")
    parser.add_argument("--data_dir", default="data/demo", help="with --checkpoint: the run's, unless given")
    parser.add_argument("--vocab_file", default=None, help="with --checkpoint: None: the run's copy")
    parser.add_argument("--batch_size", type=int, default=256, help="pairs per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip bad lines (an empty output line each)")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    return parser


def load_predictor(args):
    """(vocabulary, fixed_len, predict(arrays) -> similarities)."""
    if args.checkpoint:  # dynamic graph from a checkpoint of the run
        paddle.set_device("cpu")
        vocab, fixed_len = Vocab(data_paths(args, "test")[0]), MODELS[args.model].fixed_len
        model = utils.load_model(build_model(args.model, len(vocab)), args.checkpoint)
        model.eval()

        def predict(arrays):
            with paddle.no_grad():
                return model.similarity(*[paddle.to_tensor(a) for a in arrays]).numpy()
        return vocab, fixed_len, predict
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        fixed_len = json.load(f)["fixed_len"]
    vocab = Vocab(os.path.join(args.inference_dir, "term2id.dict"))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return vocab, fixed_len, lambda arrays: run(list(arrays))[0]


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.checkpoint or args.inference_dir is None:
        utils.load_run_config(args, keep=("output_dir", "batch_size"))
        args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    vocab, fixed_len, predict = load_predictor(args)
    pairs = read_pairs(args, vocab)
    warn_about_unknown_words(pairs, vocab)
    scored = [i for i, (_, _, sample) in enumerate(pairs) if sample is not None]
    scores = np.zeros(len(pairs), dtype="float32")
    lengths = [max(len(pairs[i][2][0]), len(pairs[i][2][1])) for i in scored]
    for batch in eval_batches(lengths, args.batch_size):
        rows = [scored[i] for i in batch]
        scores[rows] = predict(collate_pair([pairs[i][2][:2] for i in rows], fixed_len))
    results = []
    for (where, texts, sample), score in zip(pairs, scores):
        if sample is None:
            results.append(None)
            print("", flush=True)
            continue
        results.append({"query1": texts[0], "query2": texts[1], "similarity": round(float(score), 6)})
        print(f"{score:.4f}\t{texts[0]}\t{texts[1]}", flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=1)
    return results


if __name__ == "__main__":
    utils.run_main(main)
