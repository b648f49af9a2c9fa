"""Evaluate a trained run: VOC mAP at IoU 0.5, 11-point (VOC2007) and area (VOC2010+), on the test
split (VOC2007/test by default), by the folder's own metric code (voc_eval.py).

    python eval.py                                   the last run trained in output/, with its own settings
    python eval.py --split VOC2007/val               another split
    python eval.py --detections dets.json --split VOC2007/val   score infer.py's json instead of a model
    python eval.py --trivial                         the trivial detector: one whole-picture box per
                                                     picture, of the training split's most frequent class

The model, input size, class count and data come from the run's OUTPUT_DIR/MODEL/train_config.json;
a checkpoint that does not fit that model is an error. Under paddle.distributed.launch each rank
detects on its own share of the images; the detections of all ranks are gathered and the metric is
computed once over all of them, so the figure equals the single-process one.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
import paddle.distributed as dist

import pretrained
import reader
from models import MODELS, build_model
from models.postprocess import SSDDetector, split_per_image
from voc_eval import evaluate_detections


def evaluate(detector, loader, dataset, skip_bad_samples=False):
    """mAP of a detector (SSDDetector) over a loader of `dataset` (reader.make_loader, train=False),
    gathered over ranks. Returns voc_eval's dict."""
    detector.eval()
    found = {}
    batches = reader.BadSampleFilter(skip_bad_samples)(loader)
    with paddle.no_grad():
        for image, im_shape, scale_factor, index in utils.progress(batches, len(loader), "eval"):
            bbox, bbox_num = detector(image, im_shape, scale_factor)
            for i, dets in zip(index.numpy().tolist(), split_per_image(bbox.numpy(), bbox_num.numpy())):
                found[i] = dets
    if utils.world_size() > 1:
        everyone = []
        dist.all_gather_object(everyone, found)
        found = {k: v for part in everyone for k, v in part.items()}
    indices = sorted(found)  # images skipped as bad are left out of the metric, ground truth too
    return evaluate_detections([dataset.records[i] for i in indices], [found[i] for i in indices],
                               len(dataset.names))


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", "--pretrained", default=None,
                        help=checkpoint_help + "; a PaddleDetection 2.6 SSD .pdparams (ssd_mobilenet_v1_300_120e_voc "
                        "for SSD_MobileNetV1) is converted (pretrained.py) and run with its recipe's resize and NMS")
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="input side; None: the run's")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="object classes; None: the run's (give it only for weights without a run)")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns (checkpoint path, class names)."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.image_size = args.image_size or MODELS[args.model].input_size
    names = None
    if os.path.isdir(args.data_dir):
        try:
            names = reader.class_names(args.data_dir)
        except utils.DataError:
            names = None  # the names are a nicety; a data problem shows where the data is read
    if not args.num_classes:
        args.num_classes = len(names) if names else len(reader.VOC_CLASSES)
    if names is None or len(names) != args.num_classes:
        names = [str(i) for i in range(1, args.num_classes + 1)]
    return args.checkpoint or default_checkpoint(args.output_dir, args.model), names


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained_model(args, checkpoint):
    """The model with the weights of `checkpoint` (ours, or a PaddleDetection file, converted; strict).
    model.recipe: {} for ours, pretrained.SUITE_RECIPE (resize, NMS) for a PaddleDetection file."""
    model = build_model(args.model, num_classes=args.num_classes, image_size=args.image_size)
    suite = pretrained.load(model, args.model, checkpoint, strict=True)
    model.recipe = dict(pretrained.SUITE_RECIPE) if suite else {}
    model.eval()
    return model


def make_detector(model):
    """(SSDDetector with the weights' NMS settings, the resize of their preprocessing: reader.RESIZES)."""
    recipe = getattr(model, "recipe", {})
    return SSDDetector(model, nms=recipe.get("nms")), recipe.get("resize", "pil_bilinear")


def read_detections(path, dataset):
    """infer.py's json -> detections per record of `dataset` (matched by image path); an image of the
    split that the json lacks is an error."""
    with open(path) as f:
        try:
            results = json.load(f)
        except json.JSONDecodeError as e:
            raise utils.DataError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    by_image = {os.path.realpath(r["image"]): r for r in results if r}
    label_of = {name: k for k, name in enumerate(dataset.names, 1)}
    detections = []
    for record in dataset.records:
        r = by_image.get(os.path.realpath(record["image"]))
        if r is None:
            raise utils.DataError(f"{path}: no detections for {record['image']} ({record['where']})")
        detections.append(np.array([[label_of[d["label"]], d["score"], *d["bbox"]] for d in r["detections"]],
                                   dtype=np.float64).reshape(-1, 6))
    return detections


def trivial_detections(records, train_records):
    """One box per picture over the whole frame (VOC pixels 1..w, 1..h), score 1, of the class with the
    most objects in the training split: the baseline a detector has to beat."""
    counts = np.bincount(np.concatenate([r["labels"] for r in train_records] + [np.zeros(0, np.int64)]))
    label = int(np.argmax(counts[1:]) + 1) if len(counts) > 1 else 1
    return [np.array([[label, 1.0, 1, 1, r["width"], r["height"]]], dtype=np.float64) for r in records], label


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", default="VOC2007/test", help="the split to evaluate, e.g. VOC2007/val")
    parser.add_argument("--detections", default=None, help="score this json of infer.py instead of running a model")
    parser.add_argument("--trivial", action="store_true",
                        help="score the trivial detector (whole-picture box of TRAIN_SPLIT's most frequent class)")
    parser.add_argument("--train_split", default=None, help="for --trivial; None: the run's training split")
    parser.add_argument("--batch_size", type=int, default=8, help="images per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count unreadable images")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    return parser


def report(result, names, what):
    if utils.is_main_process():
        per_class = ", ".join(f"{names[k - 1]} {v:.3f}" for k, v in sorted(result["ap_11point"].items()))
        print(f"eval {what}: mAP(11point) {result['map_11point']:.4f} mAP(area) {result['map_area']:.4f}\n"
              f"  AP(11point) per class: {per_class}")
        print(f"final metrics: map_11point={result['map_11point']:.4f} map_area={result['map_area']:.4f}", flush=True)


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint, names = run_settings(args)
    utils.setup(args)
    model = None if args.detections or args.trivial else load_trained_model(args, checkpoint)  # unfit first
    detector, resize = make_detector(model) if model is not None else (None, "pil_bilinear")
    dataset = reader.VOCDetection(args.data_dir, args.split, args.image_size, names,
                                  skip_bad_samples=args.skip_bad_samples, resize=resize)
    if args.trivial:
        train_records = reader.read_split(args.data_dir, args.train_split or "VOC2007/trainval,VOC2012/trainval",
                                          names, args.skip_bad_samples)[0]
        detections, label = trivial_detections(dataset.records, train_records)
        result = evaluate_detections(dataset.records, detections, len(names))
        report(result, names, f"the trivial detector (whole picture, {names[label - 1]}) on {result['images']} "
                              f"{args.split} images of {args.data_dir}")
        return result
    if args.detections:
        result = evaluate_detections(dataset.records, read_detections(args.detections, dataset), len(names))
        report(result, names, f"{args.detections} on {result['images']} {args.split} images of {args.data_dir}")
        return result
    result = evaluate(detector, reader.make_loader(dataset, args, train=False), dataset, args.skip_bad_samples)
    report(result, names, f"{args.model} ({checkpoint}) on {result['images']} {args.split} images of {args.data_dir}")
    return result


if __name__ == "__main__":
    utils.run_main(main)
