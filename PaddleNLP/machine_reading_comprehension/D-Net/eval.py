"""Evaluate a trained D-Net run: exact match and F1 per dataset (the MRQA official script's figures)
and their macro average, over every dataset file of a split.

    python eval.py                                   # the last run in output/, on test/ (dev/ when there is no test/)
    python eval.py --split dev
    python eval.py --checkpoint output/bert-tiny/latest.pdckpt
    python eval.py --baselines                       # no model: first span of the answer's length, first sentence,
                                                     # first span that is a training answer

The model comes from the run's config.json, its vocabulary from the run directory, and every other
setting (max_seq_len, doc_stride, max_query_len) from its train_config.json; a flag given here
overrides it. Under paddle.distributed.launch each rank evaluates its share of each dataset's
questions and the sums are gathered once.
"""
import argparse
import functools
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import mrqa
import reader
from models import MODELS, BertConfig, build_model
from tokenizer import Tokenizer


def mrqa_loader(args, tokenizer, split, train=False, only=None):
    """(dataset, loader, sampler) over every dataset file of DATA_DIR/SPLIT (or the `only` ones).
    The dataset keeps, per MRQA dataset, its examples and the range of its features; training batches
    come from MultiTaskBatchSampler (--mix_ratio), evaluation shards each dataset's questions by rank."""
    sets = mrqa.read_split(args.data_dir, split, args.skip_bad_samples, only)
    features, groups, examples, stats = [], {}, {}, {}
    for name, exs in sets.items():
        if not train:
            exs = exs[utils.rank()::utils.world_size()]
        first = len(features)
        for f in mrqa.make_features(exs, tokenizer, args.max_seq_len, args.doc_stride, args.max_query_len,
                                    train, stats):
            f["dataset"] = name
            features.append(f)
        groups[name], examples[name] = list(range(first, len(features))), exs
    if stats.get("long") and utils.is_main_process():
        print(f"{split}: {stats['long']} context(s) longer than one window (--max_seq_len {args.max_seq_len}) "
              f"split into sliding windows; {stats['windows']} windows in all", flush=True)
    dataset = mrqa.FeatureDataset(features)
    dataset.examples, dataset.groups, dataset.window_stats = examples, groups, stats
    pad_to = args.max_seq_len if getattr(args, "to_static", False) else None  # one compiled shape
    if train:
        names = list(groups)
        ratios = reader.parse_mix_ratio(args.mix_ratio, names, [len(groups[n]) for n in names])
        dataset.ratios = ratios
        sampler = reader.MultiTaskBatchSampler([groups[n] for n in names], [ratios[n] for n in names],
                                               args.batch_size, seed=args.seed)
    else:
        sampler = reader.OrderedBatchSampler(len(dataset), args.batch_size)
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=functools.partial(
        mrqa.collate, pad_id=tokenizer.pad_id, pad_to=pad_to))
    return dataset, loader, sampler


def score(examples, features, starts, ends):
    """{dataset: [EM sum, F1 sum, questions]} of this rank's predictions (features in their order)."""
    out = {}
    for name, exs in examples.items():
        own = [(f, s, e) for f, s, e in zip(features, starts, ends) if f["dataset"] == name]
        predictions = mrqa.predict_answers(exs, [o[0] for o in own], [o[1] for o in own], [o[2] for o in own])
        out[name] = list(mrqa.mrqa_scores(predictions, {ex["id"]: ex["answers"] for ex in exs}))
    return out


def figures(sums):
    """{NAME_em, NAME_f1 per dataset, macro_f1, samples} from gathered sums (percentages, as the
    official script prints them); macro_f1 is the plain mean over datasets, as the release's macro_avg.py."""
    result, f1s, total = {}, [], 0
    for name in sorted(sums):
        em, f1, n = sums[name]
        result[f"{name}_em"], result[f"{name}_f1"] = 100 * em / n, 100 * f1 / n
        f1s.append(100 * f1 / n)
        total += n
    result["macro_f1"] = float(np.mean(f1s))
    result["samples"] = int(total)
    return result


def evaluate(model, loader):
    """Per-dataset EM/F1 and macro F1 over all ranks."""
    model.eval()
    data, starts, ends, order = loader.dataset, [], [], []
    with paddle.no_grad():
        for ids, types, _, _, index in utils.progress(loader, len(loader), "eval"):
            s, e = model(ids, types)
            starts += list(s.numpy())
            ends += list(e.numpy())
            order += index.numpy().tolist()
    model.train()
    sums = score(data.examples, [data.features[i] for i in order], starts, ends)
    names = sorted(sums)
    gathered = utils.all_reduce_sum(np.array([sums[n] for n in names], dtype=np.float64).reshape(-1))
    return figures({n: gathered[3 * k:3 * k + 3] for k, n in enumerate(names)})


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="the run to use; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root (DATA_DIR/SPLIT/*.jsonl); unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="tokens per window; unset: the run's")
    parser.add_argument("--doc_stride", type=int, default=None,
                        help="tokens between the starts of the sliding windows; unset: the run's")
    parser.add_argument("--max_query_len", type=int, default=None, help="question tokens kept; unset: the run's")


def load_run(args):
    """(model with the run's weights, tokenizer) of the run args point at."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    run_dir = os.path.join(args.output_dir, args.model)
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise utils.CheckpointError(f"no trained run in {run_dir} (no config.json); train first")
    cfg = BertConfig.from_json(os.path.join(run_dir, "config.json"))
    tokenizer = Tokenizer(os.path.join(run_dir, "vocab.txt"))
    model = build_model(cfg)
    utils.load_model(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    model.eval()
    return model, tokenizer


def default_split(data_dir):
    return "test" if os.path.isdir(os.path.join(data_dir, "test")) else "dev"


def baselines(data_dir, split):
    """The trivial baselines per dataset, no model: the context's first words (as many as the answer
    has), its first sentence, and its first span that is an answer of the dataset's training file;
    F1 as the official script computes it."""
    sets = mrqa.read_split(data_dir, split)
    train = mrqa.read_split(data_dir, "train", only=list(sets))
    for label, predict in (("first span of the answer's length", lambda name, exs: mrqa.first_span_baseline(exs)),
                           ("first sentence", lambda name, exs: mrqa.first_sentence_baseline(exs)),
                           ("first span that is a training answer",
                            lambda name, exs: mrqa.seen_answer_baseline(exs, train[name]))):
        sums = {name: mrqa.mrqa_scores(predict(name, exs), {e["id"]: e["answers"] for e in exs})
                for name, exs in sets.items()}
        result = figures(sums)
        print(f"{split} {label}: " + " ".join(f"{k}={v:.2f}" for k, v in result.items() if k != "samples"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default=None, help="split to evaluate (unset: test/ if DATA_DIR has it, else dev/)")
    parser.add_argument("--batch_size", type=int, default=64, help="windows per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--baselines", action="store_true", help="print the trivial baselines of --data_dir and stop")
    args = utils.parse_args(parser, argv)
    if args.baselines:
        data_dir = args.data_dir or "data/demo"
        return baselines(data_dir, args.split or default_split(data_dir))
    model, tokenizer = load_run(args)
    utils.setup(args)
    args.to_static = False
    split = args.split or default_split(args.data_dir)
    loader = mrqa_loader(args, tokenizer, split)[1]
    result = evaluate(model, loader)
    if utils.is_main_process():
        shown = " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples")
        print(f"eval {args.model} on {result['samples']} {split} questions of {args.data_dir}: {shown}")
        print(f"final metrics: {shown}", flush=True)
        with open(os.path.join(args.output_dir, args.model, f"eval_{split}.json"), "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    utils.run_main(main)
