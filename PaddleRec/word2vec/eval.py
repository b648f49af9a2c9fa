"""Evaluate a trained run on the analogy questions (test split by default): 3CosAdd accuracy over all
questions and over those whose four words are in the vocabulary, per section, and the same figure
for random vectors (the baseline a trained model must beat).

    python eval.py                                   # the last run trained in output/, test questions
    python eval.py --split dev                       # the dev questions best.pdparams was picked on
    python eval.py --questions my-questions.txt      # your own file, every question of it

The vocabulary comes from the run (OUTPUT_DIR/MODEL/vocab.txt), the model-shaping settings (dim,
data_dir, questions, dev_every) from its train_config.json unless given here. Under
paddle.distributed.launch every rank scores its share of the questions and the counts are summed.
"""
import argparse
import os

import utils

import metric
import reader
from models import MODELS, AnalogyModel, build_model


def default_checkpoint(output_dir, model):
    """best.pdparams (picked on dev), or latest.pdckpt when no evaluation has run yet."""
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_run(args):
    """(vocabulary, skip-gram model with the run's weights, checkpoint path) of the run args name."""
    vocab_path = os.path.join(args.output_dir, args.model, reader.VOCAB_FILE)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    if not os.path.isfile(vocab_path):
        raise utils.CheckpointError(f"no vocabulary at {vocab_path}; train first (train.py writes it)")
    vocab = reader.Vocab.load(vocab_path)
    model = build_model(args.model, len(vocab), dim=args.dim, sparse=False)
    utils.load_model(model, checkpoint)
    model.eval()
    return vocab, model, checkpoint


def add_run_flags(parser, what):
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to {what}: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    parser.add_argument("--dim", type=int, default=300, help="embedding size (default: the run's own)")


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser, "evaluate")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (default: the run's own, else %(default)s)")
    parser.add_argument("--questions", default=None,
                        help="analogy questions file (default: the run's own, else DATA_DIR/questions-words.txt); "
                             "given here, every question of it is scored")
    parser.add_argument("--split", choices=["test", "dev", "all"], default="test", help="which questions to score")
    parser.add_argument("--dev_every", type=int, default=10, help="the dev split's every N-th question (default: the run's own)")
    parser.add_argument("--batch_size", type=int, default=1024, help="questions per matrix product")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad question lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--no_baseline", action="store_true", help="do not score random vectors too")
    args = utils.parse_args(parser, argv)
    own_questions = "questions" in args.explicit
    args = utils.load_run_config(args)
    if own_questions and "split" not in args.explicit:
        args.split = "all"
    return args


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    vocab, model, checkpoint = load_run(args)
    path, questions, bad = reader.load_questions(args.data_dir, args.split, args.dev_every, args.skip_bad_samples,
                                                 args.questions)
    result = metric.evaluate(AnalogyModel(model, top_k=1, unk_id=vocab.unk_id), vocab, questions, args.batch_size)
    baseline = None if args.no_baseline else metric.random_baseline(vocab, questions, args.dim, seed=0)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on the {args.split} questions of {path}"
              + (f" ({bad} bad lines skipped)" if bad else "") + ":")
        for name, s in result["sections"].items():
            print(f"  {name:28s} {s['correct']:6d} / {s['questions']:6d} right ({s['questions'] - s['covered']} out of vocabulary)")
        print(f"trained vectors: {metric.format_result(result)}")
        if baseline is not None:
            print(f"baseline (random vectors): {metric.format_result(baseline)}")
        print(f"final metrics: acc={result['acc']:.4f} acc_covered={result['acc_covered']:.4f} "
              f"oov={result['oov']}" + (f" baseline_acc={baseline['acc']:.4f}" if baseline else ""), flush=True)
    result["baseline"] = baseline
    return result


if __name__ == "__main__":
    utils.run_main(main)
