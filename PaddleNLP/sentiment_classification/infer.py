"""Classify your own sentences: prints, for each, the label and the probability of every label.

Sentences may be segmented (words separated by spaces, as in the dataset) or raw Chinese, which is
cut into dictionary words by forward maximum matching (see reader.segment). When most words of a
sentence are not in the dictionary the prediction means little, and a warning on stderr says so.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference,
oneDNN on CPU); an export older than its checkpoint is refused:
    python infer.py --text "房间 很 干净" --text "服务态度太差了"
    python infer.py --input_file sentences.txt        # one sentence per line; row k answers line k
From a training checkpoint (dynamic graph), or from another export:
    python infer.py --checkpoint output/bilstm/latest.pdckpt --text "房间很干净"
    python infer.py --inference_dir output/bilstm/inference --text "房间很干净"

An --input_file in the dataset's format (with its header line) is read as a dataset: its labels are
compared with the predictions and the accuracy printed, the same figure eval.py gives.

With --pretrained (Taskflow's checkpoint), or a run fine-tuned from it (its export or checkpoint), every
text is cut by jieba with the checkpoint's vocab.txt, as Taskflow cuts raw text (pretrained.py).
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
from eval import fill_from_run, run_flags, run_model
from metric import ClassificationMetric

EXPECTED_INPUT = ("Chinese text, segmented into words separated by spaces as in the training data "
                  "(raw Chinese is cut into dictionary words)")


def read_inputs(args, vocab):
    """One row per input, in input order: (where, text, word ids, gold label id or None), or None for
    an empty line of --input_file, whose output row stays empty so that row k answers line k. A
    dataset file goes through the reader exactly as eval.py reads it."""
    rows = []

    tokenizer = getattr(vocab, "tokenizer", None)  # --pretrained: jieba as Taskflow cuts (pretrained.py)

    def add(text, where):
        words = tokenizer.cut(text) if tokenizer else reader.segment(text, vocab)
        if not words:
            raise utils.DataError(f"{where}: empty text")
        rows.append((where, text, vocab.to_ids(words[:args.max_seq_len]), None))

    for i, text in enumerate(args.text):
        add(text, f"--text {i + 1}")
    if args.input_file:
        raw = list(reader.raw_lines(args.input_file))
        if raw and raw[0][1].strip() == "\t".join(reader.COLUMNS).encode():
            # a dataset file: keep its labels (with jieba: its texts cut as eval.py cuts them)
            texts = []
            examples, _ = reader.read_examples(args.input_file, vocab, args.max_seq_len, args.skip_bad_samples,
                                               texts=texts)
            if tokenizer:
                examples = [(tokenizer.encode("".join(text.split())), label)
                            for (_, text), (_, label) in zip(texts, examples)]
            kept = {lineno: (text, ids, label) for (lineno, text), (ids, label) in zip(texts, examples)}
            for lineno in range(2, len(raw) + 1):  # a blank or skipped line keeps an empty row
                rows.append((f"{args.input_file}:{lineno}", *kept[lineno]) if lineno in kept else None)
        else:
            for lineno, line in utils.read_lines(args.input_file):
                if line.strip():
                    add(line.strip(), f"{args.input_file}:{lineno}")
                else:
                    rows.append(None)
    if not any(rows):
        raise utils.DataError("nothing to classify; pass --text or --input_file")
    return rows


def warn_unknown(rows, vocab, vocab_path, shown=5):
    """Warn on stderr about inputs whose words are mostly missing from the dictionary."""
    unknown = [(where, sum(i == vocab.unk_id for i in ids), len(ids)) for where, _, ids, _ in filter(None, rows)]
    unknown = [u for u in unknown if 2 * u[1] > u[2]]
    for where, n, total in unknown[:shown]:
        print(f"warning: {where}: {n} of {total} words are not in the dictionary {vocab_path}", file=sys.stderr)
    if len(unknown) > shown:
        print(f"warning: and {len(unknown) - shown} more inputs that are mostly unknown words", file=sys.stderr)
    if unknown:
        print(f"warning: such predictions mean little; the model expects {EXPECTED_INPUT}", file=sys.stderr)


def load_predictor(args):
    """(predict(ids, lengths) -> probabilities, vocab, vocab path, label names); sets args.max_seq_len."""
    if args.pretrained:  # PaddleNLP's Taskflow Senta BiLSTM: its weights, vocab.txt and jieba cutting
        import pretrained
        paddle.set_device("cpu")
        model = pretrained.build(args.pretrained)
        vocab_path = pretrained.resolve(args.pretrained)[1]
        vocab = pretrained.TaskflowVocab(vocab_path)
        vocab.tokenizer = pretrained.TaskflowTokenizer(vocab)
        args.max_seq_len = args.max_seq_len or 10 ** 9  # Taskflow cuts nothing off

        def predict(ids, lengths):
            with paddle.no_grad():
                return F.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), axis=-1).numpy()
        return predict, vocab, vocab_path, list(reader.LABEL_NAMES)
    if args.checkpoint and not args.inference_dir:  # dynamic graph from a checkpoint
        import pretrained
        fill_from_run(args)
        paddle.set_device("cpu")
        run_dir = os.path.join(args.output_dir, args.model)
        model, vocab = run_model(args, run_dir)
        if getattr(vocab, "tokenizer", None) is not None:  # fine-tuned from Taskflow's checkpoint
            vocab_path, args.max_seq_len = os.path.join(run_dir, pretrained.VOCAB), 10 ** 9
        else:
            vocab_path = reader.run_vocab_path(run_dir, args.data_dir)
        utils.load_model(model, args.checkpoint)
        model.eval()

        def predict(ids, lengths):
            with paddle.no_grad():
                return F.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), axis=-1).numpy()
        return predict, vocab, vocab_path, list(reader.LABEL_NAMES)

    if not args.inference_dir:  # the export of the last run trained in OUTPUT_DIR (or of --model's)
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    args.max_seq_len = cfg["max_seq_len"] or 10 ** 9  # None: an export fine-tuned from Taskflow's, no cut
    import pretrained
    taskflow = pretrained.run_vocab(args.inference_dir)  # its vocab.txt and jieba, or the run's dictionary
    vocab = taskflow[0] if taskflow else reader.Vocab.load(os.path.join(args.inference_dir, reader.VOCAB_FILE))
    vocab_path = os.path.join(args.inference_dir, pretrained.VOCAB if taskflow else reader.VOCAB_FILE)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda ids, lengths: run([ids, lengths])[0], vocab, vocab_path, cfg["label_names"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--text", action="append", default=[], help="a sentence (repeatable)")
    parser.add_argument("--input_file", default=None, help="one sentence per line, or a dataset .tsv")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--pretrained", default=None,
                        help="PaddleNLP Taskflow's sentiment_analysis bilstm directory (model_state.pdparams + "
                             "vocab.txt, see README): its weights and its jieba cutting; every line is raw text "
                             "(a dataset .tsv: its texts, cut as eval.py --pretrained cuts them, and the accuracy)")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences per batch")
    parser.add_argument("--skip_bad_samples", action="store_true",
                        help="in a dataset file, skip bad lines (their rows stay empty) instead of stopping")
    args = utils.parse_args(parser, argv)  # the run's settings are read only when they are needed

    predict, vocab, vocab_path, names = load_predictor(args)
    rows = read_inputs(args, vocab)
    warn_unknown(rows, vocab, vocab_path)
    filled = [i for i, row in enumerate(rows) if row is not None]
    probs = np.zeros((len(rows), len(names)), dtype=np.float32)
    sampler = reader.LengthBucketSampler([len(rows[i][2]) for i in filled], args.batch_size, shuffle=False,
                                         shard=False)
    for batch in sampler:  # batches of similar length; results go back to input order
        batch_ids, lengths, _ = reader.collate([(rows[filled[i]][2], 0) for i in batch], vocab.pad_id)
        probs[[filled[i] for i in batch]] = predict(batch_ids, lengths)
    predictions = probs.argmax(axis=1)
    print("label\t" + "\t".join(f"p({name})" for name in names) + "\ttext")
    for row, label, p in zip(rows, predictions, probs):
        if row is None:
            print("\t" * (len(names) + 1))
        else:
            print(f"{names[label]}\t" + "\t".join(f"{x:.4f}" for x in p) + f"\t{row[1]}")
    gold = [i for i in filled if rows[i][3] is not None]
    if gold:
        metric = ClassificationMetric(len(names))
        metric.update(predictions[gold], np.array([rows[i][3] for i in gold]))
        print(f"final metrics: acc={metric.accuracy():.4f} macro_f1={metric.summary()['macro_f1']:.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
