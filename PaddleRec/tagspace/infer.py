"""Tag your own texts: prints, for each, the top tag and the cosine of the text with every tag.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference,
oneDNN on CPU); an export older than its checkpoint is refused:
    python infer.py --text "Stocks rally as oil prices fall"
    python infer.py --input_file texts.txt        # one text per line; row k answers line k
    python infer.py --input_file data/demo/test.csv   # a labelled file: also prints eval.py's metrics
From a training checkpoint (dynamic graph), or from another export:
    python infer.py --checkpoint output/tagspace/best.pdparams --text "..."
    python infer.py --inference_dir output/tagspace/inference --text "..."

Texts go through the reader's tokenizer (lower-cased English words). For a run trained on the
release's id format, a text is its space-separated word ids and a labelled file is in that format
(`tag_id,word_id ...`). An input file in the dataset's format is read exactly as eval.py reads it.
When most words of a text are not in the vocabulary, a warning on stderr says so.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from eval import fill_from_run, load_run, run_flags
from metric import TagMetric

EXPECTED = {"csv": "English text, as in the AG News titles and descriptions",
            "ids": "space-separated word ids of the release's vocabulary"}


def is_dataset_file(path, fmt):
    """Whether the first non-empty line parses as a labelled line of the data format."""
    for lineno, raw in reader.raw_lines(path):
        if raw.strip():
            try:
                line = reader.decode(raw, path, lineno)
                if fmt == "csv":
                    reader.parse_csv_line(line, path, lineno)
                else:
                    reader.parse_id_line(line, path, lineno, 1 << 62)
                return True
            except utils.DataError:
                return False
    return False


def text_tokens(text, fmt, where):
    if fmt == "csv":
        return reader.tokenize(text)
    try:
        return [int(t) for t in text.split()]
    except ValueError:
        raise utils.DataError(f"{where}: expected space-separated word ids, got {text[:40]!r}") from None


def read_inputs(args, vocab):
    """One row per input, in input order: (where, text, word ids, true tag or None), or None for an
    empty line (or an empty text, or a bad line skipped with --skip_bad_samples), whose output row
    stays empty so that row k answers line k."""
    rows = []
    for i, text in enumerate(args.text):
        tokens = text_tokens(text, vocab.format, f"--text {i + 1}")
        if not tokens:
            raise utils.DataError(f"--text {i + 1}: no words in {text!r}")
        rows.append((f"--text {i + 1}", text, vocab.to_ids(tokens[:args.max_seq_len]), None))
    if args.input_file:
        path = args.input_file
        if is_dataset_file(path, vocab.format):  # labelled: read exactly as eval.py reads a split
            keep = []
            records, stats = reader.read_records([path], "all", vocab.format, vocab.num_tags,
                                                 skip_bad=args.skip_bad_samples, keep=keep)
            dataset = reader.encode(records, vocab, args.max_seq_len, stats)
            stats.report(path, out=sys.stderr)  # stdout holds the rows only
            kept = {lineno: example for (_, lineno), example in zip(keep, dataset.examples)}
            lines = reader.raw_lines(path)
            for lineno, raw in lines:
                if lineno in kept:
                    ids, tag = kept[lineno]
                    rows.append((f"{path}:{lineno}", raw.decode("utf-8"), ids, tag))
                else:
                    rows.append(None)
        else:
            for lineno, line in utils.read_lines(path):
                tokens = text_tokens(line, vocab.format, f"{path}:{lineno}") if line.strip() else []
                rows.append((f"{path}:{lineno}", line, vocab.to_ids(tokens[:args.max_seq_len]), None)
                            if tokens else None)
    if not any(rows):
        raise utils.DataError("nothing to tag; pass --text or --input_file")
    return rows


def warn_unknown(rows, vocab, shown=5):
    """A loud warning on stderr about texts whose words are mostly missing from the vocabulary."""
    unknown = [(where, sum(i == vocab.unk_id for i in ids), len(ids)) for where, _, ids, _ in filter(None, rows)]
    unknown = [u for u in unknown if u[1] > reader.MOSTLY_UNKNOWN * u[2]]
    for where, n, total in unknown[:shown]:
        print(f"WARNING: {where}: {n} of {total} words are not in the run's vocabulary", file=sys.stderr)
    if len(unknown) > shown:
        print(f"WARNING: and {len(unknown) - shown} more texts that are mostly unknown words", file=sys.stderr)
    if unknown:
        print(f"WARNING: such tags mean little; the model expects {EXPECTED[vocab.format]}", file=sys.stderr)


def load_predictor(args):
    """(predict(ids, lengths) -> cosine scores [B, tags], vocab); sets args.max_seq_len."""
    if args.checkpoint and not args.inference_dir:  # dynamic graph from a checkpoint
        fill_from_run(args)
        paddle.set_device("cpu")
        model, vocab, _ = load_run(args)

        def predict(ids, lengths):
            with paddle.no_grad():
                return model(paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()
        return predict, vocab

    if not args.inference_dir:  # the export of the last run trained in OUTPUT_DIR (or of --model's)
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        args.max_seq_len = json.load(f)["max_seq_len"]
    vocab = reader.Vocab.load(os.path.join(args.inference_dir, reader.RUN_VOCAB))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda ids, lengths: run([ids, lengths])[0], vocab


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--text", action="append", default=[], help="a text to tag (repeatable)")
    parser.add_argument("--input_file", default=None, help="one text per line, or a file of the dataset's format")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=256, help="texts per batch")
    parser.add_argument("--skip_bad_samples", action="store_true",
                        help="in a dataset file, skip bad lines (their rows stay empty) instead of stopping")
    args = utils.parse_args(parser, argv)  # the run's settings are read only when they are needed

    predict, vocab = load_predictor(args)
    rows = read_inputs(args, vocab)
    warn_unknown(rows, vocab)
    filled = [i for i, row in enumerate(rows) if row is not None]
    scores = np.zeros((len(rows), vocab.num_tags), dtype=np.float32)
    sampler = reader.LengthBucketSampler([len(rows[i][2]) for i in filled], args.batch_size, shuffle=False,
                                         shard=False)
    for batch in sampler:  # batches of similar length; results go back to input order
        ids, lengths, _ = reader.collate([(rows[filled[i]][2], 0) for i in batch], vocab.pad_id)
        scores[[filled[i] for i in batch]] = predict(ids, lengths)
    print("tag\t" + "\t".join(f"cos({name})" for name in vocab.tags) + "\ttext")
    for row, s in zip(rows, scores):
        if row is None:
            print("\t" * (vocab.num_tags + 1))
        else:
            print(f"{vocab.tags[int(s.argmax())]}\t" + "\t".join(f"{x:.4f}" for x in s) + f"\t{row[1]}")
    gold = [i for i in filled if rows[i][3] is not None]
    if gold:
        metric = TagMetric(vocab.num_tags)
        metric.update(scores[gold], np.array([rows[i][3] for i in gold]))
        result = metric.summary()
        print(f"final metrics: acc={result['acc']:.4f} p_at_1={result['p_at_1']:.4f} "
              f"macro_f1={result['macro_f1']:.4f}")
    sys.stdout.flush()
    return scores


if __name__ == "__main__":
    utils.run_main(main)
