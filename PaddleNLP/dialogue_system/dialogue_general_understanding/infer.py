"""Predict on a file in the task's dataset layout and write one prediction per example, as the release's
predict.py wrote them (example index \t prediction): udc the probability that the response fits the
context, atis_intent/swda/mrda the label id, atis_slot a label id per word, dstc2 the state's label ids.

From the export of the last run (what `bash train.sh` wrote; Paddle Inference, oneDNN on CPU); an export
older than its checkpoint is refused:
    python infer.py --task_name atis_intent --input_file data/demo/atis_intent/dev.txt
    python infer.py --task_name atis_intent --text "show me flights from boston to denver"
From a training checkpoint (dynamic graph):
    python infer.py --task_name udc --checkpoint output/udc/bert-tiny/latest.pdckpt --input_file data/demo/udc/dev.txt

The file goes through eval.py's reader, encoding and prediction rule, so infer.py over dev.txt prints the
figures eval.py --split dev prints (its `final metrics:` line). --text (atis_intent only) classifies one
utterance.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from eval import load_run, predictions, run_flags, score
from models import Probabilities
from reader import TASKS
from tokenizer import Tokenizer


def load_predictor(args):
    """(probabilities(ids, types) -> numpy, tokenizer); sets args.max_seq_len from the run or the export."""
    if args.checkpoint and not args.inference_dir:
        paddle.set_device("cpu")
        model, tokenizer = load_run(args)
        net = Probabilities(model)

        def predict(ids, types):
            with paddle.no_grad():
                return net(paddle.to_tensor(ids), paddle.to_tensor(types)).numpy()
        return predict, tokenizer
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        settings = json.load(f)
    if settings["task_name"] != args.task_name:
        raise utils.CheckpointError(f"{args.inference_dir} holds a {settings['task_name']} export, not "
                                    f"{args.task_name}")
    if "max_seq_len" not in args.explicit:
        args.max_seq_len = settings["max_seq_len"]
    tokenizer = Tokenizer(os.path.join(args.inference_dir, "vocab.txt"))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda ids, types: run([ids, types])[0]), tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_file", default=None, help="a file in the task's dataset layout")
    parser.add_argument("--text", action="append", default=[], help="atis_intent: an utterance (repeatable)")
    parser.add_argument("--predictions", default=None,
                        help="where to write the predictions; unset: OUTPUT_DIR/MODEL/predictions.txt")
    run_flags(parser, argv)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=64, help="examples per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip bad lines of --input_file")
    args = utils.parse_args(parser, argv)
    if not args.input_file and not args.text:
        raise utils.DataError("nothing to predict; pass --input_file (or --text for atis_intent)")
    if args.text and args.task_name != "atis_intent":
        raise utils.DataError("--text classifies atis_intent utterances; other tasks take --input_file")
    predict, tokenizer = load_predictor(args)
    task = args.task_name
    if args.input_file:
        records = reader.read_records(task, args.input_file, args.skip_bad_samples)[0]
    else:
        records = [{"line": i + 1, "label": 0, "text": t} for i, t in enumerate(args.text)]
    examples = reader.make_examples(task, records)
    encoded = [reader.encode(task, ex, tokenizer, args.max_seq_len)[:3] for ex in examples]
    preds = []
    for i in utils.progress(range(0, len(encoded), args.batch_size), (len(encoded) + args.batch_size - 1)
                            // args.batch_size, "infer"):
        ids, types, labels = reader.collate(encoded[i:i + args.batch_size], tokenizer.pad_id)
        preds += predictions(task, predict(ids, types), labels)
    path = args.predictions or os.path.join(args.output_dir, args.model or "", "predictions.txt")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i, p in enumerate(preds):
            f.write(f"{i}\t{' '.join(map(str, p)) if isinstance(p, list) else p}\n")
    if args.text:
        for text, p in zip(args.text, preds):
            print(f"intent {p}\t{text}")
    else:
        print(f"{len(preds)} predictions for {args.input_file} written to {path}")
        figures = " ".join(f"{k}={v:.4f}" for k, v in score(task, preds, examples).items())
        print(f"final metrics: {figures}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
