"""Detect objects in your own pictures: draws the boxes, labels and scores on each picture and writes
the detections as json.

    python infer.py photo1.jpg photo2.png         the export of the last run trained in output/
    python infer.py pictures/                     every .jpg/.jpeg/.png/.bmp of a folder
    python infer.py --split val                   the run's val split: also scores the json with pycocotools
    python infer.py photo.jpg --checkpoint output/yolov3_darknet53/best.pdparams   the dynamic graph instead

It writes, in --save_dir: each picture with its boxes drawn (score >= --draw_threshold),
detections.json (per picture: its path and its boxes as category, name, score and [x, y, width,
height] in the picture's pixels, every box above the model's 0.01 score floor) and bbox.json (the
same boxes as a COCO results json; image ids are the split's, or the pictures' positions). By
default it runs the exported model (Paddle Inference, oneDNN on CPU) of the last run trained in
OUTPUT_DIR and refuses an export older than its checkpoint. Preprocessing is reader.preprocess, the
one eval.py uses, so over --split val its mAP is eval.py's.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import reader
from eval import add_run_flags, coco_metrics, detections_to_coco, load_trained_model, run_settings

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]


def create_predictor(prefix, use_onednn=True):
    """utils.create_predictor, less one oneDNN pass: in Paddle 3.3.1 conv_activation_onednn_fuse_pass
    crashes (SIGSEGV in FusedConv2dOp::Build) on the leaky ReLU after YOLOv3's convolutions."""
    from paddle import inference
    config = inference.Config(*utils.inference_files(prefix))
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        config.enable_use_gpu(256, 0)
    else:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(utils.cpu_count())
        if use_onednn:
            config.enable_mkldnn()
            config.delete_pass("conv_activation_onednn_fuse_pass")
        else:
            config.disable_mkldnn()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)

    def run(arrays):
        for name, array in zip(predictor.get_input_names(), arrays):
            predictor.get_input_handle(name).copy_from_cpu(np.ascontiguousarray(array))
        predictor.run()
        return [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]

    return run


def read_inputs(args):
    """[(path, image id, where)] in input order: files, folders' pictures, or a COCO split."""
    inputs = []
    for path in args.images:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    inputs.append((os.path.join(path, name), len(inputs), os.path.join(path, name)))
        else:
            inputs.append((path, len(inputs), path))
    split = None
    if args.split:
        split = reader.CocoSplit(args.data_dir, args.split)
        inputs += [(r["file"], r["id"], split.where(r)) for r in split.records]
    if not inputs:
        raise utils.DataError("no input: give pictures, a folder of pictures, or --split")
    return inputs, split


def build_predictor(args):
    """(predict(image, im_shape, scale_factor) -> rows, counts; input size; category ids; names)
    from the export or, with --checkpoint, the dynamic graph."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        model = load_trained_model(args, checkpoint)
        try:
            category_ids, names = reader.dataset_info(args.data_dir)
        except utils.DataError:
            category_ids, names = list(range(1, args.num_classes + 1)), [str(i) for i in range(args.num_classes)]

        def predict(*arrays):
            with paddle.no_grad():
                rows, counts = model(*[paddle.to_tensor(a) for a in arrays])
            return rows.numpy(), counts.numpy()
        return predict, args.image_size, category_ids, names, args.preprocess
    utils.load_run_config(args)
    if not args.inference_dir:
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(args.inference_dir)
    args.data_dir = args.data_dir or info["config"].get("data_dir")
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = create_predictor(os.path.join(args.inference_dir, "model"))
    return ((lambda *arrays: tuple(run(list(arrays)))), cfg["image_size"], cfg["category_ids"], cfg["label_names"],
            cfg.get("preprocess", "ours"))


def draw(path, image, detections, names, threshold, out_path):
    picture = Image.fromarray(image)
    canvas = ImageDraw.Draw(picture)
    for d in detections:
        if d["score"] < threshold:
            continue
        x, y, w, h = d["bbox"]
        colour = COLOURS[d["label"] % len(COLOURS)]
        canvas.rectangle([x, y, x + w, y + h], outline=colour, width=2)
        text = f"{names[d['label']]} {d['score']:.2f}"
        tx, ty = x + 1, max(y - 11, 0)
        canvas.rectangle([tx - 1, ty, tx + 6 * len(text) + 1, ty + 10], fill=colour)
        canvas.text((tx, ty - 1), text, fill="white")
    picture.save(out_path)


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="predict with the dynamic graph from these weights instead of the export")
    parser.add_argument("images", nargs="*", help="pictures, or folders of pictures")
    parser.add_argument("--split", choices=["val", "test"], default=None,
                        help="also every picture of this split of DATA_DIR, with its image ids, and score the json")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=8, help="pictures per forward pass")
    parser.add_argument("--draw_threshold", type=float, default=0.5, help="draw the boxes scoring at least this")
    parser.add_argument("--save_dir", default="output/infer", help="where the drawn pictures and the json go")
    parser.add_argument("--no_draw", action="store_true", help="write only the json")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    predict, image_size, category_ids, names, recipe = build_predictor(args)
    inputs, split = read_inputs(args)
    os.makedirs(args.save_dir, exist_ok=True)
    readable, coco = [], []
    for start in range(0, len(inputs), args.batch_size):
        chunk = inputs[start:start + args.batch_size]
        pictures = []
        for path, _, where in chunk:
            image = reader.load_image(path, where, recipe)
            if isinstance(image, utils.DataError):
                raise image
            pictures.append(image)
        arrays = [np.stack(a) for a in zip(*[reader.preprocess(p, image_size, recipe) for p in pictures])]
        rows, counts = predict(*arrays)
        ids = [image_id for _, image_id, _ in chunk]
        found = detections_to_coco(rows, counts, ids, category_ids)
        coco += found
        for (path, image_id, _), picture in zip(chunk, pictures):
            mine = [dict(d, label=category_ids.index(d["category_id"])) for d in found if d["image_id"] == image_id]
            boxes = [{"category_id": d["category_id"], "name": names[d["label"]], "score": d["score"],
                      "bbox": d["bbox"], "label": d["label"]} for d in mine]
            readable.append({"image": path, "image_id": image_id, "detections": boxes})
            shown = sum(d["score"] >= args.draw_threshold for d in boxes)
            print(f"{path}: {len(boxes)} boxes, {shown} at score >= {args.draw_threshold}"
                  + "".join(f"; {d['name']} {d['score']:.2f}" for d in boxes if d["score"] >= args.draw_threshold),
                  flush=True)
            if not args.no_draw:
                name = f"{image_id:012d}_{os.path.basename(path)}" if split else os.path.basename(path)
                draw(path, picture, boxes, names, args.draw_threshold, os.path.join(args.save_dir, name))
    with open(os.path.join(args.save_dir, "detections.json"), "w") as f:
        json.dump(readable, f, indent=1)
    bbox_json = os.path.join(args.save_dir, "bbox.json")
    with open(bbox_json, "w") as f:
        json.dump(coco, f)
    metrics = None
    if split is not None:
        metrics = coco_metrics(split.json_path, bbox_json, [r["id"] for r in split.records])
        print(f"pycocotools on {bbox_json}: mAP {metrics['mAP']:.4f} AP50 {metrics['AP50']:.4f} "
              f"AP75 {metrics['AP75']:.4f} over {metrics['images']} images", flush=True)
    print(f"wrote {len(readable)} pictures and detections.json, bbox.json to {args.save_dir}", flush=True)
    return readable, metrics


if __name__ == "__main__":
    utils.run_main(main)
