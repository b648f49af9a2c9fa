"""Answer questions: prints, for each question, its id, the answer and the question.

From a DuReader-layout file (the dev/test paragraph selection, exactly as eval.py reads it); when the
file has reference answers, ROUGE-L and BLEU-4 are printed too, the figures eval.py gives:
    python infer.py --input_file data/demo/devset/search.dev.json
Your own question and passages (segmented: tokens separated by spaces; each --passage is one document):
    python infer.py --question "玉国 的 首都 是 哪里 ？" --passage "玉国 的 首都 是 北城 。 安国 的 首都 是 南城 。"

By default the export of the last run trained in OUTPUT_DIR is used (Paddle Inference); an export
older than its checkpoint is refused. --checkpoint runs a training checkpoint in the dynamic graph.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import answer_questions, dygraph_predictor, fill_from_run, load_run_model, prediction_record, run_flags, write_predictions
from export import INFER_KEYS
from metric import DuReaderMetric


def own_sample(question, passages, cfg):
    """A question typed on the command line, as the reader's dev/test sample (one document per passage)."""
    line = json.dumps({"question_id": "--question", "question_type": "", "segmented_question": question.split(),
                       "documents": [{"segmented_title": [], "segmented_paragraphs": [p.split()]} for p in passages]},
                      ensure_ascii=False)
    if not passages:
        raise utils.DataError("--question: no --passage given")
    return reader.parse_sample(line, "--question", False, cfg, reader.Counts())


def load_predictor(args):
    """(predict, vocab); sets the run's reading settings on args."""
    if args.checkpoint and not args.inference_dir:
        fill_from_run(args)
        paddle.set_device("cpu")
        model, vocab, _ = load_run_model(args)
        return dygraph_predictor(model), vocab
    if not args.inference_dir:
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    for key in INFER_KEYS:
        if key not in args.explicit or getattr(args, key, None) is None:
            setattr(args, key, cfg[key])
    vocab = reader.Vocab.load(os.path.join(args.inference_dir, reader.VOCAB_FILE))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda *arrays: tuple(run(list(arrays)))), vocab


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_file", default=None, help="a DuReader-layout json-lines file")
    parser.add_argument("--question", default=None, help="your own question (tokens separated by spaces)")
    parser.add_argument("--passage", action="append", default=[], help="a passage for --question (repeatable)")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--pred_file", default=None, help="also write the predictions here (DuReader's json lines)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip bad lines of --input_file instead of stopping")
    args = utils.parse_args(parser, argv)
    if not args.input_file and not args.question:
        raise utils.DataError("nothing to answer; pass --input_file or --question with --passage")
    predict, vocab = load_predictor(args)
    cfg = reader.data_config(args)
    samples = [own_sample(args.question, args.passage, cfg)] if args.question else []
    if args.input_file:
        counts = reader.Counts()
        got, skipped = reader.read_file(args.input_file, False, cfg, args.skip_bad_samples, counts)
        if skipped:
            counts.c["bad lines skipped"] += skipped
        counts.report(args.input_file)
        samples += got
    metric, records = DuReaderMetric(), []
    print("question_id\tanswer\tquestion")
    for sample, answer in answer_questions(predict, samples, vocab, args):
        print(f"{sample['question_id']}\t{answer}\t{' '.join(sample['question'])}")
        metric.update(answer, sample["answers"])
        records.append(prediction_record(sample, answer))
    if args.pred_file:
        write_predictions(args.pred_file, records)
    result = metric.summary()
    if result["questions"]:
        print(f"final metrics: rouge_l={result['rouge_l']:.4f} bleu4={result['bleu4']:.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
