"""Evaluate a trained run on WIDER FACE's val split: AP on the easy, medium and hard subsets, by the
official protocol (widerface_eval.py) with the ground truth of DATA_DIR/ground_truth/wider_*_val.mat.

    python eval.py                          the last run trained in output/, with its own settings
    python eval.py --detections dets.json   score infer.py's json instead of a model
    python eval.py --trivial                the trivial detector: one box per picture at the training
                                            faces' mean position and size, score 1

    python eval.py --model blazeface --checkpoint blazeface_1000e.pdparams [--multi_scale]
                                            PaddleDetection's weights with PaddleDetection's recipe

The model and input size come from the run's OUTPUT_DIR/MODEL/train_config.json; a checkpoint that
does not fit that model is an error. The images are resized to the run's square input (one
preprocessing path for eval, infer and export). A PaddleDetection 2.6 blazeface_1000e file is
evaluated as PaddleDetection evaluates it instead (suite_recipe.py, with a NOTICE): each picture
alone at its original size, its NMS settings, and with --multi_scale its multi-scale WIDER FACE test
(flip, shrunk and enlarged passes, an image pyramid, box voting); --image_size is then unused.
Under paddle.distributed.launch each rank detects on its own share of the images; the detections of
all ranks are gathered and the metric is computed once over all of them, so the figure equals the
single-process one.
"""
import argparse
import json
import os
import sys

import utils
import numpy as np
import paddle
import paddle.distributed as dist

import pretrained
import reader
import suite_recipe
import widerface_eval
from models import MODELS, build_model
from models.postprocess import FaceDetector, split_per_image, to_xywh_score


def detect(detector, loader, skip_bad_samples=False):
    """{dataset index: [k, 6] detections} over a loader (reader.make_loader, train=False), gathered
    from every rank."""
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
    return found


def records_ap(records, detections):
    """The protocol's AP with every valid face counted and invalid faces ignored (the dev metric)."""
    return widerface_eval.average_precision([to_xywh_score(d) for d in detections], [r["boxes"] for r in records],
                                            [~r["invalid"] for r in records])


def detected(found, records):
    """(records, detections) of the images detect() returned, in dataset order: images skipped as bad
    are left out of the metric."""
    indices = sorted(found)
    return [records[i] for i in indices], [found[i] for i in indices]


def evaluate_records(detector, loader, dataset, skip_bad_samples=False):
    return records_ap(*detected(detect(detector, loader, skip_bad_samples), dataset.records))


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="input side; None: the run's")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.image_size = args.image_size or MODELS[args.model].input_size
    return args.checkpoint or default_checkpoint(args.output_dir, args.model)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_detector(args, checkpoint):
    """FaceDetector of the checkpoint; .recipe is pretrained.SUITE for a PaddleDetection file (its
    pre- and post-processing, suite_recipe.py), else None."""
    model = build_model(args.model)
    recipe = pretrained.load(model, args.model, checkpoint, strict=True)  # ours, or PaddleDetection's (converted)
    detector = FaceDetector(model, MODELS[args.model], recipe=recipe)
    detector.eval()
    if recipe and utils.is_main_process():
        print("NOTICE: a PaddleDetection file: its recipe (suite_recipe.py): pictures one by one at their original "
              "size, mean (104, 117, 123) from R, G, B, / 127.502231, its NMS (IoU 0.3, normalized); "
              f"--image_size ({args.image_size}) is not used", file=sys.stderr, flush=True)
    return detector


def dygraph_predict(detector):
    """predict(image, im_shape, scale_factor as arrays) -> (bbox, bbox_num) arrays."""
    def predict(*arrays):
        with paddle.no_grad():
            bbox, bbox_num = detector(*[paddle.to_tensor(a) for a in arrays])
        return bbox.numpy(), bbox_num.numpy()
    return predict


def suite_detect(detector, records, multi_scale=False, skip_bad_samples=False):
    """PaddleDetection's evaluation of each picture (suite_recipe.py): {record index: [k, 5] x1 y1 x2 y2
    score}, this rank's share, gathered from every rank."""
    predict, bad, found = dygraph_predict(detector), reader.BadSampleFilter(skip_bad_samples), {}
    mine = list(range(utils.rank(), len(records), utils.world_size()))
    for i in utils.progress(mine, len(mine), "eval"):
        image = reader.load_image(records[i]["image"], records[i]["where"])
        if isinstance(image, utils.DataError):
            bad.report(str(image))
            continue
        found[i] = suite_recipe.multi_scale_detect(predict, image) if multi_scale else \
            suite_recipe.detect(predict, image)
    if utils.world_size() > 1:
        everyone = []
        dist.all_gather_object(everyone, found)
        found = {k: v for part in everyone for k, v in part.items()}
    return found


def read_detections(path, records):
    """infer.py's json -> [k, 6] detections per record (matched by image path); an image the json
    lacks is an error."""
    with open(path) as f:
        try:
            results = json.load(f)
        except json.JSONDecodeError as e:
            raise utils.DataError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    by_image = {os.path.realpath(r["image"]): r for r in results if r}
    out = []
    for record in records:
        r = by_image.get(os.path.realpath(record["image"]))
        if r is None:
            raise utils.DataError(f"{path}: no detections for {record['image']} ({record['where']})")
        out.append(np.array([[1, d["score"], *d["bbox"]] for d in r["detections"]], dtype=np.float64).reshape(-1, 6))
    return out


def trivial_detections(records, train_records):
    """One box per picture, score 1, at the mean centre and size of the training split's valid faces
    (as fractions of the picture): the baseline a detector has to beat."""
    fractions = []
    for r in train_records:
        w, h = r["size"]
        b = r["boxes"][~r["invalid"]]
        fractions += [[(x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h] for x, y, bw, bh in b]
    cx, cy, fw, fh = np.mean(fractions, axis=0)
    out = []
    for r in records:
        w, h = r["size"]
        out.append(np.array([[1, 1.0, (cx - fw / 2) * w, (cy - fh / 2) * h, (cx + fw / 2) * w, (cy + fh / 2) * h]]))
    return out, (cx, cy, fw, fh)


def with_sizes(records):
    from PIL import Image
    for r in records:
        with Image.open(r["image"]) as im:
            r["size"] = im.size
    return records


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", default="val", help="the WIDER split to evaluate (its .mat files: val)")
    parser.add_argument("--gt_dir", default=None,
                        help="the official wider_{easy,medium,hard}_val.mat; None: DATA_DIR/ground_truth")
    parser.add_argument("--detections", default=None, help="score this json of infer.py instead of running a model")
    parser.add_argument("--trivial", action="store_true", help="score the trivial detector (mean face box, score 1)")
    parser.add_argument("--multi_scale", action="store_true",
                        help="a PaddleDetection file only: its multi-scale WIDER FACE test (suite_recipe.py)")
    parser.add_argument("--batch_size", type=int, default=8, help="images per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count unreadable images")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    return parser


def read_mats(args):
    gt_dir = args.gt_dir or os.path.join(args.data_dir, "ground_truth")
    try:
        return widerface_eval.read_mats(gt_dir)
    except FileNotFoundError as e:
        raise utils.DataError(f"{e.args[0]}: not found (the official ground truth, eval_tools/ground_truth; "
                              "pass --gt_dir)") from None


def score(records, detections, mats, what, convert=to_xywh_score):
    by_image = {(r["event"], r["name"]): convert(d) for r, d in zip(records, detections)}
    result = widerface_eval.evaluate_subsets(by_image, mats)
    if utils.is_main_process():
        print(f"eval {what} on {result['images']} images: AP easy {result['easy']:.4f} medium {result['medium']:.4f} "
              f"hard {result['hard']:.4f}")
        print(f"final metrics: easy={result['easy']:.4f} medium={result['medium']:.4f} hard={result['hard']:.4f}",
              flush=True)
    return result


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    detector = None if args.detections or args.trivial else load_detector(args, checkpoint)  # unfit first
    if args.multi_scale and not (detector and detector.recipe):
        raise utils.CheckpointError("--multi_scale is PaddleDetection's test: give its blazeface_1000e file as "
                                    "--checkpoint (our runs are evaluated at their own square input)")
    records, _ = reader.read_split(args.data_dir, args.split, args.skip_bad_samples)
    mats = read_mats(args)
    if args.trivial:
        train_records = reader.read_split(args.data_dir, "train", args.skip_bad_samples)[0]
        detections, box = trivial_detections(with_sizes(records), with_sizes(train_records))
        return score(records, detections, mats, "the trivial detector (centre {:.2f}, {:.2f}, size {:.2f} x {:.2f} "
                                                "of the picture)".format(*box))
    if args.detections:
        return score(records, read_detections(args.detections, records), mats, args.detections)
    if detector.recipe:
        found = suite_detect(detector, records, args.multi_scale, args.skip_bad_samples)
        how = "multi-scale" if args.multi_scale else "original size"
        return score(*detected(found, records), mats, f"{args.model} ({checkpoint}, PaddleDetection's recipe, {how})",
                     convert=suite_recipe.to_result)
    dataset = reader.WiderFace(records, args.image_size)
    found = detect(detector, reader.make_loader(dataset, args, train=False), args.skip_bad_samples)
    return score(*detected(found, records), mats, f"{args.model} ({checkpoint})")


if __name__ == "__main__":
    utils.run_main(main)
