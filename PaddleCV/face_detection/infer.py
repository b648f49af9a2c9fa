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
gets eval.py's AP.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import reader
from eval import add_run_flags, load_detector, run_settings
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
    """(predict(image, im_shape, scale_factor) -> (bbox, bbox_num), input size) from the export or,
    with --checkpoint, the dynamic graph."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        detector = load_detector(args, checkpoint)

        def predict(*arrays):
            with paddle.no_grad():
                bbox, bbox_num = detector(*[paddle.to_tensor(a) for a in arrays])
            return bbox.numpy(), bbox_num.numpy()
        return predict, args.image_size
    utils.load_run_config(args)
    if not args.inference_dir:
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda *arrays: tuple(run(list(arrays)))), cfg["image_size"]


def draw(image, detections, threshold, path):
    picture = Image.fromarray(image)
    pen = ImageDraw.Draw(picture)
    for _, score, x1, y1, x2, y2 in detections:
        if score < threshold:
            continue
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
    predict, image_size = build_predictor(args)
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
        arrays = [np.stack(a) for a in zip(*[reader.resize_normalise(im, image_size) for im in images])]
        bbox, bbox_num = predict(*arrays)
        for (path, _), image, dets in zip(chunk, images, split_per_image(bbox, bbox_num)):
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
