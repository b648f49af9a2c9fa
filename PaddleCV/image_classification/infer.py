"""Classify your own images: prints the top-5 labels of each.

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py photo1.jpg photo2.png --inference_dir output/inference
From a training checkpoint (dynamic graph):
    python infer.py photo.jpg --model ResNet50 --checkpoint output/ResNet50/best.pdparams --data_dir data/demo
Both use reader.py's eval preprocessing, so infer.py over the val list reproduces eval.py.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import reader
from eval import default_checkpoint, trained_image_size
from models import MODELS, build_model


def preprocess(paths, image_size):
    transform = reader.build_transform(train=False, image_size=image_size)
    images = []
    for path in paths:
        image = reader.load_image(path, f"{path}:0")
        if isinstance(image, utils.DataError):
            raise image
        images.append(reader.to_chw_float(transform(image)))
    return np.stack(images)


def top_k(probs, names, k=5):
    order = np.argsort(-probs)[:k]
    return [(names[i] if i < len(names) else str(i), float(probs[i])) for i in order]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--output_dir", default="output", help="with --model: where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="with --checkpoint: class count and names")
    parser.add_argument("--num_classes", type=int, default=1000)
    parser.add_argument("--image_size", type=int, default=0)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        _, num_classes, names = reader.dataset_info(args.data_dir, args.num_classes)
        names = names or [str(i) for i in range(num_classes)]
        image_size = args.image_size or trained_image_size(args.output_dir, args.model)
        model = build_model(args.model, num_classes=num_classes)
        utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model), verbose=False)
        model.eval()

        def predict(batch):
            with paddle.no_grad():
                return model(paddle.to_tensor(batch)).numpy()
    else:
        cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
        if not os.path.isfile(cfg_path):
            raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
        with open(cfg_path) as f:
            cfg = json.load(f)
        names, image_size = cfg["label_names"], args.image_size or cfg["image_size"]
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

        def predict(batch):
            return run([batch])[0]

    results = []
    for start in range(0, len(args.images), args.batch_size):
        paths = args.images[start:start + args.batch_size]
        logits = predict(preprocess(paths, image_size))
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        for path, p in zip(paths, probs):
            best = top_k(p, names)
            results.append({"image": path, "top5": best})
            print(f"{path}: " + ", ".join(f"{name} {score:.3f}" for name, score in best), flush=True)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    utils.run_main(main)
