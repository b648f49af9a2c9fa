"""Evaluate a trained DGU run on the test split (or --split dev) with the task's metric, computed as the
release's evaluation script does (metrics.py): udc R10@1/2/5 and R2@1, atis_intent/swda/mrda accuracy,
atis_slot F1 (the release's micro F1 over word labels), dstc2 joint accuracy.

    python eval.py --task_name atis_intent        # the last run in output/atis_intent, on test
    python eval.py --task_name udc --split dev --checkpoint output/udc/bert-tiny/latest.pdckpt
    python eval.py --task_name swda --baselines   # the trivial baselines of the data, no model

The model comes from the run's config.json, its vocabulary from the run directory, and every other
setting from its train_config.json; a flag given here overrides it. Under paddle.distributed.launch each
rank predicts its own share and the predictions of all ranks are gathered before the metric is computed once.
"""
import argparse
import functools
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import metrics
import reader
from models import MODELS, Probabilities, build_model
from models.bert import BertConfig
from reader import TASKS
from tokenizer import Tokenizer

KEY_METRIC = {"udc": "r10@1", "atis_intent": "acc", "atis_slot": "f1", "dstc2": "joint_acc", "swda": "acc",
              "mrda": "acc"}


def task_loader(args, tokenizer, split, train=False):
    """(dataset, loader, sampler) of DATA_DIR/TASK/SPLIT.txt; an eval dataset keeps this rank's share
    of the encoded examples (`indices` into `examples`)."""
    dataset = reader.DGUDataset(args.task_name, reader.task_file(args.data_dir, args.task_name, split), tokenizer,
                                args.max_seq_len, args.skip_bad_samples)
    dataset.indices = list(range(len(dataset.encoded)))
    if not train:
        if args.task_name == "udc":
            reader.check_candidate_groups(dataset)
        dataset.indices = dataset.indices[utils.rank()::utils.world_size()]
        dataset.encoded = dataset.encoded[utils.rank()::utils.world_size()]
    sampler = reader.BatchSampler(len(dataset), args.batch_size, shuffle=train, seed=getattr(args, "seed", 0),
                                  shard=train)
    pad_to = args.max_seq_len if getattr(args, "to_static", False) else None  # fixed shape: no recompiles
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=functools.partial(
        reader.collate, pad_id=tokenizer.pad_id, pad_to=pad_to))
    return dataset, loader, sampler


def predictions(task, probs, labels):
    """Per-example predictions from a batch's probabilities (the release's define_predict_pack):
    udc the probability of a match, cls tasks the arg-max, dstc2 the state, atis_slot a label per word
    (the words cut by --max_seq_len get label 0). `labels` are the batch's encoded labels (slots: the
    first piece of each word carries one)."""
    head = TASKS[task][0]
    if head == "match":
        return [float(p[1]) for p in probs]
    if head == "cls":
        return [int(p.argmax()) for p in probs]
    if head == "multi":
        return [metrics.dstc2_state(p) for p in probs]
    out = []
    for p, lab in zip(probs, labels):
        positions = np.flatnonzero(np.asarray(lab) != reader.IGNORE)
        out.append([int(x) for x in p[positions].argmax(-1)])
    return out


def gather(task, local, indices, examples):
    """Every rank's predictions in dataset order (summed over ranks as one array per task kind)."""
    head, num_labels, _ = TASKS[task]
    total = len(examples)
    if head in ("match", "cls"):
        full = np.zeros(total)
        full[indices] = local
        full = utils.all_reduce_sum(full)
        return list(full) if head == "match" else [int(round(x)) for x in full]
    if head == "multi":
        full = np.zeros((total, num_labels))
        for i, state in zip(indices, local):
            full[i, state] = 1
        full = utils.all_reduce_sum(full)
        return [list(np.flatnonzero(row > 0.5)) for row in full]
    width = max(len(ex["label"]) for ex in examples)  # every rank has all the parsed examples
    full, lengths = np.zeros((total, width)), np.zeros(total)
    for i, labels in zip(indices, local):
        full[i, :len(labels)], lengths[i] = labels, len(labels)
    full, lengths = utils.all_reduce_sum(full), utils.all_reduce_sum(lengths)
    return [[int(round(x)) for x in row[:int(n)]] for row, n in zip(full, lengths)]


def score(task, preds, examples):
    """The task's figures from per-example predictions and the parsed examples' labels."""
    golds = [ex["label"] for ex in examples]
    head = TASKS[task][0]
    if head == "match":
        return metrics.udc_recalls(preds, golds)
    if head == "cls":
        return {"acc": metrics.accuracy(preds, golds)}
    if head == "multi":
        return {"joint_acc": metrics.joint_accuracy(preds, golds)}
    # words cut off by --max_seq_len are predicted O (0)
    preds = [list(p) + [0] * (len(g) - len(p)) for p, g in zip(preds, golds)]
    return {"f1": metrics.slot_f1(preds, golds)}


def evaluate(task, model, loader):
    """{metric: value, samples: n} over the loader's split, predictions gathered from all ranks."""
    model.eval()
    net = Probabilities(model)
    local = []
    with paddle.no_grad():
        for ids, types, labels in utils.progress(loader, len(loader), "eval"):
            local += predictions(task, net(ids, types).numpy(), labels.numpy())
    model.train()
    data = loader.dataset
    preds = gather(task, local, data.indices, data.examples)
    return {**score(task, preds, data.examples), "samples": len(data.examples)}


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser, argv):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task_name", default="atis_intent")
    task = pre.parse_known_args(argv)[0].task_name
    parser.add_argument("--task_name", choices=sorted(TASKS), default="atis_intent", help="which task's run")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="the run to use; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default=f"output/{task}", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="tokens per example; unset: the run's")


def load_run(args):
    """(model with the run's weights, tokenizer) of the run args point at."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    run_dir = os.path.join(args.output_dir, args.model)
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise utils.CheckpointError(f"no trained run in {run_dir} (no config.json); train first")
    cfg = BertConfig.from_json(os.path.join(run_dir, "config.json"))
    tokenizer = Tokenizer(os.path.join(run_dir, "vocab.txt"))
    head, num_labels, _ = TASKS[args.task_name]
    model = build_model(head, cfg, num_labels)
    utils.load_model(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    model.eval()
    return model, tokenizer


def baselines(task, data_dir, split):
    """The trivial baselines, no model: udc a random response (expected R10@k = k/10, R2@1 = 1/2, and one
    seeded draw), the other tasks the training set's most frequent label (slots: per word; dstc2: the
    most frequent state)."""
    head = TASKS[task][0]
    train = reader.make_examples(task, reader.read_records(task, reader.task_file(data_dir, task, "train"))[0])
    gold = reader.make_examples(task, reader.read_records(task, reader.task_file(data_dir, task, split))[0])
    if head == "match":
        drawn = score(task, list(np.random.default_rng(0).random(len(gold))), gold)
        result, what = drawn, "random response (one seeded draw; expected r10@1 0.1, r10@2 0.2, r10@5 0.5, r2@1 0.5)"
    elif head == "tag":
        counts = np.bincount([l for ex in train for l in ex["label"]])
        result = score(task, [[int(counts.argmax())] * len(ex["label"]) for ex in gold], gold)
        what = f"every word the majority slot label {counts.argmax()}"
    else:
        keys = [tuple(ex["label"]) if head == "multi" else ex["label"] for ex in train]
        majority = max(sorted(set(keys)), key=keys.count)
        result = score(task, [list(majority) if head == "multi" else majority] * len(gold), gold)
        what = f"majority {'state' if head == 'multi' else 'class'} {majority}"
    figures = " ".join(f"{k}={v:.4f}" for k, v in result.items())
    print(f"{task} {split}: {what}: {figures}", flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser, argv)
    parser.add_argument("--split", default="test", choices=reader.SPLITS, help="split to evaluate")
    parser.add_argument("--batch_size", type=int, default=64, help="examples per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--baselines", action="store_true",
                        help="print the trivial baseline of --data_dir (majority class / random response) and stop")
    args = utils.parse_args(parser, argv)
    if args.baselines:
        return baselines(args.task_name, args.data_dir or "data/demo", args.split)
    model, tokenizer = load_run(args)
    utils.setup(args)
    args.to_static = False
    loader = task_loader(args, tokenizer, args.split)[1]
    result = evaluate(args.task_name, model, loader)
    if utils.is_main_process():
        figures = " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples")
        print(f"eval {args.task_name} {args.model} on {result['samples']} {args.split} examples of "
              f"{args.data_dir}: {figures}")
        print(f"final metrics: {figures}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
