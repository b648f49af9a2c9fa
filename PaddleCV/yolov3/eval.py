"""Evaluate a trained run: COCO mAP@[.5:.95], AP50 and AP75 with pycocotools, on the test split (val
when DATA_DIR has none).

    python eval.py                               the last run trained in output/, with its own settings
    python eval.py --model yolov3_darknet53 --data_dir data/coco --split val
    python eval.py --model yolov3_darknet53 --pretrained yolov3_darknet53_270e_coco.pdparams --data_dir data/coco \
        --split val --image_size 608         PaddleDetection's checkpoint, converted, with its preprocessing

The detections are written as a COCO results json (OUTPUT_DIR/MODEL/bbox_<split>.json) and scored by
pycocotools against the split's annotation json; infer.py writes the same json. The model, input
size and class count come from the run's OUTPUT_DIR/MODEL/train_config.json; a checkpoint that does
not fit is an error. train.py picks best.pdparams on val, so a val figure of best.pdparams is
optimistic; the test split, when there is one, is read only here. Under paddle.distributed.launch
each rank detects its share of the images and the detections of all ranks are scored once.
"""
import argparse
import contextlib
import io
import json
import os

import utils
import numpy as np
import paddle
import paddle.distributed as dist

import pretrained
import reader
from models import MODELS, build_model


def detections_to_coco(rows, counts, image_ids, category_ids):
    """The model's [K, 6] rows (class, score, x1, y1, x2, y2) and per-image counts -> COCO results."""
    results, start = [], 0
    for image_id, n in zip(image_ids, counts):
        for label, score, x1, y1, x2, y2 in rows[start:start + int(n)]:
            if label < 0 or x2 <= x1 or y2 <= y1:  # a placeholder row (nothing found), or a box clipped away
                continue
            results.append({"image_id": int(image_id), "category_id": int(category_ids[int(label)]),
                            "bbox": [round(float(x1), 2), round(float(y1), 2), round(float(x2 - x1), 2),
                                     round(float(y2 - y1), 2)], "score": round(float(score), 5)})
        start += int(n)
    return results


def coco_metrics(annotation_json, results_json, image_ids, verbose=False):
    """pycocotools' bbox evaluation of a results json over these images: mAP, AP50, AP75."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with open(results_json) as f:
        results = json.load(f)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        gt = COCO(annotation_json)
    if not results:  # loadRes cannot take an empty list: nothing found scores 0
        return {"mAP": 0.0, "AP50": 0.0, "AP75": 0.0, "images": len(image_ids)}
    with contextlib.redirect_stdout(quiet):
        dt = gt.loadRes(results_json)
        coco_eval = COCOeval(gt, dt, "bbox")
        coco_eval.params.imgIds = sorted(int(i) for i in image_ids)
        coco_eval.evaluate()
        coco_eval.accumulate()
    if verbose and utils.is_main_process():
        coco_eval.summarize()
    else:
        with contextlib.redirect_stdout(quiet):
            coco_eval.summarize()
    s = [max(float(v), 0.0) for v in coco_eval.stats[:3]]  # -1: no ground truth at all
    return {"mAP": s[0], "AP50": s[1], "AP75": s[2], "images": len(image_ids)}


def gather(items):
    """Every rank's list, concatenated in rank order, on every rank."""
    if utils.world_size() == 1:
        return items
    parts = []
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def evaluate(model, loader, split, results_json, skip_bad_samples=False, verbose=False):
    """Detect every image of the loader (this rank's share), gather all ranks' detections, write them
    as a COCO results json and score it with pycocotools."""
    model.eval()
    results, seen = [], []
    batches = reader.BadSampleFilter(skip_bad_samples)(loader)
    with paddle.no_grad():
        for images, im_shape, scale_factor, image_ids in utils.progress(batches, len(loader), "eval"):
            rows, counts = model(images, im_shape, scale_factor)
            ids = image_ids.numpy().reshape(-1).tolist()
            results += detections_to_coco(rows.numpy(), counts.numpy(), ids, split.category_ids)
            seen += ids
    model.train()
    results, seen = gather(results), gather(seen)
    if utils.is_main_process():
        os.makedirs(os.path.dirname(results_json) or ".", exist_ok=True)
        with open(results_json + ".tmp", "w") as f:
            json.dump(results, f)
        os.replace(results_json + ".tmp", results_json)
    if utils.world_size() > 1:
        dist.barrier()
    return coco_metrics(split.json_path, results_json, seen, verbose)


def trivial_baseline(train_split, split, results_json):
    """The trivial detector: one box over the whole picture, of the class most frequent in training."""
    counts = np.bincount(np.concatenate([r["labels"] for r in train_split.records]), minlength=len(split.category_ids))
    category = split.category_ids[int(counts.argmax())]
    results = [{"image_id": r["id"], "category_id": category, "bbox": [0.0, 0.0, r["width"], r["height"]],
                "score": 1.0} for r in split.records]
    with open(results_json, "w") as f:
        json.dump(results, f)
    return coco_metrics(split.json_path, results_json, [r["id"] for r in split.records])


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", "--pretrained", default=None,
                        help=checkpoint_help + "; a PaddleDetection 2.6 .pdparams of MODEL is converted (pretrained.py)")
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="input size; None: the run's")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="class count; None: the run's (give it only for weights without a run)")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/coco"
    args.image_size = args.image_size or 608
    if not args.num_classes:  # weights without a run: count the categories of the data
        args.num_classes = len(reader.dataset_info(args.data_dir)[0])
    return args.checkpoint or default_checkpoint(args.output_dir, args.model)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained_model(args, checkpoint):
    """The model with its weights (ours, or PaddleDetection's converted); sets args.preprocess to the
    eval preprocessing the weights were trained for (reader.RECIPES)."""
    model = build_model(args.model, num_classes=args.num_classes)
    args.preprocess = "paddledet" if pretrained.load(model, args.model, checkpoint, strict=True) else "ours"
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["auto", "val", "test"], default="auto",
                        help="auto: test when DATA_DIR has a test split, else val")
    parser.add_argument("--batch_size", type=int, default=8, help="images per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad images and annotations")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--trivial", action="store_true",
                        help="score the trivial detector instead (one whole-picture box of the most frequent class)")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    split_name = args.split if args.split != "auto" else ("test" if reader.has_split(args.data_dir, "test") else "val")
    split = reader.CocoSplit(args.data_dir, split_name, args.skip_bad_samples)
    if len(split.category_ids) != args.num_classes:
        raise utils.DataError(f"{split.json_path}: {len(split.category_ids)} categories, the model {args.num_classes}")
    split.check_files(args.skip_bad_samples)
    if args.trivial:
        os.makedirs(os.path.join(args.output_dir, args.model), exist_ok=True)
        result = trivial_baseline(reader.CocoSplit(args.data_dir, "train", True), split,
                                  os.path.join(args.output_dir, args.model, f"trivial_{split_name}.json"))
        print(f"trivial detector on {result['images']} {split_name} images of {args.data_dir}: mAP {result['mAP']:.4f} "
              f"AP50 {result['AP50']:.4f} AP75 {result['AP75']:.4f}", flush=True)
        return result
    model = load_trained_model(args, checkpoint)
    results_json = os.path.join(args.output_dir, args.model, f"bbox_{split_name}.json")
    loader = reader.make_eval_loader(reader.EvalDataset(split, args.image_size, args.preprocess), args)
    result = evaluate(model, loader, split, results_json, args.skip_bad_samples, verbose=True)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {result['images']} {split_name} images of {args.data_dir} "
              f"at {args.image_size} px: mAP {result['mAP']:.4f} AP50 {result['AP50']:.4f} AP75 {result['AP75']:.4f}; "
              f"detections in {results_json}")
        print(f"final metrics: mAP={result['mAP']:.4f} AP50={result['AP50']:.4f} AP75={result['AP75']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
