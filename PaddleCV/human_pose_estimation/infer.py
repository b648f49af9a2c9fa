"""Estimate the poses of people in your own pictures: draws each skeleton on its picture and writes the
keypoints as json.

    python infer.py photo1.jpg photo2.png         the export of the last run; the whole picture is one person
    python infer.py pictures/                     every .jpg/.jpeg/.png/.bmp of a folder
    python infer.py --split val                   every person box of the run's val split; scores the json
    python infer.py --split val --det_json dets.json   the boxes of a person detector's results json
    python infer.py photo.jpg --checkpoint output/pose_resnet50/best.pdparams   the dynamic graph instead

Simple Baselines is top-down: it needs a box per person. A plain picture is taken as one person box
(crop your people first, or give a split and a detector's boxes). It writes, in --save_dir: each
picture with its skeletons drawn (joints scoring >= --draw_threshold), keypoints.json (per picture:
its people, each with named keypoints [x, y, score] in the picture's pixels and eval.py's person score) and
results.json (the same as a COCO keypoint results json). By default it runs the exported model (Paddle
Inference, oneDNN on CPU) of the last run trained in OUTPUT_DIR and refuses an export older than its
checkpoint. Preprocessing and decoding are eval.py's (reader.crop_person, flip test, eval.decode), so
over --split val it scores eval.py's AP.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import reader
from eval import (add_run_flags, decode, describe, load_trained_model, person_score, predict_heatmaps, run_settings,
                  score)
from export import flip_pairs

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
LEFT, RIGHT, CENTRE = "#3cb44b", "#e6194b", "#4363d8"


def build_predictor(args):
    """(run(images) -> heatmaps, input (h, w), keypoint names, skeleton, flip pairs) from the export or,
    with --checkpoint, the dynamic graph."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        model = load_trained_model(args, checkpoint)
        names, skeleton = reader.joint_names(args.dataset, args.data_dir)

        def run(images):
            with paddle.no_grad():
                return model(paddle.to_tensor(images)).numpy()
        return run, reader.parse_size(args.input_size), names, skeleton, flip_pairs(args.dataset, names)
    utils.load_run_config(args)
    if not args.inference_dir:
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(args.inference_dir)
    args.data_dir = args.data_dir or info["config"].get("data_dir")
    args.dataset = args.dataset or info["config"].get("dataset", "coco")
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    predictor = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda images: predictor([images])[0], reader.parse_size(cfg["input_size"]), cfg["keypoints"],
            cfg["skeleton"], [tuple(p) for p in cfg["flip_pairs"]])


def read_people(args, aspect):
    """(people, split): each person {image_id, file, where, centre, size, score, area}; plain pictures
    are one whole-picture person each, a split gives its annotations' (or --det_json's) boxes."""
    people = []
    files = []
    for path in args.images:
        if os.path.isdir(path):
            files += [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.lower().endswith(IMAGE_EXTENSIONS)]
        else:
            files.append(path)
    for k, path in enumerate(files):
        image = reader.load_image(path, path)
        if isinstance(image, utils.DataError):
            raise image
        center, size = reader.box_to_center_scale(0, 0, image.width, image.height, aspect)
        people.append({"image_id": k, "file": path, "where": path, "center": center, "size": size / reader.PADDING,
                       "score": 1.0, "area": float(image.width * image.height)})
    split = None
    if args.split:
        split = reader.open_split(args.dataset, args.data_dir, args.split, aspect, detections=args.det_json)
        people += [dict(p, where=split.where(p)) for p in split.people]
    if not people:
        raise utils.DataError("no input: give pictures, a folder of pictures, or --split")
    return people, split


def draw(image, people, skeleton, threshold, out_path):
    """Each person's skeleton: limbs between joints both scoring >= threshold (left side green, right red)."""
    canvas = ImageDraw.Draw(image)
    r = max(2, min(image.size) // 80)
    for person in people:
        kps = person["keypoints"]
        for a, b in skeleton:  # COCO's skeleton is 1-based
            pa, pb = kps[a - 1], kps[b - 1]
            if pa[2] >= threshold and pb[2] >= threshold:
                colour = LEFT if a % 2 == 0 and b % 2 == 0 else RIGHT if a % 2 and b % 2 and a > 1 and b > 1 else CENTRE
                canvas.line([tuple(pa[:2]), tuple(pb[:2])], fill=colour, width=r)
        for x, y, s in kps:
            if s >= threshold:
                canvas.ellipse([x - r, y - r, x + r, y + r], fill="white", outline="black")
    image.save(out_path)


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="predict with the dynamic graph from these weights instead of the export")
    parser.add_argument("images", nargs="*", help="pictures, or folders of pictures (each taken as one person box)")
    parser.add_argument("--split", choices=["val", "test"], default=None,
                        help="also every person box of this split of DATA_DIR; score the json")
    parser.add_argument("--det_json", default=None, help="with --split: a detector's person boxes instead")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=32, help="people per forward pass")
    parser.add_argument("--no_flip_test", action="store_true", help="predict from the crop alone")
    parser.add_argument("--draw_threshold", type=float, default=0.2, help="draw the joints scoring at least this")
    parser.add_argument("--save_dir", default="output/infer", help="where the drawn pictures and the json go")
    parser.add_argument("--no_draw", action="store_true", help="write only the json")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    run, input_hw, names, skeleton, pairs = build_predictor(args)
    people, split = read_people(args, input_hw[1] / input_hw[0])
    os.makedirs(args.save_dir, exist_ok=True)
    preds, cache = [], {}
    for start in range(0, len(people), args.batch_size):
        chunk = people[start:start + args.batch_size]
        crops = []
        for person in chunk:
            if person["file"] not in cache:
                cache = {person["file"]: reader.load_image(person["file"], person["where"])}
            image = cache[person["file"]]
            if isinstance(image, utils.DataError):
                raise image
            crops.append(reader.crop_person(image, person["center"], person["size"], input_hw))
        heatmaps = predict_heatmaps(run, np.stack(crops), pairs, not args.no_flip_test)
        preds.append(decode(heatmaps, chunk, input_hw))
    preds = np.concatenate(preds)
    readable = {}
    for person, pred in zip(people, preds):
        entry = readable.setdefault((person["file"], person["image_id"]), [])
        entry.append({"keypoints": pred.round(2).tolist(), "score": person_score(pred, person["score"])})
    pictures = []
    for (path, image_id), found in readable.items():
        pictures.append({"image": path, "image_id": image_id,
                         "people": [{"keypoints": {n: k for n, k in zip(names, p["keypoints"])},
                                     "score": round(p["score"], 4)} for p in found]})
        shown = [sum(k[2] >= args.draw_threshold for k in p["keypoints"]) for p in found]
        print(f"{path}: {len(found)} people, joints at score >= {args.draw_threshold}: {shown}", flush=True)
        if not args.no_draw:
            name = f"{image_id:012d}_{os.path.basename(path)}" if split else os.path.basename(path)
            image = reader.load_image(path, path)
            draw(image, found, skeleton, args.draw_threshold, os.path.join(args.save_dir, name))
    with open(os.path.join(args.save_dir, "keypoints.json"), "w") as f:
        json.dump(pictures, f, indent=1)
    metrics = None
    if split is not None:
        mine = [i for i, p in enumerate(people) if "ann" in p]
        results_json = os.path.join(args.save_dir, "results.json")
        metrics = score(split, [people[i] for i in mine], preds[mine], results_json)
        print(f"{results_json}: {describe(metrics)}", flush=True)
    print(f"wrote {len(pictures)} pictures and keypoints.json to {args.save_dir}", flush=True)
    return pictures, metrics


if __name__ == "__main__":
    utils.run_main(main)
