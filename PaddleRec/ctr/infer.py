"""Score raw Criteo lines: writes one click probability per input line.

    python infer.py data/demo/test.txt          # the last run's export (OUTPUT_DIR/MODEL/inference/)
    python infer.py my_lines.txt --model dcn    # another run's export
    python infer.py data/demo/valid/part-00000 --checkpoint output/deepfm/best.pdparams   # dynamic graph

A file may hold labelled lines (40 fields, like train.txt) or unlabelled ones (39, like Kaggle's
test.txt). For labelled files the AUC and log loss are printed too: infer.py over the valid files
gives the eval.py figures (the same encoder and metric). Output line k belongs to input line k: an
empty input line gives an empty output line, and with --skip_bad_samples a bad line gives `nan`.
When most categorical values of the input are not in the vocabulary, a warning says so (stderr).
"""
import argparse
import os
import sys

import utils  # first: it silences Paddle's import-time warnings
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from eval import HelpFormatter, load_trained
from models import MODELS


def predictor(args):
    """(function from (sparse_ids, dense) arrays to probabilities, encoder)."""
    if args.checkpoint:  # dynamic graph from a checkpoint, with the run's settings
        paddle.set_device("cpu")
        model, encoder = load_trained(args, args.checkpoint)
        model.eval()

        def predict(ids, dense):
            with paddle.no_grad():
                return F.sigmoid(model(paddle.to_tensor(ids), paddle.to_tensor(dense))).numpy()[:, 0]
        return predict, encoder
    inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(inference_dir)
    encoder = reader.Encoder(reader.FeatureVocab.load(os.path.join(inference_dir, "vocab.json")),
                             info["config"]["dense_scaling"])
    run = utils.create_predictor(os.path.join(inference_dir, "model"))
    return (lambda ids, dense: run([ids, dense])[0][:, 0]), encoder


def labelled(path):
    """True for 40-field lines, False for 39 (decided by the first non-empty line)."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for raw in f:
            if raw.strip():
                return raw.count(b"\t") == reader.NUM_COLUMNS - 1
    raise utils.DataError(f"{path}: no lines to score")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("files", nargs="+", help="files of raw Criteo lines")
    parser.add_argument("--model", default=None, choices=MODELS, metavar="NAME",
                        help=f"the run to use: {', '.join(MODELS)} (default: the last one trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the runs are (OUTPUT_DIR/MODEL/)")
    parser.add_argument("--inference_dir", default=None, help="an export (default: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="use this checkpoint in the dynamic graph instead of the export")
    parser.add_argument("--dense_scaling", choices=reader.DENSE_SCALINGS, default=None,
                        help="with --checkpoint (default: the run's)")
    parser.add_argument("--output", default=None, help="one probability per input line (default: OUTPUT_DIR/MODEL/predictions.txt)")
    parser.add_argument("--batch_size", type=int, default=1000, help="lines per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="write nan for bad lines instead of stopping")
    return parser


def get_args(argv=None):
    return utils.load_run_config(utils.parse_args(build_parser(), argv), keep=("output_dir", "batch_size", "skip_bad_samples"))


def main(argv=None):
    args = get_args(argv)
    predict, encoder = predictor(args)
    output = args.output or os.path.join(args.output_dir, args.model, "predictions.txt")
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    scores, labels, bad, lines = [], [], 0, 0
    with open(output, "w") as out:
        for path in args.files:
            has_label = labelled(path)
            cursor = reader.LineCursor([path])
            while records := cursor.take(args.batch_size):
                lines += len(records)
                texts = [r for r in records if r[2].strip()]
                ids, dense, y, kept, errors = encoder.encode(texts, has_label, args.skip_bad_samples)
                probs = np.full(len(texts), np.nan)
                if kept:
                    probs[kept] = predict(ids, dense)
                    scores.append(probs[kept])
                    if has_label:
                        labels.append(y)
                for message in errors:
                    print(f"skipped bad sample: {message}", file=sys.stderr, flush=True)
                bad += len(errors)
                it = iter(f"{p:.6f}" for p in probs)
                out.writelines((next(it) if r[2].strip() else "") + "\n" for r in records)
    scores = np.concatenate(scores) if scores else np.zeros(0)
    print(f"wrote {lines} lines to {output}: {len(scores)} click probabilities, mean {np.mean(scores):.4f}"
          + (f", {bad} bad lines written as nan" if bad else ""), flush=True)
    if encoder.values_seen and encoder.values_unknown > 0.5 * encoder.values_seen:
        print(f"warning: {encoder.values_unknown} of the {encoder.values_seen} categorical values are not in the "
              f"vocabulary; expected raw Criteo lines (label, 13 integers, 26 8-hex-digit values, tab-separated) "
              f"like the training data", file=sys.stderr, flush=True)
    result = None
    if labels and sum(len(y) for y in labels) == len(scores):  # every file was labelled
        y = np.concatenate(labels)
        metric = paddle.metric.Auc(num_thresholds=4095)  # the same AUC as eval.py
        metric.update(np.stack([1 - scores, scores], axis=1), y[:, None])
        p = np.clip(scores, 1e-12, 1 - 1e-12)
        result = {"auc": float(metric.accumulate()), "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}
        print(f"labelled lines: auc {result['auc']:.4f} logloss {result['logloss']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
