"""Run a trained model on your own Chinese text: the label of each text (classification), its entities
(sequence labelling), or the characters behind each [MASK] (pre-training).

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference,
oneDNN on CPU); an export older than its checkpoint is refused:
    python infer.py --output_dir output/classify --text "买了星海公司的手机，物流很快。"
    python infer.py --output_dir output/ner --text "昨天王伟去了上海。"
    python infer.py --output_dir output/pretrain --text "星海公司的手机[MASK][MASK]很好。"
    python infer.py --output_dir output/classify --input_file texts.txt     # one text per line
From a training checkpoint (dynamic graph) instead:
    python infer.py --output_dir output/classify --checkpoint output/classify/ernie-demo/latest.pdckpt --text ...

An --input_file in the task's dataset layout (with its header line) is read as a dataset: its labels
are compared with the predictions and the metric printed, the same figure eval.py gives.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from eval import fill_from_run, format_metrics, load_run, run_flags
from metric import ChunkCounts, bio_chunks
from export import label_names


def load_predictor(args):
    """(predict(ids) -> probabilities, tokenizer, task, label names); sets args.max_seq_len."""
    if args.checkpoint and not args.inference_dir:
        fill_from_run(args)
        paddle.set_device("cpu")
        tokenizer, model, _ = load_run(args)
        model.eval()

        def predict(ids):
            with paddle.no_grad():
                return F.softmax(model(paddle.to_tensor(ids)), axis=-1).numpy()
        return predict, tokenizer, args.task, label_names(args.task, tokenizer)
    if not args.inference_dir:
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    args.max_seq_len = cfg["max_seq_len"]
    tokenizer = reader.Tokenizer.load(os.path.join(args.inference_dir, "vocab.txt"))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda ids: run([ids])[0], tokenizer, cfg["task"], cfg["label_names"]


def read_inputs(args, tokenizer, task):
    """One row per input in input order: (where, text, ids, gold or None), or None for an empty line."""
    rows = []

    def add(text, where):
        tokens, _ = tokenizer.tokenize(text)
        if not tokens:
            raise utils.DataError(f"{where}: empty text")
        rows.append((where, text, tokenizer.wrap(tokenizer.encode(tokens), args.max_seq_len), None))

    for i, text in enumerate(args.text):
        add(text, f"--text {i + 1}")
    if args.input_file:
        raw = list(reader.raw_lines(args.input_file))
        if task in reader.HEADERS and raw and raw[0][1].strip() == "\t".join(reader.HEADERS[task]).encode():
            texts = []
            examples, _ = reader.read_tsv(args.input_file, task, tokenizer, args.max_seq_len, args.skip_bad_samples, texts)
            kept = {lineno: (text, ids, gold) for (lineno, text), (ids, gold) in zip(texts, examples)}
            for lineno in range(2, len(raw) + 1):
                rows.append((f"{args.input_file}:{lineno}", *kept[lineno]) if lineno in kept else None)
        else:
            for lineno, line in utils.read_lines(args.input_file):
                if line.strip():
                    add(line.strip(), f"{args.input_file}:{lineno}")
                else:
                    rows.append(None)
    if not any(rows):
        raise utils.DataError("nothing to run on; pass --text or --input_file")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--text", action="append", default=[], help="a text (repeatable)")
    parser.add_argument("--input_file", default=None, help="one text per line, or a dataset .tsv")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=32, help="texts per batch")
    parser.add_argument("--skip_bad_samples", action="store_true",
                        help="in a dataset file, skip bad lines (their rows stay empty) instead of stopping")
    args = utils.parse_args(parser, argv)

    predict, tokenizer, task, names = load_predictor(args)
    rows = read_inputs(args, tokenizer, task)
    filled = [i for i, row in enumerate(rows) if row is not None]
    outputs = {}
    for start in range(0, len(filled), args.batch_size):
        batch = filled[start:start + args.batch_size]
        ids, _ = reader.collate([(rows[i][2], 0) for i in batch], tokenizer.pad_id)
        for i, p in zip(batch, predict(ids)):
            outputs[i] = p[:len(rows[i][2])] if task != "classify" else p
    right, chunks, gold_rows = 0, ChunkCounts(), 0
    for i, row in enumerate(rows):
        if row is None:
            print("")
            continue
        where, text, ids, gold = row
        p = outputs[i]
        if task == "classify":
            label = int(p.argmax())
            print(f"{names[label]}\t" + "\t".join(f"p({n})={x:.4f}" for n, x in zip(names, p)) + f"\t{text}")
            if gold is not None:
                right, gold_rows = right + (label == gold), gold_rows + 1
        elif task == "ner":
            tags = [names[t] for t in p[1:-1].argmax(axis=-1)]
            chars = [tokenizer.id_to_token[t] for t in ids[1:-1]]
            found = sorted(bio_chunks(tags), key=lambda c: c[1])
            print(f"{text}\t" + " ".join(f"{''.join(chars[s:e])}/{kind}" for kind, s, e in found))
            if gold is not None:
                keep = gold != reader.IGNORE
                chunks.update([names[t] for t in p.argmax(axis=-1)[keep]], [names[t] for t in gold[keep]])
                gold_rows += 1
        else:
            filled_text = [names[int(p[k].argmax())] if t == tokenizer.mask_id else tokenizer.id_to_token[t]
                           for k, t in enumerate(ids)][1:-1]
            print(f"{text}\t{''.join(filled_text)}")
    if gold_rows:
        result = {"acc": right / gold_rows} if task == "classify" else chunks.summary()
        print(f"final metrics: {format_metrics(result)}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
