"""Evaluate a trained run on the test split (ModelNet40's test list, or S3DIS Area_5): overall and
mean-class accuracy for classification, mIoU and overall point accuracy for segmentation, next to
the trivial baseline that always answers the most frequent training class.

    python eval.py                                 the last run trained in output/, with its own settings
    python eval.py --split val                     the split that picked best.pdparams
    python eval.py --model pointnet2_seg_ssg --data_dir data/s3dis

The model and its shape come from OUTPUT_DIR/MODEL/train_config.json; weights that do not fit are an
error. Under paddle.distributed.launch each rank evaluates its share (no padding) and the confusion
matrices are summed, so the figure equals the single-process one.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import reader
from metric import ConfusionMatrix, majority_baseline
from models import MODELS


def evaluate(model, loader, num_classes):
    """Metrics of a model over a loader, summed over ranks."""
    model.eval()
    matrix = ConfusionMatrix(num_classes)
    with paddle.no_grad():
        for points, labels in utils.progress(loader, len(loader), "eval"):
            matrix.update(model(points).argmax(-1).numpy(), labels.numpy())
    model.train()
    return matrix.all_reduce().compute()


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    path = os.path.join(args.output_dir, args.model, "train_config.json")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no trained run at {os.path.dirname(path)} (train_config.json missing)")
    with open(path) as f:
        for key, value in json.load(f).items():  # the model-shaping settings this script has no flag for
            if not hasattr(args, key):
                setattr(args, key, value)
    args.data_dir = args.data_dir or "data/demo"
    best = os.path.join(args.output_dir, args.model, "best.pdparams")
    return args.checkpoint or (best if os.path.isfile(best) else os.path.join(args.output_dir, args.model,
                                                                                 "latest.pdckpt"))


def class_names(args):
    if args.task == "seg":
        return list(reader.S3DIS_CLASSES)
    try:
        return reader.shape_names(args.data_dir)
    except utils.DataError:
        return [str(i) for i in range(args.num_classes)]


def load_trained_model(args, checkpoint):
    from train import model_from_args
    model = model_from_args(args)
    utils.load_model(model, checkpoint)
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["val", "test"], default="test", help="which split to evaluate")
    parser.add_argument("--batch_size", type=int, default=16, help="samples per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    blocks = reader.read_indoor3d(args.data_dir, args.num_classes) if args.task == "seg" else None
    dataset = reader.build_dataset(args, args.split, blocks=blocks)
    model = load_trained_model(args, checkpoint)
    result = evaluate(model, reader.make_loader(dataset, args, train=False), args.num_classes)
    majority, base = majority_baseline(reader.split_labels(args, "train", blocks),
                                       dataset.labels, args.num_classes)
    result["baseline"] = {k: base[k] for k in ("acc", "mean_class_acc", "miou")}
    if utils.is_main_process():
        what = "shapes" if args.task == "cls" else "points"
        names = class_names(args)
        print(f"eval {args.model} ({checkpoint}) on {result['samples']} {args.split} {what} of {args.data_dir}: "
              f"acc {result['acc']:.4f} mean-class acc {result['mean_class_acc']:.4f} mIoU {result['miou']:.4f}")
        print(f"majority class '{names[majority]}' baseline: acc {base['acc']:.4f} mean-class acc "
              f"{base['mean_class_acc']:.4f} mIoU {base['miou']:.4f}")
        if args.task == "seg":
            print("per-class IoU: " + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, result["class_iou"])
                                                if not np.isnan(v)))
            print(f"final metrics: miou={result['miou']:.4f} acc={result['acc']:.4f}", flush=True)
        else:
            print(f"final metrics: acc={result['acc']:.4f} mean_class_acc={result['mean_class_acc']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
