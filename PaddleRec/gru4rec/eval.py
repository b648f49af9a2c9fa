"""Evaluate a trained run on the test split (or dev): Recall@20 and MRR@20 over every next-item
prediction, scored against the whole item set, next to the popularity baseline (the 20 items clicked
most in the training data, recommended at every position).

    python eval.py                                   # the last run trained in output/, on its data's test split
    python eval.py --split dev --checkpoint output/gru4rec/latest.pdckpt

Every setting that shapes the model or the data (model, loss, data_dir, max_seq_len) comes from the
run's saved settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it. Under
paddle.distributed.launch each rank scores its own share of the sessions and the counts are summed,
so the figures equal the single-process ones.
"""
import argparse
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from metric import RankingMetrics, popular_items, popularity_topk
from models import MODELS, TOPK, build_model

POPULARITY_FILE = "popularity.json"


def evaluate(model, loader, popular=None, k=TOPK):
    """Recall@k and MRR@k of the model over a loader of (inputs, targets, lengths), summed over ranks;
    with `popular` (the baseline's items) also the baseline's, as pop_recall@k and pop_mrr@k."""
    model.eval()
    ours, baseline = RankingMetrics(k), RankingMetrics(k)
    with paddle.no_grad():
        for inputs, targets, lengths in utils.progress(loader, len(loader), "eval"):
            _, topk_items = model(inputs, lengths)
            targets, lengths = targets.numpy(), lengths.numpy()
            ours.update(topk_items.numpy(), targets, lengths)
            if popular is not None:
                baseline.update(popularity_topk(popular[:k], targets), targets, lengths)
    model.train()
    result = ours.result()
    if popular is not None:
        result.update({f"pop_{name}": v for name, v in baseline.result().items() if name != "predictions"})
    return result


def eval_loader(args, vocab_size, split):
    """This rank's share of a split (every world_size-th session, no duplicates), sorted by length."""
    dataset = reader.load_split(args.data_dir, split, vocab_size, args)
    shard = reader.SessionDataset(dataset.sessions[utils.rank()::utils.world_size()])
    sampler = reader.LengthBucketSampler(shard.lengths, args.batch_size, shuffle=False, shard=False)
    return dataset, utils.make_loader(shard, args, batch_sampler=sampler, collate_fn=reader.collate)


def save_popularity(run_dir, counts, vocab_size):
    """The baseline's ranking from the training data, kept with the run (eval.py reads it back)."""
    top = popular_items(counts, 100, exclude=vocab_size)
    with open(os.path.join(run_dir, POPULARITY_FILE), "w") as f:
        json.dump({"items": top.tolist(), "clicks": [int(counts[i]) for i in top]}, f)


def load_popularity(run_dir, args, vocab_size):
    """The run's popularity ranking; for a run without one, counted from the train split now."""
    path = os.path.join(run_dir, POPULARITY_FILE)
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)["items"]
    train = reader.load_split(args.data_dir, "train", vocab_size, args, verbose=False)
    return popular_items(reader.item_counts(train.sessions, vocab_size + 1), 100, exclude=vocab_size).tolist()


def default_checkpoint(output_dir, model):
    """best.pdparams (picked on dev), or latest.pdckpt when no evaluation has run yet."""
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
    parser.add_argument("--data_dir", default=None, help="dataset root (its vocab.txt sizes the model); unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None,
                        help=f"inputs kept of a session; unset: the run's, else {reader.MAX_SEQ_LEN}")


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config)."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"  # a run without saved settings: the folder's defaults
    args.max_seq_len = args.max_seq_len if args.max_seq_len is not None else reader.MAX_SEQ_LEN
    return args


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLIT_DIRS), help="split to evaluate")
    parser.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                        help="without dev_data/: every N-th train line is the dev split (default: the run's)")
    parser.add_argument("--batch_size", type=int, default=256, help="sessions per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)

    vocab_size = reader.read_vocab_size(args.data_dir)
    model = build_model(args.model, vocab_size)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    _, loader = eval_loader(args, vocab_size, args.split)
    popular = load_popularity(os.path.join(args.output_dir, args.model), args, vocab_size)
    result = evaluate(model, loader, popular)
    if utils.is_main_process():
        k = TOPK
        print(f"eval {args.model} ({checkpoint}) on {result['predictions']} next-item predictions of the "
              f"{args.split} split of {args.data_dir}: recall@{k} {result[f'recall@{k}']:.4f} mrr@{k} "
              f"{result[f'mrr@{k}']:.4f}; popularity baseline: recall@{k} {result[f'pop_recall@{k}']:.4f} "
              f"mrr@{k} {result[f'pop_mrr@{k}']:.4f}")
        print(f"final metrics: recall@{k}={result[f'recall@{k}']:.4f} mrr@{k}={result[f'mrr@{k}']:.4f} "
              f"pop_recall@{k}={result[f'pop_recall@{k}']:.4f} pop_mrr@{k}={result[f'pop_mrr@{k}']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
