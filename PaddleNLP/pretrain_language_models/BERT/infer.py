"""Classify your own sentence pairs: prints, for each, the label and the probability of every label.

From the export of the last classify run (what `bash train.sh` wrote; Paddle Inference, oneDNN on CPU);
an export older than its checkpoint is refused:
    python infer.py --pair "miri lives in paris ." "miri lives in a city in france ."
    python infer.py --input_file pairs.tsv     # a tsv in the dataset layout: its accuracy is printed too
From a training checkpoint (dynamic graph):
    python infer.py --checkpoint output/classify/bert-mini/latest.pdckpt --pair "..." "..."

A dataset file goes through the same reader and encoding as eval.py, so infer.py over dev.tsv prints
the accuracy eval.py --split dev prints.
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
from eval import load_run, run_flags
from tokenizer import Tokenizer


def load_predictor(args):
    """(predict(ids, types) -> probabilities, tokenizer, labels); sets args.max_seq_len."""
    if args.checkpoint and not args.inference_dir:
        paddle.set_device("cpu")
        model, tokenizer, labels = load_run(args)

        def predict(ids, types):
            with paddle.no_grad():
                return F.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(types)), axis=-1).numpy()
        return predict, tokenizer, labels
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        args.max_seq_len = json.load(f)["max_seq_len"]
    tokenizer = Tokenizer(os.path.join(args.inference_dir, "vocab.txt"))
    labels = [l for _, l in utils.read_lines(os.path.join(args.inference_dir, "labels.txt")) if l]
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda ids, types: run([ids, types])[0], tokenizer, labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("SENTENCE1", "SENTENCE2"),
                        help="a sentence pair (repeatable)")
    parser.add_argument("--input_file", default=None, help="a tsv in the dataset layout (header with "
                        "sentence1, sentence2, label columns)")
    run_flags(parser, argv)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=64, help="pairs per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip bad lines of --input_file")
    args = utils.parse_args(parser, argv)
    predict, tokenizer, labels = load_predictor(args)
    rows = [(a, b, None) for a, b in args.pair]
    if args.input_file:
        rows += [(a, b, lab) for _, a, b, lab in reader.read_pairs(args.input_file, args.skip_bad_samples)[0]]
    if not rows:
        raise utils.DataError("nothing to classify; pass --pair or --input_file")
    encoded = [(*reader.encode_pair(tokenizer, a, b, args.max_seq_len), 0) for a, b, _ in rows]
    probs = np.concatenate([predict(*reader.collate_pairs(encoded[i:i + args.batch_size], tokenizer.pad_id)[:2])
                            for i in range(0, len(encoded), args.batch_size)])
    print("label\t" + "\t".join(f"p({l})" for l in labels) + "\tsentence1\tsentence2")
    for (a, b, _), p in zip(rows, probs):
        print(f"{labels[p.argmax()]}\t" + "\t".join(f"{x:.4f}" for x in p) + f"\t{a}\t{b}")
    gold = [(labels[p.argmax()], lab) for (_, _, lab), p in zip(rows, probs) if lab is not None]
    if gold:
        print(f"final metrics: acc={np.mean([p == g for p, g in gold]):.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
