"""Write a small, learnable tracking set in the real layouts (deterministic for a seed):

    OUT_DIR/got10k/train/list.txt, train/<seq>/00000001.jpg ... + groundtruth.txt (x,y,w,h)   training
    OUT_DIR/got10k/val/...                                                                     dev split
    OUT_DIR/vot2018/list.txt, <seq>/color/00000001.jpg ... + groundtruth.txt                   test split

Each sequence: a noisy background, a textured target (stripes or checks in one colour) that moves,
bounces, grows and shrinks, passes behind grey occluding bars, among distractors of the same colour
family (plain or with another texture) that move too. Half of the VOT sequences write 8-value
polygons and keep their frames under color/, the other half 4-value boxes and frames in the folder.

    python make_demo_data.py --out_dir data/demo
    python make_demo_data.py --vid --out_dir data/demo_vid --num_train 4 --num_val 1 --max_length 12
                                        a small copy in ImageNet-VID's layout (Data/, Annotations/, ImageSets/)
"""
import argparse
import os

import numpy as np
from PIL import Image


def texture(rng, h, w, color, kind):
    ys, xs = np.mgrid[0:h, 0:w]
    period = rng.integers(4, 7)
    if kind == 0:
        pattern = ((xs // period) % 2).astype(np.float32)
    elif kind == 1:
        pattern = (((xs // period) + (ys // period)) % 2).astype(np.float32)
    else:
        pattern = np.zeros((h, w), np.float32)
    shade = 0.55 + 0.45 * pattern
    return (np.asarray(color, np.float32)[None, None] * shade[..., None]).clip(0, 255)


def paste(frame, patch, x, y):
    h, w = patch.shape[:2]
    H, W = frame.shape[:2]
    x0, y0 = int(round(x)), int(round(y))
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if fx1 > fx0 and fy1 > fy0:
        frame[fy0:fy1, fx0:fx1] = patch[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]


class Mover:
    def __init__(self, rng, size, base, speed):
        self.rng, self.size, self.base = rng, size, np.array(base, np.float64)
        self.pos = rng.uniform(0.15, 0.65, 2) * size
        angle = rng.uniform(0, 2 * np.pi)
        self.vel = speed * np.array([np.cos(angle), np.sin(angle)])
        self.phase, self.freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.12)

    def step(self, t):
        scale = 1.0 + 0.3 * np.sin(self.phase + self.freq * t)
        wh = self.base * scale
        self.pos += self.vel + self.rng.normal(0, 0.4, 2)
        for k in range(2):  # bounce off the borders
            if self.pos[k] < 0 or self.pos[k] + wh[k] > self.size:
                self.vel[k] = -self.vel[k]
                self.pos[k] = np.clip(self.pos[k], 0, self.size - wh[k])
        return np.array([*self.pos, *wh])


def make_sequence(rng, length, size):
    """([frames uint8], boxes (N, 4), polygons (N, 8))."""
    hue = rng.uniform(60, 230, 3)
    target = Mover(rng, size, rng.uniform(14, 24, 2), rng.uniform(1.0, 2.5))
    kind = int(rng.integers(2))
    distractors = [(Mover(rng, size, rng.uniform(12, 22, 2), rng.uniform(0.8, 2.0)),
                    np.clip(hue + rng.normal(0, 20, 3), 0, 255), int(rng.choice([2, 1 - kind])))
                   for _ in range(2)]
    bars = [(rng.uniform(0.1, 0.9) * size, rng.uniform(6, 10)) for _ in range(int(rng.integers(1, 3)))]
    low = rng.uniform(40, 160, (4, 4, 3))
    background = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((size, size), Image.BILINEAR), np.float32)
    frames, boxes = [], []
    for t in range(length):
        frame = background + rng.normal(0, 8, background.shape)
        for mover, color, k in distractors:
            b = mover.step(t)
            paste(frame, texture(rng, int(b[3]), int(b[2]), color, k), b[0], b[1])
        box = target.step(t)
        paste(frame, texture(rng, int(round(box[3])), int(round(box[2])), hue, kind), box[0], box[1])
        box[2:] = np.round(box[2:])
        box[:2] = np.round(box[:2])
        for x, w in bars:  # occluders in front of everything
            frame[:, int(x):int(x + w)] = 128
        frames.append(frame.clip(0, 255).astype(np.uint8))
        boxes.append(box)
    boxes = np.array(boxes)
    x, y, w, h = boxes.T
    polygons = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], 1)
    return frames, boxes, polygons


def write_sequence(seq_dir, frames, lines, color_dir):
    folder = os.path.join(seq_dir, "color") if color_dir else seq_dir
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        Image.fromarray(frame).save(os.path.join(folder, f"{i:08d}.jpg"), quality=90)
    with open(os.path.join(seq_dir, "groundtruth.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def fmt(values):
    return ",".join(f"{v:.2f}" for v in values)


def make_demo_data(out_dir, num_train=24, num_val=4, num_test=6, length=(30, 50), size=128, seed=0):
    rng = np.random.default_rng(seed)
    splits = [("got10k/train", num_train), ("got10k/val", num_val), ("vot2018", num_test)]
    for split, count in splits:
        names = []
        for i in range(count):
            name = f"{'GOT-10k_' + split.split('/')[1].capitalize() if split.startswith('got') else 'demo'}_{i + 1:06d}"
            frames, boxes, polygons = make_sequence(rng, int(rng.integers(length[0], length[1] + 1)), size)
            polygon_file = split == "vot2018" and i % 2 == 0
            lines = [fmt(p) for p in polygons] if polygon_file else [fmt(b) for b in boxes]
            write_sequence(os.path.join(out_dir, split, name), frames, lines, color_dir=split == "vot2018" and i % 2 == 0)
            names.append(name)
        with open(os.path.join(out_dir, split, "list.txt"), "w") as f:
            f.write("\n".join(names) + "\n")
    return out_dir


VID_XML = """<annotation>
  <folder>{folder}</folder>
  <filename>{stem}</filename>
  <size><width>{size}</width><height>{size}</height></size>
{objects}</annotation>
"""
VID_OBJECT = """  <object>
    <trackid>{track}</trackid>
    <name>n00000000</name>
    <bndbox><xmax>{x2}</xmax><xmin>{x1}</xmin><ymax>{y2}</ymax><ymin>{y1}</ymin></bndbox>
    <occluded>0</occluded>
    <generated>0</generated>
  </object>
"""


def make_vid_demo(out_dir, num_train=4, num_val=1, length=(12, 12), size=128, seed=0):
    """A small copy in ImageNet-VID's layout: Data/VID/<split>/<snippet>/000000.JPEG ...,
    Annotations/VID/<split>/<snippet>/000000.xml (the target as trackid 0, xmin/ymin/xmax/ymax;
    in every other snippet a second track, the target's box shifted, that leaves after the first
    half), ImageSets/VID/train_1.txt and train_2.txt (`<snippet> 1|-1`, one per class, their union
    every snippet) and val.txt (`<snippet>/<frame> <index>`)."""
    rng = np.random.default_rng(seed)
    sets = os.path.join(out_dir, "ImageSets", "VID")
    os.makedirs(sets, exist_ok=True)
    lists = {"train_1.txt": [], "train_2.txt": [], "val.txt": []}
    index = 0
    for split, count in (("train", num_train), ("val", num_val)):
        for i in range(count):
            folder = f"ILSVRC2015_VID_{split}_0000/ILSVRC2015_{split}_{i:08d}"
            frames, boxes, _ = make_sequence(rng, int(rng.integers(length[0], length[1] + 1)), size)
            for d in ("Data", "Annotations"):
                os.makedirs(os.path.join(out_dir, d, "VID", split, folder), exist_ok=True)
            for t, (frame, box) in enumerate(zip(frames, boxes)):
                stem = f"{t:06d}"
                Image.fromarray(frame).save(os.path.join(out_dir, "Data", "VID", split, folder, stem + ".JPEG"), quality=90)
                tracks = [(0, box)] + ([(1, box + [4, 4, 0, 0])] if i % 2 and t < len(frames) // 2 else [])
                objects = "".join(VID_OBJECT.format(track=k, x1=int(b[0]), y1=int(b[1]), x2=int(b[0] + b[2]),
                                                    y2=int(b[1] + b[3])) for k, b in tracks)
                with open(os.path.join(out_dir, "Annotations", "VID", split, folder, stem + ".xml"), "w") as f:
                    f.write(VID_XML.format(folder=folder, stem=stem, size=size, objects=objects))
                if split == "val":
                    index += 1
                    lists["val.txt"].append(f"{folder}/{stem} {index}")
            if split == "train":
                lists["train_1.txt" if i % 2 == 0 else "train_2.txt"].append(f"{folder} 1")
                lists["train_2.txt" if i % 2 == 0 else "train_1.txt"].append(f"{folder} -1")
    for name, lines in lists.items():
        with open(os.path.join(sets, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write got10k/ and vot2018/ (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=24, help="training sequences (default: %(default)s)")
    parser.add_argument("--num_val", type=int, default=4, help="dev sequences (default: %(default)s)")
    parser.add_argument("--num_test", type=int, default=6, help="VOT-layout test sequences (default: %(default)s)")
    parser.add_argument("--max_length", type=int, default=50, help="longest sequence (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--vid", action="store_true",
                        help="write a small ImageNet-VID-layout copy (num_train + num_val snippets) to OUT_DIR instead")
    args = parser.parse_args()
    if args.vid:
        make_vid_demo(args.out_dir, args.num_train, args.num_val, (min(12, args.max_length), args.max_length),
                      seed=args.seed)
        print(f"wrote {args.num_train} training and {args.num_val} dev snippets in ImageNet-VID's layout to {args.out_dir}")
        return
    make_demo_data(args.out_dir, args.num_train, args.num_val, args.num_test,
                   (min(30, args.max_length), args.max_length), seed=args.seed)
    print(f"wrote {args.num_train} training, {args.num_val} dev and {args.num_test} test sequences to {args.out_dir}")


if __name__ == "__main__":
    main()
