"""Evaluate a trained KT-NET run: exact match and F1 (the official SQuAD v1.1 / ReCoRD scripts' figures)
on the test split when the data has one with answers (the demo does), else on dev (the figure the
real datasets report: their test answers are hidden).

    python eval.py                                   # the last run in output/, its best.pdparams
    python eval.py --split dev --checkpoint output/bert-tiny/latest.pdckpt
    python eval.py --baselines                       # the trivial baselines of the data, no model

The model comes from the run's config.json, its vocabulary from the run directory, the KB from the
run's KB directory, every other setting from its train_config.json; a flag given here overrides it.
Under paddle.distributed.launch each rank evaluates its share of the questions and the sums are gathered.
"""
import argparse
import functools
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import metrics
import reader
from kb import KnowledgeBase
from models import MODELS, BertConfig, build_model
from tokenizer import Tokenizer


def mrc_loader(args, tokenizer, kb, split, train=False, path=None, need_answers=True):
    """(dataset, loader, sampler) of a split (or of `path`); the dataset keeps the examples and windows
    that prediction maps back to answers. Eval shards by question. Passages longer than one window
    are windowed and counted."""
    path = path or reader.data_path(args.data_dir, args.dataset, split)
    examples = reader.read_examples(path, args.dataset, args.skip_bad_samples, need_answers=need_answers)
    if not train:
        examples = examples[utils.rank()::utils.world_size()]
    features, long = reader.make_features(examples, tokenizer, None if args.no_kb else kb, args.max_seq_len,
                                          args.doc_stride, args.max_query_len)
    if long and utils.is_main_process():
        print(f"{path}: {long} of {len(examples)} passages are longer than one window of {args.max_seq_len} "
              f"tokens; cut into windows every {args.doc_stride} tokens ({len(features)} windows)", flush=True)
    dataset = reader.FeatureDataset(features, examples)
    sampler = reader.BatchSampler(len(dataset), args.batch_size, shuffle=train, seed=getattr(args, "seed", 0),
                                  shard=train)
    pad_to = args.max_seq_len if getattr(args, "to_static", False) else None  # fixed shape: no recompiles
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=functools.partial(
        reader.collate, pad_id=tokenizer.pad_id, pad_to=pad_to, max_concepts=args.max_concepts if pad_to else None))
    return dataset, loader, sampler


def predict_logits(predict, batches):
    """Start and end logits of every window, in the loader's order."""
    starts, ends, order = [], [], []
    for ids, types, concepts, _, _, index in batches:
        s, e = predict(ids, types, concepts)
        starts += list(np.asarray(s))
        ends += list(np.asarray(e))
        order += np.asarray(index).tolist()
    return starts, ends, order


def evaluate(model, loader):
    """{exact_match, f1 (0-100), samples}, the sums gathered over ranks."""
    model.eval()
    data = loader.dataset

    def predict(ids, types, concepts):
        with paddle.no_grad():
            return [t.numpy() for t in model(ids, types, concepts)]
    starts, ends, order = predict_logits(predict, utils.progress(loader, len(loader), "eval"))
    model.train()
    answers = metrics.predict_answers(data.examples, [data.features[i] for i in order], starts, ends)
    em, f1, n = utils.all_reduce_sum(np.array(metrics.scores(answers, {ex["id"]: ex["answers"] for ex in data.examples})))
    return {"exact_match": 100 * em / n, "f1": 100 * f1 / n, "samples": int(n)}


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    from train import add_kt_flags
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="the run to use; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")
    add_kt_flags(parser, for_training=False)
    parser.set_defaults(no_kb=False)  # not a flag here: always the run's


def load_run(args):
    """(model with the run's weights, tokenizer, KB) of the run args point at."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    run_dir = os.path.join(args.output_dir, args.model)
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise utils.CheckpointError(f"no trained run in {run_dir} (no config.json); train first")
    cfg = BertConfig.from_json(os.path.join(run_dir, "config.json"))
    tokenizer = Tokenizer(os.path.join(run_dir, "vocab.txt"))
    kb = KnowledgeBase(args.kb_dir or os.path.join(args.data_dir, "kb"), args.max_concepts)
    model = build_model(cfg, len(kb), kb.dim)
    utils.load_model(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    if not np.allclose(model.concept_embeddings.numpy(), kb.embeddings, atol=1e-6):
        raise utils.CheckpointError(f"the KB in {args.kb_dir or args.data_dir + '/kb'} is not the one the run "
                                    "was trained with")
    model.eval()
    return model, tokenizer, kb


def default_split(args):
    """--split, else test when the data has it (with answers: the demo), else dev."""
    return args.split or ("test" if os.path.isfile(reader.data_path(args.data_dir, args.dataset, "test")) else "dev")


def baselines(args):
    """The trivial baselines on a split, no model: the passage's first span of the answer's length and
    its first sentence."""
    path = reader.data_path(args.data_dir, args.dataset, args.split)
    examples = reader.read_examples(path, args.dataset)
    answers = {e["id"]: e["answers"] for e in examples}
    for name, predict in (("first span of the answer's length", metrics.first_span_baseline),
                          ("first sentence", metrics.first_sentence_baseline)):
        em, f1, n = metrics.scores(predict(examples), answers)
        print(f"{args.dataset} {args.split}: {name}: exact_match={100 * em / n:.4f} f1={100 * f1 / n:.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default=None, help="split to evaluate (unset: test if the data has it, else dev)")
    parser.add_argument("--batch_size", type=int, default=64, help="windows per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad questions")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--baselines", action="store_true", help="print the trivial baselines of the split and stop")
    args = utils.parse_args(parser, argv)
    if args.baselines:
        args.data_dir, args.dataset = args.data_dir or "data/demo", args.dataset or "record"
        args.split = default_split(args)
        return baselines(args)
    model, tokenizer, kb = load_run(args)
    utils.setup(args)
    args.to_static = False
    split = default_split(args)
    loader = mrc_loader(args, tokenizer, kb, split)[1]
    result = evaluate(model, loader)
    if utils.is_main_process():
        figures = f"exact_match={result['exact_match']:.4f} f1={result['f1']:.4f}"
        print(f"eval {args.model} on {result['samples']} {args.dataset} {split} questions of {args.data_dir}: {figures}")
        print(f"final metrics: {figures}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
