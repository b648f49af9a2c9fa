"""Classify your own sentences: prints, for each, the label and the probability of every label.

Sentences may be segmented (words separated by spaces, as in the dataset) or raw Chinese, which is
cut into dictionary words by forward maximum matching (see reader.segment).

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py --text "我 今天 很 开心" --text "你好讨厌" --inference_dir output/inference
    python infer.py --input_file sentences.txt        # one sentence per line
From a training checkpoint (dynamic graph):
    python infer.py --text "我很开心" --model textcnn --checkpoint output/textcnn/best.pdparams --data_dir data/demo

An --input_file in the dataset's format (with its header line) is read as a dataset: its labels are
compared with the predictions and the accuracy printed, the same figure eval.py gives.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from metric import ClassificationMetric
from models import MODELS, build_model


def read_inputs(args, vocab):
    """(texts, word-id lists, gold label ids of the trailing labelled texts or None) from --text and
    --input_file. A dataset file goes through the reader exactly as eval.py reads it."""
    texts, ids, labels = [], [], None

    def add(text, where):
        words = reader.segment(text, vocab)
        if not words:
            raise utils.DataError(f"{where}: empty text")
        texts.append(text)
        ids.append(vocab.to_ids(words[:args.max_seq_len]))

    for i, text in enumerate(args.text):
        add(text, f"--text:{i + 1}")
    if args.input_file:
        lines = list(reader.read_lines(args.input_file))
        if lines and lines[0][1].strip() == "\t".join(reader.COLUMNS):  # a dataset file: keep its labels
            examples, _ = reader.read_examples(args.input_file, vocab, args.max_seq_len, args.skip_bad_samples,
                                               texts=texts)
            ids += [example_ids for example_ids, _ in examples]
            labels = [label for _, label in examples]
        else:
            for lineno, line in lines:
                if line.strip():
                    add(line.strip(), f"{args.input_file}:{lineno}")
    if not texts:
        raise utils.DataError("--text:0: nothing to classify; pass --text or --input_file")
    return texts, ids, labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", action="append", default=[], help="a sentence (repeatable)")
    parser.add_argument("--input_file", default=None, help="one sentence per line, or a dataset .tsv")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--data_dir", default="data/demo", help="with --model: where the word dictionary is")
    parser.add_argument("--max_seq_len", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--skip_bad_samples", action="store_true")
    args = parser.parse_args(argv)

    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        vocab, names = reader.load_vocab(args.data_dir), list(reader.LABEL_NAMES)
        model = build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id)
        utils.load_weights(model, args.checkpoint or os.path.join("output", args.model, "best.pdparams"), verbose=False)
        model.eval()

        def predict(ids, lengths):
            with paddle.no_grad():
                return F.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), axis=-1).numpy()
    else:
        cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
        if not os.path.isfile(cfg_path):
            raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
        with open(cfg_path, encoding="utf-8") as f:
            cfg = json.load(f)
        names, args.max_seq_len = cfg["label_names"], cfg["max_seq_len"]
        vocab = reader.Vocab.load(os.path.join(args.inference_dir, reader.VOCAB_FILE))
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

        def predict(ids, lengths):
            return run([ids, lengths])[0]

    texts, ids, labels = read_inputs(args, vocab)
    probs = np.zeros((len(ids), len(names)), dtype=np.float32)
    sampler = reader.LengthBucketSampler([len(x) for x in ids], args.batch_size, shuffle=False, shard=False)
    for batch in sampler:  # batches of similar length; results go back to input order
        batch_ids, lengths, _ = reader.collate([(ids[i], 0) for i in batch], vocab.pad_id)
        probs[batch] = predict(batch_ids, lengths)
    predictions = probs.argmax(axis=1)
    print("label\t" + "\t".join(f"p({name})" for name in names) + "\ttext")
    for text, label, p in zip(texts, predictions, probs):
        print(f"{names[label]}\t" + "\t".join(f"{x:.4f}" for x in p) + f"\t{text}", flush=True)
    if labels is not None:
        metric = ClassificationMetric(len(names))
        metric.update(predictions[len(predictions) - len(labels):], np.array(labels))
        print(f"final metrics: acc={metric.accuracy():.4f} macro_f1={metric.summary()['macro_f1']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
