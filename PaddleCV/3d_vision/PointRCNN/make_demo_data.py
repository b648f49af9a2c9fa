"""Write a small, learnable KITTI-layout demo set: synthetic LiDAR sweeps in the real binary, calib
and label formats (deterministic, seeded).

Each frame is a street scene seen by a LiDAR 1.73 m above a flat ground: the ground plane, 1-4 cars
5-35 m away (boxes around the mean KITTI car size, the heading one of HEADINGS: along or across the
street) and a little clutter (a wall along the street now and then, up to 2 poles, up to 2 bushes). The
scene is made easy on purpose, so that a light model learns it on a CPU in minutes (README.md).
The point density of every surface falls off with the square of the range; only the faces of a car
that look towards the sensor get points (self-occlusion), and whatever lies behind a car (ground,
clutter, farther cars) loses the points its shadow covers. Labels are written from the boxes: 2D
boxes by projecting the corners with P2, occlusion from the share of a car shadowed by nearer ones,
truncation from the share of its 2D box outside the image; an occasional Van (ignored by the Car
metric, as in KITTI) and a DontCare region. image_2/ holds a small plain render (the sky, the ground
and the 2D boxes filled), at KITTI's 1242 x 375 so that the 2D box heights keep their meaning.

    python make_demo_data.py --out_dir data/demo --train 120 --val 40 --test 40
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 1242, 375
P2 = np.array([[721.5377, 0, 609.5593, 44.85728], [0, 721.5377, 172.854, 0.2163791], [0, 0, 1, 0.002745884]])
R0 = np.array([[0.9999239, 0.00983776, -0.007445048], [-0.009869795, 0.9999421, -0.004278459],
               [0.007402527, 0.004351614, 0.9999631]])
V2C = np.array([[0.007533745, -0.9999714, -0.000616602, -0.004069766],
                [0.01480249, 0.0007280733, -0.9998902, -0.07631618],
                [0.9998621, 0.00752379, 0.01480755, -0.2717806]])
GROUND_Y = 1.65   # the ground in the rectified camera frame (y points down)
DENSITY = 1500.0  # points per square metre of surface facing the sensor at 1 m
CAR_DENSITY = 5000.0  # cars return more: metal and glass at a low angle
HEADINGS = np.array([-np.pi / 2, 0.0, np.pi / 2, np.pi])  # the demo's car headings (KITTI ry)


def calib_text():
    rows = {"P0": P2, "P1": P2, "P2": P2, "P3": P2, "R0_rect": R0, "Tr_velo_to_cam": V2C,
            "Tr_imu_to_velo": np.array([[1, 0, 0, -0.81], [0, 1, 0, 0.32], [0, 0, 1, -0.80]])}
    return "".join(f"{k}: {' '.join(f'{v:.12e}' for v in m.reshape(-1))}\n" for k, m in rows.items())


def rect_to_lidar(points):
    cam = points @ np.linalg.inv(R0).T
    return (cam - V2C[:, 3]) @ np.linalg.inv(V2C[:, :3]).T


def surface_points(rng, centre, normal, axis_u, axis_v, size_u, size_v, density=DENSITY):
    """Points on a rectangle, as many as its area facing the sensor (at the origin) and its range say."""
    to_sensor = -centre
    rng_m = np.linalg.norm(centre)
    facing = float(np.dot(normal, to_sensor / rng_m)) if normal is not None else 1.0
    if facing <= 0.05:
        return np.zeros((0, 3))
    n = rng.poisson(density * size_u * size_v * facing / rng_m ** 2)
    u, v = rng.uniform(-0.5, 0.5, (2, n, 1))
    return centre + u * size_u * axis_u + v * size_v * axis_v + rng.normal(0, 0.015, (n, 3))


def car_points(rng, box):
    """The faces of a box (x, y, z, h, w, l, ry) that see the sensor: four sides and the roof."""
    x, y, z, h, w, l, ry = box
    heading = np.array([np.cos(ry), 0, -np.sin(ry)])
    across = np.array([np.sin(ry), 0, np.cos(ry)])
    up = np.array([0, -1.0, 0])
    mid = np.array([x, y - h / 2, z])
    inset = 0.05  # points a little inside the faces, so that the box holds them
    faces = [(mid + heading * (l / 2 - inset), heading, across, up, w, h),
             (mid - heading * (l / 2 - inset), -heading, across, up, w, h),
             (mid + across * (w / 2 - inset), across, heading, up, l, h),
             (mid - across * (w / 2 - inset), -across, heading, up, l, h),
             (mid + up * (h / 2 - inset), up, heading, across, l, w)]
    pts = [surface_points(rng, c, n, u, v, su * 0.96, sv * 0.96, CAR_DENSITY) for c, n, u, v, su, sv in faces]
    pts = np.concatenate(pts) if pts else np.zeros((0, 3))
    # a car is not a box: the lower corners are rounded away and the windows return fewer points
    keep = rng.random(len(pts)) < 0.85
    return pts[keep]


def shadow(points, box):
    """True for points hidden behind a box as seen from the sensor (in the x-z plane)."""
    import geometry
    corners = geometry.bev_corners(box[None])[0]
    angles = np.arctan2(corners[:, 0], corners[:, 1])
    near = np.hypot(corners[:, 0], corners[:, 1]).min()
    a = np.arctan2(points[:, 0], points[:, 2])
    r = np.hypot(points[:, 0], points[:, 2])
    top = box[1] - box[3]  # rays over the roof are free: only low points are shadowed
    return (a > angles.min()) & (a < angles.max()) & (r > near + 0.3) & (points[:, 1] > top - 0.3 * (r / near - 1))


def make_frame(rng):
    cars, boxes = [], []
    for _ in range(rng.integers(1, 5)):
        for _ in range(20):  # place without overlap
            z = rng.uniform(5, 35)
            x = rng.uniform(-0.7, 0.7) * z * 0.9
            h, w, l = np.array([1.52, 1.63, 3.88]) * rng.uniform(0.9, 1.1, 3)
            ry = rng.choice(HEADINGS)
            box = np.array([x, GROUND_Y, z, h, w, l, ry])
            if all(np.hypot(b[0] - x, b[2] - z) > 5.0 for b in boxes):
                boxes.append(box)
                cars.append("Van" if rng.random() < 0.08 else "Car")
                break
    boxes = np.array(boxes).reshape(-1, 7)
    if len(boxes) and cars.count("Van"):
        boxes[np.array(cars) == "Van", 3] *= 1.35  # taller
    # ground: range drawn so that the density falls off as 1/r^2
    n = 9000
    r = 2.0 * (50 / 2.0) ** rng.random(n)
    a = rng.uniform(-0.75, 0.75, n)
    pts = [np.stack([r * np.sin(a), GROUND_Y + rng.normal(0, 0.03, n), r * np.cos(a)], 1)]
    # clutter: walls along the street, poles, bushes
    for side in (-1, 1):
        if rng.random() < 0.3:
            xw = side * rng.uniform(12, 20)
            zc, length, hw = rng.uniform(15, 35), rng.uniform(8, 25), rng.uniform(1.5, 3)
            pts.append(surface_points(rng, np.array([xw, GROUND_Y - hw / 2, zc]), np.array([-side, 0, 0.0]),
                                      np.array([0, 0, 1.0]), np.array([0, 1.0, 0]), length, hw))
    for _ in range(rng.integers(0, 3)):
        z = rng.uniform(4, 40)
        centre = np.array([rng.uniform(-0.7, 0.7) * z, GROUND_Y - 2.0, z])
        pts.append(surface_points(rng, centre, -centre * [1, 0, 1] / np.hypot(centre[0], centre[2]),
                                  np.array([centre[2], 0, -centre[0]]) / np.hypot(centre[0], centre[2]),
                                  np.array([0, 1.0, 0]), 0.25, 4.0))
    for _ in range(rng.integers(0, 3)):
        z = rng.uniform(4, 40)
        centre = np.array([rng.uniform(-0.7, 0.7) * z, GROUND_Y - 0.5, z])
        k = rng.poisson(DENSITY * 1.5 / np.linalg.norm(centre) ** 2)
        pts.append(centre + rng.normal(0, [0.5, 0.3, 0.5], (k, 3)))
    scene = np.concatenate(pts)
    car_pts = [car_points(rng, b) for b in boxes]
    order = np.argsort(np.hypot(boxes[:, 0], boxes[:, 2])) if len(boxes) else []
    occluded = np.zeros(len(boxes), np.int64)
    everything = [(scene, -1)] + [(p, i) for i, p in enumerate(car_pts)]
    for i in order:  # nearer cars hide what lies behind them
        for k, (p, owner) in enumerate(everything):
            if owner == i or not len(p):
                continue
            hidden = shadow(p, boxes[i])
            if owner >= 0 and len(p):
                share = hidden.mean()
                occluded[owner] = max(occluded[owner], 2 if share > 0.5 else 1 if share > 0.1 else 0)
            everything[k] = (p[~hidden], owner)
    # a car hidden almost entirely has no label in KITTI: drop it, and its few points become clutter
    seen = np.array([len(p) >= 8 for p, o in everything[1:]], bool)
    keep = np.where(seen)[0] if len(boxes) else np.zeros(0, np.int64)
    boxes, occluded = boxes[keep], occluded[keep]
    cars = [cars[i] for i in keep]
    remap = {int(old): new for new, old in enumerate(keep)}
    everything = [(p, remap.get(o, -1)) for p, o in everything]
    points = np.concatenate([p for p, _ in everything])
    owner = np.concatenate([np.full(len(p), o) for p, o in everything])
    reflect = np.where(owner >= 0, rng.uniform(0.2, 0.9, len(points)), rng.uniform(0.0, 0.4, len(points)))
    return points, reflect, boxes, cars, occluded


def label_lines(boxes, names, occluded, rng):
    import geometry
    lines, image_boxes = [], []
    for box, name, occ in zip(boxes, names, occluded):
        x, y, z, h, w, l, ry = box
        corners = geometry.corners_3d(box[None])[0]
        hom = np.concatenate([corners, np.ones((8, 1))], 1) @ P2.T
        pix = hom[:, :2] / hom[:, 2:3]
        raw = np.concatenate([pix.min(0), pix.max(0)])
        clipped = np.clip(raw, 0, [WIDTH - 1, HEIGHT - 1, WIDTH - 1, HEIGHT - 1])
        area = max((raw[2] - raw[0]) * (raw[3] - raw[1]), 1e-6)
        truncated = 1 - max((clipped[2] - clipped[0]) * (clipped[3] - clipped[1]), 0) / area
        alpha = ry - np.arctan2(x, z)
        alpha = (alpha + np.pi) % (2 * np.pi) - np.pi
        lines.append(f"{name} {truncated:.2f} {int(occ)} {alpha:.2f} {clipped[0]:.2f} {clipped[1]:.2f} {clipped[2]:.2f} "
                     f"{clipped[3]:.2f} {h:.2f} {w:.2f} {l:.2f} {x:.2f} {y:.2f} {z:.2f} {ry:.2f}")
        image_boxes.append(clipped)
    if rng.random() < 0.3:  # a far region the annotators left out
        u = rng.uniform(100, WIDTH - 200)
        lines.append(f"DontCare -1 -1 -10 {u:.2f} 160.00 {u + 40:.2f} 185.00 -1 -1 -1 -1000 -1000 -1000 -10")
    return lines, image_boxes


def render(path, image_boxes):
    image = Image.new("RGB", (WIDTH, HEIGHT), (150, 180, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 175, WIDTH, HEIGHT], fill=(90, 90, 90))
    for b in image_boxes:
        draw.rectangle([float(v) for v in b], fill=(180, 40, 40), outline=(20, 20, 20))
    image.save(path, optimize=False, compress_level=1)


def make_demo_data(out_dir, train=120, val=40, test=40, seed=0):
    root = os.path.join(out_dir, "training")
    for kind in ("velodyne", "calib", "label_2", "image_2"):
        os.makedirs(os.path.join(root, kind), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "ImageSets"), exist_ok=True)
    rng = np.random.default_rng(seed)
    calib = calib_text()
    counts = {"train": train, "val": val, "test": test}
    frame = 0
    for split, count in counts.items():
        ids = []
        for _ in range(count):
            name = f"{frame:06d}"
            points, reflect, boxes, names, occluded = make_frame(rng)
            lidar = np.concatenate([rect_to_lidar(points), reflect[:, None]], 1).astype(np.float32)
            lidar.tofile(os.path.join(root, "velodyne", name + ".bin"))
            with open(os.path.join(root, "calib", name + ".txt"), "w") as f:
                f.write(calib)
            lines, image_boxes = label_lines(boxes, names, occluded, rng)
            with open(os.path.join(root, "label_2", name + ".txt"), "w") as f:
                f.write("".join(line + "\n" for line in lines))
            render(os.path.join(root, "image_2", name + ".png"), image_boxes)
            ids.append(name)
            frame += 1
        if count:
            with open(os.path.join(out_dir, "ImageSets", f"{split}.txt"), "w") as f:
                f.write("".join(i + "\n" for i in ids))
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where the KITTI layout is written (default data/demo)")
    parser.add_argument("--train", type=int, default=120, help="training frames (default 120)")
    parser.add_argument("--val", type=int, default=40, help="val frames: pick best.pdparams (default 40)")
    parser.add_argument("--test", type=int, default=40, help="labelled test frames, read only by eval.py (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train, args.val, args.test, args.seed)
    print(f"wrote {args.train + args.val + args.test} frames to {args.out_dir}")


if __name__ == "__main__":
    main()
