"""Tag raw Chinese sentences: prints each as `word/TAG word/TAG ...`.

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py "今天,王明在北京参加了会议。" --inference_dir output/inference
    python infer.py --input_file data/demo/infer.txt --output out.txt
From a training checkpoint (dynamic graph):
    python infer.py "今天下午开会。" --model bigru_crf --checkpoint output/bigru_crf/best.pdparams --data_dir data/demo

Input files hold one raw sentence per line. A LAC .tsv (header `text_a` or `text_a\tlabel`,
characters joined by \\002) works too; when every line carries its tags, the chunk metrics are
printed as well, and over test.tsv they equal eval.py's. Characters go through the same q2b.dic
normalisation and word.dic look-up as in training (reader.Vocab); the exported model's directory
carries its own copies of the dictionaries (written by export.py).
"""
import argparse
import os

import utils
from utils import DataError
import numpy as np
import paddle

from eval import add_model_flags
from metric import ChunkEvaluator, get_chunks
from model import MODELS, build_model
from reader import CHAR_SEP, Vocab, decode_line, pad_batch, raw_lines


def read_sentences(path):
    """(characters, gold tags or None) per non-empty line."""
    sentences = []
    for lineno, raw in raw_lines(path):
        line = decode_line(raw, path, lineno)
        if lineno == 1 and line.split("\t")[0] == "text_a":
            continue
        fields = line.split("\t")
        text = fields[0]
        chars = text.split(CHAR_SEP) if CHAR_SEP in text else list(text.strip())
        gold = fields[1].split(CHAR_SEP) if len(fields) > 1 else None
        if gold is not None and len(gold) != len(chars):
            raise DataError(f"{path}:{lineno}: {len(chars)} characters but {len(gold)} tags")
        if chars:
            sentences.append((chars, gold))
    if not sentences:
        raise DataError(f"{path}:0: no sentences")
    return sentences


def words_and_tags(chars, tags):
    """Characters + IOB2 tags -> [(word, TAG)]; an `O` character stands alone."""
    out, covered = [], 0
    for kind, start, end in get_chunks(tags):
        out += [(c, "O") for c in chars[covered:start]]
        out.append(("".join(chars[start:end]), kind))
        covered = end
    return out + [(c, "O") for c in chars[covered:]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", help="raw sentences")
    parser.add_argument("--input_file", default=None, help="one raw sentence per line, or a LAC .tsv")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--data_dir", default="data/demo", help="with --checkpoint: the dictionaries")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--output", default=None, help="also write the results here, one sentence a line")
    add_model_flags(parser)
    args = parser.parse_args()

    items = [(list(t.strip()), None) for t in args.sentences if t.strip()]
    if args.input_file:
        items += read_sentences(args.input_file)
    if not items:
        parser.error("give sentences or --input_file")
    sentences = [chars for chars, _ in items]

    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        vocab = Vocab(args.data_dir)
        model = build_model(args.model, vocab.vocab_size, vocab.num_tags, emb_dim=args.emb_dim,
                            hidden_size=args.hidden_size, num_layers=args.num_layers)
        utils.load_weights(model, args.checkpoint or os.path.join("output", args.model, "best.pdparams"),
                           verbose=False)
        model.eval()

        def predict(chars, lengths):
            with paddle.no_grad():
                return model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
    else:
        vocab = Vocab(args.inference_dir)
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

        def predict(chars, lengths):
            return run([chars, lengths])[0]

    results, predicted = [None] * len(sentences), [None] * len(sentences)
    order = np.argsort([len(s) for s in sentences], kind="stable")  # similar lengths, little padding
    for start in range(0, len(order), args.batch_size):
        batch = order[start:start + args.batch_size]
        chars, lengths = pad_batch([vocab.char_ids(sentences[i]) for i in batch])
        paths = predict(chars, lengths)
        for row, i in enumerate(batch):
            tags = predicted[i] = vocab.tag_names(paths[row, :lengths[row]])
            results[i] = " ".join(f"{w}/{t}" for w, t in words_and_tags(sentences[i], tags))
    for line in results:
        print(line, flush=True)
    if all(gold is not None for _, gold in items):  # a labelled .tsv: the same figure as eval.py
        evaluator = ChunkEvaluator()
        for pred, (_, gold) in zip(predicted, items):
            evaluator.update(pred, gold)
        precision, recall, f1 = evaluator.accumulate()
        print(f"chunk metrics on {args.input_file}: precision={precision:.4f} recall={recall:.4f} f1={f1:.4f}",
              flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write("\n".join(results) + "\n")


if __name__ == "__main__":
    utils.run_main(main)
