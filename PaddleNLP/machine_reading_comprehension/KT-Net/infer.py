"""Answer the questions of a ReCoRD or SQuAD v1.1 json file (answers optional): writes predictions.json
({question id: answer}) and, when the file has answers, prints eval.py's exact match and F1.

From the export of the last run (what `bash train.sh` wrote; Paddle Inference, oneDNN on CPU; an
export older than its checkpoint is refused):
    python infer.py --input_file data/demo/record/test.json
From a training checkpoint (dynamic graph):
    python infer.py --checkpoint output/bert-tiny/latest.pdckpt --input_file my_questions.json

The file goes through eval.py's reader, windows, KB lookup and answer extraction, so infer.py over a
split prints the figures eval.py prints on it.
"""
import argparse
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import metrics
from eval import load_run, mrc_loader, predict_logits, run_flags
from kb import KnowledgeBase
from tokenizer import Tokenizer


def load_predictor(args):
    """(predict(ids, types, concepts) -> [start logits, end logits], tokenizer, KB); the run's or the
    export's settings fill the flags not given."""
    if args.checkpoint and not args.inference_dir:
        paddle.set_device("cpu")
        model, tokenizer, kb = load_run(args)

        def predict(ids, types, concepts):
            with paddle.no_grad():
                return [t.numpy() for t in model(*(paddle.to_tensor(a) for a in (ids, types, concepts)))]
        return predict, tokenizer, kb
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        settings = json.load(f)
    for key, value in settings.items():  # the export's, unless given here
        if key not in args.explicit:
            setattr(args, key, value)
    tokenizer = Tokenizer(os.path.join(args.inference_dir, "vocab.txt"))
    kb = KnowledgeBase(os.path.join(args.inference_dir, "kb"), args.max_concepts)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return lambda ids, types, concepts: run([ids, types, concepts]), tokenizer, kb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--input_file", required=True, help="a ReCoRD or SQuAD json (--dataset; unset: the run's) "
                        "whose questions to answer")
    parser.add_argument("--predictions", default=None,
                        help="where to write {question id: answer}; unset: OUTPUT_DIR/MODEL/predictions.json")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--batch_size", type=int, default=64, help="windows per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad questions")
    args = utils.parse_args(parser, argv)
    predict, tokenizer, kb = load_predictor(args)
    args.num_workers, args.no_shared_memory, args.to_static = 0, False, False
    data, loader, _ = mrc_loader(args, tokenizer, kb, None, path=args.input_file, need_answers=False)
    starts, ends, order = predict_logits(predict, utils.progress(loader, len(loader), "infer"))
    predictions = metrics.predict_answers(data.examples, [data.features[i] for i in order], starts, ends)
    path = args.predictions or os.path.join(args.output_dir, args.model or "", "predictions.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(predictions, f, indent=1, ensure_ascii=False)
    for ex in data.examples[:3]:
        print(f"{ex['id']}: {ex['question']} -> {predictions.get(ex['id'], '')!r}")
    print(f"{len(predictions)} answers to {len(data.examples)} questions of {args.input_file} written to {path}")
    answers = {e["id"]: e["answers"] for e in data.examples if e["answers"]}
    if answers:
        em, f1, n = metrics.scores(predictions, answers)
        print(f"final metrics: exact_match={100 * em / n:.4f} f1={100 * f1 / n:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
