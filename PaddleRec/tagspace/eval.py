"""Evaluate a trained run on the test split (or dev): precision@1 over tags (= accuracy, one tag per
text) and macro F1, next to the majority-tag baseline on the same texts.

    python eval.py                                  # the last run trained in output/, on its data's test split
    python eval.py --split dev --checkpoint output/tagspace/latest.pdckpt

Every tag is scored at once (one matrix product of the text vectors with the tag table) and the
top tag taken with paddle.topk. The model's settings, the vocabulary and the data directory come
from the run (OUTPUT_DIR/MODEL/train_config.json and vocab.json); a flag given here overrides them.
Under paddle.distributed.launch each rank scores its own share and the counts are summed, so the
figure equals the single-process one.
"""
import argparse
import functools
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from metric import TagMetric, majority_baseline
from models import MODELS, RELEASE, build_model


def evaluate(model, loader):
    """Tag metrics over a loader of (ids, lengths, tags), summed over ranks."""
    model.eval()
    metric = TagMetric(model.num_tags)
    with paddle.no_grad():
        for ids, lengths, tags in utils.progress(loader, len(loader), "eval"):
            metric.update(model(ids, lengths), tags)
    model.train()
    return metric.merge_ranks().summary()


def eval_loader(args, dataset, batch_size, pad_id):
    """This rank's share of an evaluation set (no duplicates), in batches sorted by length."""
    shard = reader.TagDataset(dataset.examples[utils.rank()::utils.world_size()])
    sampler = reader.LengthBucketSampler(shard.lengths, batch_size, shuffle=False, shard=False)
    return utils.make_loader(shard, args, batch_sampler=sampler,
                             collate_fn=functools.partial(reader.collate, pad_id=pad_id))


def default_checkpoint(output_dir, model):
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
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="words kept of each text; unset: the run's")
    parser.add_argument("--dev_every", type=int, default=None, help="every N-th train line is dev; unset: the run's")
    for name in ("emb_dim", "hid_dim", "win_size"):
        parser.add_argument(f"--{name}", type=int, default=None, help=f"model size; unset: the run's (release: {RELEASE[name]})")


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config),
    the folder's defaults for a run without saved settings; and the run's vocabulary."""
    utils.load_run_config(args)
    defaults = {"data_dir": "data/demo", "max_seq_len": reader.MAX_SEQ_LEN, "dev_every": reader.DEV_EVERY, **RELEASE}
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


def load_run(args, sparse=False):
    """(model with the checkpoint's weights, vocabulary, checkpoint path) of the run args point at."""
    vocab = reader.Vocab.load(os.path.join(args.output_dir, args.model, reader.RUN_VOCAB))
    model = build_model(args.model, len(vocab), vocab.num_tags, vocab.pad_id, emb_dim=args.emb_dim,
                        hid_dim=args.hid_dim, win_size=args.win_size, sparse=sparse)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    model.eval()
    return model, vocab, checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"], help="split to evaluate")
    parser.add_argument("--batch_size", type=int, default=256, help="texts per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)

    model, vocab, _ = load_run(args)
    dataset = reader.load_split(args.data_dir, args.split, vocab, args.max_seq_len, args.dev_every,
                                args.skip_bad_samples, verbose=utils.is_main_process())
    result = evaluate(model, eval_loader(args, dataset, args.batch_size, vocab.pad_id))
    if utils.is_main_process():
        print(f"eval {args.model} on {result['samples']} {args.split} texts of {args.data_dir}: "
              f"acc {result['acc']:.4f} p@1 {result['p_at_1']:.4f} macro_f1 {result['macro_f1']:.4f}")
        if vocab.tag_counts:
            tag, base = majority_baseline(vocab.tag_counts, [t for _, t in dataset.examples])
            share = vocab.tag_counts[tag] / sum(vocab.tag_counts)
            print(f"baseline: majority tag {vocab.tags[tag]!r} ({share:.0%} of the training texts) for every text: "
                  f"acc={base['acc']:.4f} p_at_1={base['p_at_1']:.4f} macro_f1={base['macro_f1']:.4f}")
        print(f"final metrics: acc={result['acc']:.4f} p_at_1={result['p_at_1']:.4f} "
              f"macro_f1={result['macro_f1']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
