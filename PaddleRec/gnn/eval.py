"""Evaluate a trained run on the test split (test.txt, default) or the dev split: P@20 and MRR@20
against the full item set, next to the popularity baseline on the same samples.

    python eval.py                                   # the last run trained in output/, on test
    python eval.py --split dev                       # the dev split best.pdparams was picked on
    python eval.py --checkpoint output/srgnn/latest.pdckpt --data_dir data/diginetica

Every setting that shapes the model or the data (model, data_dir, hidden_size, step, dev_every)
comes from the run's train_config.json unless given here. The scores of a batch are one matrix
product against every item embedding, and the top 20 one paddle.topk (metric.py). A target outside
the vocabulary counts as a miss. Under paddle.distributed.launch each rank scores its own batches
and the hit and reciprocal-rank sums are added up, so the figure equals the single-process one.
The popularity baseline recommends the 20 most frequent targets of the training samples to everyone.
"""
import argparse
import os

import utils
import numpy as np
import paddle

import reader
from metric import K, RankingMetrics, popularity_top
from models import MODELS, build_model


def add_model_flags(parser):
    """The flags that shape the model and the data it sees: train.py and eval.py share them."""
    g = parser.add_argument_group("model and data")
    g.add_argument("--hidden_size", type=int, default=100, help="item embedding and hidden state size")
    g.add_argument("--step", type=int, default=1, help="gated graph propagation steps")
    g.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                   help="without dev.txt, every N-th training session is the dev split "
                        "(held out from training with all its samples; picks best.pdparams)")
    return parser


def make_eval_loader(samples, indices, batch_size, args):
    """A split in order, its batches spread over the ranks (no sample twice)."""
    batches = reader.eval_batches(indices, batch_size, utils.rank(), utils.world_size())
    loader = reader.make_loader(samples, batches, args.num_workers, use_shared_memory=not args.no_shared_memory)
    loader.num_batches = len(batches)
    return loader


def evaluate(model, loader, what="test"):
    """P@20, MRR@20 and the sample count over the whole split (all ranks)."""
    model.eval()
    metrics = RankingMetrics()
    with paddle.no_grad():
        for batch in utils.progress(loader, getattr(loader, "num_batches", 0), f"evaluating on {what}"):
            metrics.update(model(*batch[:6]), batch[6].numpy())
    model.train()
    return metrics.result()


def popularity_baseline(train, train_idx, samples, indices):
    """The baseline's P@20 and MRR@20 on the same samples (its top 20 from the training targets)."""
    top = popularity_top(train, train_idx[train.labels[train_idx] > 0])
    mine = np.concatenate(reader.eval_batches(indices, 1 << 30, utils.rank(), utils.world_size()) or [[]])
    metrics = RankingMetrics()
    metrics.update(labels=samples.labels[mine.astype(np.int64)], top=np.tile(top, (len(mine), 1)))
    return metrics.result()


def default_checkpoint(output_dir, model):
    """best.pdparams (picked on dev), or latest.pdckpt when no evaluation has run yet."""
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to evaluate: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (default: the run's own, else %(default)s)")
    parser.add_argument("--split", choices=["test", "dev"], default="test", help="which split to score")
    parser.add_argument("--checkpoint", default=None, help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    parser.add_argument("--batch_size", type=int, default=500, help="samples per batch")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--no_baseline", action="store_true", help="do not score the popularity baseline")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    add_model_flags(parser)
    return utils.load_run_config(utils.parse_args(parser, argv))


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    items_num = reader.read_config(args.data_dir)
    # train.txt is parsed once: for the dev split (carved from it without dev.txt) and for the baseline.
    train_dev = None
    if args.split == "dev" or not args.no_baseline:
        train_dev = reader.load_train_dev(args.data_dir, items_num, args.skip_bad_samples, args.dev_every)
    samples, indices = (train_dev[2:] if args.split == "dev" else
                        reader.load_split(args.data_dir, "test", items_num, args.skip_bad_samples))
    model = build_model(args.model, items_num, hidden_size=args.hidden_size, step=args.step)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    result = evaluate(model, make_eval_loader(samples, indices, args.batch_size, args), args.split)
    baseline = None if args.no_baseline else popularity_baseline(*train_dev[:2], samples, indices)
    if utils.is_main_process():
        notes = samples.counts_text()
        print(f"eval {args.model} ({checkpoint}) on {result['samples']} {args.split} samples"
              + (f" ({notes})" if notes else "") + f": P@{K} {result[f'p@{K}']:.4f} MRR@{K} {result[f'mrr@{K}']:.4f}")
        if baseline is not None:
            print(f"popularity baseline (the {K} most frequent training targets) on the same samples: "
                  f"P@{K} {baseline[f'p@{K}']:.4f} MRR@{K} {baseline[f'mrr@{K}']:.4f}")
        print(f"final metrics: p@{K}={result[f'p@{K}']:.4f} mrr@{K}={result[f'mrr@{K}']:.4f}"
              + (f" popularity_p@{K}={baseline[f'p@{K}']:.4f} popularity_mrr@{K}={baseline[f'mrr@{K}']:.4f}"
                 if baseline is not None else ""), flush=True)
    return {**result, "baseline": baseline}


if __name__ == "__main__":
    utils.run_main(main)
