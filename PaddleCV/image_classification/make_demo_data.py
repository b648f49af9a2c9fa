"""Write a small, learnable image classification set in the ImageNet list layout.

Each class is a shape drawn in a colour family (red circles, green squares, ...) at a random place,
size and rotation over a noisy background, saved as JPEG:

    data/demo/train/n00000003/n00000003_0012.JPEG
    data/demo/train_list.txt        train/n00000003/n00000003_0012.JPEG 3
    data/demo/val_list.txt          (selects the best checkpoint)
    data/demo/test_list.txt         (read once, by eval.py at the end)
    data/demo/label_list.txt        3 blue triangle

Deterministic for a given --seed, so every machine trains on the same pictures.
"""
import argparse
import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

import utils

SHAPES = ["circle", "square", "triangle", "cross", "ring"]
COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200), "yellow": (210, 190, 40)}


def class_list(num_classes):
    """(shape, colour name) per class, colours cycling fastest so neighbours differ in both."""
    names = list(COLOURS)
    return [(SHAPES[i % len(SHAPES)], names[(i // len(SHAPES) + i) % len(names)]) for i in range(num_classes)]


def polygon(cx, cy, radius, angle, corners):
    return [(cx + radius * math.cos(angle + 2 * math.pi * k / corners),
             cy + radius * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]


def draw_sample(shape, colour, size, rng):
    background = rng.integers(90, 200, size=3)
    noise = rng.normal(0, 18, size=(size, size, 3))
    image = Image.fromarray(np.clip(background + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    radius = rng.uniform(0.28, 0.4) * size  # large enough that most random crops still show it
    cx, cy = rng.uniform(radius, size - radius, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    fill = tuple(int(c) for c in np.clip(np.array(COLOURS[colour]) + rng.integers(-30, 31, size=3), 0, 255))
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
    elif shape == "ring":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=fill, width=max(2, int(radius / 3)))
    elif shape == "square":
        draw.polygon(polygon(cx, cy, radius, angle, 4), fill=fill)
    elif shape == "triangle":
        draw.polygon(polygon(cx, cy, radius, angle, 3), fill=fill)
    else:  # cross: two rotated bars
        for a in (angle, angle + math.pi / 2):
            dx, dy = math.cos(a) * radius, math.sin(a) * radius
            draw.line([cx - dx, cy - dy, cx + dx, cy + dy], fill=fill, width=max(3, int(radius / 2.5)))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))


def make_demo_data(out_dir, num_classes=10, train_per_class=100, val_per_class=20, size=80, seed=0,
                   test_per_class=None):
    """Writes train, val and test (as many as val unless given) in the list layout; test_list.txt last."""
    rng = np.random.default_rng(seed)
    classes = class_list(num_classes)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "label_list.txt"), "w") as f:
        f.writelines(f"{i} {colour} {shape}\n" for i, (shape, colour) in enumerate(classes))
    splits = [("train", train_per_class), ("val", val_per_class),
              ("test", val_per_class if test_per_class is None else test_per_class)]
    total = num_classes * sum(n for _, n in splits)
    done = iter(utils.progress(range(total), total, f"writing {out_dir}"))
    for split, per_class in splits:
        if not per_class:
            continue
        lines = []
        for label, (shape, colour) in enumerate(classes):
            synset = f"n{label:08d}"
            os.makedirs(os.path.join(out_dir, split, synset), exist_ok=True)
            for k in range(per_class):
                rel = f"{split}/{synset}/{synset}_{k:04d}.JPEG"
                draw_sample(shape, colour, size, rng).save(os.path.join(out_dir, rel), quality=90)
                lines.append(f"{rel} {label}\n")
                next(done, None)
        order = rng.permutation(len(lines))  # real list files are not sorted by class
        with open(os.path.join(out_dir, f"{split}_list.txt"), "w") as f:
            f.writelines(lines[i] for i in order)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="dataset root to write")
    parser.add_argument("--num_classes", type=int, default=10, help="classes (shape and colour pairs)")
    parser.add_argument("--train_per_class", type=int, default=100, help="training images per class")
    parser.add_argument("--val_per_class", type=int, default=20, help="val images per class")
    parser.add_argument("--test_per_class", type=int, default=20, help="test images per class (0: no test split)")
    parser.add_argument("--size", type=int, default=80, help="side of the square JPEGs")
    parser.add_argument("--seed", type=int, default=0, help="the whole set is a function of it")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.num_classes, args.train_per_class, args.val_per_class, args.size, args.seed,
                   args.test_per_class)
    print(f"demo data written to {args.out_dir}")


if __name__ == "__main__":
    main()
