"""Evaluate a trained run: the KITTI 3D AP of cars at IoU 0.7 (and at the devkit's looser 0.5) on
easy, moderate and hard (R11 and R40), of the final detections and of the stage-one proposals, on the
test split (val when DATA_DIR has none).

    python eval.py                        the last run trained in output/, with its own settings
    python eval.py --split val            the split that picked best.pdparams (optimistic)
    python eval.py --baseline             the trivial baseline instead: one proposal per frame at the mean
                                          training car's position and size, heading 0

The detections are written in KITTI's result format (one txt per frame, label_2's 15 fields plus a
score) to OUTPUT_DIR/MODEL/results_<split>/; infer.py writes the same files. The model comes from the
run's train_config.json; a checkpoint that does not fit it is an error. Under
paddle.distributed.launch every rank detects its share of the frames, and the AP is computed once over
what all ranks gathered.
"""
import argparse
import os

import utils
import numpy as np
import paddle
import paddle.distributed as dist

import geometry
import kitti_eval
import pipeline
import reader
from models import MODELS, build_model


def network_runners(model):
    """(run_rpn, run_rcnn) over numpy arrays, for pipeline.detect, from the dynamic graph."""
    def run_rpn(points):
        with paddle.no_grad():
            return [t.numpy() for t in model.rpn(paddle.to_tensor(points))]

    def run_rcnn(pooled):
        with paddle.no_grad():
            return [t.numpy() for t in model.rcnn(paddle.to_tensor(pooled))]
    return run_rpn, run_rcnn


def result_lines(boxes, scores, calib, size):
    """KITTI result lines: type, truncated, occluded, alpha, 2D box, h w l, x y z, ry, score."""
    lines = []
    for box, bbox, score in zip(boxes, geometry.image_boxes(boxes, calib, size), scores):
        x, y, z, h, w, l, ry = box
        alpha = (ry - np.arctan2(x, z) + np.pi) % (2 * np.pi) - np.pi
        lines.append(f"Car -1 -1 {alpha:.4f} {bbox[0]:.2f} {bbox[1]:.2f} {bbox[2]:.2f} {bbox[3]:.2f} {h:.4f} {w:.4f} "
                     f"{l:.4f} {x:.4f} {y:.4f} {z:.4f} {ry:.4f} {score:.4f}")
    return lines


def write_results(folder, frame_id, lines):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, frame_id + ".txt"), "w") as f:
        f.write("".join(line + "\n" for line in lines))


def detection_frame(boxes, scores, record):
    """Detections as kitti_eval takes them: 2D boxes projected into the frame's image."""
    return {"name": ["Car"] * len(boxes), "box": np.asarray(boxes).reshape(-1, 7),
            "bbox": geometry.image_boxes(boxes, record["calib"], record["size"]),
            "score": np.asarray(scores, np.float64)}


def score(split, found):
    """found: {frame index: (boxes, scores, proposal boxes, proposal scores)} -> AP dict."""
    indices = sorted(found)
    gts = [kitti_eval.label_frame(split.frames[i]["labels"]) for i in indices]
    finals = [detection_frame(*found[i][:2], split.frames[i]) for i in indices]
    props = [detection_frame(*found[i][2:], split.frames[i]) for i in indices]
    out = {"frames": len(indices)}
    for iou, suffix in ((0.7, ""), (0.5, "@0.5")):  # 0.7: KITTI's car criterion; 0.5: its looser one
        out["final" + suffix] = kitti_eval.average_precision(gts, finals, iou)
        out["proposals" + suffix] = kitti_eval.average_precision(gts, props, iou)
    return out


def gather(items):
    if utils.world_size() == 1:
        return items
    parts = []
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def evaluate(model, loader, split, cfg, results_dir=None, skip_bad_samples=False):
    """Detect every frame of the loader (this rank's share), gather all ranks' detections, score them."""
    model.eval()
    run_rpn, run_rcnn = network_runners(model)
    found = []
    for points, _, _, index in utils.progress(reader.BadSampleFilter(skip_bad_samples)(loader), len(loader), "eval"):
        for i, frame in zip(index.tolist(), pipeline.detect(points, run_rpn, run_rcnn, cfg, index.tolist())):
            found.append((i, frame["boxes"], frame["scores"], frame["proposals"], frame["proposal_scores"]))
    model.train()
    found = {i: rest for i, *rest in gather(found)}
    if results_dir and utils.is_main_process():
        for i, (boxes, scores, _, _) in found.items():
            record = split.frames[i]
            write_results(results_dir, record["id"], result_lines(boxes, scores, record["calib"], record["size"]))
    return score(split, found)


def mean_car_baseline(train_split, split):
    """One box per frame at the mean training car (position, size; heading 0), score 1."""
    cars = np.concatenate([train_split.cars(r) for r in train_split.frames])
    box = cars.mean(0)
    box[6] = 0.0
    found = {i: (box[None], np.ones(1), box[None], np.ones(1)) for i in range(len(split.frames))}
    return score(split, found), box


def summary(ap, which):
    return " ".join(f"{d} {ap[which][d]['R11']:.2f}/{ap[which][d]['R40']:.2f}" for d in kitti_eval.DIFFICULTIES)


def metrics(ap):
    """The R40 figures of the log line and of metrics.jsonl: {name: AP}."""
    out = {f"{which}_{d}_R40": ap[which][d]["R40"] for which in ("final", "proposals") for d in kitti_eval.DIFFICULTIES}
    out.update({f"{which}_moderate_R40": ap[which]["moderate"]["R40"] for which in ("final@0.5", "proposals@0.5")})
    return out


def metrics_line(ap):
    return "final metrics: " + " ".join(f"{k}={v:.2f}" for k, v in metrics(ap).items())


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--data_dir", default=None, help="dataset root in the KITTI layout; None: the run's")
    return parser


def run_settings(args):
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/kitti"
    return args.checkpoint or default_checkpoint(args.output_dir, args.model)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained_model(args, checkpoint):
    model = build_model(args.model)
    utils.load_model(model, checkpoint)
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["auto", "val", "test"], default="auto",
                        help="auto: test when DATA_DIR has ImageSets/test.txt, else val")
    parser.add_argument("--batch_size", type=int, default=4, help="frames per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad frames")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--baseline", action="store_true",
                        help="score the mean-car-position baseline instead of the model")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    name = args.split if args.split != "auto" else ("test" if reader.has_split(args.data_dir, "test") else "val")
    split = reader.KittiSplit(args.data_dir, name, args.skip_bad_samples)
    if args.baseline:
        ap, box = mean_car_baseline(reader.KittiSplit(args.data_dir, "train", True), split)
        print(f"mean-car baseline {np.round(box, 2).tolist()} on {ap['frames']} {name} frames: "
              f"3D AP@0.7 R11/R40 {summary(ap, 'final')}; 3D AP@0.5 {summary(ap, 'final@0.5')}", flush=True)
        return ap
    model = load_trained_model(args, checkpoint)
    cfg = MODELS[args.model]
    loader = reader.make_eval_loader(reader.FrameDataset(split, cfg["num_points"]), args)
    results = os.path.join(args.output_dir, args.model, f"results_{name}")
    ap = evaluate(model, loader, split, cfg, results, args.skip_bad_samples)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {ap['frames']} {name} frames of {args.data_dir}, Car 3D AP@0.7 "
              f"R11/R40: final {summary(ap, 'final')}; proposals {summary(ap, 'proposals')}; at IoU 0.5: final "
              f"{summary(ap, 'final@0.5')}; proposals {summary(ap, 'proposals@0.5')}; results in {results}")
        print(metrics_line(ap), flush=True)
    return ap


if __name__ == "__main__":
    utils.run_main(main)
