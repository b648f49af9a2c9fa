"""Evaluate a checkpoint on the test (or dev) split: accuracy, the published metric, and macro F1.

    python eval.py --model textcnn --data_dir data --checkpoint output/textcnn/best.pdparams

Under paddle.distributed.launch each rank evaluates its own share and the counts are summed, so the
figure equals the single-process one.
"""
import argparse
import functools
import os

import utils
import paddle

import reader
from metric import ClassificationMetric
from models import MODELS, build_model


def evaluate(model, loader):
    """Accuracy and macro F1 over a loader of (ids, lengths, labels), summed over ranks."""
    model.eval()
    metric = ClassificationMetric(len(reader.LABELS))
    with paddle.no_grad():
        for ids, lengths, labels in loader:
            metric.update(model(ids, lengths).argmax(axis=-1).numpy(), labels.numpy())
    metric.confusion = utils.all_reduce_sum(metric.confusion).astype("int64")
    model.train()
    return {**metric.summary(), "samples": int(metric.confusion.sum())}


def eval_loader(args, vocab, split):
    """This rank's share of a split (no duplicates), in batches sorted by length."""
    dataset = reader.load_split(args.data_dir, split, vocab, args.max_seq_len, args.skip_bad_samples)
    shard = reader.TextDataset(dataset.examples[utils.rank()::utils.world_size()])
    sampler = reader.LengthBucketSampler(shard.lengths, args.batch_size, shuffle=False, shard=False)
    loader = utils.make_loader(shard, args, batch_sampler=sampler,
                               collate_fn=functools.partial(reader.collate, pad_id=vocab.pad_id))
    return dataset, loader


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="textcnn", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLITS))
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_seq_len", type=int, default=128)
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--no_shared_memory", action="store_true")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    utils.setup(args)

    vocab = reader.load_vocab(args.data_dir)
    _, loader = eval_loader(args, vocab, args.split)
    model = build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    result = evaluate(model, loader)
    if utils.is_main_process():
        print(f"eval {args.model} on {result['samples']} {args.split} texts: acc {result['acc']:.4f} "
              f"macro_f1 {result['macro_f1']:.4f}")
        print(f"final metrics: acc={result['acc']:.4f} macro_f1={result['macro_f1']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
