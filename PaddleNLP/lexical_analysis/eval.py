"""Evaluates a LAC checkpoint on the test split: chunk precision, recall and F1.

    python eval.py --checkpoint output/bigru_crf/best.pdparams --data_dir data/demo
    python eval.py --baseline --data_dir data/demo    # per-character majority tag, no model
"""
import argparse
import collections
import os

import utils
import numpy as np
import paddle

from metric import ChunkEvaluator
from model import MODELS, build_model
from reader import LacDataset, Vocab, collate, eval_batches


@paddle.no_grad()
def evaluate(model, dataset, vocab, batch_size=256):
    """Chunk (precision, recall, f1) of the model's Viterbi paths; counts summed over ranks."""
    was_training = model.training
    model.eval()
    evaluator = ChunkEvaluator(vocab.id2tag)
    for batch in eval_batches(dataset.lengths, batch_size):
        chars, lengths, tags = collate([dataset[i] for i in batch])
        paths = model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
        evaluator.update_batch(paths, tags, lengths)
    total = ChunkEvaluator()
    total.add_counts(utils.all_reduce_sum(evaluator.counts()))
    if was_training:
        model.train()
    return total.accumulate()


def majority_tag_baseline(train_set, test_set, vocab):
    """The trivial tagger: each character gets the tag it most often has in the training set."""
    counts = collections.defaultdict(collections.Counter)
    for chars, tags in train_set.samples:
        for c, t in zip(chars.tolist(), tags.tolist()):
            counts[c][t] += 1
    overall = collections.Counter(t for _, tags in train_set.samples for t in tags.tolist()).most_common(1)[0][0]
    best = {c: counter.most_common(1)[0][0] for c, counter in counts.items()}
    evaluator = ChunkEvaluator(vocab.id2tag)
    for chars, tags in test_set.samples:
        evaluator.update([best.get(c, overall) for c in chars.tolist()], tags)
    return evaluator.accumulate()


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def add_model_flags(parser):
    """Model sizes: the release/1.7 recipe's defaults; train, eval and export share them."""
    g = parser.add_argument_group("model")
    g.add_argument("--emb_dim", type=int, default=128, help="character embedding size")
    g.add_argument("--hidden_size", type=int, default=128, help="GRU hidden size per direction")
    g.add_argument("--num_layers", type=int, default=2, help="bidirectional GRU layers")
    return parser


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bigru_crf", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--checkpoint", default=None,
                        help="weights or checkpoint (default: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="score the per-character majority tagger instead")
    add_model_flags(parser)
    args = parser.parse_args()
    utils.setup(args)

    vocab = Vocab(args.data_dir)
    test_set = LacDataset(os.path.join(args.data_dir, "test.tsv"), vocab, args.skip_bad_samples)
    if args.baseline:
        train_set = LacDataset(os.path.join(args.data_dir, "train.tsv"), vocab, args.skip_bad_samples)
        precision, recall, f1 = majority_tag_baseline(train_set, test_set, vocab)
        name = "majority_tag_baseline"
    else:
        model = build_model(args.model, vocab.vocab_size, vocab.num_tags, emb_dim=args.emb_dim,
                            hidden_size=args.hidden_size, num_layers=args.num_layers)
        utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
        precision, recall, f1 = evaluate(model, test_set, vocab, args.batch_size)
        name = args.model
    if test_set.skipped:
        print(f"skipped {test_set.skipped} bad lines", flush=True)
    if utils.is_main_process():
        print(f"{name} on {len(test_set)} sentences of {args.data_dir}/test.tsv", flush=True)
        print(f"final metrics: precision={precision:.4f} recall={recall:.4f} f1={f1:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
