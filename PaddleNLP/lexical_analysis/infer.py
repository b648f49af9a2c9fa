"""Tags raw Chinese sentences: prints each as `word/TAG word/TAG ...`.

    python infer.py "今天,王明在北京参加了会议。"         # the last run's export (output/MODEL/inference)
    python infer.py --input_file data/demo/infer.txt --output tagged.txt
    python infer.py "今天下午开会。" --checkpoint output/bigru_crf/best.pdparams   # dynamic graph

By default the export of the last run trained in OUTPUT_DIR is used, and refused if that run's
weights changed after the export (run export.py again); stderr names the export used.

Input: raw, unsegmented Chinese text, one sentence per argument or per line of --input_file.
Output line k answers input line k: an empty line gives an empty line. A LAC .tsv (header
`text_a\\tlabel`, characters joined by \\002) works too; its header gives no output line, and when
every line carries its tags the chunk metrics are printed as well, equal to eval.py's on that
file. Characters go through the same q2b.dic normalisation and word.dic look-up as in training
(reader.Vocab); the export carries its own copies of the dictionaries. When most characters of an
input are not in word.dic, a warning on stderr says so: the tags of such a line are guesses.
"""
import argparse
import os
import sys

import utils
from utils import DataError
import numpy as np
import paddle

from eval import add_model_flags, add_run_flags, build_run_model, resolve_run, run_vocab
from metric import ChunkEvaluator, get_chunks
import pretrained
from reader import CHAR_SEP, HEADER, Vocab, pad_batch

EXPECTED_INPUT = ("infer.py expects raw Chinese text like the training data's, one sentence per line, "
                  "not segmented into words")


def read_inputs(path):
    """[(where, characters, gold tags or None)] for every line of a raw text file or a LAC .tsv,
    empty lines included (they keep their place in the output)."""
    lines = utils.read_lines(path)
    is_tsv = bool(lines) and lines[0][1].split("\t")[0] == HEADER.split("\t")[0]
    inputs = []
    for lineno, line in lines[1:] if is_tsv else lines:
        if not is_tsv:
            inputs.append((f"{path}:{lineno}", list(line.strip()), None))
            continue
        fields = line.split("\t")
        chars = fields[0].split(CHAR_SEP) if fields[0] else []
        gold = fields[1].split(CHAR_SEP) if len(fields) > 1 else None
        if gold is not None and len(gold) != len(chars):
            raise DataError(f"{path}:{lineno}: {len(chars)} characters but {len(gold)} tags")
        inputs.append((f"{path}:{lineno}", chars, gold))
    return inputs


def words_and_tags(chars, tags):
    """Characters + IOB2 tags -> [(word, TAG)]; an `O` character stands alone."""
    out, covered = [], 0
    for kind, start, end in get_chunks(tags):
        out += [(c, "O") for c in chars[covered:start]]
        out.append(("".join(chars[start:end]), kind))
        covered = end
    return out + [(c, "O") for c in chars[covered:]]


def warn_unknown(inputs, vocab):
    """Inputs whose characters are mostly (more than half) not in word.dic get one warning on stderr."""
    unknown = [where for where, chars, _ in inputs
               if chars and np.mean(vocab.char_ids(chars) == vocab.oov_id) > 0.5]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        print(f"warning: most characters of {len(unknown)} input(s) ({shown}) are not in the model's vocabulary "
              f"(word.dic, {len(vocab.word2id)} entries), so their tags are guesses. {EXPECTED_INPUT}.",
              file=sys.stderr, flush=True)
    return unknown


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("sentences", nargs="*", help="raw sentences")
    parser.add_argument("--input_file", default=None, help="one raw sentence per line, or a LAC .tsv")
    add_run_flags(parser, data_help="with --checkpoint: where word.dic, tag.dic and q2b.dic are (None: the run's)",
                  checkpoint_help="tag with these weights in the dynamic graph (None: use the export)")
    parser.add_argument("--inference_dir", default=None,
                        help="an export (None: OUTPUT_DIR/MODEL/inference); ignored with --checkpoint")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences per batch")
    parser.add_argument("--pretrained", default=None,
                        help="tag with PaddleNLP's LAC checkpoint (model_state.pdparams or its directory, the dics "
                             "next to it) in the dynamic graph, words grouped as Taskflow('lexical_analysis') does")
    parser.add_argument("--output", default=None, help="also write the results here, one line per input line")
    add_model_flags(parser)
    return parser


def main(argv=None):
    parser = build_parser()
    args = utils.parse_args(parser, argv)
    inputs = [(f"argument {i}", list(t.strip()), None) for i, t in enumerate(args.sentences, 1)]
    if args.input_file:
        inputs += read_inputs(args.input_file)
    if not any(chars for _, chars, _ in inputs):
        parser.error("give sentences or --input_file")
    if args.pretrained:
        args.model = args.model or "bigru_crf"
    elif args.checkpoint or "inference_dir" not in args.explicit:
        resolve_run(args)  # the last run trained in OUTPUT_DIR, with its settings

    group = words_and_tags
    if args.pretrained:  # PaddleNLP's checkpoint, its dics, Taskflow's word grouping
        paddle.set_device("cpu")
        model, vocab = pretrained.build_pretrained(args.pretrained, args.model)
        group = pretrained.taskflow_words

        def predict(chars, lengths):
            with paddle.no_grad():
                return model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
    elif args.checkpoint:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        vocab = run_vocab(args)
        model = build_run_model(args, vocab)
        utils.load_model(model, args.checkpoint)
        model.eval()

        def predict(chars, lengths):
            with paddle.no_grad():
                return model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)
        vocab = Vocab(inference_dir)
        run = utils.create_predictor(os.path.join(inference_dir, "model"))

        def predict(chars, lengths):
            return run([chars, lengths])[0]

    warn_unknown(inputs, vocab)
    results, predicted = [""] * len(inputs), [None] * len(inputs)
    todo = [i for i, (_, chars, _) in enumerate(inputs) if chars]
    todo.sort(key=lambda i: len(inputs[i][1]))  # similar lengths, little padding
    for start in range(0, len(todo), args.batch_size):
        batch = todo[start:start + args.batch_size]
        chars, lengths = pad_batch([vocab.char_ids(inputs[i][1]) for i in batch])
        paths = predict(chars, lengths)
        for row, i in enumerate(batch):
            tags = predicted[i] = vocab.tag_names(paths[row, :lengths[row]])
            results[i] = " ".join(f"{w}/{t}" for w, t in group(inputs[i][1], tags))
    for line in results:
        print(line, flush=True)
    labelled = [(predicted[i], inputs[i][2]) for i in todo]
    if all(gold is not None for _, gold in labelled):  # a labelled .tsv: the same figure as eval.py
        evaluator = ChunkEvaluator()
        for pred, gold in labelled:
            evaluator.update(pred, gold)
        precision, recall, f1 = evaluator.accumulate()
        print(f"chunk metrics on {args.input_file}: precision={precision:.4f} recall={recall:.4f} f1={f1:.4f}",
              flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in results))
    return results


if __name__ == "__main__":
    utils.run_main(main)
