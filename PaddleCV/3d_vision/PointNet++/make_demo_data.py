"""Write a small, learnable demo of both datasets in their real on-disk layouts (deterministic, seeded).

    python make_demo_data.py --out_dir data/demo

- DATA_DIR/modelnet40_normal_resampled/: point clouds sampled from the surfaces of primitive shapes
  (sphere, box, cylinder, cone, torus, pyramid, capsule, ring), stretched, turned about the up axis
  and slightly tilted, with noise and,
  for some, a partial view (one side cut away, as a single scan sees it); one `x,y,z,nx,ny,nz` line
  per point, `<shape>/<shape>_0001.txt`, with modelnet40_shape_names.txt and the split lists.
- DATA_DIR/indoor3d_sem_seg_hdf5_data/: rooms (floor, ceiling, walls, a door, tables, chairs, a
  bookcase, clutter) cut into 1 m x 1 m blocks of [points, 9] (block-centred x, y, z, r, g, b,
  x, y, z normalised by the room size) with per-point S3DIS labels, in ply_data_all_*.h5 files
  (`data`, `label`), with all_files.txt and room_filelist.txt; rooms in Area_1 ... Area_6.

The real files hold 10,000 points per shape and 4,096 per block; the demo writes fewer (--points,
--block_points) so that it is written and read in seconds.
"""
import argparse
import os

import numpy as np

SHAPES = ["sphere", "box", "cylinder", "cone", "torus", "pyramid", "capsule", "ring"]


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def sample_shape(name, n, rng):
    """n points on the surface of a primitive, with outward normals: ([n, 3], [n, 3])."""
    u, v = rng.random(n), rng.random(n)
    if name == "sphere":
        p = _unit(rng.normal(size=(n, 3)))
        return p, p.copy()
    if name == "box":
        p = rng.uniform(-1, 1, (n, 3)) * [1.0, 0.7, 0.5]
        axis = rng.integers(0, 3, n)
        sign = rng.choice([-1.0, 1.0], n)
        half = np.array([1.0, 0.7, 0.5])
        p[np.arange(n), axis] = sign * half[axis]
        normal = np.zeros((n, 3))
        normal[np.arange(n), axis] = sign
        return p, normal
    if name in ("cylinder", "ring"):
        t = 2 * np.pi * u
        r_out, height = (1.0, 2.0) if name == "cylinder" else (1.0, 0.4)
        side = rng.random(n) < (0.7 if name == "cylinder" else 0.5)
        p = np.stack([r_out * np.cos(t), r_out * np.sin(t), (v - 0.5) * height], 1)
        normal = np.stack([np.cos(t), np.sin(t), np.zeros(n)], 1)
        cap = ~side
        radius = np.sqrt(rng.random(n)) * r_out
        if name == "ring":  # a washer: the caps have a hole
            radius = 0.6 + 0.4 * np.sqrt(rng.random(n))
        top = rng.random(n) < 0.5
        p[cap] = np.stack([radius * np.cos(t), radius * np.sin(t), np.where(top, height / 2, -height / 2)], 1)[cap]
        normal[cap] = np.stack([np.zeros(n), np.zeros(n), np.where(top, 1.0, -1.0)], 1)[cap]
        return p, normal
    if name == "cone":
        t = 2 * np.pi * u
        base = rng.random(n) < 0.3
        h = np.sqrt(v)  # uniform on the lateral surface
        p = np.stack([h * np.cos(t), h * np.sin(t), 1.0 - 2 * h], 1)
        normal = _unit(np.stack([np.cos(t), np.sin(t), np.full(n, 0.5)], 1))
        r = np.sqrt(rng.random(n))
        p[base] = np.stack([r * np.cos(t), r * np.sin(t), -np.ones(n)], 1)[base]
        normal[base] = [0, 0, -1]
        return p, normal
    if name == "torus":
        a, b = 2 * np.pi * u, 2 * np.pi * v
        big, small = 1.0, 0.35
        p = np.stack([(big + small * np.cos(b)) * np.cos(a), (big + small * np.cos(b)) * np.sin(a), small * np.sin(b)], 1)
        normal = np.stack([np.cos(b) * np.cos(a), np.cos(b) * np.sin(a), np.sin(b)], 1)
        return p, normal
    if name == "pyramid":  # square base, four triangular faces
        face = rng.integers(0, 5, n)
        a, b = rng.random(n), rng.random(n)
        flip = a + b > 1
        a, b = np.where(flip, 1 - a, a), np.where(flip, 1 - b, b)
        corners = np.array([[1, 1, -1], [-1, 1, -1], [-1, -1, -1], [1, -1, -1]], dtype=float)
        apex = np.array([0, 0, 1.0])
        p = np.zeros((n, 3))
        normal = np.zeros((n, 3))
        for f in range(4):
            c0, c1 = corners[f], corners[(f + 1) % 4]
            m = face == f
            p[m] = c0 + a[m, None] * (c1 - c0) + b[m, None] * (apex - c0)
            normal[m] = _unit(np.cross(c1 - c0, apex - c0))
        m = face == 4
        p[m] = np.stack([rng.uniform(-1, 1, m.sum()), rng.uniform(-1, 1, m.sum()), -np.ones(m.sum())], 1)
        normal[m] = [0, 0, -1]
        return p, normal
    if name == "capsule":
        d = _unit(rng.normal(size=(n, 3))) * 0.5
        body = rng.random(n) < 0.6
        t = 2 * np.pi * u
        p = d + np.where(d[:, 2:] >= 0, [0, 0, 0.7], [0, 0, -0.7])
        normal = _unit(d)
        p[body] = np.stack([0.5 * np.cos(t), 0.5 * np.sin(t), (v - 0.5) * 1.4], 1)[body]
        normal[body] = np.stack([np.cos(t), np.sin(t), np.zeros(n)], 1)[body]
        return p, normal
    raise ValueError(name)


def random_rotation(rng, tilt=0.2):
    """Any turn about the up (z) axis and a small tilt (radians) about x: the real shapes stand upright."""
    a, t = rng.uniform(0, 2 * np.pi), rng.uniform(-tilt, tilt)
    around_z = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    around_x = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    return around_x @ around_z


def make_shape_cloud(name, n, rng):
    """A shape as one scan of it: stretched, rotated, noisy, sometimes one side cut away, then
    centred and scaled into the unit sphere (as the real files are)."""
    p, normal = sample_shape(name, 3 * n, rng)
    stretch = rng.uniform(0.75, 1.3, 3)
    p, normal = p * stretch, _unit(normal / stretch)
    rot = random_rotation(rng)
    p, normal = p @ rot.T, normal @ rot.T
    if rng.random() < 0.4:  # partial view: drop what faces away from a random viewpoint
        view = _unit(rng.normal(size=3))
        keep = normal @ view > -0.3
        p, normal = p[keep], normal[keep]
    pick = rng.choice(len(p), n, replace=len(p) < n)
    p, normal = p[pick] + rng.normal(0, 0.01, (n, 3)), normal[pick]
    p = p - p.mean(0)
    return p / np.linalg.norm(p, axis=1).max(), normal


def write_modelnet(root, shapes, train_per_class, test_per_class, points, rng):
    root = os.path.join(root, "modelnet40_normal_resampled")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "modelnet40_shape_names.txt"), "w") as f:
        f.write("".join(s + "\n" for s in shapes))
    splits = {"train": [], "test": []}
    for shape in shapes:
        os.makedirs(os.path.join(root, shape), exist_ok=True)
        for i in range(train_per_class + test_per_class):
            name = f"{shape}_{i + 1:04d}"
            xyz, normal = make_shape_cloud(shape, points, rng)
            np.savetxt(os.path.join(root, shape, name + ".txt"), np.hstack([xyz, normal]), fmt="%.6f", delimiter=",")
            splits["train" if i < train_per_class else "test"].append(name)
    for split, names in splits.items():
        with open(os.path.join(root, f"modelnet40_{split}.txt"), "w") as f:
            f.write("".join(n + "\n" for n in names))
    return root


# colour of each class (r, g, b in 0..1): walls and ceiling alike, tables and bookcases alike,
# so that geometry has to tell them apart
COLOURS = {0: (0.85, 0.85, 0.8), 1: (0.45, 0.4, 0.35), 2: (0.8, 0.8, 0.75), 6: (0.55, 0.35, 0.2),
           7: (0.6, 0.4, 0.25), 8: (0.2, 0.3, 0.6), 10: (0.55, 0.38, 0.22), 12: (0.7, 0.2, 0.2)}


def box_surface(lo, hi, n, rng):
    """n points on the surface of an axis-aligned box (area-weighted faces)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    size = hi - lo
    areas = np.array([size[1] * size[2], size[0] * size[2], size[0] * size[1]] * 2)
    face = rng.choice(6, n, p=areas / areas.sum())
    p = lo + rng.random((n, 3)) * size
    axis = face % 3
    p[np.arange(n), axis] = np.where(face < 3, lo[axis], hi[axis])
    return p


def make_room(rng, density=220):
    """A labelled room as (points [n, 3], colours [n, 3], labels [n]) and its size."""
    sx, sy, sz = rng.uniform(3.0, 5.0), rng.uniform(3.0, 5.0), 3.0
    parts = []

    def add(points, label):
        colour = np.clip(np.asarray(COLOURS[label]) + rng.normal(0, 0.06, (len(points), 3)), 0, 1)
        parts.append((points, colour, np.full(len(points), label)))

    def plane(n, fixed_axis, value, extent):
        p = rng.random((n, 3)) * extent
        p[:, fixed_axis] = value
        return p

    area = sx * sy
    add(plane(int(density * area), 2, 0.0, [sx, sy, 0]), 1)                         # floor
    add(plane(int(density * area), 2, sz, [sx, sy, 0]), 0)                          # ceiling
    for axis, length, value in ((0, sy, 0.0), (0, sy, sx), (1, sx, 0.0), (1, sx, sy)):  # walls
        extent = [0, length, sz] if axis == 0 else [length, 0, sz]
        add(plane(int(density * length * sz), axis, value, extent), 2)
    door_x = rng.uniform(0.3, sx - 1.3)                                             # a door in the y=0 wall
    add(box_surface([door_x, -0.05, 0], [door_x + 0.9, 0.02, 2.1], int(density * 4), rng), 6)
    bx = rng.uniform(0.3, sx - 1.5)                                                 # a bookcase on the far wall
    add(box_surface([bx, sy - 0.4, 0], [bx + 1.2, sy, 2.0], int(density * 8), rng), 10)
    for _ in range(rng.integers(1, 3)):                                             # tables with chairs and clutter
        tx, ty = rng.uniform(0.6, sx - 1.8), rng.uniform(0.8, sy - 1.8)
        add(box_surface([tx, ty, 0.7], [tx + 1.2, ty + 0.8, 0.76], int(density * 2), rng), 7)
        for lx, ly in ((0, 0), (1.15, 0), (0, 0.75), (1.15, 0.75)):
            add(box_surface([tx + lx, ty + ly, 0], [tx + lx + 0.05, ty + ly + 0.05, 0.7], int(density * 0.15), rng), 7)
        for cx in (tx + 0.2, tx + 0.7):
            cy = ty - 0.5
            add(box_surface([cx, cy, 0], [cx + 0.4, cy + 0.4, 0.45], int(density * 0.8), rng), 8)
            add(box_surface([cx, cy - 0.05, 0.45], [cx + 0.4, cy, 0.9], int(density * 0.4), rng), 8)
        for _ in range(rng.integers(1, 4)):
            ox, oy = tx + rng.uniform(0.1, 1.0), ty + rng.uniform(0.1, 0.6)
            add(box_surface([ox, oy, 0.76], [ox + 0.15, oy + 0.15, 0.76 + rng.uniform(0.1, 0.3)], int(density * 0.2), rng), 12)
    points, colours, labels = (np.concatenate(x) for x in zip(*parts))
    return points + rng.normal(0, 0.005, points.shape), colours, labels, np.array([sx, sy, sz])


def room_blocks(points, colours, labels, size, block_points, rng, block=1.0, min_points=200):
    """Cut a room into block x block columns: [blocks, block_points, 9] and [blocks, block_points]."""
    data, label = [], []
    for x0 in np.arange(0, size[0], block):
        for y0 in np.arange(0, size[1], block):
            inside = np.where((points[:, 0] >= x0) & (points[:, 0] < x0 + block) &
                              (points[:, 1] >= y0) & (points[:, 1] < y0 + block))[0]
            if len(inside) < min_points:
                continue
            pick = rng.choice(inside, block_points, replace=len(inside) < block_points)
            p = points[pick]
            rows = np.hstack([p - [x0 + block / 2, y0 + block / 2, 0], colours[pick], p / size])
            data.append(rows.astype(np.float32))
            label.append(labels[pick].astype(np.uint8))
    return data, label


def write_indoor3d(root, rooms_per_area, block_points, rng, blocks_per_file=100):
    import h5py
    root = os.path.join(root, "indoor3d_sem_seg_hdf5_data")
    os.makedirs(root, exist_ok=True)
    data, label, rooms = [], [], []
    for area in range(1, 7):
        for r in range(rooms_per_area):
            d, l = room_blocks(*make_room(rng), block_points, rng)
            data += d
            label += l
            rooms += [f"Area_{area}_office_{r + 1}"] * len(d)
    files = []
    for k, start in enumerate(range(0, len(data), blocks_per_file)):
        name = f"ply_data_all_{k}.h5"
        with h5py.File(os.path.join(root, name), "w") as f:
            f.create_dataset("data", data=np.stack(data[start:start + blocks_per_file]))
            f.create_dataset("label", data=np.stack(label[start:start + blocks_per_file]))
        files.append(f"indoor3d_sem_seg_hdf5_data/{name}")
    with open(os.path.join(root, "all_files.txt"), "w") as f:
        f.write("".join(x + "\n" for x in files))
    with open(os.path.join(root, "room_filelist.txt"), "w") as f:
        f.write("".join(x + "\n" for x in rooms))
    return root


def make_demo_data(out_dir, train_per_class=40, test_per_class=10, points=1024, shapes=SHAPES,
                   rooms_per_area=2, block_points=1024, seed=0, seg=True):
    rng = np.random.default_rng(seed)
    write_modelnet(out_dir, shapes, train_per_class, test_per_class, points, rng)
    if seg:
        write_indoor3d(out_dir, rooms_per_area, block_points, rng)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write both datasets (default: %(default)s)")
    parser.add_argument("--train_per_class", type=int, default=40, help="training shapes per class (default: %(default)s)")
    parser.add_argument("--test_per_class", type=int, default=10, help="test shapes per class (default: %(default)s)")
    parser.add_argument("--points", type=int, default=1024, help="points per shape file (default: %(default)s)")
    parser.add_argument("--rooms_per_area", type=int, default=2, help="rooms in each of Area_1..6 (default: %(default)s)")
    parser.add_argument("--block_points", type=int, default=1024, help="points per 1 m block (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train_per_class, args.test_per_class, args.points,
                   rooms_per_area=args.rooms_per_area, block_points=args.block_points, seed=args.seed)
    print(f"demo data in {args.out_dir}")


if __name__ == "__main__":
    main()
