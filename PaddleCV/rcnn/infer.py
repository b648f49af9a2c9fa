"""Detect objects in your own pictures: draws the boxes, labels and scores (and for Mask R-CNN the
translucent coloured masks) on each picture and writes the detections as json.

    python infer.py photo1.jpg photo2.png         the export of the last run trained in output/
    python infer.py pictures/                     every .jpg/.jpeg/.png/.bmp of a folder
    python infer.py --split val                   the run's val split: also scores the json with pycocotools
    python infer.py photo.jpg --checkpoint output/faster_rcnn_r50_fpn/best.pdparams   the dynamic graph instead

It writes, in --save_dir: each picture with its boxes drawn (score >= --draw_threshold),
detections.json (per picture: its path and its boxes as category, name, score and [x, y, width,
height] in the picture's pixels, every box above the model's 0.05 score floor) and bbox.json (the
same boxes as a COCO results json; image ids are the split's, or the pictures' positions), and for
Mask R-CNN mask.json (the masks as COCO RLE results). By
default it runs the exported model (Paddle Inference; oneDNN only with --onednn, see create_predictor) of the last run trained in
OUTPUT_DIR and refuses an export older than its checkpoint. Preprocessing is reader.preprocess, the
one eval.py uses, so over --split val its mAP is eval.py's.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageColor, ImageDraw

import reader
from eval import (add_run_flags, class_names, detections_to_coco, load_trained_model, paste_of, run_settings,
                  score_jsons, use_recipe_batch_size)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]


def create_predictor(prefix, use_onednn=False):
    """utils.create_predictor, without oneDNN by default: in Paddle 3.3.1 oneDNN's concat kernel
    crashes (SIGSEGV) on the empty tensors a detector makes (an FPN level that got no RoI, a picture
    without detections), and restricting oneDNN to some ops (set_mkldnn_op) does not keep it out.
    --onednn turns it on (benchmark.py measures it on pictures where it runs)."""
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
        category_ids, names = class_names(args)

        def predict(*arrays):
            with paddle.no_grad():
                return tuple(o.numpy() for o in model(*[paddle.to_tensor(a) for a in arrays]))
        return predict, (args.image_size, args.max_size), category_ids, names, args.recipe
    utils.load_run_config(args)
    if not args.inference_dir:
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(args.inference_dir)
    args.data_dir = args.data_dir or info["config"].get("data_dir")
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = create_predictor(os.path.join(args.inference_dir, "model"), args.onednn)
    return ((lambda *arrays: tuple(run(list(arrays)))), (cfg["image_size"], cfg["max_size"]), cfg["category_ids"],
            cfg["label_names"], cfg.get("recipe"))


def draw(path, image, detections, names, threshold, out_path):
    picture = Image.fromarray(image)
    for d in detections:  # masks first, at 50% opacity, so that the boxes and labels stay readable
        if d["score"] >= threshold and d.get("mask") is not None:
            colour = np.array(ImageColor.getrgb(COLOURS[d["label"] % len(COLOURS)]), np.float32)
            pixels = np.asarray(picture).astype(np.float32)
            m = d["mask"].astype(bool)
            pixels[m] = pixels[m] * 0.5 + colour * 0.5
            picture = Image.fromarray(pixels.astype(np.uint8))
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
    parser.add_argument("--onednn", action="store_true",
                        help="Paddle Inference with oneDNN (crashes in Paddle 3.3.1 when an FPN level gets no RoI)")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    predict, (short, max_size), category_ids, names, recipe = build_predictor(args)
    paste = paste_of(recipe)  # PaddleDetection's weights: its decode, resize, padding and mask pasting
    if recipe is not None:
        use_recipe_batch_size(args, recipe)
    inputs, split = read_inputs(args)
    os.makedirs(args.save_dir, exist_ok=True)
    readable, coco, coco_masks = [], [], []
    for start in range(0, len(inputs), args.batch_size):
        chunk = inputs[start:start + args.batch_size]
        pictures = []
        for path, _, where in chunk:
            image = reader.load_image(path, where, recipe)
            if isinstance(image, utils.DataError):
                raise image
            pictures.append(image)
        prepared = [reader.preprocess(p, short, max_size, recipe) for p in pictures]
        arrays = [reader.pad_batch([p[0] for p in prepared], recipe["pad_stride"] if recipe else 32),
                  np.stack([p[1] for p in prepared]),
                  np.stack([p[2] for p in prepared])]
        out = predict(*arrays)
        rows, counts = out[0], out[1]
        masks = out[2] if len(out) == 3 else None
        ids = [image_id for _, image_id, _ in chunk]
        sizes = [p.shape[:2] for p in pictures]
        found = detections_to_coco(rows, counts, ids, category_ids, masks, sizes, paste)
        if masks is not None:
            found, found_masks = found
            coco_masks += found_masks
        coco += found
        kept = [j for j in range(len(rows)) if rows[j, 0] >= 0 and rows[j, 4] > rows[j, 2] and rows[j, 5] > rows[j, 3]]
        for k, ((path, image_id, _), picture) in enumerate(zip(chunk, pictures)):
            first = int(np.sum(counts[:k]))
            rows_k = [j for j in kept if first <= j < first + int(counts[k])]
            mine = [dict(d, label=category_ids.index(d["category_id"])) for d in found if d["image_id"] == image_id]
            boxes = [{"category_id": d["category_id"], "name": names[d["label"]], "score": d["score"],
                      "bbox": d["bbox"], "label": d["label"]} for d in mine]
            readable.append({"image": path, "image_id": image_id, "detections": boxes})
            shown = sum(d["score"] >= args.draw_threshold for d in boxes)
            print(f"{path}: {len(boxes)} boxes, {shown} at score >= {args.draw_threshold}"
                  + "".join(f"; {d['name']} {d['score']:.2f}" for d in boxes if d["score"] >= args.draw_threshold),
                  flush=True)
            if not args.no_draw:
                drawn = [dict(d, mask=paste(masks[j], rows[j, 2:], *picture.shape[:2]) if masks is not None
                              and d["score"] >= args.draw_threshold else None) for d, j in zip(boxes, rows_k)]
                name = f"{image_id:012d}_{os.path.basename(path)}" if split else os.path.basename(path)
                draw(path, picture, drawn, names, args.draw_threshold, os.path.join(args.save_dir, name))
    with open(os.path.join(args.save_dir, "detections.json"), "w") as f:
        json.dump(readable, f, indent=1)
    bbox_json = os.path.join(args.save_dir, "bbox.json")
    with open(bbox_json, "w") as f:
        json.dump(coco, f)
    if coco_masks or masks is not None:
        with open(os.path.join(args.save_dir, "mask.json"), "w") as f:
            json.dump(coco_masks, f)
    metrics = None
    if split is not None:
        metrics = score_jsons(split.json_path, bbox_json, [r["id"] for r in split.records], masks is not None)
        extra = f" mask mAP {metrics['mask_mAP']:.4f}" if "mask_mAP" in metrics else ""
        print(f"pycocotools on {bbox_json}: mAP {metrics['mAP']:.4f} AP50 {metrics['AP50']:.4f} "
              f"AP75 {metrics['AP75']:.4f}{extra} over {metrics['images']} images", flush=True)
    print(f"wrote {len(readable)} pictures and detections.json, bbox.json to {args.save_dir}", flush=True)
    return readable, metrics


if __name__ == "__main__":
    utils.run_main(main)
