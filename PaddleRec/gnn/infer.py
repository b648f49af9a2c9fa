"""Recommend the next items for your own sessions: the 20 best-scored items of each, in order.

Input: text files with one session a line, `item item item` (the clicks, oldest first, ids as in
the data's config.txt), optionally with the true next click as `item item item;label`; or the
release's pickle files (data/demo/test.txt). Output line k answers input line k (for a pickle:
sample k): `item:score` twenty times, best first. An empty line (an empty session) gives an empty
line, a bad one (with --skip_bad_samples) `nan`; clicks on items outside the vocabulary are mapped to
the unknown id 0; all are counted. When every session has a label, P@20 and MRR@20 are printed too,
so scoring the test file reproduces eval.py.

From the last run's export (Paddle Inference, oneDNN on CPU; refused if the run trained on since):
    python infer.py my_sessions.txt
From a training checkpoint (dynamic graph):
    python infer.py my_sessions.txt --checkpoint output/srgnn/best.pdparams
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import reader
from eval import add_model_flags
from metric import K, RankingMetrics, top_items
from models import MODELS, build_model


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("files", nargs="+", help="files of sessions to score")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--output", default=None, help="the recommendations, one line per input line "
                                                        "(default %(default)s: OUTPUT_DIR/MODEL/recommendations.txt)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (default %(default)s: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="score with this checkpoint (dynamic graph) instead of the export")
    parser.add_argument("--data_dir", default="data/demo",
                        help="with --checkpoint: its config.txt gives items_num (default: the run's own, else %(default)s)")
    parser.add_argument("--batch_size", type=int, default=500, help="sessions per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="write nan for a bad line and go on")
    add_model_flags(parser)
    return utils.load_run_config(utils.parse_args(parser, argv), keep=("output_dir", "batch_size", "skip_bad_samples"))


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    if args.checkpoint:  # dynamic graph from a checkpoint
        items_num = reader.read_config(args.data_dir)
        model = build_model(args.model, items_num, hidden_size=args.hidden_size, step=args.step)
        utils.load_model(model, args.checkpoint)
        model.eval()

        def predict(arrays):
            with paddle.no_grad():
                return model(*[paddle.to_tensor(a) for a in arrays])
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)
        with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
            items_num = json.load(f)["items_num"]
        run = utils.create_predictor(os.path.join(inference_dir, "model"))

        def predict(arrays):
            return run(arrays)[0]

    output = args.output or os.path.join(args.output_dir, args.model, "recommendations.txt")
    metrics, all_labelled = RankingMetrics(), True
    counts = dict(lines=0, bad=0, empty=0, unknown_items=0)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as out:
        for path in args.files:
            samples = reader.Samples(path, items_num, skip_bad=args.skip_bad_samples, need_label=False)
            answers = {line: "nan" for line in samples.bad_lines}
            for start in range(0, len(samples), args.batch_size):
                rows = np.arange(start, min(start + args.batch_size, len(samples)))
                scores = predict(reader.make_batch(samples, rows)[:6])
                top = top_items(scores)
                best = np.take_along_axis(np.asarray(scores), top - 1, axis=1)
                for row, items, values in zip(rows, top, best):
                    answers[int(samples.lines[row])] = " ".join(f"{i}:{v:.4f}" for i, v in zip(items, values))
                labelled = samples.has_label[rows]
                all_labelled = all_labelled and bool(labelled.all())
                metrics.update(labels=samples.labels[rows], top=top)
            for line in range(1, samples.total + 1):
                out.write(answers.get(line, "") + "\n")
            counts["lines"] += samples.total
            counts["bad"] += samples.bad
            counts["empty"] += samples.empty
            counts["unknown_items"] += samples.unknown_items
    notes = [f"{counts['bad']} bad lines as nan"] if counts["bad"] else []
    notes += [f"{counts['empty']} empty sessions left empty"] if counts["empty"] else []
    notes += [f"{counts['unknown_items']} clicks on unknown items mapped to id 0"] if counts["unknown_items"] else []
    print(f"wrote {counts['lines']} lines to {output}" + (f" ({'; '.join(notes)})" if notes else ""), flush=True)
    if all_labelled and metrics.count:
        result = metrics.result()
        print(f"on the {result['samples']} labelled sessions: P@{K} {result[f'p@{K}']:.4f} "
              f"MRR@{K} {result[f'mrr@{K}']:.4f}", flush=True)
        return result
    return None


if __name__ == "__main__":
    utils.run_main(main)
