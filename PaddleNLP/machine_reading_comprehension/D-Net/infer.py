"""Answer the questions of MRQA jsonl files (or one --question about one --context) with a trained
D-Net: writes predictions.json (question id -> answer, the official script's prediction format) and,
when the files hold answers, prints EM and F1 per dataset as eval.py does.

From the export of the last run (what `bash train.sh` wrote; Paddle Inference, oneDNN on CPU); an export
older than its checkpoint is refused:
    python infer.py --input_files data/demo/dev/BioQA.jsonl data/demo/dev/TravelNews.jsonl.gz
    python infer.py --question "where does dami live ?" --context "dami lives in oslo . kari lives in rome ."
From a training checkpoint (dynamic graph):
    python infer.py --checkpoint output/bert-tiny/latest.pdckpt --input_files ...

The files go through eval.py's reader, sliding windows and n-best extraction (the export's window
settings), so infer.py over the dev files prints the figures eval.py --split dev prints.
"""
import argparse
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import mrqa
from eval import figures, load_run, run_flags
from tokenizer import Tokenizer


def load_predictor(args):
    """(predict(ids, types) -> [start logits, end logits], tokenizer); sets the window settings from the
    run or the export."""
    if args.checkpoint and not args.inference_dir:
        paddle.set_device("cpu")
        model, tokenizer = load_run(args)

        def predict(ids, types):
            with paddle.no_grad():
                return [o.numpy() for o in model(paddle.to_tensor(ids), paddle.to_tensor(types))]
        return predict, tokenizer
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        settings = json.load(f)
    for key in ("max_seq_len", "doc_stride", "max_query_len"):  # the export's, unless given here
        if key not in args.explicit:
            setattr(args, key, settings[key])
    tokenizer = Tokenizer(os.path.join(args.inference_dir, "vocab.txt"))
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda ids, types: run([ids, types])), tokenizer


def answer(args, predict, tokenizer, examples):
    """{question id: answer} for a list of examples, through eval.py's windows and n-best extraction."""
    features = mrqa.make_features(examples, tokenizer, args.max_seq_len, args.doc_stride, args.max_query_len)
    starts, ends = [], []
    for i in utils.progress(range(0, len(features), args.batch_size),
                            (len(features) + args.batch_size - 1) // args.batch_size, "infer"):
        batch = [(f["ids"], f["types"], 0, 0, 0) for f in features[i:i + args.batch_size]]
        s, e = predict(*mrqa.collate(batch, tokenizer.pad_id)[:2])
        starts += list(s)
        ends += list(e)
    return mrqa.predict_answers(examples, features, starts, ends)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_files", nargs="*", default=[], help="MRQA jsonl(.gz) files whose questions to answer")
    parser.add_argument("--question", default=None, help="one question (with --context)")
    parser.add_argument("--context", default=None, help="the passage of --question")
    parser.add_argument("--predictions", default=None,
                        help="where to write {question id: answer}; unset: OUTPUT_DIR/MODEL/predictions.json")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=64, help="windows per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines of --input_files")
    args = utils.parse_args(parser, argv)
    if not args.input_files and not (args.question and args.context):
        raise utils.DataError("nothing to answer; pass --input_files or --question with --context")
    predict, tokenizer = load_predictor(args)
    if args.question:
        words, _ = mrqa.split_words(args.context)
        if not words:
            raise utils.DataError("--context is empty")
        ex = {"id": "question", "question": args.question, "words": words, "answers": [], "start_word": 0, "end_word": 0}
        print(f"answer: {answer(args, predict, tokenizer, [ex]).get('question', '')}")
    predictions, sums = {}, {}
    for path in args.input_files:
        name, examples = mrqa.read_mrqa(path, args.skip_bad_samples, need_answers=False)
        got = answer(args, predict, tokenizer, examples)
        predictions.update(got)
        gold = {e["id"]: e["answers"] for e in examples if e["answers"]}
        if gold:
            sums[name] = mrqa.mrqa_scores(got, gold)
    if args.input_files:
        path = args.predictions or os.path.join(args.output_dir, args.model or "", "predictions.json")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(predictions, f, indent=1, ensure_ascii=False)
        print(f"{len(predictions)} answers to the questions of {len(args.input_files)} file(s) written to {path}")
    if sums:
        result = figures(sums)
        print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples"), flush=True)


if __name__ == "__main__":
    utils.run_main(main)
