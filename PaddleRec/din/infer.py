"""Score your own lines: one click probability per input line, in order.

Input lines are in the data format, `history_items;history_cats;target_item;target_cat;label`; the
label may be left out (`history_items;history_cats;target_item;target_cat`). Output line k answers
input line k: an empty input line gives an empty output line, a bad one (with --skip_bad_samples)
`nan`. When every line has a label, the AUC and logloss are printed too, so scoring the test file
reproduces eval.py.

From the last run's export (Paddle Inference, oneDNN on CPU; refused if the run trained on since):
    python infer.py data/demo/paddle_test.txt
From a training checkpoint (dynamic graph):
    python infer.py my_lines.txt --checkpoint output/din/best.pdparams
"""
import argparse
import json
import os
import sys

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from metric import ClickMetrics
from models import MODELS, build_model


def read_batches(paths, batch_size, item_count, cat_count, skip_bad, max_len):
    """Batches of (parsed line or None, has label) in file order. None stands for an empty line
    (or a bad one with skip_bad), so that the output keeps one line per input line."""
    pending = []
    for path in paths:
        lines = utils.read_lines(path)  # a byte that is not UTF-8 is a DataError naming file and line
        if not lines:
            raise utils.DataError(f"{path}:0: file is empty")
        for lineno, text in lines:
            entry = None
            if text.strip():
                has_label = text.count(";") != reader.NUM_FIELDS - 2
                try:
                    entry = (reader.parse_line(text if has_label else text + ";0", path, lineno, item_count,
                                               cat_count, max_len), has_label)
                except utils.DataError as e:
                    if not skip_bad:
                        raise
                    print(f"skipped bad line: {e}", file=sys.stderr, flush=True)
                    entry = "bad"
            pending.append(entry)
            if len(pending) == batch_size:
                yield pending
                pending = []
    if pending:
        yield pending


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("files", nargs="+", help="files of lines to score")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--output", default=None, help="one probability per input line "
                                                        "(default %(default)s: OUTPUT_DIR/MODEL/predictions.txt)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (default %(default)s: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="score with this checkpoint (dynamic graph) instead of the export")
    parser.add_argument("--data_dir", default="data/demo",
                        help="with --checkpoint: its config.txt gives the vocabulary sizes (default: the run's own, "
                             "else %(default)s)")
    parser.add_argument("--max_history_len", type=int, default=reader.MAX_HISTORY_LEN,
                        help="with --checkpoint: history cap (default: the run's own, else %(default)s)")
    parser.add_argument("--batch_size", type=int, default=512, help="lines per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="write nan for a bad line and go on")
    return utils.load_run_config(utils.parse_args(parser, argv), keep=("output_dir", "batch_size", "skip_bad_samples"))


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    if args.checkpoint:  # dynamic graph from a checkpoint
        _, item_count, cat_count = reader.read_config(args.data_dir)
        max_len = args.max_history_len
        model = utils.load_model(build_model(args.model, item_count, cat_count), args.checkpoint)
        model.eval()

        def predict(arrays):
            with paddle.no_grad():
                return F.sigmoid(model(*[paddle.to_tensor(a) for a in arrays])).numpy()
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)
        with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
            cfg = json.load(f)
        item_count, cat_count, max_len = cfg["item_count"], cfg["cat_count"], cfg["max_history_len"]
        run = utils.create_predictor(os.path.join(inference_dir, "model"))

        def predict(arrays):
            return run(arrays)[0]

    output = args.output or os.path.join(args.output_dir, args.model, "predictions.txt")
    metrics, all_labelled, counts = ClickMetrics(), True, dict(lines=0, bad=0, empty=0, truncated=0)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as out:
        for chunk in read_batches(args.files, args.batch_size, item_count, cat_count, args.skip_bad_samples, max_len):
            good = [entry for entry in chunk if isinstance(entry, tuple)]
            probs = predict(reader.make_batch([s for s, _ in good], [], [])[:5]) if good else np.zeros(0)
            next_prob = iter(probs)
            for entry in chunk:
                out.write({None: "\n", "bad": "nan\n"}[entry] if not isinstance(entry, tuple)
                          else f"{float(next(next_prob)):.6f}\n")
            all_labelled = all_labelled and all(has_label for _, has_label in good)
            metrics.update(probs, [s[4] for s, _ in good])
            counts["lines"] += len(chunk)
            counts["bad"] += chunk.count("bad")
            counts["empty"] += chunk.count(None)
            counts["truncated"] += sum(bool(max_len) and s[5] > max_len for s, _ in good)
    notes = [f"{counts['bad']} bad lines as nan"] if counts["bad"] else []
    notes += [f"{counts['empty']} empty lines left empty"] if counts["empty"] else []
    notes += [f"{counts['truncated']} histories cut to their last {max_len} items"] if counts["truncated"] else []
    print(f"wrote {counts['lines']} lines to {output}" + (f" ({'; '.join(notes)})" if notes else ""), flush=True)
    if all_labelled and metrics.count:
        result = metrics.result()
        print(f"on the {result['samples']} labelled lines: auc {result['auc']:.4f} logloss {result['logloss']:.4f}",
              flush=True)
        return result
    return None


if __name__ == "__main__":
    utils.run_main(main)
