"""Classify your own images: prints the top-5 labels of each, one line per input.

    python infer.py photo1.jpg photo2.png            the export of the last run trained in output/
    python infer.py --input_file my_images.txt       one image per line; an empty line gets an empty answer
    python infer.py photo.jpg --checkpoint output/ResNet18/best.pdparams   the dynamic graph instead

By default it runs the exported model (Paddle Inference, oneDNN on CPU) of the last run trained in
OUTPUT_DIR and refuses an export older than its checkpoint. A line of --input_file is `path` or
`path label` (the layout of val_list.txt; relative paths are relative to the file's folder); when
lines carry labels, it also prints top-1/top-5 accuracy, which over val_list.txt equals eval.py's
(one preprocessing path, reader.py's).
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import reader
from eval import add_run_flags, load_trained_model, run_settings


def read_inputs(args):
    """[(path or None for an empty line, label or None, where)], in input order."""
    inputs = [(path, None, path) for path in args.images]
    if args.input_file:
        folder = os.path.dirname(args.input_file)
        for lineno, line in utils.read_lines(args.input_file):
            where = f"{args.input_file}:{lineno}"
            if not line.strip():
                inputs.append((None, None, where))
                continue
            parts = line.strip().rsplit(maxsplit=1)
            path, label = (parts[0], int(parts[1])) if len(parts) == 2 and parts[1].isdigit() else (line.strip(), None)
            inputs.append((os.path.join(folder, path), label, where))
    if not inputs:
        raise utils.DataError("no input: give image files or --input_file")
    return inputs


def preprocess(inputs, image_size, recipe=None):
    transform = reader.build_transform(train=False, image_size=image_size, recipe=recipe)
    images = []
    for path, _, where in inputs:
        image = reader.load_image(path, where)
        if isinstance(image, utils.DataError):
            raise image
        images.append(reader.to_chw_float(transform(image)))
    return np.stack(images)


def build_predictor(args):
    """(predict(batch) -> logits, crop size, class names) from the export or, with --checkpoint, the
    dynamic graph."""
    if args.checkpoint:
        checkpoint, names = run_settings(args)
        paddle.set_device("cpu")
        model = load_trained_model(args, checkpoint)

        def predict(batch):
            with paddle.no_grad():
                return model(paddle.to_tensor(batch)).numpy()
        return predict, args.image_size, names or [str(i) for i in range(args.num_classes)], args.recipe
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda batch: run([batch])[0]), cfg["image_size"], cfg["label_names"], cfg.get("recipe")


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="predict with the dynamic graph from these weights instead of the export")
    parser.add_argument("images", nargs="*", help="image files")
    parser.add_argument("--input_file", default=None, help="a text file of images, one `path [label]` per line")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=16, help="images per forward pass")
    parser.add_argument("--top_k", type=int, default=5, help="labels printed per image")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    inputs = read_inputs(args)
    predict, image_size, names, recipe = build_predictor(args)

    results, hits, labelled = [], np.zeros(2), 0
    for start in range(0, len(inputs), args.batch_size):
        chunk = inputs[start:start + args.batch_size]
        present = [item for item in chunk if item[0] is not None]
        logits = predict(preprocess(present, image_size, recipe)) if present else np.zeros((0, len(names)))
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        rows = iter(probs)
        for path, label, _ in chunk:
            if path is None:  # keep the alignment: output line k answers input line k
                results.append(None)
                print("", flush=True)
                continue
            p = next(rows)
            order = np.argsort(-p)
            best = [(names[i] if i < len(names) else str(i), float(p[i])) for i in order[:args.top_k]]
            results.append({"image": path, "top_k": best})
            print(f"{path}: " + ", ".join(f"{name} {score:.3f}" for name, score in best), flush=True)
            if label is not None:
                labelled += 1
                hits += [order[0] == label, label in order[:5]]
    accuracy = None
    if labelled:
        accuracy = {"top1": hits[0] / labelled, "top5": hits[1] / labelled, "samples": labelled}
        print(f"accuracy on {labelled} labelled images: top1 {accuracy['top1']:.4f} top5 {accuracy['top5']:.4f}",
              flush=True)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)
    return results, accuracy


if __name__ == "__main__":
    utils.run_main(main)
