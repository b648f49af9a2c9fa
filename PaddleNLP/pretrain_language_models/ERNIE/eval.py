"""Evaluate a trained run: masked-LM accuracy on the dev corpus (pre-training, knowledge masking fixed by
seed), accuracy (classification, with the majority-class baseline beside it) or chunk F1 (sequence
labelling), on the test split by default.

    python eval.py --output_dir output/classify            # the last run trained there, its test split
    python eval.py --output_dir output/ner --split dev --checkpoint output/ner/ernie-demo/latest.pdckpt
    python eval.py --pretrained ernie-1.0/model_state.pdparams --data_dir corpus/   # PaddleNLP's weights as they are

--pretrained evaluates PaddleNLP's ErnieForPretraining weights (model_state.pdparams with its config json
and vocab.txt beside it, converted by pretrained.py) directly: their masked-LM head on the dev corpus of
--data_dir (a pre-training corpus in this folder's layout), with no run of this folder involved.

The task, the model, its vocabulary and max_seq_len and the data directory come from the run's saved
settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it. Under
paddle.distributed.launch each rank evaluates its own share and the counts are summed.
"""
import argparse
import collections
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import pretrained
import reader
from metric import ChunkCounts
from model import CONFIG_FILE, MODELS, build_model, make_config

KEY_METRIC = {"pretrain": "mlm_acc", "classify": "acc", "ner": "f1"}


def evaluate(model, loader, task):
    """The task's metric over a loader of (ids, targets), summed over ranks."""
    model.eval()
    counts = np.zeros(4)  # pretrain: loss sum, right, scored; classify: right, scored; ner: chunk counts
    chunks = ChunkCounts()
    with paddle.no_grad():
        for ids, targets in utils.progress(loader, len(loader), "eval"):
            logits = model(ids)
            if task == "pretrain":
                keep = targets.numpy() != reader.IGNORE
                loss = F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), targets.reshape([-1]),
                                       ignore_index=reader.IGNORE, reduction="sum")
                right = (logits.argmax(axis=-1).numpy() == targets.numpy()) & keep
                counts[:3] += (loss.item(), right.sum(), keep.sum())
            elif task == "classify":
                counts[:2] += ((logits.argmax(axis=-1).numpy() == targets.numpy()).sum(), len(targets))
            else:
                for pred, gold in zip(logits.argmax(axis=-1).numpy(), targets.numpy()):
                    keep = gold != reader.IGNORE
                    chunks.update([reader.NER_TAGS[t] for t in pred[keep]], [reader.NER_TAGS[t] for t in gold[keep]])
                counts[3] += len(targets)
    model.train()
    if task == "pretrain":
        loss_sum, right, scored, _ = utils.all_reduce_sum(counts[:4])
        return {"mlm_acc": right / max(scored, 1), "mlm_loss": loss_sum / max(scored, 1), "masked": int(scored)}
    if task == "classify":
        right, scored, _, _ = utils.all_reduce_sum(counts)
        return {"acc": right / max(scored, 1), "samples": int(scored)}
    total = utils.all_reduce_sum(np.concatenate([chunks.counts, counts[3:]]))
    return {**chunks.summary(total[:3]), "samples": int(total[3])}


def format_metrics(result):
    return " ".join(f"{k}={v:.4f}" for k, v in result.items() if isinstance(v, float))


# The trivial baselines eval.py prints beside the metric: each reads the training split and scores the
# evaluated split's examples (as eval_loader parsed them).

def majority_baseline(args, tokenizer, examples):
    """Accuracy of always answering the training split's most frequent label."""
    train = reader.load_split(args.data_dir, "classify", "train", tokenizer, args.max_seq_len, args.skip_bad_samples)
    majority = collections.Counter(label for _, label in train).most_common(1)[0][0]
    return float(np.mean([label == majority for _, label in examples]))


def unigram_baseline(args, tokenizer, examples):
    """Masked-LM accuracy of always answering the training corpus's most frequent character."""
    train = reader.load_split(args.data_dir, "pretrain", "train", tokenizer, args.max_seq_len, args.skip_bad_samples)
    counts = np.bincount(np.concatenate([ids[units >= 0] for ids, units in train]), minlength=len(tokenizer))
    labels = np.concatenate([labels[labels != reader.IGNORE] for _, labels in examples])
    return float(np.mean(labels == counts.argmax()))


def dictionary_baseline(args, tokenizer, examples):
    """Chunk F1 of tagging, longest first, every string that is an entity somewhere in the training split
    (with its most frequent type there): what memorising names without context gives."""
    from metric import bio_chunks
    names = collections.defaultdict(collections.Counter)
    for ids, tags in reader.load_split(args.data_dir, "ner", "train", tokenizer, args.max_seq_len,
                                       args.skip_bad_samples):
        tags = [reader.NER_TAGS[t] for t in tags[1:-1]]
        for kind, s, e in bio_chunks(tags):
            names[tuple(ids[1 + s:1 + e])][kind] += 1
    longest = max(map(len, names), default=1)
    counts = ChunkCounts()
    for ids, gold in examples:
        ids, gold = list(ids[1:-1]), [reader.NER_TAGS[t] for t in gold[1:-1]]
        pred, i = ["O"] * len(ids), 0
        while i < len(ids):
            for n in range(min(longest, len(ids) - i), 0, -1):
                if tuple(ids[i:i + n]) in names:
                    kind = names[tuple(ids[i:i + n])].most_common(1)[0][0]
                    pred[i:i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        counts.update(pred, gold)
    return counts.summary()["f1"]


def eval_loader(args, tokenizer, split):
    """This rank's share of a split (no duplicates), in order."""
    examples = reader.load_split(args.data_dir, args.task, split, tokenizer, args.max_seq_len, args.skip_bad_samples)
    shard = reader.ListDataset(examples[utils.rank()::utils.world_size()])
    sampler = reader.ResumableBatchSampler(len(shard), args.batch_size, shuffle=False, shard=False)
    return examples, utils.make_loader(shard, args, batch_sampler=sampler, collate_fn=reader.collate)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    parser.add_argument("--model", default=None, choices=MODELS, metavar="NAME",
                        help=f"the run to use, one of {', '.join(MODELS)}; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output/classify", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset directory; unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="tokens kept of each text; unset: the run's")
    parser.add_argument("--task", default=None, choices=sorted(KEY_METRIC), help="unset: the run's")


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config)."""
    utils.load_run_config(args)
    if args.task is None or args.max_seq_len is None or args.data_dir is None:
        raise utils.CheckpointError(f"{os.path.join(args.output_dir, args.model)} has no train_config.json; "
                                    "pass --task, --data_dir and --max_seq_len")
    return args


def load_run(args):
    """(tokenizer, model with the run's weights, checkpoint path) of the run args names."""
    run_dir = os.path.join(args.output_dir, args.model)
    if not os.path.isfile(os.path.join(run_dir, "vocab.txt")):
        raise utils.CheckpointError(f"no trained run in {run_dir} (it has no vocab.txt); train first, or pass --output_dir")
    tokenizer = reader.Tokenizer.load(os.path.join(run_dir, "vocab.txt"))
    config = make_config(args.model, len(tokenizer))
    saved = os.path.join(run_dir, CONFIG_FILE)
    if os.path.isfile(saved):  # the run's own (a run fine-tuned from PaddleNLP's weights keeps their config)
        with open(saved) as f:
            config = json.load(f)
    model = build_model(args.task, config, reader.num_classes(args.task, len(tokenizer)))
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    if not os.path.isfile(os.path.join(run_dir, CONFIG_FILE)):
        raise utils.CheckpointError(f"{run_dir}/{CONFIG_FILE} is missing")
    return tokenizer, model, checkpoint


def load_suite_weights(args):
    """--pretrained: (tokenizer, our ErnieForPretraining with PaddleNLP's converted weights, weights path).
    The masked-LM head must be in the file (a bare ErnieModel's has none: fine-tune it instead)."""
    path = args.pretrained
    if os.path.isdir(path):
        path = os.path.join(path, "model_state.pdparams")
    folder = os.path.dirname(path) or "."
    config, kind, config_path = pretrained.read_config(folder)
    if kind is None:
        raise utils.CheckpointError(f"{folder}: no config.json or model_config.json beside the weights "
                                    "(PaddleNLP's save_pretrained writes one)")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no weights file at {path}")
    vocab_file = args.vocab_file or os.path.join(folder, "vocab.txt")
    if not os.path.isfile(vocab_file):
        raise utils.DataError(f"{vocab_file}: file not found (the tokenizer's vocab.txt; pass --vocab_file)")
    tokenizer = reader.Tokenizer.load(vocab_file)
    if len(tokenizer) > config["vocab_size"]:
        raise utils.CheckpointError(f"{config_path}: vocab_size {config['vocab_size']} is smaller than the "
                                    f"{len(tokenizer)} tokens of {vocab_file}; pass the vocabulary of those weights")
    if args.max_seq_len > config["max_position_embeddings"]:  # before the (large) model is built and loaded
        raise utils.DataError(f"--max_seq_len {args.max_seq_len}: the model has {config['max_position_embeddings']} positions")
    model = build_model("pretrain", config)
    _, initialised = pretrained.load(model, path)
    if initialised:
        raise utils.CheckpointError(f"{path} has no masked-LM head ({', '.join(initialised[:3])} not in the file): "
                                    "only a pre-training checkpoint (ErnieForPretraining) can be evaluated as it is; "
                                    "fine-tune this one with train.py --pretrained")
    return tokenizer, model, path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--pretrained", default=None,
                        help="evaluate PaddleNLP's ErnieForPretraining weights (model_state.pdparams, or its folder, "
                             "with the config json beside it) on the pre-training dev corpus of --data_dir, "
                             "instead of a run of this folder")
    parser.add_argument("--vocab_file", default=None, help="with --pretrained: the vocabulary; unset: vocab.txt beside the weights")
    parser.add_argument("--split", default=None, choices=["train", "dev", "test"],
                        help="split to evaluate; unset: test (dev for pre-training, whose corpus has no test)")
    parser.add_argument("--batch_size", type=int, default=32, help="examples per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = utils.parse_args(parser, argv)
    if args.pretrained:  # PaddleNLP's weights as they are: only their pre-training head has a task here
        if args.task not in (None, "pretrain") or args.data_dir is None:
            raise utils.CheckpointError("--pretrained evaluates the masked-LM head on a pre-training corpus: pass "
                                        "--data_dir (its dev.txt) and no --task; to score classify or ner, "
                                        "fine-tune with train.py --pretrained and evaluate that run")
        args.task, args.model = "pretrain", "PaddleNLP"
        args.max_seq_len = args.max_seq_len or 512  # ERNIE 1.0's pre-training length
    else:
        args = fill_from_run(args)
    split = args.split or ("dev" if args.task == "pretrain" else "test")
    utils.setup(args)
    tokenizer, model, checkpoint = load_suite_weights(args) if args.pretrained else load_run(args)
    examples, loader = eval_loader(args, tokenizer, split)
    result = evaluate(model, loader, args.task)
    if utils.is_main_process():
        figures = format_metrics(result)
        extra = ""
        if args.task == "classify":
            extra = f" (majority-class baseline {majority_baseline(args, tokenizer, examples):.4f})"
        elif args.task == "ner":
            extra = f" (training-names dictionary baseline f1 {dictionary_baseline(args, tokenizer, examples):.4f})"
        else:
            extra = f" (most-frequent-character baseline {unigram_baseline(args, tokenizer, examples):.4f})"
        print(f"eval {args.task} {args.model} ({checkpoint}) on {split} of {args.data_dir}: {figures}{extra}")
        print(f"final metrics: {figures}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
