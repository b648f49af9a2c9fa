"""Recommend the next items of your own sessions: for each input line (space-separated item indices
in click order, the data format), the 20 items most likely to be clicked next, as `item:score`.

Output line k answers input line k; an empty input line gives an empty output line, a bad one (with
--skip_bad_samples) `bad`. Indices outside the vocabulary are read as the unknown item (counted).
Each line of two or more items is also scored as eval.py scores a session (every item but the first
is a next-item prediction), so that recommending for the test files reproduces eval.py's Recall@20
and MRR@20.

From the last run's export (Paddle Inference; refused if the run trained on since):
    python infer.py data/demo/test_data/rsc15_test.txt
    python infer.py --items "12 7 3"
From a training checkpoint (dynamic graph):
    python infer.py my_sessions.txt --checkpoint output/gru4rec/best.pdparams
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from eval import fill_from_run, run_flags
from metric import RankingMetrics
from models import TOPK, build_model


def read_batches(sources, batch_size, vocab_size, max_seq_len, skip_bad, stats):
    """Batches of (session array, or None for an empty line, or 'bad') in input order."""
    pending = []
    for path, lines in sources:
        for lineno, raw in lines:
            entry = None
            try:
                text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            except UnicodeDecodeError as e:
                raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None
            if text.strip():
                try:
                    items, unknown = reader.parse_session(text, path, lineno, vocab_size)
                    if unknown:
                        stats.add("unknown", path, lineno, unknown)
                    if max_seq_len and len(items) > max_seq_len + 1:
                        items = items[-(max_seq_len + 1):]
                        stats.add("truncated", path, lineno)
                    entry = items
                except utils.DataError as e:
                    if not skip_bad:
                        raise
                    print(f"skipped bad line: {e}", file=sys.stderr, flush=True)
                    stats.add("bad", path, lineno)
                    entry = "bad"
            else:
                stats.add("empty", path, lineno)
            pending.append(entry)
            if len(pending) == batch_size:
                yield pending
                pending = []
    if pending:
        yield pending


def file_lines(path):
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}:0: no such file")
    with open(path, "rb") as f:
        return [(lineno, raw.rstrip(b"\r\n")) for lineno, raw in enumerate(f, 1)]


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("files", nargs="*", help="files of sessions, one a line")
    parser.add_argument("--items", default=None, help="one session given here: space-separated item indices")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="what export.py wrote; unset: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--output", default=None,
                        help="where to write the recommendations; unset: OUTPUT_DIR/MODEL/recommendations.txt")
    parser.add_argument("--batch_size", type=int, default=256, help="sessions per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="write `bad` for a bad line and go on")
    args = utils.parse_args(parser, argv)
    if not args.files and args.items is None:
        parser.error("give files of sessions or --items")
    return fill_from_run(args)


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    if args.checkpoint:  # dynamic graph from a checkpoint
        vocab_size, max_seq_len = reader.read_vocab_size(args.data_dir), args.max_seq_len
        model = utils.load_model(build_model(args.model, vocab_size), args.checkpoint)
        model.eval()

        def predict(inputs, lengths):
            with paddle.no_grad():
                scores, items = model(paddle.to_tensor(inputs), paddle.to_tensor(lengths))
            return scores.numpy(), items.numpy()
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)
        with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
            cfg = json.load(f)
        vocab_size, max_seq_len = cfg["vocab_size"], cfg["max_seq_len"]
        run = utils.create_predictor(os.path.join(inference_dir, "model"))

        def predict(inputs, lengths):
            outputs = run([inputs, lengths])
            scores = next(o for o in outputs if o.dtype.kind == "f")
            items = next(o for o in outputs if o.dtype.kind in "iu")
            return scores, items.astype(np.int64)

    sources = [(path, file_lines(path)) for path in args.files]
    if args.items is not None:
        sources.append(("--items", [(1, args.items)]))
    output = args.output or os.path.join(args.output_dir, args.model, "recommendations.txt")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    metrics, stats, lines = RankingMetrics(TOPK), reader.Stats(), 0
    with open(output, "w") as out:
        for chunk in read_batches(sources, args.batch_size, vocab_size, max_seq_len, args.skip_bad_samples, stats):
            good = [s for s in chunk if isinstance(s, np.ndarray)]
            if good:
                lengths = np.array([len(s) for s in good], dtype=np.int64)
                inputs = np.zeros((len(good), lengths.max()), dtype=np.int64)
                for row, s in enumerate(good):
                    inputs[row, :len(s)] = s
                scores, items = predict(inputs, lengths)
                # positions 0 .. n-2 predict items 1 .. n-1 (what eval.py scores); n-1 recommends
                metrics.update(items[:, :-1], inputs[:, 1:], lengths - 1)
                last = lengths - 1
                best_items, best_scores = items[np.arange(len(good)), last], scores[np.arange(len(good)), last]
            answers = iter(range(len(good)))
            for entry in chunk:
                if isinstance(entry, np.ndarray):
                    row = next(answers)
                    out.write(" ".join(f"{i}:{s:.4f}" for i, s in zip(best_items[row], best_scores[row])) + "\n")
                else:
                    out.write("bad\n" if entry == "bad" else "\n")
            lines += len(chunk)
    notes = stats.notes(max_seq_len)
    print(f"wrote the top {TOPK} next items of {lines} sessions to {output}" + (f" ({'; '.join(notes)})" if notes else ""),
          flush=True)
    if args.items is not None:
        with open(output) as f:
            print(f"next after {args.items!r}: {f.read().splitlines()[-1]}", flush=True)
    if metrics.count:
        result = metrics.result()
        print(f"on the {result['predictions']} next-item predictions of the input: recall@{TOPK} "
              f"{result[f'recall@{TOPK}']:.4f} mrr@{TOPK} {result[f'mrr@{TOPK}']:.4f}", flush=True)
        return result
    return None


if __name__ == "__main__":
    utils.run_main(main)
