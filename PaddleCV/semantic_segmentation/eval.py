"""Evaluate a trained run on its val list at full resolution: mIoU, per-class IoU, pixel accuracy.
Without flags it evaluates the last run trained in OUTPUT_DIR, with that run's settings (model,
classes, data), from its best.pdparams.

    python eval.py                                             # the last run in output/
    python eval.py --model hrnet_w18 --data_dir data/cityscapes --checkpoint output/hrnet_w18/best.pdparams
    python eval.py --scales 0.75,1.0,1.25 --flip               # multi-scale + flip
    python eval.py --window 512,1024 --stride 341,682          # sliding window
    python eval.py --val_list test.list                        # another labelled list in DATA_DIR
    python eval.py --majority_baseline                         # chance level: the most frequent class

The confusion matrix accumulates over batches and, under paddle.distributed.launch, over ranks (each
rank evaluates its own share, no padded duplicates), so the figure equals the single-process one.
"""
import argparse
import os

import utils  # first: it silences paddle's import-time warnings
import numpy as np
from PIL import Image

import pretrained
import reader
from metric import ConfusionMatrix
from models import MODELS, build_model
from predict import predict_probs


def evaluate(model, loader, num_classes, bad_samples, scales=(1.0,), flip=False, window=None, stride=None):
    """Metrics of the model over a loader built by eval_loader; bad samples go to bad_samples."""
    model.eval()
    cm = ConfusionMatrix(num_classes)
    for images, labels in bad_samples(utils.progress(loader, len(loader), "eval")):
        pred = predict_probs(model, images, scales, flip, window, stride).argmax(axis=1)
        cm.update(pred.numpy(), labels.numpy())
    model.train()
    result = cm.all_reduce().compute()
    result["pixels"] = int(cm.matrix.sum())
    return result


def majority_baseline(args, loader, bad_samples):
    """(class, metrics) of predicting the train list's most frequent labelled class everywhere: the
    figure a model must beat to have learned anything."""
    samples = reader.read_list(os.path.join(args.data_dir, args.train_list), args.data_dir, bad=bad_samples)
    counts = np.zeros(args.num_classes, np.int64)
    for _, label_path, where in utils.progress(samples, len(samples), "counting train labels"):
        with Image.open(label_path) as im:
            label = np.asarray(im).ravel()
        counts += np.bincount(label[label < args.num_classes], minlength=args.num_classes)[:args.num_classes]
    majority = int(counts.argmax())
    cm = ConfusionMatrix(args.num_classes)
    for _, labels in bad_samples(utils.progress(loader, len(loader), "eval")):
        labels = labels.numpy()
        cm.update(np.full_like(labels, majority), labels)
    result = cm.all_reduce().compute()
    result["pixels"] = int(cm.matrix.sum())
    return majority, result


def eval_loader(args, bad_samples):
    dataset = reader.SegDataset(args.data_dir, args.val_list, args.num_classes, mode="eval", bad=bad_samples)
    # Batch 1: full-resolution images may differ in size (PASCAL Context).
    loader = utils.make_loader(reader.eval_shard(dataset), args, batch_size=1, collate_fn=reader.collate)
    return dataset, loader


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def pair(text):
    return [int(v) for v in text.split(",")] if text else None


def run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, and its model-shaping settings (from the run's
    train_config.json unless given)."""
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="the run OUTPUT_DIR/MODEL to use; None: the last run trained in OUTPUT_DIR. "
                             f"Models: {', '.join(sorted(MODELS))}")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", "--pretrained", default=None,
                        help=checkpoint_help + "; a PaddleSeg 2.8 model.pdparams of MODEL is converted (pretrained.py)")
    parser.add_argument("--dataset", choices=sorted(reader.DATASETS), default=None,
                        help="class names and count; None: the run's")
    parser.add_argument("--num_classes", type=int, default=None, help="number of classes; None: the run's")


def fill_from_dataset(args):
    """What the run's settings did not give (a checkpoint used without its run): the defaults."""
    args.dataset = args.dataset or "cityscapes"
    args.num_classes = args.num_classes or len(reader.DATASETS[args.dataset])
    return args


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--val_list", default=None, help="labelled list file in DATA_DIR; None: the run's")
    parser.add_argument("--majority_baseline", action="store_true",
                        help="score predicting the train list's most frequent class everywhere, not the model")
    parser.add_argument("--train_list", default=None, help="with --majority_baseline: the train list; None: the run's")
    parser.add_argument("--scales", default="1.0", help="comma-separated inference scales, e.g. 0.75,1.0,1.25")
    parser.add_argument("--flip", action="store_true", help="also average horizontally flipped predictions")
    parser.add_argument("--window", default=None, help="sliding-window inference with windows HEIGHT,WIDTH")
    parser.add_argument("--stride", default=None, help="sliding-window stride HEIGHT,WIDTH; None: the window")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad samples instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_dataset(utils.load_run_config(utils.parse_args(parser, argv)))
    args.data_dir = args.data_dir or "data/cityscapes"
    args.val_list = args.val_list or "val.list"
    args.train_list = args.train_list or "train.list"
    return args


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    bad_samples = reader.BadSamples(args.skip_bad_samples)
    dataset, loader = eval_loader(args, bad_samples)
    if args.majority_baseline:
        majority, result = majority_baseline(args, loader, bad_samples)
        names = reader.class_names(args.dataset, args.num_classes)
        print(f"majority baseline: {names[majority]} everywhere on {dataset.list_path} ({len(dataset)} images)")
        print(f"final metrics: miou={result['miou']:.4f} pixel_acc={result['pixel_acc']:.4f}", flush=True)
        return result
    model = build_model(args.model, num_classes=args.num_classes)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    pretrained.load(model, args.model, checkpoint, strict=True)
    result = evaluate(model, loader, args.num_classes, bad_samples,
                      [float(s) for s in args.scales.split(",")], args.flip, pair(args.window), pair(args.stride))
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {dataset.list_path}: {len(dataset)} images, "
              f"{result['pixels']} labelled pixels"
              + (f", {bad_samples.skipped} bad samples skipped" if bad_samples.skipped else ""))
        for name, iou in zip(reader.class_names(args.dataset, args.num_classes), result["class_iou"]):
            print(f"  {name:>14s} IoU {iou:.4f}" if iou == iou else f"  {name:>14s} IoU -  (absent)")
        print(f"final metrics: miou={result['miou']:.4f} pixel_acc={result['pixel_acc']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
