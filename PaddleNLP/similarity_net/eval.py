"""Evaluate a trained SimNet run on a labelled pair file (`query1<TAB>query2<TAB>label`): AUC, the
positive/negative order ratio and accuracy at --threshold.

    python eval.py                                   # the last run trained in output/, on its test file
    python eval.py --test_file /path/to/data/zhidao --checkpoint output/bow_pairwise/latest.pdckpt
    python eval.py --baseline                        # literal word overlap on the same pairs, no model

Without --model it evaluates the last run trained in --output_dir, with that run's saved settings
(model, data_dir, vocabulary, threshold); its best.pdparams was selected on the dev pairs.

Under paddle.distributed.launch each rank scores its own share and the scores are gathered, so the
figures equal the single-process ones.
"""
import argparse
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle
import paddle.distributed as dist

import metric
from models import MODELS, build_model
from reader import TextPairDataset, Vocab, collate_pair, eval_batches


def data_paths(args, split):
    """(vocab path, `split` file path) of a run; the file defaults to `<split>_<task mode>_data`. The
    vocabulary is --vocab_file, else the copy train.py keeps with the run, else DATA_DIR/term2id.dict."""
    run_vocab = os.path.join(args.output_dir, args.model, "term2id.dict")
    vocab = args.vocab_file or (run_vocab if split != "train" and os.path.isfile(run_vocab)
                                else os.path.join(args.data_dir, "term2id.dict"))
    given = getattr(args, f"{split}_file", None)
    return vocab, given or os.path.join(args.data_dir, f"{split}_{MODELS[args.model].task_mode}_data")


@paddle.no_grad()
def predict(model, dataset, fixed_len=0, batch_size=256):
    """Similarity in [0, 1] of every pair of a dataset, in file order, gathered over ranks."""
    was_training = model.training
    model.eval()
    indices, scores = [], []
    batches = eval_batches(dataset.lengths, batch_size)
    for batch in utils.progress(batches, len(batches), "eval"):
        arrays = collate_pair([dataset[i][:2] for i in batch], fixed_len)
        scores.append(model.similarity(*[paddle.to_tensor(a) for a in arrays]).numpy())
        indices += batch
    if was_training:
        model.train()
    mine = (np.asarray(indices, dtype="int64"), np.concatenate(scores) if scores else np.zeros(0, "float32"))
    if utils.world_size() > 1:
        parts = []
        dist.all_gather_object(parts, mine)
        mine = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    result = np.zeros(len(dataset), dtype="float32")
    result[mine[0]] = mine[1]
    return result


def evaluate(model, dataset, fixed_len=0, batch_size=256, threshold=0.5):
    """auc, pos_neg, accuracy and the sample count of the model on a labelled pair file."""
    scores = predict(model, dataset, fixed_len, batch_size)
    groups = [texts[0] for texts in dataset.texts]
    return {**metric.all_metrics(groups, scores, dataset.labels, threshold), "samples": len(dataset)}


def word_overlap_baseline(dataset, threshold=0.5):
    """The literal-similarity baseline the release compares with: Jaccard overlap of the word sets."""
    scores = [metric.word_overlap(left, right) for left, right in dataset.texts]
    groups = [texts[0] for texts in dataset.texts]
    return {**metric.all_metrics(groups, scores, dataset.labels, threshold), "samples": len(dataset)}


def format_metrics(result):
    return " ".join(f"{k}={result[k]:.4f}" for k in ("auc", "pos_neg", "accuracy"))


def default_threshold(model_name):
    """0.958 on (cosine + 1) / 2 for pairwise models (the release's run.sh `lamda`), 0.5 on P(similar)."""
    return 0.958 if MODELS[model_name].task_mode == "pairwise" else 0.5


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to evaluate ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (the run's, unless given)")
    parser.add_argument("--test_file", default=None, help="labelled pairs; None: DATA_DIR/test_<task mode>_data")
    parser.add_argument("--vocab_file", default=None, help="None: the run's copy, else DATA_DIR/term2id.dict")
    parser.add_argument("--checkpoint", default=None,
                        help="weights or checkpoint (None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)")
    parser.add_argument("--batch_size", type=int, default=256, help="pairs per forward pass")
    parser.add_argument("--threshold", type=float, default=None,
                        help="accuracy: similarity above which a pair counts as similar (None: the run's; "
                             "0.958 for pairwise models, 0.5 for pointwise ones and the baseline)")
    parser.add_argument("--baseline", action="store_true", help="score the word-overlap baseline instead of a model")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (evaluation is deterministic)")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    try:
        utils.load_run_config(args, keep=("output_dir", "batch_size", "device", "test_file"))
    except utils.CheckpointError:
        if not args.baseline:  # the baseline needs no trained run
            raise
        args.model = args.model or "bow_pairwise"
    if args.baseline and "threshold" not in args.explicit:
        args.threshold = 0.5
    if args.threshold is None:
        args.threshold = default_threshold(args.model)
    return args


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    vocab_path, test_path = data_paths(args, "test")
    vocab = Vocab(vocab_path)
    test_set = TextPairDataset(test_path, "pointwise", vocab, args.skip_bad_samples)
    if args.baseline:
        name, result = "word overlap (Jaccard)", word_overlap_baseline(test_set, args.threshold)
    else:
        model = build_model(args.model, len(vocab))
        checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
        utils.load_model(model, checkpoint)
        name = f"{args.model} ({checkpoint})"
        result = evaluate(model, test_set, MODELS[args.model].fixed_len, args.batch_size, args.threshold)
    if utils.is_main_process():
        if test_set.skipped:
            print(f"skipped {test_set.skipped} bad samples", flush=True)
        print(f"{name} on {result['samples']} pairs of {test_path}: {format_metrics(result)}", flush=True)
        print(f"final metrics: {format_metrics(result)}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
