"""Detect cars in LiDAR frames: writes, per frame, KITTI's result txt (label_2's fields plus a score)
and a bird's-eye-view PNG of the points with the predicted boxes (red, with their scores) and, when
the frame has labels, the true cars (green).

    python infer.py data/demo/training/velodyne/000150.bin      frames of a KITTI-layout folder
    python infer.py --split val --save_dir output/infer_val      every frame of a split; also scores the AP
    python infer.py 000150.bin --checkpoint output/pointrcnn_lite/best.pdparams   the dynamic graph instead

A frame is a `.bin` inside DATA_DIR/training/velodyne/, with its calib/ and image_2/ files beside it
(the calib moves the points into the camera frame; the image's size bounds the field of view). By
default it runs the exported networks (Paddle Inference, oneDNN on CPU) of the last run trained in
OUTPUT_DIR, refusing an export older than its checkpoint. Points, pooling, decoding and NMS are
pipeline.detect's, the path eval.py takes, so over --split val the AP is eval.py's.
"""
import argparse
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import geometry
import pipeline
import reader
from eval import (add_run_flags, load_trained_model, network_runners, result_lines, run_settings, score,
                  summary, write_results)
from models import MODELS

SCALE, X_RANGE, Z_RANGE = 10, (-30.0, 30.0), (0.0, 60.0)  # BEV picture: 10 px per metre


def draw_bev(points, boxes, scores, truth, path):
    """Points seen from above (x right, z up the picture), predicted boxes red, true boxes green; the
    short line in each box points along its heading."""
    w, h = int((X_RANGE[1] - X_RANGE[0]) * SCALE), int((Z_RANGE[1] - Z_RANGE[0]) * SCALE)
    image = Image.new("RGB", (w, h), "black")
    draw = ImageDraw.Draw(image)

    def to_px(x, z):
        return (x - X_RANGE[0]) * SCALE, h - (z - Z_RANGE[0]) * SCALE

    for x, z in points[:, [0, 2]]:
        u, v = to_px(x, z)
        draw.point((u, v), fill=(170, 170, 170))
    for colour, group, group_scores in (("#30d030", truth, [None] * len(truth)), ("#ff4040", boxes, scores)):
        for box, s in zip(group, group_scores):
            corners = [to_px(*c) for c in geometry.bev_corners(box[None])[0]]
            draw.polygon(corners, outline=colour)
            front = to_px(box[0] + np.cos(box[6]) * box[5] / 2, box[2] - np.sin(box[6]) * box[5] / 2)
            draw.line([to_px(box[0], box[2]), front], fill=colour)
            if s is not None:
                draw.text((corners[0][0] + 2, corners[0][1]), f"{s:.2f}", fill=colour)
    image.save(path)


def build_runners(args):
    """(run_rpn, run_rcnn, model name) from the export, or the dynamic graph with --checkpoint."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        run_rpn, run_rcnn = network_runners(load_trained_model(args, checkpoint))
        return run_rpn, run_rcnn
    utils.load_run_config(args)
    args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(args.inference_dir)
    args.data_dir = args.data_dir or info["config"].get("data_dir")
    rpn = utils.create_predictor(os.path.join(args.inference_dir, "rpn"))
    rcnn = utils.create_predictor(os.path.join(args.inference_dir, "rcnn"))
    return (lambda points: rpn([points])), (lambda pooled: rcnn([pooled]))


def frames_of(args):
    """The frames to run: the --split of DATA_DIR, or the .bin files given (as a split of their folder)."""
    if args.split:
        return reader.KittiSplit(args.data_dir, args.split)
    if not args.frames:
        raise utils.DataError("no input: give .bin files of a KITTI-layout folder, or --split")
    roots = {os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(p)))) for p in args.frames}
    if len(roots) != 1:
        raise utils.DataError(f"{args.frames[0]}: give frames of one dataset at a time")
    for p in args.frames:
        if not p.endswith(".bin") or os.path.basename(os.path.dirname(os.path.abspath(p))) != "velodyne":
            raise utils.DataError(f"{p}: not a .bin of a training/velodyne/ folder")
    ids = [os.path.basename(p)[:-4] for p in args.frames]
    return reader.KittiSplit(roots.pop(), "given", ids=ids)


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="run the dynamic graph from these weights instead of the export")
    parser.add_argument("frames", nargs="*", help="velodyne .bin files of a KITTI-layout folder")
    parser.add_argument("--split", choices=["train", "val", "test"], default=None,
                        help="every frame of this split of DATA_DIR; scores the 3D AP")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=4, help="frames per forward pass")
    parser.add_argument("--save_dir", default="output/infer", help="where the txt files and pictures go")
    parser.add_argument("--no_draw", action="store_true", help="write only the txt files")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    run_rpn, run_rcnn = build_runners(args)
    cfg = MODELS[args.model]
    split = frames_of(args)
    dataset = reader.FrameDataset(split, cfg["num_points"])
    os.makedirs(args.save_dir, exist_ok=True)
    found = {}
    for start in range(0, len(dataset), args.batch_size):
        indices = list(range(start, min(start + args.batch_size, len(dataset))))
        samples = [dataset[i] for i in indices]
        for s in samples:
            if isinstance(s, utils.DataError):
                raise s
        points = np.stack([s[0] for s in samples])
        for i, frame in zip(indices, pipeline.detect(points, run_rpn, run_rcnn, cfg, indices)):
            record = split.frames[i]
            boxes, scores = frame["boxes"], frame["scores"]
            found[i] = (boxes, scores, frame["proposals"], frame["proposal_scores"])
            write_results(args.save_dir, record["id"], result_lines(boxes, scores, record["calib"], record["size"]))
            print(f"{record['id']}: {len(boxes)} cars" + "".join(f"; {s:.2f} at ({b[0]:.1f}, {b[2]:.1f})"
                                                          for b, s in zip(boxes, scores)), flush=True)
            if not args.no_draw:
                draw_bev(split.points(record), boxes, scores, split.cars(record),
                         os.path.join(args.save_dir, record["id"] + ".png"))
    ap = None
    if args.split:
        ap = score(split, found)
        print(f"Car 3D AP@0.7 R11/R40 over {ap['frames']} {args.split} frames: final {summary(ap, 'final')}; "
              f"proposals {summary(ap, 'proposals')}; at IoU 0.5: final {summary(ap, 'final@0.5')}", flush=True)
    print(f"wrote {len(found)} result files" + ("" if args.no_draw else " and BEV pictures") + f" to {args.save_dir}",
          flush=True)
    return found, ap


if __name__ == "__main__":
    utils.run_main(main)
