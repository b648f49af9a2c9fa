"""Evaluate a trained run on the test split (or dev): ROUGE-L and BLEU-4 as DuReader's evaluation
script computes them (metric.py), over the answer decoded for every question.

    python eval.py                                   # the last run trained in output/, on its data's test split
    python eval.py --split dev --checkpoint output/bidaf/latest.pdckpt
    python eval.py --pred_file output/bidaf/test_pred.json   # also write the predictions (DuReader's format)

Every setting that shapes the model or what it reads (vocabulary, sizes, max_p_num, max_p_len,
max_q_len, max_a_len, para_prior) comes from the run's saved settings (OUTPUT_DIR/MODEL/train_config.json);
a flag given here overrides it. Under paddle.distributed.launch each rank decodes its share and the
metric's sums are added over ranks, so the figure equals the single-process one.
"""
import argparse
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from metric import RELEASE_PRIORS, DuReaderMetric, best_answer
from models import MODELS, build_model


def eval_samples(samples):
    """This rank's share of an eval split (no duplicates)."""
    return samples[utils.rank()::utils.world_size()]


def answer_questions(predict, samples, vocab, args, batch_size=32):
    """(sample, answer text) for every sample, in order; `predict(q_ids, q_len, p_ids, p_len)` returns
    numpy start and end probabilities [B, P * Lp]. The one decoding path of eval, infer and train."""
    priors = RELEASE_PRIORS if args.para_prior == "release" else None
    dataset = reader.SampleDataset(samples, vocab)
    for first in utils.progress(range(0, len(samples), batch_size), (len(samples) + batch_size - 1) // batch_size,
                                "decode"):
        items = [dataset[i] for i in range(first, min(first + batch_size, len(samples)))]
        q_ids, q_len, p_ids, p_len, _, _ = reader.collate(items, vocab.pad_id)
        start_probs, end_probs = predict(q_ids, q_len, p_ids, p_len)
        for b, i in enumerate(range(first, first + len(items))):
            answer, *_ = best_answer(samples[i]["passages"], start_probs[b], end_probs[b], args.max_a_len,
                                     p_ids.shape[2], priors)
            yield samples[i], answer


def dygraph_predictor(model):
    def predict(*arrays):
        with paddle.no_grad():
            start, end = model(*[paddle.to_tensor(a) for a in arrays])
        return start.numpy(), end.numpy()
    return predict


def evaluate(model, samples, vocab, args, pred_file=None):
    """ROUGE-L and BLEU-4 over this rank's samples, the sums added over ranks."""
    model.eval()
    metric = DuReaderMetric()
    predictions = []
    for sample, answer in answer_questions(dygraph_predictor(model), samples, vocab, args):
        metric.update(answer, sample["answers"])
        predictions.append(prediction_record(sample, answer))
    model.train()
    metric.stats = utils.all_reduce_sum(metric.stats)
    if pred_file:
        write_predictions(pred_file, predictions)
    return metric.summary()


def prediction_record(sample, answer):
    """One line of DuReader's prediction format (what dureader_eval.py reads)."""
    return {"question_id": sample["question_id"], "question_type": sample["question_type"], "answers": [answer],
            "entity_answers": [[]], "yesno_answers": []}


def write_predictions(path, records):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use, one of {', '.join(sorted(MODELS))}; unset: the last run "
                             "trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    parser.add_argument("--embed_size", type=int, default=None, help="embedding size; unset: the run's")
    parser.add_argument("--hidden_size", type=int, default=None, help="LSTM hidden size; unset: the run's")
    reader.add_data_flags(parser, default=False)


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config)."""
    utils.load_run_config(args)
    defaults = {"data_dir": "data/demo", "embed_size": 300, "hidden_size": 150, "max_p_num": reader.MAX_P_NUM,
                "max_p_len": reader.MAX_P_LEN, "max_q_len": reader.MAX_Q_LEN, "max_a_len": reader.MAX_A_LEN,
                "para_prior": "none"}
    for key, value in defaults.items():  # a run without saved settings: the folder's defaults
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def load_run_model(args):
    """(model with the run's weights, vocab) for eval and export."""
    run_dir = os.path.join(args.output_dir, args.model)
    vocab_path = os.path.join(run_dir, reader.VOCAB_FILE)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    if not os.path.isfile(vocab_path):
        raise utils.CheckpointError(f"no vocabulary at {vocab_path}; train first")
    vocab = reader.Vocab.load(vocab_path)
    model = build_model(args.model, len(vocab), args.embed_size, args.hidden_size)
    utils.load_model(model, checkpoint)
    model.eval()
    return model, vocab, checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLITS), help="split to evaluate")
    parser.add_argument("--pred_file", default=None, help="also write the predictions here (DuReader's json lines)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)
    model, vocab, _ = load_run_model(args)
    samples = reader.load_split(args.data_dir, args.split, reader.data_config(args), args.skip_bad_samples)
    result = evaluate(model, eval_samples(samples), vocab, args, args.pred_file if utils.world_size() == 1 else None)
    if utils.is_main_process():
        print(f"eval {args.model} on {result['questions']} {args.split} questions of {args.data_dir}: "
              f"rouge_l {result['rouge_l']:.4f} bleu4 {result['bleu4']:.4f}")
        print(f"final metrics: rouge_l={result['rouge_l']:.4f} bleu4={result['bleu4']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
