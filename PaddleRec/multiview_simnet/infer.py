"""Score your own lines in the slot format: the query's slots and one title's (slots 0..Q+T-1) give
one score, cos(query, title); a full triple (query, positive and negative title) gives two,
`cos_positive<TAB>cos_negative`. Output line k answers input line k: an empty line, or one with an
empty slot, gives an empty line (skipped and counted); a bad line with --skip_bad_samples gives
`nan`. When every scored line is a triple, the AUC and order ratio are printed too, so scoring the
test file reproduces eval.py.

From the last run's export (Paddle Inference, oneDNN on CPU; refused if the run trained on since):
    python infer.py data/demo/test/test.txt
From a training checkpoint (dynamic graph):
    python infer.py my_lines.txt --checkpoint output/multiview_simnet/best.pdparams
"""
import argparse
import json
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import paddle

import metric
import reader
from models import MODELS, add_model_flags, build_model, resolve_encoders


def read_samples(paths, layout, vocab_size, skip_bad):
    """[(sample or None or 'bad')] in input order, and the counts of what was skipped or mapped."""
    entries, counts = [], dict(empty_lines=0, empty_slot_lines=0, bad_lines=0, unknown_ids=0)
    for path in paths:
        lines = utils.read_lines(path)  # a byte that is not UTF-8 is a DataError naming file and line
        for lineno, text in lines:
            try:
                sample, unknown = reader.parse_line(text, path, lineno, layout, vocab_size, allow_pair=True)
                counts["unknown_ids"] += unknown
                entries.append(sample)
            except reader.SkippedLine as e:
                counts["empty_lines" if str(e) == "empty line" else "empty_slot_lines"] += 1
                if str(e) != "empty line":
                    print(f"skipped: {path}:{lineno}: {e}", file=sys.stderr, flush=True)
                entries.append(None)
            except utils.DataError as e:
                if not skip_bad:
                    raise
                counts["bad_lines"] += 1
                print(f"skipped bad line: {e}", file=sys.stderr, flush=True)
                entries.append("bad")
    return entries, counts


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("files", nargs="+", help="files of lines to score")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--output", default=None,
                        help="one line of scores per input line (default %(default)s: OUTPUT_DIR/MODEL/predictions.txt)")
    parser.add_argument("--inference_dir", default=None,
                        help="what export.py wrote (default %(default)s: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="score with this checkpoint (dynamic graph) instead of the export")
    parser.add_argument("--batch_size", type=int, default=512, help="lines per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="write nan for a bad line and go on")
    add_model_flags(parser)
    args = utils.load_run_config(utils.parse_args(parser, argv), keep=("output_dir", "batch_size", "skip_bad_samples"))
    return resolve_encoders(args)


def load_scorer(args):
    """(settings, score(query, query_len, title, title_len) -> cosines)."""
    if args.checkpoint:
        model = utils.load_model(build_model(args), args.checkpoint)
        model.eval()

        def score(*arrays):
            with paddle.no_grad():
                return model(*[paddle.to_tensor(a) for a in arrays]).numpy()
        return vars(args), score
    inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(inference_dir)
    with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = utils.create_predictor(os.path.join(inference_dir, "model"))
    return cfg, lambda *arrays: run(list(arrays))[0]


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    cfg, score = load_scorer(args)
    layout = reader.SlotLayout(cfg["query_slots"], cfg["title_slots"])
    entries, counts = read_samples(args.files, layout, cfg["sparse_feature_dim"], args.skip_bad_samples)
    q, t = layout.query_slots, layout.title_slots
    scored = [i for i, e in enumerate(entries) if isinstance(e, list)]
    results = {}
    for start in range(0, len(scored), args.batch_size):
        rows = scored[start:start + args.batch_size]
        samples = [entries[i] for i in rows]
        query = reader.pack(samples, range(q))
        results.update(zip(rows, score(*query, *reader.pack(samples, range(q, q + t)))))
        triples = [(i, s) for i, s in zip(rows, samples) if len(s) == layout.triple]
        if triples:
            negatives = reader.pack([s for _, s in triples], range(q + t, q + 2 * t))
            query = reader.pack([s for _, s in triples], range(q))
            for (i, _), neg in zip(triples, score(*query, *negatives)):
                results[i] = (results[i], neg)
    output = args.output or os.path.join(args.output_dir, args.model, "predictions.txt")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as out:
        for i, entry in enumerate(entries):
            if entry is None:
                out.write("\n")
            elif isinstance(entry, str):
                out.write("nan\n")
            elif isinstance(results[i], tuple):
                out.write(f"{results[i][0]:.6f}\t{results[i][1]:.6f}\n")
            else:
                out.write(f"{results[i]:.6f}\n")
    notes = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v)
    print(f"scored {len(scored)} lines to {output}" + (f" ({notes})" if notes else ""), file=sys.stderr, flush=True)
    pairs = [results[i] for i in scored]
    if pairs and all(isinstance(r, tuple) for r in pairs):
        result = metric.pairwise_metrics([p for p, _ in pairs], [n for _, n in pairs])
        print(f"metrics of the {result['samples']} triples scored: {metric.format_metrics(result)}", flush=True)
        return {**result, "counts": counts}
    return {"counts": counts, "scores": pairs}


if __name__ == "__main__":
    utils.run_main(main)
