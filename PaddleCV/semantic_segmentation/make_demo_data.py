"""Writes a small, deterministic street-scene dataset in exactly the Cityscapes on-disk layout, so the
folder trains, evaluates and infers offline:

    data/demo/leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png      (RGB)
    data/demo/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png  (8-bit train ids)
    data/demo/train.list, data/demo/val.list     lines: `image_path label_path`, relative to data/demo

Each scene has sky, buildings with windows, vegetation, terrain, sidewalks, a road with lane marks,
poles with traffic signs, cars and persons, each class with its own colour range and texture, plus
ignore pixels (label 255): the ego-vehicle bonnet at the bottom and a thin rectification border, as in
the real labels. Layouts, sizes and colours vary per image, so the classes must be told apart by
colour, texture and position together.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw

import utils

# Cityscapes train ids of the classes drawn here.
ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR = 0, 1, 2, 5, 7, 8, 9, 10, 11, 13
IGNORE = 255
CITIES = {"train": ["aachen", "bremen", "zurich"], "val": ["frankfurt"]}


def jitter(rng, rgb, amount=18):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def draw_scene(rng, height, width):
    """Returns (RGB uint8 image, uint8 label) of one scene."""
    img = Image.new("RGB", (width, height))
    lab = Image.new("L", (width, height))
    di, dl = ImageDraw.Draw(img), ImageDraw.Draw(lab)

    def fill(shape, xy, color, cls, **kw):
        getattr(di, shape)(xy, fill=color, **kw)
        getattr(dl, shape)(xy, fill=cls, **kw)

    horizon = int(height * rng.uniform(0.38, 0.52))
    fill("rectangle", [0, 0, width, horizon], jitter(rng, (110, 160, 225)), SKY)
    # Ground: terrain strips at the sides, sidewalks, and the road converging to a vanishing point.
    fill("rectangle", [0, horizon, width, height], jitter(rng, (120, 150, 70)), TERRAIN)
    vx = int(width * rng.uniform(0.4, 0.6))
    left, right = int(width * rng.uniform(-0.1, 0.15)), int(width * rng.uniform(0.85, 1.1))
    walk = int(width * rng.uniform(0.12, 0.2))
    fill("polygon", [(vx - 20, horizon), (vx + 20, horizon), (right + walk, height), (left - walk, height)],
         jitter(rng, (185, 170, 175)), SIDEWALK)
    fill("polygon", [(vx - 8, horizon), (vx + 8, horizon), (right, height), (left, height)],
         jitter(rng, (85, 85, 90)), ROAD)
    for t in np.linspace(0.1, 0.9, 5):  # dashed lane marks belong to the road class
        y0, y1 = horizon + (height - horizon) * t, horizon + (height - horizon) * (t + 0.06)
        cx0 = vx + ((left + right) / 2 - vx) * t
        cx1 = vx + ((left + right) / 2 - vx) * (t + 0.06)
        w0, w1 = 1 + 4 * t, 1 + 4 * (t + 0.06)
        fill("polygon", [(cx0 - w0, y0), (cx0 + w0, y0), (cx1 + w1, y1), (cx1 - w1, y1)], (230, 230, 230), ROAD)
    # Buildings along the horizon, with a grid of darker windows (still the building class).
    x = -int(rng.integers(0, 40))
    while x < width:
        bw, bh = int(rng.integers(50, 130)), int(rng.integers(horizon // 3, horizon))
        color = jitter(rng, (150, 110, 90) if rng.random() < 0.5 else (140, 140, 135), 25)
        fill("rectangle", [x, horizon - bh, x + bw, horizon + 3], color, BUILDING)
        win = tuple(max(0, c - 60) for c in color)
        for wy in range(horizon - bh + 8, horizon - 10, 16):
            for wx in range(x + 6, x + bw - 10, 14):
                di.rectangle([wx, wy, wx + 6, wy + 8], fill=win)
        x += bw + int(rng.integers(0, 25))
    # Trees: textured green blobs in front of the buildings.
    for _ in range(int(rng.integers(2, 6))):
        cx, r = int(rng.integers(0, width)), int(rng.integers(18, 45))
        cy = horizon - int(rng.integers(0, r))
        fill("ellipse", [cx - r, cy - r, cx + r, cy + r], jitter(rng, (50, 110, 45)), VEGETATION)
        for _ in range(12):
            dx, dy = rng.integers(-r // 2, r // 2 + 1, size=2)
            di.ellipse([cx + dx - 4, cy + dy - 4, cx + dx + 4, cy + dy + 4], fill=jitter(rng, (30, 80, 30)))
    # Poles with a traffic sign on top, on the sidewalks.
    for _ in range(int(rng.integers(1, 4))):
        px = int(rng.choice([rng.integers(0, max(1, left + 10)), rng.integers(min(width - 1, right - 10), width)]))
        top, bottom = horizon - int(rng.integers(20, 60)), min(height - 1, horizon + int(rng.integers(30, 90)))
        fill("rectangle", [px, top, px + 3, bottom], jitter(rng, (100, 100, 100), 10), POLE)
        s = int(rng.integers(7, 13))
        fill("rectangle", [px - s // 2, top - s, px + s // 2 + 3, top], jitter(rng, (230, 200, 30), 15), SIGN)
    # Cars on the road: a body, a darker cabin with windows, two wheels; bigger when nearer.
    for _ in range(int(rng.integers(1, 4))):
        t = rng.uniform(0.15, 0.85)
        y = int(horizon + (height - horizon) * t)
        scale = 0.3 + 1.2 * t
        cw, ch = int(70 * scale), int(30 * scale)
        cx = int(vx + ((left + right) / 2 - vx) * t + rng.uniform(-0.6, 0.6) * (right - left) * t / 2)
        body = jitter(rng, [(180, 30, 30), (30, 60, 160), (220, 220, 225), (40, 40, 45)][rng.integers(4)], 15)
        fill("rectangle", [cx - cw // 2, y - ch, cx + cw // 2, y], body, CAR)
        fill("rectangle", [cx - cw // 3, y - ch - ch // 2, cx + cw // 3, y - ch], body, CAR)
        di.rectangle([cx - cw // 4, y - ch - ch // 2 + 2, cx + cw // 4, y - ch - 1], fill=(60, 80, 100))
        for wx in (cx - cw // 3, cx + cw // 3):
            r = max(2, ch // 4)
            fill("ellipse", [wx - r, y - r, wx + r, y + r], (20, 20, 20), CAR)
    # Persons on the sidewalks: legs, torso and head.
    for _ in range(int(rng.integers(1, 5))):
        t = rng.uniform(0.2, 0.9)
        y = int(horizon + (height - horizon) * t)
        h = int(20 + 50 * t)
        side = rng.random() < 0.5
        edge = (vx + (left - vx) * t) if side else (vx + (right - vx) * t)
        px = int(edge + (-1 if side else 1) * rng.uniform(0.1, 0.9) * walk * t)
        w = max(3, h // 5)
        shirt = jitter(rng, [(200, 60, 60), (60, 160, 80), (240, 200, 60), (80, 80, 200)][rng.integers(4)], 20)
        fill("rectangle", [px - w // 2, y - h // 2, px + w // 2, y], jitter(rng, (40, 40, 70)), PERSON)
        fill("rectangle", [px - w // 2 - 1, y - h + h // 5, px + w // 2 + 1, y - h // 2], shirt, PERSON)
        fill("ellipse", [px - w // 3 - 1, y - h, px + w // 3 + 1, y - h + h // 5], jitter(rng, (220, 180, 150)), PERSON)
    # Ignore pixels: the ego vehicle's bonnet and a thin rectification border, as in the real labels.
    bonnet = int(height * rng.uniform(0.05, 0.1))
    fill("ellipse", [-width // 4, height - bonnet, width + width // 4, height + bonnet], jitter(rng, (30, 30, 35), 8), IGNORE)
    border = int(rng.integers(1, 4))
    dl.rectangle([0, 0, width - 1, height - 1], outline=IGNORE, width=border)

    image = np.asarray(img, dtype=np.float32)
    image += rng.normal(0, 6, size=image.shape)  # sensor noise, so colours alone are not exact
    return np.clip(image, 0, 255).astype(np.uint8), np.asarray(lab, dtype=np.uint8)


def write_split(root, split, count, height, width, seed):
    lines = []
    for i in utils.progress(range(count), count, f"demo {split} scenes"):
        rng = np.random.default_rng((seed, 0 if split == "train" else 1, i))
        city = CITIES[split][i % len(CITIES[split])]
        stem = f"{city}_{i // 10:06d}_{(i % 10) * 19:06d}"
        img_rel = f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"
        lab_rel = f"gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png"
        image, label = draw_scene(rng, height, width)
        for rel, array in ((img_rel, image), (lab_rel, label)):
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            Image.fromarray(array).save(os.path.join(root, rel), compress_level=1)
        lines.append(f"{img_rel} {lab_rel}\n")
    with open(os.path.join(root, f"{split}.list"), "w") as f:
        f.writelines(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out_dir", default="data/demo")
    parser.add_argument("--num_train", type=int, default=120)
    parser.add_argument("--num_val", type=int, default=30)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_split(args.out_dir, "train", args.num_train, args.height, args.width, args.seed)
    write_split(args.out_dir, "val", args.num_val, args.height, args.width, args.seed)
    print(f"demo data: {args.num_train} train + {args.num_val} val scenes of {args.width}x{args.height} "
          f"in {args.out_dir}")


if __name__ == "__main__":
    main()
