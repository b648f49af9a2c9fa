"""Predict on your own point clouds, and draw each as a bird's-eye-view PNG with the prediction.

    python infer.py chair.txt table.txt                  classification: `x,y,z[,nx,ny,nz]` lines per file
    python infer.py room.h5                              segmentation: every block of an Indoor3D h5 file
    python infer.py --split test                         the run's own test (or val) split, with its metric

By default it runs the exported model (Paddle Inference) of the last run trained in OUTPUT_DIR and
refuses an export older than its checkpoint; --checkpoint runs the dynamic graph instead. A point
file goes through reader.py's path (its first num_points lines, centred and scaled into the unit
sphere), so over a split this gives eval.py's figure. Pictures go to OUTPUT_DIR/MODEL/infer/:
points seen from above, coloured by height (classification, with the predicted label in the title)
or by predicted class (segmentation, with a legend).
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import reader
from metric import ConfusionMatrix

PALETTE = np.array([[200, 200, 200], [140, 110, 80], [120, 160, 220], [230, 160, 40], [150, 80, 160],
                    [90, 200, 220], [230, 90, 60], [60, 170, 80], [240, 220, 60], [200, 100, 180],
                    [110, 70, 40], [40, 40, 40], [220, 40, 40]], dtype=np.uint8)


def draw_bev(xyz, colours, title, path, size=320, legend=None):
    """Points seen from above (x right, y up), higher points drawn over lower ones."""
    from PIL import Image, ImageDraw
    image = Image.new("RGB", (size, size + 24 + (14 * len(legend) if legend else 0)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((6, 5), title, fill="black")
    lo, hi = xyz[:, :2].min(0), xyz[:, :2].max(0)
    scale = (size - 20) / max(float((hi - lo).max()), 1e-9)
    order = np.argsort(xyz[:, 2])
    px = (10 + (xyz[order, 0] - lo[0]) * scale).astype(int)
    py = (24 + size - 10 - (xyz[order, 1] - lo[1]) * scale).astype(int)
    for x, y, c in zip(px, py, colours[order]):
        draw.rectangle([x - 1, y - 1, x + 1, y + 1], fill=tuple(int(v) for v in c))
    for i, (name, colour) in enumerate(legend or []):
        y = size + 24 + 14 * i
        draw.rectangle([8, y + 2, 18, y + 11], fill=tuple(int(v) for v in colour))
        draw.text((24, y), name, fill="black")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    image.save(path)
    return path


def height_colours(z):
    t = (z - z.min()) / max(float(np.ptp(z)), 1e-9)
    return np.stack([60 + 190 * t, 90 + 60 * (1 - np.abs(2 * t - 1)), 230 - 190 * t], 1)


def build_predictor(args):
    """(predict(batch) -> logits, settings dict) from the export or, with --checkpoint, the dynamic graph."""
    if args.checkpoint:
        from eval import load_trained_model, run_settings
        from export import infer_config
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        model = load_trained_model(args, checkpoint)

        def predict(batch):
            with paddle.no_grad():
                return model(paddle.to_tensor(batch)).numpy()
        return predict, infer_config(args)
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    info = utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    for key, value in info["config"].items():  # the run's data settings, for --split
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda batch: run([batch])[0]), cfg


def user_inputs(args, cfg):
    """[(name, points [N, C], labels or None)] from the files given."""
    items = []
    for path in args.files:
        if cfg["task"] == "cls":
            points = reader.read_point_file(path, cfg["num_points"], columns=(6,) if cfg["use_normals"] else (3, 6))
            items.append((path, reader.preprocess_cls(points, cfg["use_normals"]), None))
        else:
            import h5py
            if not os.path.isfile(path):
                raise utils.DataError(f"{path}: file not found")
            with h5py.File(path, "r") as f:
                data = f["data"][:]
                labels = f["label"][:] if "label" in f else None
            if data.ndim != 3 or data.shape[2] != 9 or data.shape[1] < cfg["num_points"]:
                raise utils.DataError(f"{path}: data {list(data.shape)}; expected [blocks, >= {cfg['num_points']}, 9]")
            for b in range(len(data)):
                items.append((f"{path}[{b}]", data[b, :cfg["num_points"]].astype(np.float32),
                              None if labels is None else labels[b, :cfg["num_points"]]))
    return items


def split_inputs(args, cfg):
    blocks = reader.read_indoor3d(args.data_dir, len(cfg["label_names"])) if cfg["task"] == "seg" else None
    dataset = reader.build_dataset(args, args.split, blocks=blocks)
    names = getattr(dataset, "paths", None) or [f"{args.split}[{i}]" for i in range(len(dataset))]
    return [(names[i], *dataset[i]) for i in range(len(dataset))]


def build_parser():
    from eval import add_run_flags
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="predict with the dynamic graph from these weights instead of the export")
    parser.add_argument("files", nargs="*", help="point files (.txt, classification) or h5 block files (segmentation)")
    parser.add_argument("--split", choices=["val", "test"], default=None, help="predict the run's own split instead")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=16, help="samples per forward pass")
    parser.add_argument("--out_dir", default=None, help="pictures go here; None: OUTPUT_DIR/MODEL/infer")
    parser.add_argument("--max_images", type=int, default=8, help="pictures written at most")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if not args.files and not args.split:
        raise utils.DataError("no input: give point files, or --split val/test")
    predict, cfg = build_predictor(args)
    if args.split:
        args.data_dir = args.data_dir or "data/demo"
    items = split_inputs(args, cfg) if args.split else user_inputs(args, cfg)
    names = cfg["label_names"]
    out_dir = args.out_dir or os.path.join(args.output_dir, cfg["model"], "infer")
    matrix, results, images = ConfusionMatrix(len(names)), [], 0
    for start in range(0, len(items), args.batch_size):
        chunk = items[start:start + args.batch_size]
        pred = predict(np.stack([points for _, points, _ in chunk])).argmax(-1)
        for (name, points, label), p in zip(chunk, pred):
            if label is not None:
                matrix.update(p, label)
            base, _, block = os.path.basename(name).partition("[")
            stem = os.path.splitext(base)[0] + (f"_{block.rstrip(']')}" if block else "")
            picture = os.path.join(out_dir, stem + ".png") if images < args.max_images else None
            if cfg["task"] == "cls":
                results.append({"input": name, "label": names[int(p)]})
                print(f"{name}: {names[int(p)]}", flush=True)
                if picture:
                    draw_bev(points[:, :3], height_colours(points[:, 2]), f"{os.path.basename(name)}: {names[int(p)]}",
                             picture)
            else:
                counts = np.bincount(p, minlength=len(names))
                results.append({"input": name, "labels": p.tolist()})
                print(f"{name}: " + ", ".join(f"{names[c]} {counts[c]}" for c in np.argsort(-counts) if counts[c]),
                      flush=True)
                if picture:
                    present = [c for c in range(len(names)) if counts[c]]
                    draw_bev(points[:, :3], PALETTE[p], f"{os.path.basename(name)}: predicted classes", picture,
                             legend=[(names[c], PALETTE[c]) for c in present])
            images += picture is not None
    metrics = None
    if matrix.matrix.sum():
        metrics = matrix.compute()
        print(f"on {metrics['samples']} labelled {'shapes' if cfg['task'] == 'cls' else 'points'}: acc "
              f"{metrics['acc']:.4f} mean-class acc {metrics['mean_class_acc']:.4f} mIoU {metrics['miou']:.4f}",
              flush=True)
    if images:
        print(f"pictures: {out_dir}", flush=True)
    return results, metrics


if __name__ == "__main__":
    utils.run_main(main)
