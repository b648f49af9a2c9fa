"""Evaluate a trained run on the test split (or dev): accuracy, the published metric, and macro F1.

    python eval.py                                  # the last run trained in output/, on its data's test split
    python eval.py --model bilstm --split dev --checkpoint output/bilstm/latest.pdckpt

Every setting that shapes the model (model, dictionary, max_seq_len) and the data directory come from
the run's saved settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it. Under
paddle.distributed.launch each rank evaluates its own share and the counts are summed, so the figure
equals the single-process one.
"""
import argparse
import functools
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from metric import ClassificationMetric
from models import MODELS, build_model


def evaluate(model, loader):
    """Accuracy and macro F1 over a loader of (ids, lengths, labels), summed over ranks."""
    model.eval()
    metric = ClassificationMetric(len(reader.LABELS))
    with paddle.no_grad():
        for ids, lengths, labels in utils.progress(loader, len(loader), "eval"):
            metric.update(model(ids, lengths).argmax(axis=-1).numpy(), labels.numpy())
    metric.confusion = utils.all_reduce_sum(metric.confusion).astype("int64")
    model.train()
    return {**metric.summary(), "samples": int(metric.confusion.sum())}


def taskflow_examples(path, vocab, skip_bad_samples=False, max_seq_len=None):
    """A TSV file's examples cut as Taskflow cuts raw text: each text's words are joined back (spaces
    dropped) and cut by jieba with the checkpoint's vocab.txt (vocab.tokenizer). Taskflow truncates
    nothing; max_seq_len (training only) cuts the words after that."""
    texts = []
    examples, _ = reader.read_examples(path, vocab, 10 ** 9, skip_bad_samples, texts=texts)
    return [(vocab.tokenizer.encode("".join(text.split()))[:max_seq_len], label)
            for (_, text), (_, label) in zip(texts, examples)]


def eval_loader(args, vocab, split):
    """This rank's share of a split (no duplicates), in batches sorted by length. A vocab with a
    `tokenizer` (Taskflow's checkpoint or a run fine-tuned from it) cuts the texts as Taskflow does."""
    if getattr(vocab, "tokenizer", None) is not None:
        dataset = reader.TextDataset(taskflow_examples(os.path.join(args.data_dir, reader.SPLITS[split]), vocab,
                                                       args.skip_bad_samples))
    else:
        dataset = reader.load_split(args.data_dir, split, vocab, args.max_seq_len, args.skip_bad_samples)
    shard = reader.TextDataset(dataset.examples[utils.rank()::utils.world_size()])
    sampler = reader.LengthBucketSampler(shard.lengths, args.batch_size, shuffle=False, shard=False)
    loader = utils.make_loader(shard, args, batch_sampler=sampler,
                               collate_fn=functools.partial(reader.collate, pad_id=vocab.pad_id))
    return dataset, loader


def run_model(args, run_dir):
    """(our model, its vocab) as the run in RUN_DIR was trained: its dictionary and, for a run fine-tuned
    from Taskflow's checkpoint, vocab.txt, jieba and the checkpoint's sizes (pretrained.run_vocab)."""
    import pretrained
    taskflow = pretrained.run_vocab(run_dir)
    if taskflow is not None:
        vocab, sizes = taskflow
        return build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id, **sizes), vocab
    vocab = reader.Vocab.load(reader.run_vocab_path(run_dir, args.data_dir))
    return build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id), vocab


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


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config)."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"  # a run without saved settings: the folder's defaults
    args.max_seq_len = args.max_seq_len or reader.MAX_SEQ_LEN
    return args


def taskflow_loader(args, split):
    """(model, loader) for PaddleNLP's Taskflow Senta BiLSTM (--pretrained DIR, pretrained.py): the TSV's
    texts cut by jieba with the checkpoint's vocab.txt, as Taskflow cuts raw input (taskflow_examples)."""
    import pretrained
    model = pretrained.build(args.pretrained)
    vocab = pretrained.TaskflowVocab(pretrained.resolve(args.pretrained)[1])
    vocab.tokenizer = pretrained.TaskflowTokenizer(vocab)
    return model, eval_loader(args, vocab, split)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLITS), help="split to evaluate")
    parser.add_argument("--pretrained", default=None,
                        help="evaluate PaddleNLP Taskflow's sentiment_analysis bilstm directory (model_state.pdparams "
                             "+ vocab.txt, see README) instead of a run: its weights, its jieba cutting")
    parser.add_argument("--batch_size", type=int, default=64, help="texts per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = utils.parse_args(parser, argv)
    if args.pretrained:
        args.model, args.data_dir = "bilstm_taskflow", args.data_dir or "data/demo"
        utils.setup(args)
        model, loader = taskflow_loader(args, args.split)
        result = evaluate(model, loader)
        if utils.is_main_process():
            print(f"eval Taskflow bilstm {args.pretrained} on {result['samples']} {args.split} texts of {args.data_dir}: "
                  f"acc {result['acc']:.4f} macro_f1 {result['macro_f1']:.4f}")
            print(f"final metrics: acc={result['acc']:.4f} macro_f1={result['macro_f1']:.4f}", flush=True)
        return
    args = fill_from_run(args)
    utils.setup(args)

    model, vocab = run_model(args, os.path.join(args.output_dir, args.model))
    utils.load_model(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    _, loader = eval_loader(args, vocab, args.split)
    result = evaluate(model, loader)
    if utils.is_main_process():
        print(f"eval {args.model} on {result['samples']} {args.split} texts of {args.data_dir}: "
              f"acc {result['acc']:.4f} macro_f1 {result['macro_f1']:.4f}")
        print(f"final metrics: acc={result['acc']:.4f} macro_f1={result['macro_f1']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
