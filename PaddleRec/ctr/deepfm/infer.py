"""Score raw Criteo lines: writes one click probability per input line.

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py data/demo/test.txt --inference_dir output/inference --output output/predictions.txt
From a training checkpoint (dynamic graph):
    python infer.py data/demo/test.txt --model MODEL --checkpoint output/MODEL/best.pdparams

A file may hold labelled lines (40 fields, like train.txt) or unlabelled ones (39, like Kaggle's
test.txt). For labelled files the AUC and log loss are printed too: infer.py over the valid files
gives the eval.py figures. Bad lines stop with their file and line, or with --skip_bad_samples are
written as `nan` so that output line k still belongs to input line k.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from models import MODELS
from eval import load_trained


def predictor(args):
    """(function from (sparse_ids, dense) arrays to probabilities, encoder)."""
    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        model, encoder = load_trained(args.model, args.checkpoint or os.path.join("output", args.model, "best.pdparams"))
        model.eval()

        def predict(ids, dense):
            with paddle.no_grad():
                return F.sigmoid(model(paddle.to_tensor(ids), paddle.to_tensor(dense))).numpy()[:, 0]
        return predict, encoder
    cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
    if not os.path.isfile(cfg_path):
        raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
    with open(cfg_path) as f:
        cfg = json.load(f)
    encoder = reader.Encoder(reader.FeatureVocab.load(os.path.join(args.inference_dir, "vocab.json")),
                             cfg["dense_scaling"])
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda ids, dense: run([ids, dense])[0][:, 0]), encoder


def labelled(path):
    """True for 40-field lines, False for 39 (decided by the first line)."""
    with open(path, "rb") as f:
        first = f.readline()
    if not first:
        raise utils.DataError(f"{path}:0: file is empty")
    return first.count(b"\t") == reader.NUM_COLUMNS - 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="files of raw Criteo lines")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--output", default="output/predictions.txt", help="one probability per input line")
    parser.add_argument("--batch_size", type=int, default=1000)
    parser.add_argument("--skip_bad_samples", action="store_true")
    args = parser.parse_args()

    predict, encoder = predictor(args)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    scores, labels, bad = [], [], 0
    with open(args.output, "w") as out:
        for path in args.files:
            has_label = labelled(path)
            cursor = reader.LineCursor([path])
            while True:
                records = cursor.take(args.batch_size)
                if not records:
                    break
                ids, dense, y, kept, errors = encoder.encode(records, has_label, args.skip_bad_samples)
                probs = np.full(len(records), np.nan)
                if kept:
                    probs[kept] = predict(ids, dense)
                    scores.append(probs[kept])
                    if has_label:
                        labels.append(y)
                for message in errors:
                    print(f"skipped bad sample: {message}", flush=True)
                bad += len(errors)
                out.writelines(f"{p:.6f}\n" for p in probs)
    scores = np.concatenate(scores) if scores else np.zeros(0)
    print(f"wrote {len(scores) + bad} click probabilities to {args.output}: mean {np.mean(scores):.4f}"
          + (f", {bad} bad lines written as nan" if bad else ""), flush=True)
    if labels and sum(len(y) for y in labels) == len(scores):  # every file was labelled
        y = np.concatenate(labels)
        metric = paddle.metric.Auc(num_thresholds=4095)  # the same AUC as eval.py
        metric.update(np.stack([1 - scores, scores], axis=1), y[:, None])
        p = np.clip(scores, 1e-12, 1 - 1e-12)
        logloss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        print(f"labelled lines: auc {metric.accumulate():.4f} logloss {logloss:.4f}", flush=True)

if __name__ == "__main__":
    utils.run_main(main)
