"""Score sentence pairs (STS-B) or classify reviews (IMDB) with the exported model, or with a checkpoint
in the dynamic graph.

    python infer.py --text $'alice lives in paris .\tthe home of alice is in paris .'   # STS-B: a tab between
    python infer.py --input_file data/demo/STS-B/dev.tsv      # a GLUE tsv: also prints eval.py's figures
    python infer.py --output_dir output/imdb --text "the plot was not boring."
    python infer.py --output_dir output/imdb --input_dir data/demo/aclImdb/test   # pos/ and neg/: accuracy
    python infer.py --checkpoint output/stsb/xlnet-mini/best.pdparams --text ...   # dynamic graph

The inputs go through reader.py's path (the same tokenizer, truncation and left padding as eval.py).
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from eval import fill_from_run, load_run_model, run_flags, task_metrics


def read_inputs(args, tokenizer):
    """(examples, texts, has_labels) from --text, --input_file or --input_dir."""
    if args.input_dir:
        base = os.path.dirname(os.path.dirname(os.path.normpath(args.input_dir)))
        split = os.path.basename(os.path.normpath(args.input_dir))
        texts = []
        examples, _ = reader.read_imdb(base, split, tokenizer, args.max_seq_len, texts=texts)
        return examples, texts, True
    if args.input_file and args.task == "stsb":
        texts = []
        examples, _ = reader.read_stsb(args.input_file, tokenizer, args.max_seq_len, texts=texts)
        return examples, texts, True
    if args.input_file:
        lines = [line for _, line in utils.read_lines(args.input_file)]
    else:
        lines = args.text
    examples = []
    for i, line in enumerate(lines, 1):
        where = f"{args.input_file}:{i}" if args.input_file else f"--text {i}"
        if args.task == "stsb":
            parts = line.split("\t")
            if len(parts) != 2:
                raise utils.DataError(f"{where}: expected two sentences separated by a tab, got {len(parts)} field(s)")
            ids, segs = reader.encode_pair(tokenizer, parts[0], parts[1], args.max_seq_len)
        else:
            if not line.strip():
                raise utils.DataError(f"{where}: empty text")
            ids, segs = reader.encode_pair(tokenizer, line, None, args.max_seq_len)
        examples.append((ids, segs, np.float32(0)))
    return examples, lines, False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--text", action="append", default=[],
                        help="an input (repeatable): a review, or for STS-B two sentences separated by a tab")
    parser.add_argument("--input_file", default=None,
                        help="STS-B: a GLUE tsv (with scores: prints the metrics); IMDB: one review per line")
    parser.add_argument("--input_dir", default=None, help="IMDB: an aclImdb split folder with pos/ and neg/")
    parser.add_argument("--batch_size", type=int, default=32, help="inputs per batch")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_run(utils.parse_args(parser, argv))
    if not (args.text or args.input_file or args.input_dir):
        parser.error("give --text, --input_file or --input_dir")
    utils.setup(args)
    if args.checkpoint:
        model, tokenizer = load_run_model(args)
        run = lambda ids, segs: model(paddle.to_tensor(ids), paddle.to_tensor(segs)).numpy()  # noqa: E731
    else:
        folder = os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(folder)
        with open(os.path.join(folder, "infer_cfg.json")) as f:
            cfg = json.load(f)
        args.task, args.max_seq_len = cfg["task"], cfg["max_seq_len"]
        tokenizer = reader.Tokenizer(os.path.join(folder, reader.SPIECE))
        predictor = utils.create_predictor(os.path.join(folder, "model"))
        run = lambda ids, segs: predictor([ids, segs])[0]  # noqa: E731
    examples, texts, labelled = read_inputs(args, tokenizer)
    outputs = []
    for start in range(0, len(examples), args.batch_size):
        ids, segs, _ = reader.collate(examples[start:start + args.batch_size], tokenizer.pad_id)
        outputs.append(np.asarray(run(ids, segs)))
    outputs = np.concatenate(outputs)
    if args.task == "stsb":
        print("score\ttext")
        for score, text in zip(outputs, texts):
            print(f"{float(score):.3f}\t{text}")
    else:
        probs = np.exp(outputs - outputs.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        print("label\t" + "\t".join(f"p({name})" for name in reader.IMDB_LABELS) + "\ttext")
        for p, text in zip(probs, texts):
            print(f"{reader.IMDB_LABELS[int(p.argmax())]}\t" + "\t".join(f"{x:.4f}" for x in p) + f"\t{text[:80]}")
    if labelled:
        labels = np.array([label for _, _, label in examples])
        result = task_metrics(args.task, outputs, labels)
        print(f"metrics over {len(labels)} labelled inputs: " +
              " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples"), file=sys.stderr, flush=True)
        return result
    return outputs


if __name__ == "__main__":
    utils.run_main(main)
