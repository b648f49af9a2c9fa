"""Segment your own images. For each input it writes, in --save_dir:
  <name>_pred.png     the prediction as a palette PNG: pixel values are class ids, shown in the
                      Cityscapes colours (so it is both viewable and machine-readable);
  <name>_overlay.png  the prediction blended over the image.

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py street1.png street2.jpg --inference_dir output/inference
From a training checkpoint (dynamic graph; allows --scales/--flip/--window as eval.py):
    python infer.py street.png --model hrnet_w18 --checkpoint output/hrnet_w18/best.pdparams
Over a list file (`image [label]` lines): with labels it also prints the mIoU, which equals eval.py's.
    python infer.py --list data/demo/val.list --data_dir data/demo
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image

import reader
from metric import ConfusionMatrix
from models import MODELS, build_model
from predict import predict_probs


def save_outputs(image, pred, num_classes, save_dir, name, alpha=0.5):
    colors = reader.palette(num_classes)
    mask = Image.fromarray(pred.astype(np.uint8), mode="P")
    mask.putpalette(colors.ravel().tolist())
    mask.save(os.path.join(save_dir, f"{name}_pred.png"))
    overlay = (image.astype(np.float32) * (1 - alpha) + colors[pred].astype(np.float32) * alpha).astype(np.uint8)
    Image.fromarray(overlay).save(os.path.join(save_dir, f"{name}_overlay.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", help="image files")
    parser.add_argument("--list", default=None, help="a list file of `image [label]` lines instead of files")
    parser.add_argument("--data_dir", default=".", help="root the --list paths are relative to")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--num_classes", type=int, default=19, help="with --checkpoint")
    parser.add_argument("--scales", default="1.0", help="with --checkpoint: e.g. 0.75,1.0,1.25")
    parser.add_argument("--flip", action="store_true", help="with --checkpoint")
    parser.add_argument("--window", default=None, help="with --checkpoint: sliding window HEIGHT,WIDTH")
    parser.add_argument("--save_dir", default="output/predictions")
    args = parser.parse_args()
    if not args.images and not args.list:
        parser.error("give image files or --list")

    samples = [(path, None, f"{path}:0") for path in args.images]
    if args.list:
        samples += reader.read_list(args.list, args.data_dir, with_labels=False)

    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        num_classes = args.num_classes
        model = build_model(args.model, num_classes=num_classes)
        utils.load_weights(model, args.checkpoint or os.path.join("output", args.model, "best.pdparams"), verbose=False)
        model.eval()
        scales = [float(s) for s in args.scales.split(",")]
        window = [int(v) for v in args.window.split(",")] if args.window else None

        def predict(batch):
            return predict_probs(model, paddle.to_tensor(batch), scales, args.flip, window).numpy().argmax(1)
    else:
        cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
        if not os.path.isfile(cfg_path):
            raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
        with open(cfg_path) as f:
            num_classes = json.load(f)["num_classes"]
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

        def predict(batch):
            return run([batch])[0].argmax(1)

    os.makedirs(args.save_dir, exist_ok=True)
    cm = ConfusionMatrix(num_classes)
    for image_path, label_path, where in samples:
        image = reader.load_image(image_path, where)
        pred = predict(reader.normalize(image)[None])[0]
        name = os.path.splitext(os.path.basename(image_path))[0]
        save_outputs(image, pred, num_classes, args.save_dir, name)
        counts = np.bincount(pred.ravel(), minlength=num_classes) / pred.size
        top = ", ".join(f"{i}:{counts[i]:.2f}" for i in np.argsort(-counts)[:3])
        print(f"{image_path}: {pred.shape[1]}x{pred.shape[0]}, top classes (id:fraction) {top} -> "
              f"{args.save_dir}/{name}_pred.png, {name}_overlay.png", flush=True)
        if label_path:
            cm.update(pred, reader.load_label(label_path, where, num_classes, image.shape))
    if cm.matrix.sum():
        r = cm.compute()
        print(f"final metrics: miou={r['miou']:.4f} pixel_acc={r['pixel_acc']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
