"""Score your own lines: one click probability per input line, in order.

Input lines are in the data format, `history_items;history_cats;target_item;target_cat;label`; the
label may be left out (`history_items;history_cats;target_item;target_cat`). When every line has
one, the AUC and logloss are printed too, so scoring the test file reproduces eval.py.

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py my_lines.txt --inference_dir output/inference --output output/predictions.txt
From a training checkpoint (dynamic graph):
    python infer.py my_lines.txt --model din --checkpoint output/din/best.pdparams --data_dir data/demo
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from metric import ClickMetrics
from models import MODELS, build_model


def read_batches(paths, batch_size, item_count, cat_count, skip_bad):
    """Batches of parsed lines, streamed in file order; a bad line (with --skip_bad_samples) is
    passed on as None so that the output keeps one line per input line."""
    pending = []
    for path in paths:
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise utils.DataError(f"{path}:0: file is empty")
        with open(path) as f:
            for lineno, text in enumerate(f, 1):
                if text.count(";") == reader.NUM_FIELDS - 2:  # no label: score it all the same
                    text = text.rstrip("\r\n") + ";0"
                    has_label = False
                else:
                    has_label = True
                try:
                    pending.append((reader.parse_line(text, path, lineno, item_count, cat_count), has_label))
                except utils.DataError as e:
                    if not skip_bad:
                        raise
                    print(f"skipped bad line: {e}", flush=True)
                    pending.append(None)
                if len(pending) == batch_size:
                    yield pending
                    pending = []
    if pending:
        yield pending


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="files of lines to score")
    parser.add_argument("--output", default="output/predictions.txt", help="one probability per input line")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None, help="with --model; default OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--data_dir", default="data/demo", help="with --model: its config.txt")
    parser.add_argument("--batch_size", type=int, default=512)
    parser.add_argument("--skip_bad_samples", action="store_true", help="write nan for a bad line and go on")
    args = parser.parse_args(argv)

    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        _, item_count, cat_count = reader.read_config(args.data_dir)
        model = build_model(args.model, item_count, cat_count)
        utils.load_weights(model, args.checkpoint or os.path.join("output", args.model, "best.pdparams"),
                           verbose=False)
        model.eval()

        def predict(arrays):
            with paddle.no_grad():
                return F.sigmoid(model(*[paddle.to_tensor(a) for a in arrays])).numpy()
    else:
        cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
        if not os.path.isfile(cfg_path):
            raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
        with open(cfg_path) as f:
            cfg = json.load(f)
        item_count, cat_count = cfg["item_count"], cfg["cat_count"]
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

        def predict(arrays):
            return run(arrays)[0]

    metrics, all_labelled, lines, bad = ClickMetrics(), True, 0, 0
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as out:
        for chunk in read_batches(args.files, args.batch_size, item_count, cat_count, args.skip_bad_samples):
            good = [entry for entry in chunk if entry is not None]
            probs = predict(reader.make_batch([s for s, _ in good], [], [])[:5]) if good else np.zeros(0)
            next_prob = iter(probs)
            for entry in chunk:
                out.write("nan\n" if entry is None else f"{float(next(next_prob)):.6f}\n")
            all_labelled = all_labelled and all(has_label for _, has_label in good)
            metrics.update(probs, [s[4] for s, _ in good])
            lines += len(chunk)
            bad += len(chunk) - len(good)
    print(f"wrote {lines} probabilities to {args.output}" + (f" ({bad} bad lines as nan)" if bad else ""), flush=True)
    if all_labelled and metrics.count:
        result = metrics.result()
        print(f"on the {result['samples']} labelled lines: auc {result['auc']:.4f} logloss {result['logloss']:.4f}",
              flush=True)
        return result
    return None


if __name__ == "__main__":
    utils.run_main(main)
