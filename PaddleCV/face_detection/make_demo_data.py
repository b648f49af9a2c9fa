"""Write a small, learnable face set in exactly the WIDER FACE layout (see reader.py), with the
official evaluation's ground-truth .mat files.

    python make_demo_data.py --out_dir data/demo

Each picture (96-144 px on a side, not square) holds 0-5 face-like figures: a skin-coloured ellipse
with two eyes and a mouth, 10 to 56 px high (log-uniform), on a textured background with distractors
(plain ellipses and blobs without eyes or mouth). Some faces are blurred (blur 1 or 2) or partly
covered by a patch (occlusion 1: a fifth to two fifths, 2: over half); heavily occluded faces are
marked invalid (ignored in training and evaluation, as WIDER FACE's invalid faces). Attributes in
each box line: x y w h blur expression illumination invalid occlusion pose.

Written: WIDER_{train,val}/images/<event>/<event id>_<name>_<k>.jpg,
wider_face_split/wider_face_{train,val}_bbx_gt.txt, and ground_truth/wider_face_val.mat plus
wider_{easy,medium,hard}_val.mat in the official structure (event_list, file_list, face_bbx_list and,
in the three difficulty files, gt_list: the 1-based indices of the faces that count in that subset).
The demo's subsets: hard = every valid face; medium = valid faces at least 16 px high and not
occluded over half; easy = valid faces at least 32 px high, not occluded and not heavily blurred.
Deterministic for a seed.
"""
import argparse
import os

import numpy as np
import scipy.io
from PIL import Image, ImageDraw, ImageFilter

EVENTS = ["0--Parade", "1--Handshaking", "2--Demonstration", "3--Riot"]
SPLITS = {"train": 320, "val": 100}


def background(rng, w, h):
    base = rng.uniform(50, 210, size=3)
    yy, xx = np.mgrid[0:h, 0:w]
    if rng.random() < 0.5:
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 24)
        img = base + 30 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)[..., None]
    else:
        small = rng.uniform(0, 255, size=(h // 10 + 1, w // 10 + 1, 3)).astype(np.uint8)
        img = 0.6 * base + 0.4 * np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR), np.float32)
    img = img + rng.normal(0, 6, size=(h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def skin(rng):
    tone = rng.uniform(0.35, 1.0)
    return tuple(int(v) for v in (np.array([235, 190, 160]) * tone + rng.uniform(-12, 12, 3)).clip(0, 255))


def draw_face(draw, x, y, w, h, colour, rng):
    draw.ellipse([x, y, x + w, y + h], fill=colour)
    eye = max(1.0, 0.09 * w)
    dark = tuple(int(c * 0.2) for c in colour)
    for ex in (x + 0.3 * w, x + 0.7 * w):
        ey = y + 0.4 * h
        draw.ellipse([ex - eye, ey - eye * 0.8, ex + eye, ey + eye * 0.8], fill=dark)
    mouth = (110 + int(rng.integers(0, 60)), 30, 40)
    draw.line([x + 0.33 * w, y + 0.72 * h, x + 0.67 * w, y + 0.72 * h], fill=mouth, width=max(1, int(0.06 * h)))


def iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def make_picture(rng):
    """(image, faces): faces as [x, y, w, h, blur, expression, illumination, invalid, occlusion, pose]."""
    w, h = int(rng.integers(96, 145)), int(rng.integers(96, 145))
    image = background(rng, w, h)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 4))):  # distractors: plain ellipses and blobs, no eyes or mouth
        s = rng.uniform(10, 48)
        x, y = rng.uniform(0, w - s), rng.uniform(0, h - s)
        fill = skin(rng) if rng.random() < 0.5 else tuple(int(v) for v in rng.uniform(0, 255, 3))
        shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
        shape([x, y, x + s * rng.uniform(0.6, 1.2), y + s], fill=fill)
    faces = []
    count = 0 if rng.random() < 0.08 else int(rng.integers(1, 6))
    for _ in range(count * 4):
        if len(faces) == count:
            break
        fh = float(np.exp(rng.uniform(np.log(10), np.log(56))))
        fw = fh * rng.uniform(0.7, 0.85)
        if fw >= w - 2 or fh >= h - 2:
            continue
        x, y = rng.uniform(1, w - fw - 1), rng.uniform(1, h - fh - 1)
        box = [int(round(x)), int(round(y)), max(1, int(round(fw))), max(1, int(round(fh)))]
        if any(iou(box, f[:4]) > 0.1 for f in faces):
            continue
        colour = skin(rng)
        draw_face(draw, box[0], box[1], box[2], box[3], colour, rng)
        blur = int(rng.choice(3, p=[0.7, 0.2, 0.1]))
        occlusion = int(rng.choice(3, p=[0.75, 0.17, 0.08]))
        if blur:
            region = (box[0], box[1], box[0] + box[2] + 1, box[1] + box[3] + 1)
            patch = image.crop(region).filter(ImageFilter.GaussianBlur(box[3] * (0.06 if blur == 1 else 0.12)))
            image.paste(patch, region[:2])
            draw = ImageDraw.Draw(image)
        if occlusion:
            cover = rng.uniform(0.2, 0.4) if occlusion == 1 else rng.uniform(0.55, 0.75)
            top = box[1] + box[3] * (1 - cover) if rng.random() < 0.5 else box[1]
            draw.rectangle([box[0] - 1, top, box[0] + box[2] + 1, top + box[3] * cover],
                           fill=tuple(int(v) for v in rng.uniform(0, 255, 3)))
        invalid = int(occlusion == 2)
        faces.append(box + [blur, int(rng.integers(2)), int(rng.integers(2)), invalid, occlusion, int(rng.integers(2))])
    image = image.filter(ImageFilter.GaussianBlur(0.4))
    return image, faces


def subsets(faces):
    """The 1-based indices of the faces counted in the easy, medium and hard subsets (module docstring)."""
    easy, medium, hard = [], [], []
    for k, f in enumerate(faces, 1):
        if f[7]:
            continue
        hard.append(k)
        if f[3] >= 16 and f[8] < 2:
            medium.append(k)
        if f[3] >= 32 and f[8] == 0 and f[4] < 2:
            easy.append(k)
    return {"easy": easy, "medium": medium, "hard": hard}


def write_mats(gt_dir, entries):
    """The official ground-truth files from [(event, name without .jpg, faces)] in list order."""
    os.makedirs(gt_dir, exist_ok=True)
    events = sorted({e for e, _, _ in entries}, key=lambda e: int(e.split("--")[0]))
    event_list = np.empty((len(events), 1), dtype=object)
    file_list = np.empty((len(events), 1), dtype=object)
    face_bbx_list = np.empty((len(events), 1), dtype=object)
    gt_lists = {s: np.empty((len(events), 1), dtype=object) for s in ("easy", "medium", "hard")}
    for i, event in enumerate(events):
        mine = [(n, f) for e, n, f in entries if e == event]
        event_list[i, 0] = event
        files = np.empty((len(mine), 1), dtype=object)
        boxes = np.empty((len(mine), 1), dtype=object)
        keeps = {s: np.empty((len(mine), 1), dtype=object) for s in gt_lists}
        for j, (name, faces) in enumerate(mine):
            files[j, 0] = name
            boxes[j, 0] = np.array([f[:4] for f in faces], dtype=np.float64).reshape(-1, 4)
            for s, keep in subsets(faces).items():
                keeps[s][j, 0] = np.array(keep, dtype=np.float64).reshape(-1, 1)
        file_list[i, 0], face_bbx_list[i, 0] = files, boxes
        for s in gt_lists:
            gt_lists[s][i, 0] = keeps[s]
    common = {"event_list": event_list, "file_list": file_list, "face_bbx_list": face_bbx_list}
    scipy.io.savemat(os.path.join(gt_dir, "wider_face_val.mat"), common)
    for s, gt_list in gt_lists.items():
        scipy.io.savemat(os.path.join(gt_dir, f"wider_{s}_val.mat"), dict(common, gt_list=gt_list))


def make_demo_data(out_dir, splits=None, seed=0):
    """Write the set; returns out_dir. `splits`: {"train": n, "val": m}."""
    splits = splits or SPLITS
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, "wider_face_split"), exist_ok=True)
    for split, count in splits.items():
        lines, entries = [], []
        for i in range(count):
            event = EVENTS[i % len(EVENTS)]
            number, label = event.split("--")
            name = f"{number}_{label}_{label.lower()}_{i}"
            folder = os.path.join(out_dir, f"WIDER_{split}", "images", event)
            os.makedirs(folder, exist_ok=True)
            image, faces = make_picture(rng)
            image.save(os.path.join(folder, f"{name}.jpg"), quality=92)
            lines += [f"{event}/{name}.jpg", str(len(faces))]
            lines += [" ".join(str(v) for v in f) + " " for f in faces] or ["0 0 0 0 0 0 0 0 0 0 "]
            entries.append((event, name, faces))
        with open(os.path.join(out_dir, "wider_face_split", f"wider_face_{split}_bbx_gt.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if split == "val":
            write_mats(os.path.join(out_dir, "ground_truth"), entries)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="dataset root to write (default: data/demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply each split's picture count (default: 1.0; the smoke run uses less)")
    args = parser.parse_args()
    splits = {s: max(4, int(round(c * args.scale))) for s, c in SPLITS.items()}
    make_demo_data(args.out_dir, splits, args.seed)
    print(f"wrote {sum(splits.values())} pictures ({splits}) in the WIDER FACE layout to {args.out_dir}")


if __name__ == "__main__":
    main()
