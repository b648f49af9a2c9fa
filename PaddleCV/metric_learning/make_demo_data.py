"""Write a small, learnable retrieval set in the Stanford Online Products layout.

Each class is one "product": a shape (its super class) with its own two colours, texture (stripes,
dots, checks or a gradient, at its own angle and frequency) and aspect ratio. Each picture shows it
under a random pose (rotation), scale, position and lighting over a noisy background. Test classes
are other products than the training classes, as in SOP:

    data/demo/Ebay_train.txt      image_id class_id super_class_id path   (header line first)
    data/demo/Ebay_test.txt       classes train_classes+1 ... (disjoint from training)
    data/demo/star_final/000012_3.JPG

Deterministic for a given --seed, so every machine trains on the same pictures.
"""
import argparse
import math
import os

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ["circle", "square", "triangle", "hexagon", "star", "bar"]
TEXTURES = ["stripes", "dots", "checks", "gradient"]


def product(class_id, seed):
    """The fixed look of one class."""
    rng = np.random.default_rng((seed, class_id))
    return {"shape": int(rng.integers(len(SHAPES))), "texture": TEXTURES[rng.integers(len(TEXTURES))],
            "colours": rng.integers(0, 256, size=(2, 3)).astype(np.float32),
            "angle": rng.uniform(0, math.pi), "freq": rng.uniform(0.25, 0.7), "aspect": rng.uniform(0.6, 1.0)}


def outline(shape, side, aspect):
    """The shape's polygon (or ellipse box) on a side x side canvas."""
    c, r = side / 2, side * 0.46
    ry = r * aspect
    if shape == "circle":
        return ("ellipse", [c - r, c - ry, c + r, c + ry])
    corners = {"square": 4, "triangle": 3, "hexagon": 6, "star": 10, "bar": 4}[shape]
    points = []
    for k in range(corners):
        a = 2 * math.pi * k / corners + (math.pi / 4 if shape in ("square", "bar") else -math.pi / 2)
        radius = r * (0.45 if shape == "star" and k % 2 else 1.0)
        points.append((c + radius * math.cos(a), c + radius * math.sin(a) * (0.45 if shape == "bar" else aspect)))
    return ("polygon", points)


def render(look, size, rng):
    side = size
    v, u = np.mgrid[0:side, 0:side].astype(np.float32)
    t = u * math.cos(look["angle"]) + v * math.sin(look["angle"])
    s = -u * math.sin(look["angle"]) + v * math.cos(look["angle"])
    f = look["freq"]
    if look["texture"] == "stripes":
        mix = (np.sin(f * t) > 0).astype(np.float32)
    elif look["texture"] == "dots":
        mix = ((np.sin(f * t) * np.sin(f * s)) > 0.35).astype(np.float32)
    elif look["texture"] == "checks":
        mix = ((np.sin(f * t) * np.sin(f * s)) > 0).astype(np.float32)
    else:
        mix = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    first, second = look["colours"]
    texture = first * mix[..., None] + second * (1 - mix[..., None])
    obj = Image.fromarray(np.clip(texture, 0, 255).astype(np.uint8))
    mask = Image.new("L", (side, side), 0)
    kind, geometry = outline(SHAPES[look["shape"]], side, look["aspect"])
    getattr(ImageDraw.Draw(mask), kind)(geometry, fill=255)
    angle = rng.uniform(-45, 45)                                      # pose
    scale = rng.uniform(0.6, 0.95)                                    # scale
    obj, mask = obj.rotate(angle, Image.BILINEAR), mask.rotate(angle, Image.BILINEAR)
    new = max(8, int(side * scale))
    obj, mask = obj.resize((new, new), Image.BILINEAR), mask.resize((new, new), Image.BILINEAR)
    background = rng.integers(60, 200, size=3) + rng.normal(0, 14, size=(size, size, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    x, y = rng.integers(0, size - new + 1, size=2)                   # position
    image.paste(obj, (int(x), int(y)), mask)
    light = rng.uniform(0.7, 1.3) * (1 + rng.uniform(-0.1, 0.1, size=3))  # lighting and colour cast
    return Image.fromarray(np.clip(np.asarray(image, np.float32) * light, 0, 255).astype(np.uint8))


def make_demo_data(out_dir, train_classes=150, test_classes=150, per_class=8, size=64, seed=0):
    """Writes the set and returns out_dir."""
    image_id = 0
    for name, first, count in (("Ebay_train.txt", 1, train_classes), ("Ebay_test.txt", train_classes + 1, test_classes)):
        lines = ["image_id class_id super_class_id path"]
        for class_id in range(first, first + count):
            look = product(class_id, seed)
            rng = np.random.default_rng((seed, class_id, 1))
            folder = f"{SHAPES[look['shape']]}_final"
            os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
            for i in range(per_class):
                image_id += 1
                path = f"{folder}/{class_id:06d}_{i}.JPG"
                render(look, size, rng).save(os.path.join(out_dir, path), quality=92)
                lines.append(f"{image_id} {class_id} {look['shape'] + 1} {path}")
        tmp = os.path.join(out_dir, name + ".tmp")
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, os.path.join(out_dir, name))  # the test list last: train.sh checks for it
    return out_dir


def main(argv=None):
    # not utils.HelpFormatter: importing utils loads Paddle (1.5 s of CPU per smoke run), which this script does not use
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=type(
        "HelpFormatter", (argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter), {}))
    parser.add_argument("--out_dir", default="data/demo", help="where to write the set")
    parser.add_argument("--train_classes", type=int, default=150, help="training products (classes)")
    parser.add_argument("--test_classes", type=int, default=150, help="test products, disjoint from training")
    parser.add_argument("--per_class", type=int, default=8, help="pictures per product")
    parser.add_argument("--size", type=int, default=64, help="picture side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    make_demo_data(args.out_dir, args.train_classes, args.test_classes, args.per_class, args.size, args.seed)
    print(f"wrote {args.train_classes} + {args.test_classes} products x {args.per_class} pictures to {args.out_dir}")


if __name__ == "__main__":
    main()
