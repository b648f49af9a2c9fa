"""Score your own (context, response) pairs: prints one score per pair, P(match) from the matcher or the
predicted 0..2 human score from a fine-tuned model.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference,
oneDNN on CPU); an export older than its checkpoint is refused:
    python infer.py --input_file pairs.ids            # `context ids<TAB>response ids[<TAB>label]` per line
    python infer.py --input_file pairs.txt --words    # the same with space-separated words (word2ids)
    python infer.py --context "food_q1 i like food_q4" --response "food_a2 so food_a7"
From a training checkpoint (dynamic graph), or from another export:
    python infer.py --checkpoint output/human/best.pdparams --input_file pairs.ids
    python infer.py --inference_dir output/match/inference --input_file pairs.ids

An --input_file whose every line has the label (a dataset file) is scored as eval.py scores it: the
metrics of its stage are printed last (matching files in groups of 10), the same figures eval.py gives.
"""
import argparse
import json
import os
import sys
import tempfile

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from eval import fill_from_run, format_metrics, load_run_model, metrics, run_flags, run_vocab_path
from models import is_match, score


def words_to_ids_file(path, vocab, out_path):
    """A words file rewritten as ids (line for line), so that it goes through the one reader."""
    with open(out_path, "w", encoding="utf-8") as out:
        for lineno, line in utils.read_lines(path):
            fields = line.split("\t")
            if line.strip() and len(fields) >= 2:
                fields[:2] = [" ".join(map(str, vocab.to_ids(f.split(), f"{path}:{lineno}"))) for f in fields[:2]]
            out.write("\t".join(fields) + "\n")
    return out_path


def load_predictor(args):
    """(predict(c_ids, c_len, r_ids, r_len) -> scores, stage name); sets max_seq_len, vocab_size, vocab path."""
    if args.checkpoint and not args.inference_dir:  # dynamic graph from a checkpoint
        fill_from_run(args)
        paddle.set_device("cpu")
        model, _ = load_run_model(args)
        model.eval()
        args.vocab_path, match = run_vocab_path(args), is_match(args.model)

        def predict(*arrays):
            with paddle.no_grad():
                return score(model(*map(paddle.to_tensor, arrays)), match).numpy()
        return predict, args.model
    if not args.inference_dir:
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    args.max_seq_len, args.vocab_size = cfg["max_seq_len"], cfg["vocab_size"]
    args.vocab_path = os.path.join(args.inference_dir, reader.VOCAB_FILE)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda *arrays: run(list(arrays))[0], cfg["model"]


def read_inputs(args, tmp_dir):
    """A PairDataset of the inputs (labels nan where not given)."""
    vocab = reader.Vocab.load(args.vocab_path)
    if args.input_file:
        path = args.input_file
        if args.words:
            path = words_to_ids_file(path, vocab, os.path.join(tmp_dir, "words_as_ids.ids"))
        dataset, skipped = reader.read_file(path, args.stage, args.vocab_size, args.max_seq_len,
                                            args.skip_bad_samples, with_label=False)
        dataset.path = args.input_file
        reader.report(dataset, skipped, args.max_seq_len, file=sys.stderr)
        return dataset
    if len(args.context) != len(args.response) or not args.context:
        raise utils.DataError("--context and --response: give them in pairs (or --input_file)")
    examples = []
    for i, (c, r) in enumerate(zip(args.context, args.response), 1):
        c, r = (vocab.to_ids(t.split(), f"pair {i}") for t in (c, r))
        if not c or not r:
            raise utils.DataError(f"pair {i}: empty {'context' if not c else 'response'}")
        examples.append((c[:args.max_seq_len], r[:args.max_seq_len], float("nan")))
    return reader.PairDataset(examples, path="command line")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_file", default=None, help="pairs, one a line: context<TAB>response[<TAB>label]")
    parser.add_argument("--words", action="store_true", help="--input_file holds words, not ids")
    parser.add_argument("--context", action="append", default=[], help="a context, space-separated words (repeatable)")
    parser.add_argument("--response", action="append", default=[], help="its response (repeatable, paired in order)")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=256, help="pairs per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    args = utils.parse_args(parser, argv)

    predict, args.stage = load_predictor(args)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = read_inputs(args, tmp)
    examples = dataset.examples
    scores = np.zeros(len(examples), dtype=np.float64)
    for start in range(0, len(examples), args.batch_size):
        c_ids, c_len, r_ids, r_len, _ = reader.collate(examples[start:start + args.batch_size])
        scores[start:start + args.batch_size] = predict(c_ids, c_len, r_ids, r_len)
    print("score\tline\tcontext\tresponse")
    for s, lineno, (c, r, _) in zip(scores, dataset.linenos, examples):
        print(f"{s:.4f}\t{lineno}\t{' '.join(map(str, c))}\t{' '.join(map(str, r))}")
    labels = np.array([e[2] for e in examples])
    if not np.isnan(labels).any():  # a dataset file: the metrics eval.py prints
        match = is_match(args.stage)
        if match:
            grouped = reader.keep_whole_groups(dataset)
            keep = {n: i for i, n in enumerate(dataset.linenos)}
            idx = [keep[n] for n in grouped.linenos]
            scores, labels = scores[idx], labels[idx]
        print(f"final metrics: {format_metrics(metrics(scores, labels, match))}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
