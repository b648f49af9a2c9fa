"""Write a small, learnable detection and instance-segmentation set in the MS-COCO layout.

Each picture is a textured background (a base colour, stripes at a random angle and pixel noise)
with 0-4 shapes of four classes: red circles, green squares, blue triangles and yellow rings, each
in a jittered shade of its colour, of varied size and rotation, and free to overlap (a later shape
partly hides an earlier one; its box and mask stay the whole shape's). About one picture in ten is
empty. Each annotation has its mask in one of COCO's three encodings, so that the reader's three
decoding paths are used: squares and triangles as polygons, circles as compressed RLE (a string),
rings (which have a hole) as uncompressed RLE (a list of run lengths).
Pictures are 128-192 px wide and high (not square), saved as JPEG:

    data/demo/annotations/instances_train2017.json   (and _val2017, _test2017)
    data/demo/train2017/000000000001.jpg             (val2017/, test2017/)

val selects the best checkpoint; test is read once, by eval.py at the end. Deterministic for a
given --seed.
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw

CLASSES = [("circle", (210, 50, 50)), ("square", (50, 170, 70)), ("triangle", (50, 80, 210)),
           ("ring", (215, 195, 45))]
SIZES = (128, 160, 192)


def background(w, h, rng):
    base = rng.integers(70, 190, size=3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    angle, period = rng.uniform(0, math.pi), rng.uniform(6, 20)
    stripes = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    image = base + stripes[..., None] * rng.uniform(8, 25) * rng.uniform(0.5, 1, size=3) + rng.normal(0, 10, (h, w, 3))
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def draw_shape(draw, label, cx, cy, r, angle, rng):
    """Draw one shape; returns its box [x1, y1, x2, y2] and its polygon (None for circles and rings)."""
    colour = tuple(int(c) for c in np.clip(np.array(CLASSES[label][1]) + rng.integers(-35, 36, size=3), 0, 255))
    name = CLASSES[label][0]
    if name in ("circle", "ring"):
        box = [cx - r, cy - r, cx + r, cy + r]
        if name == "circle":
            draw.ellipse(box, fill=colour)
        else:
            draw.ellipse(box, outline=colour, width=max(3, int(r / 3)))
        return box, None
    corners = 4 if name == "square" else 3
    points = [(cx + r * math.cos(angle + 2 * math.pi * k / corners), cy + r * math.sin(angle + 2 * math.pi * k / corners))
              for k in range(corners)]
    draw.polygon(points, fill=colour)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)], points


def segmentation(label, cx, cy, r, points, w, h):
    """The shape's mask in COCO's json: polygons, or RLE rendered at the picture's size."""
    from pycocotools import mask as mask_utils
    if points is not None:
        return [[round(float(v), 2) for p in points for v in p]]
    canvas = Image.new("L", (w, h), 0)
    pen = ImageDraw.Draw(canvas)
    box = [cx - r, cy - r, cx + r, cy + r]
    if CLASSES[label][0] == "circle":
        pen.ellipse(box, fill=1)
        rle = mask_utils.encode(np.asfortranarray(np.asarray(canvas, np.uint8)))
        return {"counts": rle["counts"].decode("ascii"), "size": [h, w]}
    pen.ellipse(box, outline=1, width=max(3, int(r / 3)))
    flat = np.asarray(canvas, np.uint8).flatten(order="F")  # column-major runs, starting with zeros
    change = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], change, [len(flat)]]))
    if flat[0] == 1:
        runs = np.concatenate([[0], runs])
    return {"counts": [int(v) for v in runs], "size": [h, w]}


def make_split(out_dir, split, count, rng, first_id):
    folder = os.path.join(out_dir, f"{split}2017")
    os.makedirs(folder, exist_ok=True)
    images, annotations = [], []
    for k in range(count):
        image_id = first_id + k
        w, h = (int(v) for v in rng.choice(SIZES, size=2))
        image = background(w, h, rng)
        draw = ImageDraw.Draw(image)
        n = 0 if rng.random() < 0.1 else int(rng.integers(1, 5))
        for _ in range(n):
            label = int(rng.integers(len(CLASSES)))
            r = rng.uniform(10, 0.3 * min(w, h))
            cx, cy = rng.uniform(r * 0.6, w - r * 0.6), rng.uniform(r * 0.6, h - r * 0.6)
            (x1, y1, x2, y2), points = draw_shape(draw, label, cx, cy, r, rng.uniform(0, 2 * math.pi), rng)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)  # a shape may leave the frame
            bw, bh = round(x2 - x1, 2), round(y2 - y1, 2)
            annotations.append({"id": len(annotations) + 1 + first_id * 10, "image_id": image_id,
                                "category_id": label + 1, "bbox": [round(x1, 2), round(y1, 2), bw, bh],
                                "area": round(bw * bh, 2), "iscrowd": 0,
                                "segmentation": segmentation(label, cx, cy, r, points, w, h)})
        name = f"{image_id:012d}.jpg"
        image.save(os.path.join(folder, name), quality=90)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
    categories = [{"id": i + 1, "name": f"{name}", "supercategory": "shape"} for i, (name, _) in enumerate(CLASSES)]
    os.makedirs(os.path.join(out_dir, "annotations"), exist_ok=True)
    with open(os.path.join(out_dir, "annotations", f"instances_{split}2017.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)


def make_demo_data(out_dir, train=400, val=60, test=60, seed=0):
    rng = np.random.default_rng(seed)
    first = 1
    for split, count in (("val", val), ("test", test), ("train", train)):  # train last: its json marks "done"
        if count:
            make_split(out_dir, split, count, rng, first)
            first += count
    return out_dir


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """utils.HelpFormatter, without importing utils: that imports Paddle, about 2 s of CPU in every
    smoke run, for a script that needs nothing of it."""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="dataset root to write")
    parser.add_argument("--train", type=int, default=400, help="training pictures")
    parser.add_argument("--val", type=int, default=60, help="validation pictures (pick the best checkpoint)")
    parser.add_argument("--test", type=int, default=60, help="test pictures (eval.py, once)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train, args.val, args.test, args.seed)
    print(f"wrote {args.train}/{args.val}/{args.test} train/val/test pictures to {args.out_dir}")


if __name__ == "__main__":
    main()
