"""Track one box through your own video or frame folder; writes every frame with the box drawn and a
txt of boxes (one `x,y,w,h` line per frame, the first being the given box).

    python infer.py my_video.mp4 --init_box 120,80,40,60               the export of the last run
    python infer.py frames/ --init_box 120,80,40,60 --out_dir output/track
    python infer.py data/demo/vot2018/demo_000001                      a sequence folder: its first box
    python infer.py frames/ --init_box 1,2,3,4 --checkpoint output/SiamFC/best.pdparams   the dynamic graph

A folder is read in name order (.jpg, .jpeg, .png; a `color/` subfolder when there is one); a video
through OpenCV. When the folder holds a groundtruth.txt, the box defaults to its first line and the
one-pass success AUC and precision@20 of the sequence are printed: the figures eval.py's one-pass
protocol gives for it (the same tracker code, tracker.py).
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import metrics
import reader
import tracker as trackers
from eval import add_run_flags, load_trained_model, run_settings, tracker_factory


def read_frames(source):
    """(list of frame arrays or paths, ground-truth boxes or None, a name for messages)."""
    if os.path.isdir(source):
        if os.path.isfile(os.path.join(source, "groundtruth.txt")):
            seq = reader.read_sequence(source)
            return seq.frames, seq.boxes, source
        folder = os.path.join(source, "color") if os.path.isdir(os.path.join(source, "color")) else source
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith(reader.FRAME_EXTS))
        if not names:
            raise utils.DataError(f"{folder}: no frames (.jpg, .jpeg, .png)")
        return [os.path.join(folder, n) for n in names], None, folder
    if not os.path.isfile(source):
        raise utils.DataError(f"{source}: no such video or folder")
    import cv2
    capture = cv2.VideoCapture(source)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(frame[:, :, ::-1]))
    capture.release()
    if not frames:
        raise utils.DataError(f"{source}: cannot decode any video frame")
    return frames, None, source


def parse_box(text):
    try:
        box = np.array([float(v) for v in text.split(",")], np.float64)
    except ValueError:
        box = np.zeros(0)
    if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
        raise utils.DataError(f"--init_box {text!r}: expected x,y,w,h with w, h > 0")
    return box


def build_tracker(args):
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        return tracker_factory(args.model, load_trained_model(args, checkpoint))()
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    if cfg["model"] == "ATOM":
        from tracker_atom import ATOMTracker, ExportedNets
        return ATOMTracker(nets=ExportedNets(args.inference_dir), image_size=cfg["image_size"],
                           search_area=cfg["search_area"])
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return trackers.SiamFCTracker(lambda crops: run([crops.astype(np.float32)])[0], tuple(cfg["adjust"]))


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="track with the dynamic graph from these weights instead of the export")
    parser.add_argument("source", help="a video file or a folder of frames")
    parser.add_argument("--init_box", default=None, help="x,y,w,h in the first frame; None: groundtruth.txt's first line")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--out_dir", default=None, help="where frames and boxes.txt go; None: OUTPUT_DIR/track/<name>")
    parser.add_argument("--no_frames", action="store_true", help="write only boxes.txt")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    frames, groundtruth, name = read_frames(args.source)
    if args.init_box:
        box = parse_box(args.init_box)
    elif groundtruth is not None:
        box = groundtruth[0]
    else:
        raise utils.DataError(f"{args.source}: give --init_box x,y,w,h (no groundtruth.txt to take it from)")
    tracker = build_tracker(args)
    out_dir = args.out_dir or os.path.join(args.output_dir, "track", os.path.basename(os.path.normpath(name)))
    os.makedirs(out_dir, exist_ok=True)
    boxes = []
    for i, frame in enumerate(utils.progress(frames, len(frames), "tracking")):
        if isinstance(frame, str):
            path, frame = frame, reader.load_frame(frame)
            if isinstance(frame, utils.DataError):
                raise frame
        if i == 0:
            tracker.init(frame, box)
            current = np.asarray(box, np.float64)
        else:
            current = tracker.update(frame)
        boxes.append(current)
        if not args.no_frames:
            image = Image.fromarray(frame)
            x, y, w, h = current
            ImageDraw.Draw(image).rectangle([x, y, x + w, y + h], outline=(255, 0, 0), width=2)
            image.save(os.path.join(out_dir, f"{i + 1:08d}.jpg"), quality=90)
    boxes = np.stack(boxes)
    with open(os.path.join(out_dir, "boxes.txt"), "w") as f:
        f.write("\n".join(",".join(f"{v:.2f}" for v in b) for b in boxes) + "\n")
    print(f"tracked {len(boxes)} frames of {name}: {out_dir}/boxes.txt" +
          ("" if args.no_frames else f" and the frames with the box drawn"), flush=True)
    result = None
    if groundtruth is not None and not args.init_box:
        result = metrics.one_pass(boxes, groundtruth)
        print(f"one-pass auc {result['auc']:.4f} precision20 {result['precision20']:.4f}", flush=True)
    return boxes, result


if __name__ == "__main__":
    utils.run_main(main)
