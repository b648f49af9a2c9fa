"""Rank candidate responses for dialogue contexts. Prints `score<TAB>rank<TAB>response` per candidate
(score: the model's matching logit; rank: 1 is the best among the candidates of the same context).

From the export of the last run trained in output/ (Paddle Inference; train.sh exports at its end):
    python infer.py --input_file data/demo/test.txt    # dataset layout; the label column is ignored
    python infer.py --context "my vlc has no audio" --context "how do i fix it ?" \
                    --candidate "reinstall vlc and check alsa" --candidate "try gparted on the usb disk"
From a training checkpoint (dynamic graph) instead:
    python infer.py --input_file data/demo/test.txt --checkpoint output/dam_small/best.pdparams
In a file, consecutive lines with the same context are the candidates of one context (any number of
them). Output line k answers input line k; an empty input line gives an empty output line. The
input goes through the reader's own parsing (the same truncation as eval.py), so infer.py over a
dev/test file gives the scores eval.py computes its metrics from.
"""
import argparse
import json
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

from eval import run_files
from models import MODELS, build_model
from reader import Truncation, Vocab, collate, parse_line


def read_candidates(args, vocab, turn_num, turn_len):
    """[(context key or None, response text, sample or None)] in input order."""
    if args.context:
        if not args.candidate:
            raise utils.DataError("give at least one --candidate to rank for --context")
        lines = [(f"--candidate {n}", "\t".join(["0", *args.context, c])) for n, c in enumerate(args.candidate, 1)]
    elif args.input_file:
        lines = [(f"{args.input_file}:{n}", text) for n, text in utils.read_lines(args.input_file)]
    else:
        raise utils.DataError("no input (pass --input_file, or --context and --candidate)")
    rows, truncation, skipped = [], Truncation(), 0
    for where, line in lines:
        if not line.strip():
            rows.append((None, None, None))
            continue
        try:
            sample = parse_line(line, where, vocab, turn_num, turn_len, truncation)
        except utils.DataError as e:
            if not args.skip_bad_samples:
                raise
            skipped += 1
            print(f"skipped bad sample: {e}", file=sys.stderr, flush=True)
            rows.append((None, None, None))
            continue
        fields = line.split("\t")
        rows.append(("\t".join(fields[1:-1]), fields[-1], sample))
    if truncation.samples:
        print(f"note: {truncation}", file=sys.stderr, flush=True)
    if skipped:
        print(f"skipped {skipped} bad samples", file=sys.stderr, flush=True)
    return rows


def ranks(rows, scores):
    """1-based rank of each candidate among the consecutive lines sharing its context."""
    result = [0] * len(rows)
    start = 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and rows[start][0] is not None and rows[end][0] == rows[start][0]:
            end += 1
        if rows[start][0] is not None:
            order = np.argsort(-scores[start:end], kind="stable")
            for r, i in enumerate(order, 1):
                result[start + i] = r
        start = end
    return result


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_file", default=None, help="lines in the dataset layout (label, turns, response)")
    parser.add_argument("--context", action="append", default=[], help="one turn of the context (repeat, in order)")
    parser.add_argument("--candidate", action="append", default=[], help="a response to rank for --context")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to use ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="score with these weights in the dynamic graph instead")
    parser.add_argument("--data_dir", default="data/demo", help="with --checkpoint: the run's, unless given")
    parser.add_argument("--batch_size", type=int, default=64, help="candidates per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip bad lines (an empty output line each)")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    return parser


def load_predictor(args):
    """(vocab, turn_num, turn_len, predict(arrays) -> logits)."""
    if args.checkpoint:
        paddle.set_device("cpu")
        vocab = Vocab(run_files(args)["vocab"])  # the run's settings, filled in by main()
        model = build_model(args.model, len(vocab), args.dataset, args.max_turn_num, args.max_turn_len)
        utils.load_model(model, args.checkpoint)
        model.eval()

        def predict(arrays):
            with paddle.no_grad():
                return model(*[paddle.to_tensor(a) for a in arrays]).numpy()
        return vocab, args.max_turn_num, args.max_turn_len, predict
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    vocab = Vocab(os.path.join(args.inference_dir, "vocab.txt"))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return vocab, cfg["max_turn_num"], cfg["max_turn_len"], lambda arrays: run(list(arrays))[0]


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    # the run's data settings (read with --checkpoint; the export carries its own)
    args.dataset, args.max_turn_num, args.max_turn_len = "ubuntu", 9, 50
    args.vocab_file = args.dev_file = args.test_file = None
    if args.checkpoint or args.inference_dir is None:
        utils.load_run_config(args, keep=("output_dir", "batch_size"))
        args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    vocab, turn_num, turn_len, predict = load_predictor(args)
    rows = read_candidates(args, vocab, turn_num, turn_len)
    scored = [i for i, row in enumerate(rows) if row[2] is not None]
    scores = np.zeros(len(rows), dtype="float32")
    for start in range(0, len(scored), args.batch_size):
        batch = scored[start:start + args.batch_size]
        scores[batch] = predict(collate([rows[i][2] for i in batch])[:4])
    rank = ranks(rows, scores)
    results = []
    for (context, response, sample), score, r in zip(rows, scores, rank):
        if sample is None:
            results.append(None)
            print("", flush=True)
            continue
        results.append({"response": response, "score": round(float(score), 6), "rank": r})
        print(f"{score:.4f}\t{r}\t{response}", flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=1)
    return results


if __name__ == "__main__":
    utils.run_main(main)
