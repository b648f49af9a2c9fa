"""Evaluate a SimNet checkpoint on a labelled pair file (`query1<TAB>query2<TAB>label`): AUC, the
positive/negative order ratio and accuracy at --threshold.

    python eval.py --model bow_pairwise --data_dir data/demo
    python eval.py --model bow_pairwise --test_file data/zhidao --checkpoint output/bow_pairwise/best.pdparams
    python eval.py --baseline --data_dir data/demo     # literal word overlap, no model

Under paddle.distributed.launch each rank scores its own share and the scores are gathered, so the
figures equal the single-process ones.
"""
import argparse
import os

import utils
import numpy as np
import paddle
import paddle.distributed as dist

import metric
from models import MODELS, build_model
from reader import TextPairDataset, Vocab, collate_pair, eval_batches


def data_paths(args, split):
    """(vocab path, `split` file path) of a run; the file defaults to `<split>_<task mode>_data`."""
    vocab = args.vocab_file or os.path.join(args.data_dir, "term2id.dict")
    given = getattr(args, f"{split}_file", None)
    return vocab, given or os.path.join(args.data_dir, f"{split}_{MODELS[args.model].task_mode}_data")


@paddle.no_grad()
def predict(model, dataset, fixed_len=0, batch_size=256):
    """Similarity in [0, 1] of every pair of a dataset, in file order, gathered over ranks."""
    was_training = model.training
    model.eval()
    indices, scores = [], []
    for batch in eval_batches(dataset.lengths, batch_size):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bow_pairwise", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--test_file", default=None, help="default: DATA_DIR/test_<task mode>_data")
    parser.add_argument("--vocab_file", default=None, help="default: DATA_DIR/term2id.dict")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None,
                        help="weights or checkpoint (default: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--threshold", type=float, default=None,
                        help="accuracy: similarity above which a pair counts as similar (default: 0.958 for pairwise "
                             "models, 0.5 for pointwise ones and the baseline)")
    parser.add_argument("--baseline", action="store_true", help="score the word-overlap baseline instead of a model")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    utils.setup(args)
    threshold = args.threshold
    if threshold is None:
        threshold = 0.5 if args.baseline else default_threshold(args.model)

    vocab_path, test_path = data_paths(args, "test")
    vocab = Vocab(vocab_path)
    test_set = TextPairDataset(test_path, "pointwise", vocab, args.skip_bad_samples)
    if args.baseline:
        name, result = "word overlap (Jaccard)", word_overlap_baseline(test_set, threshold)
    else:
        model = build_model(args.model, len(vocab))
        utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
        name = args.model
        result = evaluate(model, test_set, MODELS[args.model].fixed_len, args.batch_size, threshold)
    if utils.is_main_process():
        if test_set.skipped:
            print(f"skipped {test_set.skipped} bad samples", flush=True)
        print(f"{name} on {result['samples']} pairs of {test_path}: {format_metrics(result)}", flush=True)
        print(f"final metrics: {format_metrics(result)}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
