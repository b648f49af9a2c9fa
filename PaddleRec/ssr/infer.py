"""Retrieve the next items for your own sessions: the top 20 of the whole catalogue per input line.

Input lines are sessions in the data format (item numbers, space separated). By default the whole
line is the user's sequence and output line k holds the 20 best next items for input line k, best
first (with item_ids.txt from convert_rsc15.py, --raw_ids prints the raw RSC15 ids). With
--last_is_target the last item of each line is held out and Recall@20 is printed, so scoring the
test files reproduces eval.py. A line the reader skips (empty; with --last_is_target also one item,
or an unknown last item) gives an empty output line; a bad one with --skip_bad_samples `nan`.

From the last run's export (Paddle Inference; refused if the run trained on since):
    python infer.py data/demo/test_data/rsc15_test_paddle.txt --last_is_target
From a training checkpoint (dynamic graph):
    python infer.py my_sessions.txt --checkpoint output/ssr/best.pdparams
"""
import argparse
import json
import os
import sys

import utils
import numpy as np
import paddle

import reader
from eval import model_kwargs
from metric import K, Recall, top_items
from models import MODELS, build_model


def read_chunks(paths, batch_size, vocab_size, max_len, last_is_target, skip_bad):
    """Chunks of entries in file order: (sequence, target or None) for a line to score, None for a line
    that gives an empty output line, "bad" for a skipped bad line."""
    pending, counts = [], dict.fromkeys(reader.Samples.COUNTS, 0)
    for path in paths:
        lines = utils.read_lines(path)  # a byte that is not UTF-8 is a DataError naming file and line
        if not lines:
            raise utils.DataError(f"{path}:0: file is empty")
        for lineno, text in lines:
            counts["lines"] += 1
            try:
                ids, unknown = reader.parse_session(text, path, lineno, vocab_size)
            except utils.DataError as e:
                if not skip_bad:
                    raise
                print(f"skipped bad line: {e}", file=sys.stderr, flush=True)
                counts["bad"] += 1
                pending.append("bad")
                ids = None
            if ids is not None and last_is_target:
                sample = reader.to_sample(ids, unknown, vocab_size, max_len, counts)
                pending.append(sample)
            elif ids is not None:
                if len(ids) == 0:
                    counts["empty"] += 1
                    pending.append(None)
                else:
                    counts["unknown_items"] += unknown
                    counts["samples"] += 1
                    pending.append((ids[-max_len:] if max_len else ids, None))
            if len(pending) >= batch_size:
                yield pending, counts
                pending = []
    if pending:
        yield pending, counts


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("files", nargs="+", help="files of sessions, one per line")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--output", default=None,
                        help="the top items of each input line (default %(default)s: OUTPUT_DIR/MODEL/predictions.txt)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (default %(default)s: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None, help="score with this checkpoint (dynamic graph) instead of the export")
    parser.add_argument("--data_dir", default="data/demo",
                        help="with --checkpoint: its vocab.txt gives the vocabulary size (default: the run's own, else %(default)s)")
    parser.add_argument("--emb_dim", type=int, default=128, help="with --checkpoint: embedding size (default: the run's own)")
    parser.add_argument("--hidden", type=int, default=128, help="with --checkpoint: hidden size (default: the run's own)")
    parser.add_argument("--max_len", type=int, default=0, help="with --checkpoint: sequence cap (default: the run's own)")
    parser.add_argument("--last_is_target", action="store_true",
                        help="hold out the last item of each line and report Recall@20 (as eval.py)")
    parser.add_argument("--raw_ids", action="store_true", help="print raw item ids (needs item_ids.txt from convert_rsc15.py)")
    parser.add_argument("--top_k", type=int, default=K, help="items per output line")
    parser.add_argument("--batch_size", type=int, default=256, help="lines per forward pass")
    parser.add_argument("--skip_bad_samples", action="store_true", help="write nan for a bad line and go on")
    return utils.load_run_config(utils.parse_args(parser, argv), keep=("output_dir", "batch_size", "skip_bad_samples"))


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    if args.checkpoint:  # dynamic graph from a checkpoint
        vocab_size, max_len = reader.read_vocab(args.data_dir), args.max_len
        model = utils.load_model(build_model(args.model, vocab_size, **model_kwargs(args)), args.checkpoint)
        model.eval()
        with paddle.no_grad():
            table = model.item_table()

        def user_vectors(items, lengths):
            with paddle.no_grad():
                return model.user_vector(paddle.to_tensor(items), paddle.to_tensor(lengths))
        id_file = os.path.join(args.data_dir, "item_ids.txt")
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)
        with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
            cfg = json.load(f)
        vocab_size, max_len = cfg["vocab_size"], cfg["max_len"]
        user_tower = utils.create_predictor(os.path.join(inference_dir, "user_tower"))
        item_tower = utils.create_predictor(os.path.join(inference_dir, "item_tower"))
        table = paddle.to_tensor(item_tower([np.arange(vocab_size, dtype=np.int64)])[0])  # once, for the catalogue

        def user_vectors(items, lengths):
            return paddle.to_tensor(user_tower([items, lengths])[0])
        id_file = os.path.join(inference_dir, "item_ids.txt")
    names = None
    if args.raw_ids:
        if not os.path.isfile(id_file):
            raise utils.CheckpointError(f"--raw_ids: no {id_file} (convert_rsc15.py writes it with the data)")
        names = np.array([line for _, line in utils.read_lines(id_file)])

    output = args.output or os.path.join(args.output_dir, args.model, "predictions.txt")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    recall, counts = Recall(args.top_k), {}
    with open(output, "w") as out:
        for chunk, counts in read_chunks(args.files, args.batch_size, vocab_size, max_len, args.last_is_target,
                                         args.skip_bad_samples):
            good = [entry for entry in chunk if isinstance(entry, tuple)]
            top = np.zeros((0, args.top_k), dtype=np.int64)
            if good:
                items, lengths = reader.pad([sequence for sequence, _ in good])
                top = top_items(user_vectors(items, lengths), table, args.top_k)
                if args.last_is_target:
                    recall.update(top, np.array([target for _, target in good], dtype=np.int64))
                top = top.numpy()
            rows = iter(top)
            for entry in chunk:
                if isinstance(entry, tuple):
                    row = next(rows)
                    out.write(" ".join(names[row] if names is not None else map(str, row)) + "\n")
                else:
                    out.write("nan\n" if entry == "bad" else "\n")
    skipped = {k: v for k, v in counts.items() if v and k not in ("lines", "samples")}
    print(f"wrote {counts.get('lines', 0)} lines to {output} ({counts.get('samples', 0)} scored"
          + "".join(f", {v} {k.replace('_', ' ')}" for k, v in skipped.items()) + ")", flush=True)
    if args.last_is_target:
        print(f"recall@{args.top_k} {recall.result():.4f} on {recall.count} sessions", flush=True)
        return {f"recall@{args.top_k}": recall.result(), "samples": recall.count}
    return None


if __name__ == "__main__":
    utils.run_main(main)
