"""Evaluate a trained run on the test triples (DATA_DIR/test/*.txt, default) or the dev split: AUC and
the positive/negative order ratio of cos(query, positive title) against cos(query, negative title).

    python eval.py                             # the last run trained in output/, its best.pdparams, on test
    python eval.py --split dev                 # the split best.pdparams was picked on
    python eval.py --baseline                  # the word-overlap baseline on the same triples, no model

Every setting that shapes the model or the data (slots, vocabulary, encoders, data_dir, dev_every)
comes from the run's train_config.json unless given here. Under paddle.distributed.launch each rank
scores every world_size-th triple and the scores are gathered, so the figures equal one process's.
"""
import argparse
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle
import paddle.distributed as dist

import metric
import reader
from models import MODELS, add_model_flags, build_model, resolve_encoders


def add_data_flags(parser):
    """What shapes the data the model sees; train.py and eval.py share them."""
    g = parser.add_argument_group("data")
    g.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                   help="without DATA_DIR/dev/, every N-th train line is the dev split (not trained on)")
    return parser


def load_split(args, split):
    """The triples of a split, parsed (and checked) in full."""
    files, part = reader.split_source(args.data_dir, split, args.dev_every)
    layout = reader.SlotLayout(args.query_slots, args.title_slots)
    return reader.SlotDataset(files, layout, args.sparse_feature_dim, part=part, dev_every=args.dev_every,
                              skip_bad=args.skip_bad_samples, what=f"checking the {split} lines")


def gather(indices, *arrays):
    """Put the per-rank results back in line order over the whole split."""
    mine = (np.asarray(indices, dtype=np.int64),) + tuple(arrays)
    if utils.world_size() > 1:
        parts = []
        dist.all_gather_object(parts, mine)
        mine = tuple(np.concatenate([p[k] for p in parts]) for k in range(len(mine)))
    out = []
    for values in mine[1:]:
        full = np.zeros(len(mine[0]), dtype=np.float64)
        full[mine[0]] = values
        out.append(full)
    return out


@paddle.no_grad()
def score_triples(model, dataset, batch_size=512):
    """(cos(q, positive), cos(q, negative)) of every triple, in line order, over all ranks."""
    was_training = model.training
    model.eval()
    indices, pos, neg = [], [], []
    batches = reader.eval_batches(len(dataset), batch_size)
    for batch in utils.progress(batches, len(batches), "scoring"):
        arrays = reader.collate_triples([dataset[i] for i in batch], dataset.layout)
        p, n = model(*[paddle.to_tensor(a) for a in arrays])
        indices += batch
        pos.append(p.numpy())
        neg.append(n.numpy())
    if was_training:
        model.train()
    empty = np.zeros(0, dtype=np.float32)
    return gather(indices, np.concatenate(pos) if pos else empty, np.concatenate(neg) if neg else empty)


def evaluate(model, dataset, batch_size=512):
    return metric.pairwise_metrics(*score_triples(model, dataset, batch_size))


def overlap_scores(dataset):
    """The word-overlap baseline's scores: Jaccard of the query's ids and each title's ids."""
    q, t = dataset.layout.query_slots, dataset.layout.title_slots
    pos, neg = [], []
    for s in dataset.samples:
        query = np.concatenate(s[:q])
        pos.append(metric.word_overlap(query, np.concatenate(s[q:q + t])))
        neg.append(metric.word_overlap(query, np.concatenate(s[q + t:q + 2 * t])))
    return np.array(pos), np.array(neg)


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
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    parser.add_argument("--batch_size", type=int, default=512, help="triples per forward pass")
    parser.add_argument("--baseline", action="store_true",
                        help="score the word-overlap baseline (Jaccard of query and title ids) instead of a model")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (evaluation is deterministic)")
    add_data_flags(parser)
    add_model_flags(parser)
    args = utils.parse_args(parser, argv)
    try:
        utils.load_run_config(args, keep=("output_dir", "batch_size", "device"))
    except utils.CheckpointError:
        if not args.baseline:  # the baseline needs no trained run
            raise
        args.model = args.model or "multiview_simnet"
    return resolve_encoders(args)


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    dataset = load_split(args, args.split)
    if args.baseline:
        name, result = "word overlap (Jaccard of the ids)", metric.pairwise_metrics(*overlap_scores(dataset))
    else:
        model = build_model(args)
        checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
        utils.load_model(model, checkpoint)
        name = f"{args.model} ({args.query_encoder}/{args.title_encoder}, {checkpoint})"
        result = evaluate(model, dataset, args.batch_size)
    if utils.is_main_process():
        notes = dataset.report()
        print(f"eval {name} on {result['samples']} {args.split} triples"
              + (f" ({notes})" if notes else "") + f": {metric.format_metrics(result)}", flush=True)
        print(f"final metrics: {metric.format_metrics(result)}", flush=True)
    return {**result, "counts": dataset.counts}


if __name__ == "__main__":
    utils.run_main(main)
