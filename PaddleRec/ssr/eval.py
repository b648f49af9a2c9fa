"""Evaluate a trained run: Recall@20 of the last item of each session of the test split (default)
or the dev split, scored against all items; and the popularity baseline on the same samples.

    python eval.py                                  # the last run trained in output/, on test
    python eval.py --model ssr_bow --split dev      # another run, on the dev split it was picked on
    python eval.py --checkpoint output/ssr/latest.pdckpt --data_dir data/rsc15

Every setting that shapes the model or the data (model, data_dir, sizes, max_len, dev_every) comes
from the run's train_config.json unless given here. Training picks best.pdparams on the dev split;
the test split is reported once, by this script, at the end. Under paddle.distributed.launch each
rank scores its own batches and the hits are summed, so the figure equals the single-process one.
"""
import argparse
import os

import utils
import paddle

import reader
from metric import K, Recall, popularity_recall, popularity_top, top_items
from models import MODELS, build_model


def add_model_flags(parser):
    """The flags that shape the model and what the reader gives it: train.py and eval.py share them."""
    g = parser.add_argument_group("model and data")
    g.add_argument("--emb_dim", type=int, default=128, help="item embedding size (the release: 128)")
    g.add_argument("--hidden", type=int, default=128, help="GRU and tower output size (the release: 128)")
    g.add_argument("--max_len", type=int, default=0,
                   help="keep the last N clicks of a longer sequence (0: all, as the release); cut ones are counted")
    g.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                   help="without dev_data/, every N-th line of the train files is the dev split "
                        "(held out from training; picks best.pdparams)")
    return parser


def evaluate(model, samples, batch_size, k=K):
    """Recall@k over all the samples (every rank scores its own batches; the hits are summed)."""
    model.eval()
    batches = reader.SessionBatches(samples, batch_size, model.vocab_size, shuffle=False,
                                    rank=utils.rank(), world_size=utils.world_size())
    recall = Recall(k)
    with paddle.no_grad():
        table = model.item_table()
        for i in utils.progress(range(len(batches)), len(batches), "evaluating"):
            items, lengths, targets, _, _ = batches[i]
            user = model.user_vector(paddle.to_tensor(items), paddle.to_tensor(lengths))
            recall.update(top_items(user, table, k), targets)
    model.train()
    hit, count = utils.all_reduce_sum([recall.hit, recall.count])
    return {f"recall@{k}": float(hit / max(count, 1)), "samples": int(count)}


def default_checkpoint(output_dir, model):
    """best.pdparams (picked on dev), or latest.pdckpt when no evaluation has run yet."""
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def model_kwargs(args):
    return dict(emb_dim=args.emb_dim, hidden=args.hidden)


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to evaluate: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (default: the run's own, else %(default)s)")
    parser.add_argument("--split", choices=["test", "dev"], default="test", help="which split to score")
    parser.add_argument("--checkpoint", default=None, help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    parser.add_argument("--batch_size", type=int, default=256, help="sessions per batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    add_model_flags(parser)
    return utils.load_run_config(utils.parse_args(parser, argv))


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    vocab_size = reader.read_vocab(args.data_dir)
    common = dict(dev_every=args.dev_every, skip_bad=args.skip_bad_samples, max_len=args.max_len)
    samples = reader.load_split(args.data_dir, args.split, vocab_size, **common)
    train_samples = reader.load_split(args.data_dir, "train", vocab_size, **common)
    model = build_model(args.model, vocab_size, **model_kwargs(args))
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    result = evaluate(model, samples, args.batch_size)
    result["popularity_recall@20"] = popularity_recall(popularity_top(train_samples, vocab_size), samples.targets)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on the {args.split} split: {samples.summary()}")
        print(f"recall@20 {result['recall@20']:.4f}; popularity baseline (the 20 items clicked most in the "
              f"train split) {result['popularity_recall@20']:.4f}")
        print(f"final metrics: recall@20={result['recall@20']:.4f} "
              f"popularity_recall@20={result['popularity_recall@20']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
