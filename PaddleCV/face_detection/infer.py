"""Find faces in your own images: draws each face box with its score on the picture and writes every
detection to a json file.

    python infer.py photo1.jpg photo2.png            the export of the last run trained in output/
    python infer.py --input_file my_images.txt       one image path per line
    python infer.py --image_set val                  every image of a WIDER split of the run's data
    python infer.py photo.jpg --checkpoint output/blazeface/best.pdparams   the dynamic graph instead

By default it runs the exported model (Paddle Inference, oneDNN on CPU) of the last run trained in
OUTPUT_DIR and refuses an export older than its checkpoint. Pictures with the faces scored at least
--draw_threshold go to --draw_dir; the json (--output_json) holds every detection the model keeps
(score >= 0.01, as eval.py scores them), per image: {"image", "detections": [{"score", "bbox": [x1,
y1, x2, y2] in pixels}]}. `python eval.py --detections that.json` scores it against the split's
ground truth with the same code as eval.py (one preprocessing path, reader.resize_normalise), and
gets eval.py's AP. An export or --checkpoint of PaddleDetection's blazeface_1000e runs its recipe
instead: each picture alone at its original size (suite_recipe.py, single scale).
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import reader
import suite_recipe
from eval import add_run_flags, dygraph_predict, load_detector, run_settings
from export import create_predictor
from models.postprocess import split_per_image


def read_inputs(args):
    """[(image path, where)] in input order."""
    inputs = [(path, path) for path in args.images]
    if args.input_file:
        for lineno, line in utils.read_lines(args.input_file):
            if line.strip():
                inputs.append((line.strip(), f"{args.input_file}:{lineno}"))
    if args.image_set:
        records, _ = reader.read_split(args.data_dir or "data/demo", args.image_set)
        inputs += [(r["image"], r["where"]) for r in records]
    if not inputs:
        raise utils.DataError("no input: give image files, --input_file or --image_set")
    return inputs


def build_predictor(args):
    """(predict(image, im_shape, scale_factor) -> (bbox, bbox_num), input size, recipe) from the export
    or, with --checkpoint, the dynamic graph; recipe is pretrained.SUITE for PaddleDetection weights
    (their preprocessing, one picture at its original size: suite_recipe.py), else None."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        detector = load_detector(args, checkpoint)
        return dygraph_predict(detector), args.image_size, detector.recipe
    utils.load_run_config(args)
    if not args.inference_dir:
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda *arrays: tuple(run(list(arrays)))), cfg["image_size"], cfg.get("recipe")


def suite_predict(predict, images):
    """PaddleDetection's single-scale test of each picture: [k, 6] (1, score, x1, y1, x2, y2) each."""
    out = []
    for image in images:
        dets = suite_recipe.detect(predict, image)
        out.append(np.concatenate([np.ones((len(dets), 1)), dets[:, 4:5], dets[:, :4]], axis=1))
    return out


def draw(image, detections, threshold, path):
    picture = Image.fromarray(image)
    pen = ImageDraw.Draw(picture)
    h, w = image.shape[:2]
    for _, score, x1, y1, x2, y2 in detections:
        if score < threshold:
            continue
        # drawn within the picture (PaddleDetection's recipe does not clip its boxes; ours are clipped)
        x1, x2 = np.clip(np.nan_to_num([x1, x2]), 0, w)
        y1, y2 = np.clip(np.nan_to_num([y1, y2]), 0, h)
        pen.rectangle([x1, y1, x2, y2], outline=(0, 255, 0), width=2)
        text = f"{score:.2f}"
        tx, ty = x1, max(0, y1 - 11)
        pen.rectangle([tx, ty, tx + 6 * len(text) + 2, ty + 10], fill=(0, 255, 0))
        pen.text((tx + 1, ty - 1), text, fill="black")
    picture.save(path)


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="predict with the dynamic graph from these weights instead of the export")
    parser.add_argument("images", nargs="*", help="image files")
    parser.add_argument("--input_file", default=None, help="a text file of image paths, one per line")
    parser.add_argument("--image_set", default=None, help="every image of this WIDER split of DATA_DIR (train, val)")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=8, help="images per forward pass")
    parser.add_argument("--draw_threshold", type=float, default=0.5, help="draw the faces scored at least this")
    parser.add_argument("--draw_dir", default=None, help="where the drawn pictures go; None: OUTPUT_DIR/MODEL/infer")
    parser.add_argument("--output_json", default=None, help="the detections; None: DRAW_DIR/detections.json")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    predict, image_size, recipe = build_predictor(args)
    inputs = read_inputs(args)
    draw_dir = args.draw_dir or os.path.join(args.output_dir, args.model, "infer")
    os.makedirs(draw_dir, exist_ok=True)
    results = []
    for start in range(0, len(inputs), args.batch_size):
        chunk = inputs[start:start + args.batch_size]
        images = []
        for path, where in chunk:
            image = reader.load_image(path, where)
            if isinstance(image, utils.DataError):
                raise image
            images.append(image)
        if recipe:
            per_image = suite_predict(predict, images)
        else:
            arrays = [np.stack(a) for a in zip(*[reader.resize_normalise(im, image_size) for im in images])]
            per_image = split_per_image(*predict(*arrays))
        for (path, _), image, dets in zip(chunk, images, per_image):
            out = os.path.join(draw_dir, os.path.splitext(os.path.basename(path))[0] + ".jpg")
            draw(image, dets, args.draw_threshold, out)
            shown = [d for d in dets if d[1] >= args.draw_threshold]
            print(f"{path}: {len(shown)} faces (score >= {args.draw_threshold:g}): " + ", ".join(
                f"{d[1]:.2f} [{d[2]:.0f}, {d[3]:.0f}, {d[4]:.0f}, {d[5]:.0f}]" for d in shown) + f" -> {out}",
                flush=True)
            results.append({"image": path, "detections": [
                {"score": float(d[1]), "bbox": [float(v) for v in d[2:6]]} for d in dets]})
    output_json = args.output_json or os.path.join(draw_dir, "detections.json")
    with open(output_json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {len(results)} images' detections to {output_json}", flush=True)
    return results


if __name__ == "__main__":
    utils.run_main(main)
