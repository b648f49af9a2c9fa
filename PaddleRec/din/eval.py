"""Evaluate a trained run on the test split (paddle_test*.txt, default) or the dev split: AUC and logloss.

    python eval.py                                   # the last run trained in output/, on test
    python eval.py --model lr --split dev            # another run, on the dev split it was selected on
    python eval.py --checkpoint output/din/latest.pdckpt --data_dir /path/to/amazon_electronics

Every setting that shapes the model or the data (model, data_dir, max_history_len, dev_every) comes
from the run's train_config.json unless given here. Training picks best.pdparams on the dev split;
the test split is reported once, by this script, at the end. Under paddle.distributed.launch each
rank scores its own blocks and the AUC histograms and loss sums are added up, so the figure equals
the single-process one.
"""
import argparse
import os

import utils
import paddle
import paddle.nn.functional as F

import reader
from metric import ClickMetrics
from models import MODELS, build_model


def add_data_flags(parser):
    """The flags that shape what the reader gives the model: train.py and eval.py share them."""
    g = parser.add_argument_group("data")
    g.add_argument("--max_history_len", type=int, default=reader.MAX_HISTORY_LEN,
                   help="a longer history keeps its most recent items; truncated lines are counted (0: no cap)")
    g.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                   help="without paddle_dev*.txt, every N-th line of each train file is the dev split "
                        "(held out from training; picks best.pdparams)")
    return parser


def eval_loader(args, split, item_count, cat_count, batch_size, counts):
    """A split ('dev' or 'test'), in blocks spread over the ranks and reader workers, not shuffled.
    counts: what reader.scan returned for the split's files (their lines per part)."""
    files, part = reader.split_source(args.data_dir, split, args.dev_every)
    stream = reader.DinStream(files, item_count, cat_count, batch_size, shuffle=False,
                              num_shards=max(1, args.num_workers), rank=utils.rank(),
                              world_size=utils.world_size(), skip_bad=args.skip_bad_samples,
                              part=part, dev_every=args.dev_every, max_len=args.max_history_len)
    loader = reader.make_loader(stream, args.num_workers, use_shared_memory=not args.no_shared_memory)
    loader.num_batches = stream.batches_per_rank(counts[part])[utils.rank()]
    return loader


def evaluate(model, loader, what="test"):
    """AUC, logloss, click rate and sample count over the whole split (all ranks); bad lines skipped."""
    model.eval()
    metrics, skipped = ClickMetrics(), 0
    with paddle.no_grad():
        for batch in utils.progress(loader, getattr(loader, "num_batches", 0), f"evaluating on {what}"):
            skipped += int(batch[-1].numpy()[7])
            if batch[0].shape[0] == 0:
                continue
            metrics.update(F.sigmoid(model(*batch[:5])).numpy(), batch[5].numpy())
    model.train()
    return {**metrics.result(), "skipped": int(utils.all_reduce_sum([skipped])[0])}


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
    parser.add_argument("--batch_size", type=int, default=512, help="samples per batch")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    add_data_flags(parser)
    return utils.load_run_config(utils.parse_args(parser, argv))


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    _, item_count, cat_count = reader.read_config(args.data_dir)
    files, _ = reader.split_source(args.data_dir, args.split, args.dev_every)
    counts, _, truncated = reader.scan(files, item_count, cat_count, max_len=args.max_history_len,
                                       skip_bad=args.skip_bad_samples, dev_every=args.dev_every,
                                       what=f"checking the {args.split} lines")
    model = build_model(args.model, item_count, cat_count)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    result = evaluate(model, eval_loader(args, args.split, item_count, cat_count, args.batch_size, counts),
                      args.split)
    if utils.is_main_process():
        notes = (f", {result['skipped']} bad lines skipped" if result["skipped"] else "") + (
            f", {truncated} histories cut to {args.max_history_len}" if truncated else "")
        print(f"eval {args.model} ({checkpoint}) on {result['samples']} {args.split} samples "
              f"(click rate {result['ctr']:.3f}{notes}): auc {result['auc']:.4f} logloss {result['logloss']:.4f}")
        print(f"final metrics: auc={result['auc']:.4f} logloss={result['logloss']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
