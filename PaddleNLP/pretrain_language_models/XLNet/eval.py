"""Evaluate a trained run: STS-B Pearson and Spearman correlations (the published metric is Pearson),
IMDB accuracy, or the pre-training loss and the accuracy on the predicted tokens (dev).

    python eval.py                                  # the last run in output/stsb, on its data's test split
    python eval.py --output_dir output/imdb
    python eval.py --output_dir output/pretrain     # dev split (pre-training has no test split)
    python eval.py --pretrained xlnet-base-cased/model_state.pdparams --data_dir corpus   # PaddleNLP's, as they are

--pretrained evaluates PaddleNLP's XLNetLMHeadModel weights (model_state.pdparams with its config json and
spiece.model beside it, converted by pretrained.py) directly: the permutation-LM loss and accuracy on
DATA_DIR/pretrain/dev.txt, with no run of this folder involved.

Every setting that shapes the model (task, model, vocabulary, max_seq_len) and the data directory come
from the run's saved settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it.
Under paddle.distributed.launch each rank scores its own share and the predictions are gathered, so
the figure equals the single-process one.
"""
import argparse
import functools
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import pretrained
import reader
from model import CONFIGS, build_model

METRIC = {"pretrain": "acc", "stsb": "pearson", "imdb": "acc"}  # what picks best.pdparams on dev


def regression_metrics(predictions, labels):
    """Pearson and Spearman correlations (scipy), and the mean squared error."""
    from scipy import stats
    predictions, labels = np.asarray(predictions, np.float64), np.asarray(labels, np.float64)
    constant = np.ptp(predictions) == 0  # no correlation is defined: count it as none
    return {"pearson": 0.0 if constant else float(stats.pearsonr(predictions, labels)[0]),
            "spearman": 0.0 if constant else float(stats.spearmanr(predictions, labels)[0]),
            "mse": float(np.mean((predictions - labels) ** 2))}


def gather(values, n):
    """Each rank's predictions for examples rank, rank + world, ... put in place and summed over ranks."""
    full = np.zeros((n,) + np.asarray(values).shape[1:], np.float64)
    full[utils.rank()::utils.world_size()] = values
    return utils.all_reduce_sum(full)


def evaluate(model, loader, task):
    """The task's dev/test figures over a loader of this rank's share."""
    from train import pretrain_loss
    model.eval()
    with paddle.no_grad():
        if task == "pretrain":
            sums = np.zeros(3)
            for batch in utils.progress(loader, len(loader), "eval"):
                loss, correct, count = pretrain_loss(model, batch)
                sums += [loss.item() * count, correct.item(), count]
            loss, correct, count = utils.all_reduce_sum(sums)
            result = {"acc": correct / max(count, 1), "loss": loss / max(count, 1), "samples": int(count)}
        else:
            outputs, labels = [], []
            for ids, segs, gold in utils.progress(loader, len(loader), "eval"):
                outputs.append(model(ids, segs).numpy())
                labels.append(gold.numpy())
            n = len(loader.dataset.full)
            outputs, labels = gather(np.concatenate(outputs), n), gather(np.concatenate(labels), n)
            result = task_metrics(task, outputs, labels)
    model.train()
    return result


def task_metrics(task, outputs, labels):
    if task == "stsb":
        return {**regression_metrics(outputs, labels), "samples": len(labels)}
    return {"acc": float(np.mean(np.argmax(outputs, -1) == labels)), "samples": len(labels)}


class Shard(reader.SequenceSet):
    """This rank's examples rank, rank + world, ...; `full` is the whole split."""

    def __init__(self, full):
        super().__init__(full.examples[utils.rank()::utils.world_size()])
        self.full = full


def eval_loader(args, tokenizer, split):
    num_predict = max(1, args.max_seq_len // args.perm_k)
    dataset = reader.load_split(args.task, args.data_dir, split, tokenizer, args.max_seq_len,
                                args.skip_bad_samples, num_predict=num_predict, seed=args.seed)
    if args.task == "pretrain":  # masks of "epoch 0": the same every time; ranks take equal shares
        per_rank = len(dataset) // utils.world_size() if utils.world_size() > 1 else len(dataset)
        indices = list(range(utils.rank() * per_rank, (utils.rank() + 1) * per_rank))
        batches = [indices[i:i + args.batch_size] for i in range(0, len(indices), args.batch_size)]
        return dataset, utils.make_loader(dataset, args, batch_sampler=batches, collate_fn=reader.collate_pretrain)
    shard = Shard(dataset)
    sampler = reader.EpochSampler(len(shard), args.batch_size, shuffle=False, shard=False)
    return dataset, utils.make_loader(shard, args, batch_sampler=sampler,
                                      collate_fn=functools.partial(reader.collate, pad_id=tokenizer.pad_id))


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    parser.add_argument("--model", default=None, choices=sorted(CONFIGS), metavar="NAME",
                        help=f"the run to use, one of {', '.join(sorted(CONFIGS))}; unset: the last run "
                             "trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output/stsb",
                        help="where the runs are: OUTPUT_DIR/MODEL/ (output/pretrain, output/stsb, output/imdb)")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="tokens per input; unset: the run's")


def fill_from_run(args):
    """Every flag not given from the run's saved settings; the model from its config.json."""
    utils.load_run_config(args, keep=("output_dir", "batch_size", "num_workers", "device", "skip_bad_samples"))
    path = os.path.join(args.output_dir, args.model, "config.json")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no trained run at {os.path.dirname(path)} (no config.json); train first")
    with open(path) as f:
        run = json.load(f)
    args.task, args.model_config, args.num_labels = run["task"], run["model_config"], run["num_labels"]
    args.data_dir = args.data_dir or "data/demo"
    args.max_seq_len = args.max_seq_len or run["max_seq_len"]
    for key, default in (("perm_k", 6), ("seed", 42)):
        if not hasattr(args, key):
            setattr(args, key, default)
    args.spiece = os.path.join(args.output_dir, args.model, reader.SPIECE)
    return args


def load_run_model(args):
    """The run's model with its weights (strict), and its tokenizer (the copy kept with the run)."""
    model = build_model(args.task, args.model_config, args.num_labels)
    pretrained.load_checkpoint(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    model.eval()
    return model, reader.Tokenizer(args.spiece)


def load_suite_weights(args):
    """--pretrained: (our pre-training model with PaddleNLP's converted weights, tokenizer); every flag a
    run would give gets the pre-training default. The LM head must be in the file (strict)."""
    path = args.pretrained
    if os.path.isdir(path):
        path = os.path.join(path, "model_state.pdparams")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no weights file at {path}")
    config_path = pretrained.find_suite_config(path)
    if config_path is None:
        raise utils.CheckpointError(f"{path}: no PaddleNLP XLNet {' or '.join(pretrained.SUITE_CONFIGS)} beside "
                                    "the weights (save_pretrained writes one)")
    spiece = args.spiece or os.path.join(os.path.dirname(os.path.abspath(path)), reader.SPIECE)
    if not os.path.isfile(spiece):
        raise utils.DataError(f"{spiece}: file not found (the checkpoint's sentencepiece model; pass --spiece)")
    tokenizer = reader.Tokenizer(spiece)
    config = dict(pretrained.suite_config(config_path), dropout=0.1, dropatt=0.1)
    if len(tokenizer) > config["vocab_size"]:
        raise utils.CheckpointError(f"{config_path}: vocab_size {config['vocab_size']} is smaller than the "
                                    f"{len(tokenizer)} pieces of {spiece}; pass the checkpoint's own spiece.model")
    model = build_model("pretrain", config)
    state = pretrained.read_state(path)
    if not pretrained.is_suite_state(state):
        raise utils.CheckpointError(f"{path} holds no PaddleNLP XLNet weights (first keys: {', '.join(list(state)[:3])}); "
                                    "a run of this folder is evaluated with --output_dir")
    if "decoder_bias" not in state:
        raise utils.CheckpointError(f"{path} has no LM head (decoder_bias): only an XLNetLMHeadModel checkpoint "
                                    "can be evaluated as it is; fine-tune this one with train.py --pretrained")
    pretrained.load_suite(model, path, state, strict=True)
    model.eval()
    args.task, args.model, args.num_labels = "pretrain", "PaddleNLP", None
    args.data_dir = args.data_dir or "data/demo"
    args.max_seq_len = args.max_seq_len or reader.MAX_SEQ_LEN["pretrain"]
    args.perm_k, args.seed = 6, 42  # train.py's defaults: the dev masks a run of this folder would draw
    return model, tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default=None, choices=["train", "dev", "test"],
                        help="split to evaluate; unset: test (pretrain: dev)")
    parser.add_argument("--batch_size", type=int, default=32, help="examples per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad samples instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--pretrained", default=None,
                        help="evaluate PaddleNLP's XLNetLMHeadModel weights (model_state.pdparams, or its folder, "
                             "with the config json beside it) on DATA_DIR/pretrain/dev.txt: permutation-LM loss and "
                             "accuracy, instead of a run of this folder")
    parser.add_argument("--spiece", default=None,
                        help="with --pretrained: the sentencepiece model; unset: spiece.model beside the weights")
    args = utils.parse_args(parser, argv)
    if args.pretrained:
        utils.setup(args)
        model, tokenizer = load_suite_weights(args)
    else:
        args = fill_from_run(args)
        utils.setup(args)
        model, tokenizer = load_run_model(args)
    split = args.split or ("dev" if args.task == "pretrain" else "test")
    _, loader = eval_loader(args, tokenizer, split)
    result = evaluate(model, loader, args.task)
    if utils.is_main_process():
        figures = " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples")
        print(f"eval {args.task} {args.model} on {result['samples']} {split} "
              f"{'tokens' if args.task == 'pretrain' else 'examples'} of {args.data_dir}: {figures}")
        print(f"final metrics: {figures}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
