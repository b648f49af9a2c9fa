"""Segment your own images with a trained run. For each input it prints the main classes by name and
writes, in --save_dir:
  <name>_pred.png     the prediction as a palette PNG: pixel values are class ids, shown in the
                      Cityscapes colours (so it is both viewable and machine-readable);
  <name>_overlay.png  the prediction blended over the image.

From the last run's exported model (what export.py wrote; Paddle Inference, oneDNN on CPU):
    python infer.py street1.png street2.jpg
From a checkpoint (dynamic graph; allows --scales/--flip/--window as eval.py):
    python infer.py street.png --checkpoint output/hrnet_w18/best.pdparams --flip
Over a list file (`image [label]` lines, paths relative to the list's folder, as DATA_DIR's lists):
with labels it also prints the mIoU, the figure eval.py gives for the same list.
    python infer.py --list data/demo/val.list

Memory is bounded by --max_side: an image whose long side is longer is resized (bilinear) to it,
predicted, and the predicted mask resized back to the image's size (nearest). Cityscapes' 2048x1024
frames are predicted at full resolution. 16-bit images are scaled to 8 bits, not clipped.
"""
import argparse
import json
import os

import utils  # first: it silences paddle's import-time warnings
import numpy as np
import paddle
from PIL import Image

import pretrained
import reader
from eval import fill_from_dataset, pair, run_flags
from metric import ConfusionMatrix
from models import build_model
from predict import predict_probs


def segment(image, predict, max_side):
    """Class ids [H, W] of a uint8 RGB image, from predict(normalised batch [1,3,h,w]) -> ids [1,h,w].
    The model sees the image with its long side at most max_side (0: no limit)."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w) if max_side else 1.0
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    pred = predict(reader.normalize(image)[None])[0].astype(np.uint8)
    if scale < 1.0:
        pred = np.asarray(Image.fromarray(pred).resize((w, h), Image.NEAREST))
    return pred


def save_outputs(image, pred, colors, save_dir, name):
    mask = Image.fromarray(pred, mode="P")
    mask.putpalette(colors.ravel().tolist())
    mask.save(os.path.join(save_dir, f"{name}_pred.png"))
    overlay = ((image.astype(np.uint16) + colors[pred]) // 2).astype(np.uint8)  # 50% blend, 6 bytes a pixel
    Image.fromarray(overlay).save(os.path.join(save_dir, f"{name}_overlay.png"))


def describe(pred, names, top=3):
    """The main classes of a prediction by name, with the fraction of the image each covers."""
    counts = np.bincount(pred.ravel(), minlength=len(names)) / pred.size
    return ", ".join(f"{names[i]} {counts[i]:.2f}" for i in np.argsort(-counts)[:top] if counts[i] > 0)


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("images", nargs="*", help="image files")
    parser.add_argument("--list", default=None,
                        help="a list file of `image [label]` lines (relative to its folder) instead of files")
    run_flags(parser, checkpoint_help="predict with these weights in the dynamic graph instead of the export")
    parser.add_argument("--inference_dir", default=None,
                        help="what export.py wrote; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--max_side", type=int, default=2048,
                        help="longest image side the model sees; larger images are resized, the mask resized back")
    parser.add_argument("--scales", default="1.0", help="with --checkpoint: inference scales, e.g. 0.75,1.0,1.25")
    parser.add_argument("--flip", action="store_true", help="with --checkpoint: also average flipped predictions")
    parser.add_argument("--window", default=None, help="with --checkpoint: sliding window HEIGHT,WIDTH")
    parser.add_argument("--stride", default=None, help="with --checkpoint: sliding-window stride HEIGHT,WIDTH")
    parser.add_argument("--save_dir", default=None, help="where the PNGs go; None: OUTPUT_DIR/MODEL/predictions")
    args = utils.parse_args(parser, argv)
    if not args.images and not args.list:
        parser.error("give image files or --list")
    if args.checkpoint or args.inference_dir is None:  # an export given by path needs no run
        fill_from_dataset(utils.load_run_config(args))
    return args


def build_predictor(args):
    """(predict(batch) -> class ids, class names, where the PNGs go)."""
    if args.checkpoint:  # dynamic graph
        paddle.set_device("cpu")
        model = build_model(args.model, num_classes=args.num_classes)
        pretrained.load(model, args.model, args.checkpoint, strict=True)
        model.eval()
        scales = [float(s) for s in args.scales.split(",")]

        def predict(batch):
            probs = predict_probs(model, paddle.to_tensor(batch), scales, args.flip, pair(args.window), pair(args.stride))
            return probs.numpy().argmax(1)
        names = reader.class_names(args.dataset, args.num_classes)
        run_dir = os.path.join(args.output_dir, args.model)
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)  # refuses an export older than its checkpoint
        with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
            names = json.load(f)["label_names"]
        run = utils.create_predictor(os.path.join(inference_dir, "model"))

        def predict(batch):
            return run([batch])[0].argmax(1)
        run_dir = os.path.dirname(os.path.normpath(inference_dir))
    return predict, names, args.save_dir or os.path.join(run_dir, "predictions")


def main(argv=None):
    args = get_args(argv)
    samples = []
    for path in args.images:
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: image file not found")
        samples.append((path, None, path))
    if args.list:
        samples += reader.read_list(args.list, os.path.dirname(args.list), with_labels=False)
    predict, names, save_dir = build_predictor(args)
    os.makedirs(save_dir, exist_ok=True)
    colors = reader.palette(len(names))
    cm = ConfusionMatrix(len(names))
    for image_path, label_path, where in utils.progress(samples, len(samples), "infer"):
        image = reader.load_image(image_path, where)
        pred = segment(image, predict, args.max_side)
        name = os.path.splitext(os.path.basename(image_path))[0]
        save_outputs(image, pred, colors, save_dir, name)
        print(f"{image_path}: {pred.shape[1]}x{pred.shape[0]}, {describe(pred, names)} -> "
              f"{save_dir}/{name}_pred.png, {name}_overlay.png", flush=True)
        if label_path:
            cm.update(pred, reader.load_label(label_path, where, len(names), image.shape))
    result = None
    if cm.matrix.sum():
        result = cm.compute()
        print(f"final metrics: miou={result['miou']:.4f} pixel_acc={result['pixel_acc']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
