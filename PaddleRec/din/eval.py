"""Evaluate a checkpoint on the test split (paddle_test*.txt): AUC and logloss.

    python eval.py --model din --data_dir data/amazon_electronics --checkpoint output/din/best.pdparams

Under paddle.distributed.launch each rank scores its own blocks of the file and the AUC histograms
and loss sums are added up, so the figure equals the single-process one.
"""
import argparse
import os

import utils
import paddle
import paddle.nn.functional as F

import reader
from metric import ClickMetrics
from models import MODELS, build_model


def test_loader(args, item_count, cat_count, batch_size):
    """The test split, in blocks spread over the ranks and reader workers, not shuffled."""
    stream = reader.DinStream(reader.split_files(args.data_dir, "test"), item_count, cat_count,
                              batch_size, shuffle=False,
                              num_shards=max(1, args.num_workers), rank=utils.rank(),
                              world_size=utils.world_size(), skip_bad=args.skip_bad_samples)
    return reader.make_loader(stream, args.num_workers, use_shared_memory=not args.no_shared_memory)


def evaluate(model, loader):
    """AUC, logloss, click rate and sample count over the whole split (all ranks); bad lines skipped."""
    model.eval()
    metrics, skipped = ClickMetrics(), 0
    with paddle.no_grad():
        for batch in loader:
            skipped += int(batch[-1].numpy()[7])
            if batch[0].shape[0] == 0:
                continue
            metrics.update(F.sigmoid(model(*batch[:5])).numpy(), batch[5].numpy())
    model.train()
    return {**metrics.result(), "skipped": int(utils.all_reduce_sum([skipped])[0])}


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="din", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--batch_size", type=int, default=512)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--no_shared_memory", action="store_true")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    utils.setup(args)

    _, item_count, cat_count = reader.read_config(args.data_dir)
    model = build_model(args.model, item_count, cat_count)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    result = evaluate(model, test_loader(args, item_count, cat_count, args.batch_size))
    if utils.is_main_process():
        skipped = f", {result['skipped']} bad lines skipped" if result["skipped"] else ""
        print(f"eval {args.model} on {result['samples']} samples (click rate {result['ctr']:.3f}{skipped}): "
              f"auc {result['auc']:.4f} logloss {result['logloss']:.4f}")
        print(f"final metrics: auc={result['auc']:.4f} logloss={result['logloss']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
