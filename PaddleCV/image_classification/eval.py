"""Evaluate a trained run: top-1 and top-5 accuracy on the test split (val when DATA_DIR has none).

    python eval.py                               the last run trained in output/, with its own settings
    python eval.py --model ResNet50 --data_dir data/ILSVRC2012 --split val

The model, crop size, class count and data come from the run's OUTPUT_DIR/MODEL/train_config.json;
a checkpoint that does not fit that model is an error. train.py picks best.pdparams on val, so a
val figure of best.pdparams is optimistic; the test split, when there is one, is read only here.
Under paddle.distributed.launch each rank evaluates its own share and the counts are summed, so the
figure equals the single-process one.
"""
import argparse
import os

import utils
import paddle

import pretrained
import reader
from models import MODELS, build_model


def evaluate(model, loader, skip_bad_samples=False):
    """Top-1/top-5 accuracy over a loader built with reader.collate_with_errors, summed over ranks."""
    model.eval()
    metric = paddle.metric.Accuracy(topk=(1, 5))
    batches = reader.BadSampleFilter(skip_bad_samples)(loader)
    with paddle.no_grad():
        for images, labels in utils.progress(batches, len(loader), "eval"):
            metric.update(metric.compute(model(images), labels.unsqueeze(-1)))
    total = utils.all_reduce_sum(list(metric.total) + [metric.count[0]])
    model.train()
    return {"top1": total[0] / max(total[2], 1), "top5": total[1] / max(total[2], 1), "samples": int(total[2])}


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", "--pretrained", default=None,
                        help=checkpoint_help + "; a PaddleClas 2.6 .pdparams of MODEL is converted (pretrained.py)")
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="crop size; None: the run's")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="class count; None: the run's (give it only for weights without a run)")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns (checkpoint path, class names or None)."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.image_size = args.image_size or MODELS[args.model].input_size
    if not args.num_classes:  # weights without a run: count the classes of the data
        args.num_classes = reader.dataset_info(args.data_dir)[1]
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    names = None
    if os.path.isdir(args.data_dir):
        try:
            names = reader.dataset_info(args.data_dir, args.num_classes)[2]
        except utils.DataError:
            names = None  # the names are a nicety; a data problem shows where the data is read
    return checkpoint, names


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained_model(args, checkpoint):
    """The model with the checkpoint's weights. PaddleClas's weights (pretrained.py) also set
    args.recipe and args.image_size to PaddleClas's eval preprocessing of the model (printed); our
    own weights leave args.recipe None (reader.build_transform's default)."""
    model = build_model(args.model, num_classes=args.num_classes)
    pretrained.load(model, args.model, checkpoint, strict=True)
    model.eval()
    args.recipe = None
    if getattr(model, "paddleclas_weights", False):
        args.recipe = pretrained.eval_recipe(args.model)
        if "image_size" in getattr(args, "explicit", ()) and args.image_size != args.recipe["crop"]:
            print(f"note: --image_size {args.image_size} replaces PaddleClas's crop {args.recipe['crop']}", flush=True)
            args.recipe = {"resize_short": args.recipe["resize_short"] - args.recipe["crop"] + args.image_size,
                           "crop": args.image_size}
        args.image_size = args.recipe["crop"]
        if utils.is_main_process():
            print(pretrained.describe_recipe(args.model, args.recipe), flush=True)
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["auto", "val", "test"], default="auto",
                        help="auto: test when DATA_DIR has a test split, else val")
    parser.add_argument("--batch_size", type=int, default=64, help="images per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count unreadable images")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint, _ = run_settings(args)
    utils.setup(args)
    split = args.split if args.split != "auto" else ("test" if reader.has_split(args.data_dir, "test") else "val")
    model = load_trained_model(args, checkpoint)  # first: PaddleClas's weights set args.recipe
    dataset = reader.ImageClassificationDataset(args.data_dir, split, args.image_size, args.num_classes, train=False,
                                                recipe=args.recipe)
    result = evaluate(model, reader.make_loader(dataset, args, train=False), args.skip_bad_samples)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {result['samples']} {split} images of {args.data_dir}: "
              f"top1 {result['top1']:.4f} top5 {result['top5']:.4f}")
        print(f"final metrics: top1={result['top1']:.4f} top5={result['top5']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
