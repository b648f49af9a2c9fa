"""Evaluate a trained run on the test split (or dev) with the release's metrics: Recall@k over groups
of 10 (R1@2, R1@10, R2@10, R5@10) and accuracy for the matcher, Spearman (the published figure) and
Pearson correlation with the human scores for a fine-tuned model.

    python eval.py                                   # the last run trained in output/, on its test split
    python eval.py --model match --split dev
    python eval.py --baselines                       # also the trivial baselines on the same split
    python eval.py --model match --data_of human     # the matcher alone against the human scores

Every setting that shapes the model (stage, sizes, vocab_size, max_seq_len) and the data directory come
from the run's saved settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it.
Under paddle.distributed.launch each rank scores its share (whole groups for matching) and the scores
are gathered, so the figures equal the single-process ones.
"""
import argparse
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import metric
import reader
from models import MODELS, build_model, is_match, score


def headline(model_name):
    """The metric best.pdparams is chosen by."""
    return "R1@10" if is_match(model_name) else "spearman"


def metrics(scores, labels, match):
    return metric.match_metrics(scores, labels) if match else metric.correlations(scores, labels)


def predict(model, loader, match):
    """Scores (P(match), or the predicted 0..2 score) of a loader's examples, in its order."""
    model.eval()
    out = []
    with paddle.no_grad():
        for c_ids, c_len, r_ids, r_len, _ in utils.progress(loader, len(loader), "eval"):
            out.append(score(model(c_ids, c_len, r_ids, r_len), match).numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def evaluate(model, loader, match, data_match=None):
    """The metrics over the whole split: each rank scores its shard, the scores are summed into one
    array over ranks (zeros elsewhere), and every rank computes the same figures. `match`: the model's
    stage (what its score means); `data_match`: the data's (which metrics), by default the same."""
    shard = loader.dataset
    scores = np.zeros(shard.total, dtype=np.float64)
    scores[shard.indices] = predict(model, loader, match)
    scores = utils.all_reduce_sum(scores)
    data_match = match if data_match is None else data_match
    return {**metrics(scores, shard.all_labels, data_match), "samples": int(shard.total)}


class Shard(reader.PairDataset):
    """This rank's share of an eval split (whole groups of 10 for matching) and where it sits in it."""

    def __init__(self, dataset, match):
        n, world, rank = len(dataset), utils.world_size(), utils.rank()
        unit = reader.GROUP if match else 1
        self.indices = np.array([i for i in range(n) if (i // unit) % world == rank], dtype=np.int64)
        super().__init__([dataset.examples[i] for i in self.indices], path=dataset.path)
        self.total, self.all_labels = n, np.array([e[2] for e in dataset.examples])


def eval_loader(args, split, task=None):
    """The split of `task`'s data (default: the run's stage) and a loader of this rank's share."""
    task = task or args.model
    dataset = reader.load_split(args.data_dir, task, split, args.vocab_size, args.max_seq_len,
                                args.skip_bad_samples)
    shard = Shard(dataset, is_match(task))
    sampler = reader.BatchSampler(shard.lengths, args.batch_size, shuffle=False, shard=False)
    return dataset, utils.make_loader(shard, args, batch_sampler=sampler, collate_fn=reader.collate)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use, named by its training stage (one network for all): "
                             f"{', '.join(sorted(MODELS))}; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="ids kept of each text; unset: the run's")


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config)."""
    for name in ("emb_size", "hidden_size", "vocab_size"):
        if not hasattr(args, name):
            setattr(args, name, None)
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.max_seq_len = args.max_seq_len or reader.MAX_SEQ_LEN
    args.emb_size, args.hidden_size = args.emb_size or 256, args.hidden_size or 256
    if not args.vocab_size:
        args.vocab_size = reader.Vocab.load(run_vocab_path(args)).size
    return args


def run_vocab_path(args):
    own = os.path.join(args.output_dir, args.model, reader.VOCAB_FILE)
    return own if os.path.isfile(own) else os.path.join(args.data_dir, reader.VOCAB_FILE)


def load_run_model(args):
    model = build_model(args.model, args.vocab_size, args.emb_size, args.hidden_size)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    return model, checkpoint


def format_metrics(result):
    return " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLITS), help="split to evaluate")
    parser.add_argument("--batch_size", type=int, default=256, help="pairs per batch")
    parser.add_argument("--data_of", default=None, choices=reader.TASKS,
                        help="score the data of another stage with this run, e.g. the matcher against the "
                             "human scores (the release's first table); unset: the run's own stage")
    parser.add_argument("--baselines", action="store_true",
                        help="also print the trivial baselines (response length, word overlap, random)")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)

    model, _ = load_run_model(args)
    task = args.data_of or args.model
    dataset, loader = eval_loader(args, args.split, task)
    result = evaluate(model, loader, is_match(args.model), is_match(task))
    if utils.is_main_process():
        path = reader.split_path(args.data_dir, task, args.split)
        if args.baselines:
            labels = np.array([e[2] for e in dataset.examples])
            for name, scores in metric.baseline_scores(dataset.examples, break_ties=is_match(task)).items():
                baseline = metrics(scores, labels, is_match(task))
                baseline.pop("acc", None)  # a length or an overlap is no probability
                print(f"baseline {name}: {format_metrics(baseline)}")
        print(f"eval {args.model} on {result['samples']} lines of {path}: {format_metrics(result)}")
        print(f"final metrics: {format_metrics(result)}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
