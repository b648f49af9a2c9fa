"""Write a small, learnable keypoint set in the MS-COCO keypoints layout.

Each picture is a textured background (a base colour, stripes at a random angle, pixel noise) with 1-3
stick figures facing the viewer: a head disc with eyes and nose, a torso, and limbs drawn as lines of a
random thickness, the figure's left limbs in one random colour and its right limbs in another. Poses
vary: arms and legs at random angles, the whole figure tilted by up to 25 degrees, of random size.
The 17 COCO keypoints are annotated with COCO's visibility flags: 2 for a visible joint, 1 for a joint
hidden under a drawn patch of texture (about 8%), 0 with (0, 0) for one outside the picture. Boxes are
the figure's extent. Pictures are 128-192 px (not square), saved as JPEG:

    data/demo/annotations/person_keypoints_train2017.json   (and _val2017, _test2017)
    data/demo/train2017/000000000001.jpg                    (val2017/, test2017/)

val selects the best checkpoint; test is read once, by eval.py. Deterministic for a given --seed.
`--layout mpii` writes the same figures in the release's MPII layout instead (annot/train.json,
annot/valid.json, annot/gt_valid.mat, images/; 16 MPII joints, the head box from the drawn head).
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw

import utils

NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
         "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
         "right_knee", "left_ankle", "right_ankle"]
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
            [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]  # COCO's, 1-based
SIZES = (128, 160, 192)


def background(w, h, rng):
    base = rng.integers(60, 200, size=3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    angle, period = rng.uniform(0, math.pi), rng.uniform(5, 20)
    stripes = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    image = base + stripes[..., None] * rng.uniform(8, 30) * rng.uniform(0.5, 1, size=3) + rng.normal(0, 10, (h, w, 3))
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def pose(rng, height):
    """17 joints (x, y) of a figure `height` px tall, hips at the origin, facing the viewer (its left
    on the picture's right), and its head radius."""
    u = height
    j = np.zeros((17, 2))
    neck = np.array([0.0, -0.32 * u])
    head = neck + [rng.uniform(-0.02, 0.02) * u, -0.1 * u]
    j[0] = head + [0, 0.015 * u]
    j[1], j[2] = head + [0.035 * u, -0.02 * u], head + [-0.035 * u, -0.02 * u]
    j[3], j[4] = head + [0.065 * u, 0], head + [-0.065 * u, 0]
    j[5], j[6] = neck + [0.12 * u, 0.02 * u], neck + [-0.12 * u, 0.02 * u]
    j[11], j[12] = [0.08 * u, 0.0], [-0.08 * u, 0.0]
    for side, sign in ((0, 1.0), (1, -1.0)):  # left (x > 0), right (x < 0)
        up = math.radians(rng.uniform(-20, 160))  # from hanging down, outwards
        fore = up + math.radians(rng.uniform(-30, 120))
        shoulder = j[5 + side]
        elbow = shoulder + 0.17 * u * np.array([sign * math.sin(up), math.cos(up)])
        j[7 + side], j[9 + side] = elbow, elbow + 0.15 * u * np.array([sign * math.sin(fore), math.cos(fore)])
        thigh = math.radians(rng.uniform(-15, 45))
        shin = thigh + math.radians(rng.uniform(-50, 10))
        knee = j[11 + side] + 0.25 * u * np.array([sign * math.sin(thigh), math.cos(thigh)])
        j[13 + side], j[15 + side] = knee, knee + 0.24 * u * np.array([sign * math.sin(shin), math.cos(shin)])
    return j, 0.085 * u


def colour(rng):
    return tuple(int(c) for c in rng.integers(0, 256, size=3))


def draw_figure(image, rng, w, h):
    """Draw one figure at a random place; returns its 17 joints in picture pixels and its box."""
    height = rng.uniform(0.45, 0.95) * h
    joints, head_r = pose(rng, height)
    tilt = math.radians(rng.uniform(-25, 25))
    rot = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    joints = joints @ rot.T + [rng.uniform(0.15, 0.85) * w, rng.uniform(0.35, 0.75) * h + 0.1 * height]
    head = (joints[3] + joints[4]) / 2
    draw = ImageDraw.Draw(image)
    thick = int(rng.integers(2, 6))
    left, right, body = colour(rng), colour(rng), colour(rng)
    limbs = [(5, 7, left), (7, 9, left), (11, 13, left), (13, 15, left), (6, 8, right), (8, 10, right),
             (12, 14, right), (14, 16, right), (5, 6, body), (11, 12, body), (5, 11, body), (6, 12, body)]
    neck = (joints[5] + joints[6]) / 2
    draw.line([tuple(neck), tuple(head)], fill=body, width=thick)
    for a, b, c in limbs:
        draw.line([tuple(joints[a]), tuple(joints[b])], fill=c, width=thick)
    for k in (9, 10, 15, 16):  # hands and feet
        r = thick * 0.9
        draw.ellipse([joints[k][0] - r, joints[k][1] - r, joints[k][0] + r, joints[k][1] + r],
                     fill=left if k % 2 else right)
    draw.ellipse([head[0] - head_r, head[1] - head_r, head[0] + head_r, head[1] + head_r], fill=body)
    for k, c in ((1, left), (2, right), (0, (20, 20, 20))):
        r = max(1.5, head_r * 0.18)
        draw.ellipse([joints[k][0] - r, joints[k][1] - r, joints[k][0] + r, joints[k][1] + r], fill=c)
    pts = np.concatenate([joints, head[None] - head_r, head[None] + head_r])
    x1, y1 = np.maximum(pts.min(0) - thick, 0)
    x2, y2 = np.minimum(pts.max(0) + thick, [w, h])
    top = head + (head - neck) / max(np.linalg.norm(head - neck), 1e-6) * head_r
    mpii_joints = np.stack([joints[16], joints[14], joints[12], joints[11], joints[13], joints[15],
                            (joints[11] + joints[12]) / 2, (joints[5] + joints[6]) / 2, neck, top, joints[10],
                            joints[8], joints[6], joints[5], joints[7], joints[9]])
    return joints, [x1, y1, x2, y2], (mpii_joints, [head - head_r, head + head_r])


def make_split(out_dir, split, count, rng, first_id):
    folder = os.path.join(out_dir, f"{split}2017")
    os.makedirs(folder, exist_ok=True)
    images, annotations = [], []
    for k in range(count):
        image_id = first_id + k
        w, h = (int(v) for v in rng.choice(SIZES, size=2))
        image = background(w, h, rng)
        people = [draw_figure(image, rng, w, h) for _ in range(int(rng.choice([1, 1, 2, 2, 3])))]
        draw = ImageDraw.Draw(image)
        for joints, box, _ in people:
            visibility = np.full(17, 2)
            for j in np.where(rng.random(17) < 0.08)[0]:  # hidden under a patch: labelled, not visible
                r = rng.uniform(4, 8)
                x, y = joints[j]
                draw.rectangle([x - r, y - r, x + r, y + r], fill=colour(rng))
                visibility[j] = 1
            outside = (joints[:, 0] < 0) | (joints[:, 1] < 0) | (joints[:, 0] > w - 1) | (joints[:, 1] > h - 1)
            visibility[outside] = 0
            kps = []
            for (x, y), v in zip(joints, visibility):
                kps += [round(float(x), 2), round(float(y), 2), int(v)] if v else [0, 0, 0]
            x1, y1, x2, y2 = box
            bw, bh = round(float(x2 - x1), 2), round(float(y2 - y1), 2)
            annotations.append({"id": len(annotations) + 1 + first_id * 10, "image_id": image_id, "category_id": 1,
                                "bbox": [round(float(x1), 2), round(float(y1), 2), bw, bh], "area": round(bw * bh, 2),
                                "iscrowd": 0, "keypoints": kps, "num_keypoints": int((visibility > 0).sum())})
        name = f"{image_id:012d}.jpg"
        image.save(os.path.join(folder, name), quality=90)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
    categories = [{"id": 1, "name": "person", "supercategory": "person", "keypoints": NAMES, "skeleton": SKELETON}]
    os.makedirs(os.path.join(out_dir, "annotations"), exist_ok=True)
    with open(os.path.join(out_dir, "annotations", f"person_keypoints_{split}2017.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)


def make_mpii_split(out_dir, split, count, rng, first_id):
    """The release's MPII layout: annot/<split>.json (1-based centre, scale = size / 200, 16 joints and
    their flags) and, for valid, annot/gt_valid.mat with the head boxes PCKh needs."""
    folder = os.path.join(out_dir, "images")
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.join(out_dir, "annot"), exist_ok=True)
    people, gt, missing, headboxes = [], [], [], []
    for k in range(count):
        w, h = (int(v) for v in rng.choice(SIZES, size=2))
        image = background(w, h, rng)
        name = f"{first_id + k:09d}.jpg"
        for joints, box, (mpii_joints, head_box) in [draw_figure(image, rng, w, h)
                                                     for _ in range(int(rng.choice([1, 1, 2])))]:
            outside = (mpii_joints[:, 0] < 0) | (mpii_joints[:, 1] < 0) | (mpii_joints[:, 0] > w - 1) | (
                mpii_joints[:, 1] > h - 1)
            one_based = np.where(outside[:, None], -1.0, mpii_joints + 1)
            x1, y1, x2, y2 = box
            scale = max(y2 - y1, x2 - x1) / 200.0
            center = [(x1 + x2) / 2 + 1, (y1 + y2) / 2 + 1 - 15 * scale]  # the reader lowers it by 15 x scale
            people.append({"image": name, "center": [round(float(v), 2) for v in center], "scale": round(scale, 4),
                           "joints": one_based.round(2).tolist(), "joints_vis": (~outside).astype(int).tolist()})
            gt.append(one_based)
            missing.append(outside.astype(np.float64))
            headboxes.append(np.array(head_box) + 1)
        image.save(os.path.join(folder, name), quality=90)
    with open(os.path.join(out_dir, "annot", f"{split}.json"), "w") as f:
        json.dump(people, f)
    if split == "valid":
        from scipy.io import savemat
        import mpii
        savemat(os.path.join(out_dir, "annot", "gt_valid.mat"),
                {"pos_gt_src": np.transpose(np.array(gt), (1, 2, 0)), "jnt_missing": np.array(missing).T,
                 "headboxes_src": np.transpose(np.array(headboxes), (2, 1, 0)), "dataset_joints": np.array(mpii.JOINTS)})


def make_demo_data(out_dir, train=600, val=60, test=60, seed=0, layout="coco"):
    rng = np.random.default_rng(seed)
    first = 1
    if layout == "mpii":  # MPII has no labelled test split
        for split, count in (("valid", val), ("train", train)):
            make_mpii_split(out_dir, split, count, rng, first)
            first += count
        return out_dir
    for split, count in (("val", val), ("test", test), ("train", train)):  # train last: its json marks "done"
        if count:
            make_split(out_dir, split, count, rng, first)
            first += count
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="dataset root to write")
    parser.add_argument("--train", type=int, default=600, help="training pictures")
    parser.add_argument("--val", type=int, default=60, help="validation pictures (pick the best checkpoint)")
    parser.add_argument("--test", type=int, default=60, help="test pictures (eval.py, once)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--layout", choices=["coco", "mpii"], default="coco",
                        help="COCO keypoints, or the release's MPII json + gt_valid.mat (16 joints; no test split)")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train, args.val, args.test, args.seed, args.layout)
    test = "no" if args.layout == "mpii" else args.test
    print(f"wrote {args.train}/{args.val}/{test} train/val/test pictures to {args.out_dir} ({args.layout} layout)")


if __name__ == "__main__":
    main()
