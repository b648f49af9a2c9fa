"""Evaluate a trained run: sentence-pair accuracy on the test split (classify), SQuAD v1.1 exact match
and F1 on dev (squad; the official script's figures), or masked-LM and next-sentence accuracy on the
dev documents (pretrain).

    python eval.py                                   # the last classify run in output/classify, on test
    python eval.py --task pretrain                   # the last pre-training run, on pretrain/dev.txt
    python eval.py --model bert-mini --split dev --checkpoint output/classify/bert-mini/latest.pdckpt
    python eval.py --pretrained bert-base-uncased/model_state.pdparams --data_dir corpus   # PaddleNLP's, as they are

--pretrained evaluates PaddleNLP's BertForPretraining weights (model_state.pdparams with its config json,
vocab.txt and tokenizer_config.json beside it, converted by pretrained.py) directly: their masked-LM and
next-sentence heads on DATA_DIR/pretrain/dev.txt, with no run of this folder involved.

The model comes from the run's config.json, its vocabulary and labels from the run directory, and every
other setting from its train_config.json; a flag given here overrides it. Under
paddle.distributed.launch each rank evaluates its own share and the counts are summed.
"""
import argparse
import functools
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import pretrained
import reader
import squad
from models import MODELS, build_model
from models.bert import BertConfig
from tokenizer import Tokenizer


def pretrain_loader(args, tokenizer, split, train=False):
    """(dataset, loader, sampler) of DATA_DIR/pretrain/SPLIT.txt; eval sets are this rank's share."""
    docs = reader.read_documents(os.path.join(args.data_dir, "pretrain", f"{split}.txt"), tokenizer)
    dataset = reader.PretrainDataset(docs, tokenizer, args.max_seq_len, seed=args.seed if train else 1234)  # dev: fixed masks
    if not train:
        dataset.examples = dataset.examples[utils.rank()::utils.world_size()]
    sampler = reader.BatchSampler(len(dataset), args.batch_size, shuffle=train, seed=getattr(args, "seed", 0), shard=train)
    pad_to = args.max_seq_len if getattr(args, "to_static", False) else None  # fixed shape: no recompiles
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=functools.partial(
        reader.collate_pretrain, pad_id=tokenizer.pad_id, pad_to=pad_to))
    return dataset, loader, sampler


def pair_loader(args, tokenizer, labels, split, train=False):
    dataset = reader.load_pairs(os.path.join(args.data_dir, "classify", f"{split}.tsv"), tokenizer, labels,
                                args.max_seq_len, args.skip_bad_samples)
    if not train:
        dataset.examples = dataset.examples[utils.rank()::utils.world_size()]
    sampler = reader.BatchSampler(len(dataset), args.batch_size, shuffle=train, seed=getattr(args, "seed", 0), shard=train)
    pad_to = args.max_seq_len if getattr(args, "to_static", False) else None
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=functools.partial(
        reader.collate_pairs, pad_id=tokenizer.pad_id, pad_to=pad_to))
    return dataset, loader, sampler


def squad_loader(args, tokenizer, split, train=False):
    """(dataset, loader, sampler) of DATA_DIR/squad/{train,dev}-v1.1.json; the dataset keeps the
    examples and features that prediction maps back to answers. Eval shards by question."""
    examples = squad.read_examples(os.path.join(args.data_dir, "squad", squad.FILES[split]), args.skip_bad_samples)
    if not train:
        examples = examples[utils.rank()::utils.world_size()]
    features = squad.make_features(examples, tokenizer, args.max_seq_len, args.doc_stride, args.max_query_len, train)
    dataset = squad.FeatureDataset(features)
    dataset.examples = examples
    sampler = reader.BatchSampler(len(dataset), args.batch_size, shuffle=train, seed=getattr(args, "seed", 0), shard=train)
    pad_to = args.max_seq_len if getattr(args, "to_static", False) else None
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=functools.partial(
        squad.collate, pad_id=tokenizer.pad_id, pad_to=pad_to))
    return dataset, loader, sampler


def evaluate(task, model, loader):
    """Counts summed over ranks, then the figures: classify {acc}, pretrain {mlm_acc, nsp_acc, mlm_loss}."""
    model.eval()
    counts = np.zeros(5)
    if task == "squad":
        data, starts, ends, order = loader.dataset, [], [], []
        with paddle.no_grad():
            for ids, types, _, _, index in utils.progress(loader, len(loader), "eval"):
                s, e = model(ids, types)
                starts += list(s.numpy())
                ends += list(e.numpy())
                order += index.numpy().tolist()
        features = [data.features[i] for i in order]
        answers = {ex["id"]: ex["answers"] for ex in data.examples}
        em, f1, n = utils.all_reduce_sum(squad.squad_scores(squad.predict_answers(data.examples, features, starts, ends),
                                                            answers))
        model.train()
        return {"exact_match": 100 * em / n, "f1": 100 * f1 / n, "samples": int(n)}
    with paddle.no_grad():
        for batch in utils.progress(loader, len(loader), "eval"):
            if task == "pretrain":
                ids, types, positions, labels, nsp = batch
                mlm, nsp_logits = model(ids, types, positions)
                counts += [(mlm.argmax(-1) == labels).sum().item(), labels.shape[0],
                           (nsp_logits.argmax(-1) == nsp).sum().item(), nsp.shape[0],
                           F.cross_entropy(mlm, labels, reduction="sum").item()]
            else:
                ids, types, labels = batch
                counts += [(model(ids, types).argmax(-1) == labels).sum().item(), labels.shape[0], 0, 0, 0]
    counts = utils.all_reduce_sum(counts)
    model.train()
    if task == "pretrain":
        return {"mlm_acc": counts[0] / counts[1], "nsp_acc": counts[2] / counts[3],
                "mlm_loss": counts[4] / counts[1], "samples": int(counts[3])}
    return {"acc": counts[0] / counts[1], "samples": int(counts[1])}


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser, argv):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task", default="classify")
    task = pre.parse_known_args(argv)[0].task
    parser.add_argument("--task", choices=["pretrain", "classify", "squad"], default="classify", help="which run kind")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="the run to use; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default=f"output/{task}", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    parser.add_argument("--max_seq_len", type=int, default=None, help="tokens per sequence; unset: the run's")
    parser.add_argument("--doc_stride", type=int, default=None,
                        help="SQuAD: tokens between the starts of the sliding windows a long context is cut "
                             "into; unset: the run's (train.py's --doc_stride, 128 by default)")
    parser.add_argument("--max_query_len", type=int, default=None,
                        help="SQuAD: question tokens kept in each window (the rest are cut); unset: the run's "
                             "(train.py's --max_query_len, 64 by default)")


def load_run(args):
    """(model with the run's weights, tokenizer, labels) of the run args point at."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    if args.task == "squad":  # a run saved before these flags existed: train.py's defaults
        args.doc_stride, args.max_query_len = args.doc_stride or 128, args.max_query_len or 64
    run_dir = os.path.join(args.output_dir, args.model)
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise utils.CheckpointError(f"no trained run in {run_dir} (no config.json); train first")
    cfg = BertConfig.from_json(os.path.join(run_dir, "config.json"))
    tokenizer = Tokenizer(os.path.join(run_dir, "vocab.txt"))
    labels = None
    if args.task == "classify":
        labels = [l for _, l in utils.read_lines(os.path.join(run_dir, "labels.txt")) if l]
    model = build_model(args.task, cfg, len(labels or []))
    utils.load_model(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    model.eval()
    return model, tokenizer, labels


def load_suite_weights(args):
    """--pretrained: (our BertForPretraining with PaddleNLP's converted weights, tokenizer). Both
    pre-training heads must be in the file (a bare BertModel's has none: fine-tune it instead)."""
    path = args.pretrained
    if os.path.isdir(path):
        path = os.path.join(path, "model_state.pdparams")
    cfg, kind, where = pretrained.read_config(path)
    if kind is None:
        raise utils.CheckpointError(f"{path}: no {' or '.join(pretrained.CONFIG_NAMES)} beside the weights "
                                    "(PaddleNLP's save_pretrained writes one)")
    vocab = args.vocab_file or os.path.join(os.path.dirname(os.path.abspath(path)), "vocab.txt")
    if not os.path.isfile(vocab):
        raise utils.DataError(f"{vocab}: file not found (the checkpoint's vocab.txt; pass --vocab_file)")
    tokenizer = Tokenizer(vocab)  # do_lower_case from the tokenizer_config.json beside it
    if len(tokenizer) > cfg.vocab_size:
        raise utils.CheckpointError(f"{where}: vocab_size {cfg.vocab_size} is smaller than the {len(tokenizer)} "
                                    f"tokens of {vocab}; pass the vocabulary of those weights")
    if args.max_seq_len > cfg.max_position_embeddings:
        raise utils.CheckpointError(f"--max_seq_len {args.max_seq_len} exceeds the model's "
                                    f"{cfg.max_position_embeddings} positions")
    model = build_model("pretrain", cfg, 0)
    _, initialised = pretrained.load(model, path)
    if initialised:
        raise utils.CheckpointError(f"{path} has no pre-training heads ({', '.join(initialised[:3])} not in the "
                                    "file): only a BertForPretraining checkpoint can be evaluated as it is; "
                                    "fine-tune this one with train.py --pretrained")
    model.eval()
    return model, tokenizer


def baselines(data_dir, split):
    """The trivial baselines on DATA_DIR, no model: the majority class of classify/train.tsv on the
    classify split, and SQuAD's first span of the answer's length on the squad dev set."""
    rows = reader.read_pairs(os.path.join(data_dir, "classify", "train.tsv"))[0]
    counts = {}
    for r in rows:
        counts[r[3]] = counts.get(r[3], 0) + 1
    majority = max(sorted(counts), key=counts.get)
    gold = reader.read_pairs(os.path.join(data_dir, "classify", f"{split}.tsv"))[0]
    print(f"classify {split}: majority class {majority!r} acc={sum(r[3] == majority for r in gold) / len(gold):.4f}")
    examples = squad.read_examples(os.path.join(data_dir, "squad", squad.FILES["dev"]))
    em, f1, n = squad.squad_scores(squad.first_span_baseline(examples), {e["id"]: e["answers"] for e in examples})
    print(f"squad dev: first span of the answer's length exact_match={100 * em / n:.4f} f1={100 * f1 / n:.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser, argv)
    parser.add_argument("--split", default=None, help="split to evaluate (unset: test for classify, dev for pretrain)")
    parser.add_argument("--batch_size", type=int, default=64, help="examples per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--baselines", action="store_true",
                        help="print the trivial baselines of --data_dir (majority class, SQuAD first span) and stop")
    parser.add_argument("--pretrained", default=None,
                        help="evaluate PaddleNLP's BertForPretraining weights (model_state.pdparams, or its folder, "
                             "with the config json beside it) on DATA_DIR/pretrain/dev.txt: masked-LM and "
                             "next-sentence accuracy, instead of a run of this folder")
    parser.add_argument("--vocab_file", default=None,
                        help="with --pretrained: the vocabulary; unset: vocab.txt beside the weights")
    args = utils.parse_args(parser, argv)
    if args.baselines:
        return baselines(args.data_dir or "data/demo", args.split or "test")
    if args.pretrained:  # PaddleNLP's weights as they are: only their pre-training heads have a task here
        if "task" in args.explicit and args.task != "pretrain":
            raise utils.CheckpointError("--pretrained evaluates the pre-training heads (DATA_DIR/pretrain/dev.txt); "
                                        f"to score {args.task}, fine-tune with train.py --pretrained and evaluate that run")
        args.task, args.model = "pretrain", "PaddleNLP"
        args.data_dir, args.max_seq_len = args.data_dir or "data/demo", args.max_seq_len or 128
        model, tokenizer = load_suite_weights(args)
        labels = None
    else:
        model, tokenizer, labels = load_run(args)
    utils.setup(args)
    args.to_static = False
    split = args.split or ("test" if args.task == "classify" else "dev")
    if args.task == "squad":
        loader = squad_loader(args, tokenizer, split)[1]
    elif args.task == "pretrain":
        loader = pretrain_loader(args, tokenizer, split)[1]
    else:
        loader = pair_loader(args, tokenizer, labels, split)[1]
    result = evaluate(args.task, model, loader)
    if utils.is_main_process():
        figures = " ".join(f"{k}={v:.4f}" for k, v in result.items() if k != "samples")
        print(f"eval {args.task} {args.model} on {result['samples']} {split} examples of {args.data_dir}: {figures}")
        print(f"final metrics: {figures}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
