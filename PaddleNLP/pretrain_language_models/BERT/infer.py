"""Classify your own sentence pairs (prints, for each, the label and the probability of every label), or
answer the questions of a SQuAD json file (--task squad: writes predictions.json, question id -> answer).

From the export of the last classify run (what `bash train.sh` wrote; Paddle Inference, oneDNN on CPU);
an export older than its checkpoint is refused:
    python infer.py --pair "miri lives in paris ." "miri lives in a city in france ."
    python infer.py --input_file pairs.tsv     # a tsv in the dataset layout: its accuracy is printed too
From a training checkpoint (dynamic graph):
    python infer.py --checkpoint output/classify/bert-mini/latest.pdckpt --pair "..." "..."

SQuAD, from the export of the last squad run (export.py --task squad):
    python infer.py --task squad --squad_file data/demo/squad/dev-v1.1.json    # -> output/squad/MODEL/predictions.json

A dataset file goes through the same reader and encoding as eval.py, so infer.py over dev.tsv prints
the accuracy eval.py --split dev prints, and over dev-v1.1.json (the same sliding windows and answer
extraction) the exact match and F1 eval.py --task squad prints. A SQuAD file for infer may leave out
the answers; with them, the figures are printed.
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
import squad
from eval import load_run, run_flags
from tokenizer import Tokenizer


def load_predictor(args):
    """(predict(ids, types) -> probabilities (classify) or [start logits, end logits] (squad), tokenizer,
    labels); sets args.max_seq_len (and SQuAD's window settings) from the run or the export."""
    if args.checkpoint and not args.inference_dir:
        paddle.set_device("cpu")
        model, tokenizer, labels = load_run(args)

        def predict(ids, types):
            with paddle.no_grad():
                out = model(paddle.to_tensor(ids), paddle.to_tensor(types))
                return [o.numpy() for o in out] if args.task == "squad" else F.softmax(out, axis=-1).numpy()
        return predict, tokenizer, labels
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        settings = json.load(f)
    if settings.get("task", "classify") != args.task:
        raise utils.CheckpointError(f"{args.inference_dir} holds a {settings.get('task', 'classify')} export, "
                                    f"not {args.task}; run export.py --task {args.task}")
    for key in ("max_seq_len", "doc_stride", "max_query_len"):  # the export's, unless given here
        if key in settings and key not in args.explicit:
            setattr(args, key, settings[key])
    tokenizer = Tokenizer(os.path.join(args.inference_dir, "vocab.txt"))
    labels = None
    if args.task == "classify":
        labels = [l for _, l in utils.read_lines(os.path.join(args.inference_dir, "labels.txt")) if l]
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda ids, types: run([ids, types])) if args.task == "squad" else \
        (lambda ids, types: run([ids, types])[0]), tokenizer, labels


def answer_squad(args, predict, tokenizer):
    """Answers to every question of --squad_file, through eval.py's windows and n-best extraction;
    written to --predictions as {question id: answer}; EM/F1 printed when the file has answers."""
    examples = squad.read_examples(args.squad_file, args.skip_bad_samples, need_answers=False)
    features = squad.make_features(examples, tokenizer, args.max_seq_len, args.doc_stride, args.max_query_len,
                                   train=False)
    starts, ends = [], []
    for i in utils.progress(range(0, len(features), args.batch_size), (len(features) + args.batch_size - 1)
                            // args.batch_size, "infer"):
        batch = [(f["ids"], f["types"], 0, 0, 0) for f in features[i:i + args.batch_size]]
        s, e = predict(*squad.collate(batch, tokenizer.pad_id)[:2])
        starts += list(s)
        ends += list(e)
    predictions = squad.predict_answers(examples, features, starts, ends)
    path = args.predictions or os.path.join(args.output_dir, args.model or "", "predictions.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(predictions, f, indent=1, ensure_ascii=False)
    print(f"{len(predictions)} answers to {len(examples)} questions of {args.squad_file} written to {path}")
    answers = {e["id"]: e["answers"] for e in examples if e["answers"]}
    if answers:
        em, f1, n = squad.squad_scores(predictions, answers)
        print(f"final metrics: exact_match={100 * em / n:.4f} f1={100 * f1 / n:.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("SENTENCE1", "SENTENCE2"),
                        help="a sentence pair (repeatable)")
    parser.add_argument("--input_file", default=None, help="a tsv in the dataset layout (header with "
                        "sentence1, sentence2, label columns)")
    parser.add_argument("--squad_file", default=None, help="--task squad: a SQuAD v1.1 json whose questions to "
                        "answer (answers optional; with them EM/F1 are printed)")
    parser.add_argument("--predictions", default=None, help="--task squad: where to write {question id: answer}; "
                        "unset: OUTPUT_DIR/MODEL/predictions.json")
    run_flags(parser, argv)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=64, help="pairs per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip bad lines of --input_file")
    args = utils.parse_args(parser, argv)
    if args.task == "pretrain":
        raise utils.CheckpointError("infer.py serves the classify and squad tasks; pre-training weights are for "
                                    "--pretrained")
    predict, tokenizer, labels = load_predictor(args)
    if args.task == "squad":
        if not args.squad_file:
            raise utils.DataError("--task squad needs --squad_file (a SQuAD v1.1 json)")
        return answer_squad(args, predict, tokenizer)
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
