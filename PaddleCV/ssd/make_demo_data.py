"""Write a small, learnable detection set in exactly the PASCAL VOC layout (see reader.py).

    python make_demo_data.py --out_dir data/demo

Six shape classes (circle, square, triangle, diamond, cross, ring), each in a colour family whose hue,
saturation and brightness vary, of varied size (a fifth to three fifths of the picture's short side),
0-4 per picture, overlapping and partly hiding each other, on textured backgrounds (stripes, checks,
noise); about one picture in ten has no object. Pictures are 112-192 px on a side, not square.
An object more than half hidden by later ones is marked `difficult` (left out of the metric, as
VOC does). Splits: VOC2007 train/val (trainval = both) and test, VOC2012 trainval, each list
written as VOC writes them; label_list.txt names the six classes. Deterministic for a seed.
"""
import argparse
import colorsys
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["circle", "square", "triangle", "diamond", "cross", "ring"]
HUES = [0.0, 0.58, 0.33, 0.13, 0.83, 0.07]  # a colour family per class (red, blue, green, yellow, magenta, orange)
SPLITS = {"VOC2007": {"train": 240, "val": 60, "test": 120}, "VOC2012": {"trainval": 160}}


def background(rng, w, h):
    kind = rng.integers(3)
    base = rng.uniform(60, 200, size=3)
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == 0:  # stripes at a random angle
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)[..., None]
        img = base + 35 * wave * rng.uniform(0.3, 1.0, size=3)
    elif kind == 1:  # checks
        cell = rng.integers(6, 18)
        check = (((xx // cell) + (yy // cell)) % 2)[..., None] * 2 - 1
        img = base + 30 * check * rng.uniform(0.3, 1.0, size=3)
    else:  # blotchy noise
        small = rng.uniform(-50, 50, size=(h // 8 + 1, w // 8 + 1, 3))
        img = base + np.asarray(Image.fromarray(((small + 50) * 2.55).astype(np.uint8)).resize((w, h), Image.BILINEAR),
                                dtype=np.float32) / 2.55 - 50
    img = img + rng.normal(0, 8, size=(h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def shape_polygon(kind, cx, cy, r, rotation):
    if kind == "square":
        angles = rotation + np.pi / 4 + np.arange(4) * np.pi / 2
        return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]
    if kind == "triangle":
        angles = rotation - np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]
    if kind == "diamond":
        return [(cx, cy - r), (cx + 0.6 * r, cy), (cx, cy + r), (cx - 0.6 * r, cy)]
    if kind == "cross":
        t = r * 0.35
        return [(cx - t, cy - r), (cx + t, cy - r), (cx + t, cy - t), (cx + r, cy - t), (cx + r, cy + t),
                (cx + t, cy + t), (cx + t, cy + r), (cx - t, cy + r), (cx - t, cy + t), (cx - r, cy + t),
                (cx - r, cy - t), (cx - t, cy - t)]
    return None  # circle, ring: ellipses


def draw_object(draw, mask_draw, kind, cx, cy, r, rotation, colour):
    poly = shape_polygon(kind, cx, cy, r, rotation)
    if poly is None:
        box = [cx - r, cy - r, cx + r, cy + r]
        if kind == "ring":
            width = max(2, int(r * 0.35))
            draw.ellipse(box, outline=colour, width=width)
            mask_draw.ellipse(box, outline=255, width=width)
        else:
            draw.ellipse(box, fill=colour)
            mask_draw.ellipse(box, fill=255)
        return box
    draw.polygon(poly, fill=colour)
    mask_draw.polygon(poly, fill=255)
    xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    return [min(xs), min(ys), max(xs), max(ys)]


def make_picture(rng):
    w, h = int(rng.integers(112, 193)), int(rng.integers(112, 193))
    image = background(rng, w, h)
    draw = ImageDraw.Draw(image)
    count = 0 if rng.random() < 0.1 else int(rng.integers(1, 5))
    objects, masks = [], []
    for _ in range(count):
        label = int(rng.integers(len(CLASSES)))
        r = rng.uniform(0.1, 0.3) * min(w, h)
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        hue = (HUES[label] + rng.uniform(-0.05, 0.05)) % 1.0
        colour = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, rng.uniform(0.55, 1.0), rng.uniform(0.5, 1.0)))
        mask = Image.new("L", (w, h), 0)
        box = draw_object(draw, ImageDraw.Draw(mask), CLASSES[label], cx, cy, r, rng.uniform(0, 2 * np.pi), colour)
        occluder = np.asarray(mask) > 0
        masks = [m & ~occluder for m in masks] + [occluder]
        objects.append((label, box, occluder.sum()))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    annotated = []
    for (label, box, full), visible in zip(objects, masks):
        x1, y1 = max(1, int(np.floor(box[0])) + 1), max(1, int(np.floor(box[1])) + 1)  # VOC: 1-based pixels
        x2, y2 = min(w, int(np.ceil(box[2])) + 1), min(h, int(np.ceil(box[3])) + 1)
        annotated.append((CLASSES[label], (x1, y1, x2, y2), int(visible.sum() < 0.5 * max(full, 1))))
    return image, annotated


def voc_xml(filename, folder, w, h, objects):
    lines = ["<annotation>", f"\t<folder>{folder}</folder>", f"\t<filename>{filename}</filename>",
             "\t<size>", f"\t\t<width>{w}</width>", f"\t\t<height>{h}</height>", "\t\t<depth>3</depth>", "\t</size>",
             "\t<segmented>0</segmented>"]
    for name, (x1, y1, x2, y2), difficult in objects:
        lines += ["\t<object>", f"\t\t<name>{name}</name>", "\t\t<pose>Unspecified</pose>", "\t\t<truncated>0</truncated>",
                  f"\t\t<difficult>{difficult}</difficult>", "\t\t<bndbox>", f"\t\t\t<xmin>{x1}</xmin>",
                  f"\t\t\t<ymin>{y1}</ymin>", f"\t\t\t<xmax>{x2}</xmax>", f"\t\t\t<ymax>{y2}</ymax>", "\t\t</bndbox>",
                  "\t</object>"]
    return "\n".join(lines + ["</annotation>"]) + "\n"


def make_demo_data(out_dir, splits=None, seed=0):
    """Write the set; returns out_dir. `splits`: {year: {list name: image count}}."""
    splits = splits or SPLITS
    rng = np.random.default_rng(seed)
    with open(os.path.join(_mkdir(out_dir), "label_list.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    for year, lists in splits.items():
        root = os.path.join(out_dir, "VOCdevkit", year)
        for sub in ("Annotations", "JPEGImages", os.path.join("ImageSets", "Main")):
            _mkdir(os.path.join(root, sub))
        ids = {}
        for name, count in lists.items():
            ids[name] = []
            for i in range(count):
                image_id = f"{year[3:]}_{name}_{i:05d}" if year != "VOC2007" else f"{len(sum(ids.values(), [])):06d}"
                image, objects = make_picture(rng)
                image.save(os.path.join(root, "JPEGImages", f"{image_id}.jpg"), quality=90)
                with open(os.path.join(root, "Annotations", f"{image_id}.xml"), "w") as f:
                    f.write(voc_xml(f"{image_id}.jpg", year, image.width, image.height, objects))
                ids[name].append(image_id)
        if "train" in ids and "val" in ids:
            ids["trainval"] = sorted(ids["train"] + ids["val"])
        for name, members in ids.items():
            with open(os.path.join(root, "ImageSets", "Main", f"{name}.txt"), "w") as f:
                f.write("\n".join(members) + "\n")
    return out_dir


def _mkdir(path):
    os.makedirs(path, exist_ok=True)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="dataset root to write (default: data/demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every split's picture count (default: 1.0; the smoke run uses less)")
    args = parser.parse_args()
    splits = {y: {n: max(2, int(round(c * args.scale))) for n, c in lists.items()} for y, lists in SPLITS.items()}
    make_demo_data(args.out_dir, splits, args.seed)
    total = sum(sum(lists.values()) for lists in splits.values())
    print(f"wrote {total} pictures of {len(CLASSES)} classes to {args.out_dir}/VOCdevkit (VOC2007, VOC2012)")


if __name__ == "__main__":
    main()
