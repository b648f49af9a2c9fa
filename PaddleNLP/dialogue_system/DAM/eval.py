"""Evaluate a trained DAM run on a dev/test file (10 consecutive candidates per context): R2@1 and
R10@1/2/5 on Ubuntu; MAP, MRR, P@1 and R10@1/2/5 on Douban (as the release's evaluation.py).

    python eval.py                                  # the last run trained in output/, on its test file
    python eval.py --test_file data/demo/dev.txt --checkpoint output/dam/latest.pdckpt
    python eval.py --baseline random                # no model: random scores
    python eval.py --baseline overlap               # no model: word overlap with the last utterance

Without --model it evaluates the last run trained in --output_dir with that run's saved settings
(model, dataset, turn sizes, data); its best.pdparams was selected on the dev groups. The baselines
break ties by a seeded random jitter (the Ubuntu script counts a tie for the true response). Under
paddle.distributed.launch each rank scores its share and the scores are gathered.
"""
import argparse
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle
import paddle.distributed as dist

import metric
from models import MODELS, build_model
from reader import DialogueDataset, Vocab, collate, eval_batches, find_file


def run_files(args, train=False, need=("vocab",)):
    """The files a run reads: vocab (at eval time the run's own copy), train, dev, test; those in
    `need` (all of them in training) must exist."""
    run_vocab = os.path.join(args.output_dir, args.model or "", "vocab.txt")
    vocab = args.vocab_file or (run_vocab if not train and os.path.isfile(run_vocab)
                                else os.path.join(args.data_dir, "vocab.txt"))
    files = {"vocab": vocab, "dev": args.dev_file or find_file(args.data_dir, "dev"),
             "test": args.test_file or find_file(args.data_dir, "test")}
    if train:
        files["train"] = args.train_file or find_file(args.data_dir, "train")
    for name, path in files.items():
        if (train or name in need) and not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
    return files


@paddle.no_grad()
def predict(model, dataset, batch_size=64):
    """The logit of every line of a dataset, in file order, gathered over ranks."""
    was_training = model.training
    model.eval()
    indices, scores = [], []
    batches = eval_batches(len(dataset), batch_size)
    for batch in utils.progress(batches, len(batches), "eval"):
        arrays = collate([dataset[i] for i in batch])[:4]
        scores.append(model(*[paddle.to_tensor(a) for a in arrays]).numpy())
        indices += batch
    if was_training:
        model.train()
    mine = (np.asarray(indices, dtype="int64"), np.concatenate(scores) if scores else np.zeros(0, "float32"))
    if utils.world_size() > 1:
        parts = []
        dist.all_gather_object(parts, mine)
        mine = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    result = np.zeros(len(dataset), dtype="float32")
    result[mine[0]] = mine[1]
    return result


def evaluate(model, dataset, dataset_name, batch_size=64):
    return compute(dataset_name, predict(model, dataset, batch_size), dataset)


def compute(dataset_name, scores, dataset):
    """The metrics; a file they cannot be computed on (Ubuntu: a group whose first line is not the
    true response; Douban: no true response at all) is a DataError naming it."""
    try:
        return metric.compute(dataset_name, scores, dataset.labels)
    except ValueError as e:
        raise utils.DataError(f"{dataset.path}: {e} (--dataset {dataset_name})") from None


def baseline_scores(dataset, name, seed=0):
    """random: uniform scores; overlap: the response's share of words found in the last utterance."""
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(0, 1e-6, len(dataset))
    if name == "random":
        return rng.uniform(size=len(dataset))
    return np.array([metric.word_overlap(c.split("\t")[-1], r) for c, r in zip(dataset.contexts, dataset.responses)]) \
        + jitter


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def build_parser():
    from train import add_data_flags
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to evaluate ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (the run's, unless given)")
    parser.add_argument("--checkpoint", default=None,
                        help="weights or checkpoint (None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)")
    parser.add_argument("--batch_size", type=int, default=64, help="lines per forward pass")
    parser.add_argument("--baseline", choices=["random", "overlap"], default=None,
                        help="score a trivial baseline instead of a model")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (the random baseline's scores)")
    add_data_flags(parser)
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    try:
        utils.load_run_config(args, keep=("output_dir", "batch_size", "device", "test_file", "seed"))
    except utils.CheckpointError:
        if not args.baseline:  # a baseline needs no trained run
            raise
    return args


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    checkpoint = None if args.baseline else args.checkpoint or default_checkpoint(args.output_dir, args.model)
    if checkpoint and not os.path.isfile(checkpoint):  # before the data: the run may be what is missing
        raise utils.CheckpointError(f"no checkpoint at {checkpoint}; train first, or pass --checkpoint")
    files = run_files(args, need=("vocab", "test"))
    vocab = Vocab(files["vocab"])
    test_set = DialogueDataset(files["test"], vocab, args.max_turn_num, args.max_turn_len, grouped=True)
    if args.baseline:
        name = f"{args.baseline} baseline"
        result = compute(args.dataset, baseline_scores(test_set, args.baseline, args.seed), test_set)
    else:
        model = build_model(args.model, len(vocab), args.dataset, args.max_turn_num, args.max_turn_len)
        utils.load_model(model, checkpoint)
        name = f"{args.model} ({checkpoint})"
        result = evaluate(model, test_set, args.dataset, args.batch_size)
    if utils.is_main_process():
        if test_set.report():
            print(test_set.report(), flush=True)
        print(f"{name} on {result['groups']} {args.dataset} groups of {files['test']}: "
              f"{metric.format_metrics(result)}", flush=True)
        print(f"final metrics: {metric.format_metrics(result)}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
