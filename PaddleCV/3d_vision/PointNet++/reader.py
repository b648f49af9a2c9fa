"""The only data path: ModelNet40 (`modelnet40_normal_resampled`) for classification and the
Indoor3D/S3DIS h5 blocks (`indoor3d_sem_seg_hdf5_data`) for segmentation, their splits, the
training augmentation, and the one preprocessing that eval, infer and export share.

ModelNet40: DATA_DIR/modelnet40_normal_resampled/ holds modelnet40_shape_names.txt, the split lists
modelnet40_train.txt / modelnet40_test.txt (one `airplane_0001` per line) and `<shape>/<name>.txt`
files of `x,y,z,nx,ny,nz` lines. The first --num_points lines of a file are used (a file with fewer
repeats its points), centred and scaled into the unit sphere.

Indoor3D: DATA_DIR/indoor3d_sem_seg_hdf5_data/ holds all_files.txt (the h5 files in order),
ply_data_all_*.h5 with `data` [blocks, points, 9] and `label` [blocks, points], and room_filelist.txt
(the room of each block, in the same order). Area_5 is the test split, as in the release.

Both datasets are read whole into memory when the dataset is built (the release's readers do the
same), so every file is checked before the first step and a bad one stops with `file:line: what`.
"""
import os

import numpy as np
import paddle

import utils

MODELNET = "modelnet40_normal_resampled"
INDOOR3D = "indoor3d_sem_seg_hdf5_data"
S3DIS_CLASSES = ["ceiling", "floor", "wall", "beam", "column", "window", "door", "table", "chair", "sofa",
                 "bookcase", "board", "clutter"]


# ------------------------------------------------------------------------------------- point files

def read_point_file(path, num_points, columns=(6,)):
    """The first num_points rows of a comma-separated point file as float32 [num_points, C]; a file
    with fewer rows repeats them. Every row must have one of `columns` values (file:line otherwise)."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    rows = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            values = line.split(b",")
            if len(values) not in columns or (rows and len(values) != len(rows[0])):
                want = len(rows[0]) if rows else " or ".join(map(str, columns))
                raise utils.DataError(f"{path}:{number}: expected {want} comma-separated values "
                                      f"(x,y,z,nx,ny,nz), got {len(values)}")
            try:
                rows.append([float(v) for v in values])
            except ValueError:
                raise utils.DataError(f"{path}:{number}: not a number in {line[:60].decode(errors='replace')!r}") from None
            if len(rows) == num_points:
                break
    if not rows:
        raise utils.DataError(f"{path}:1: no points")
    points = np.asarray(rows, dtype=np.float32)
    if not np.isfinite(points).all():
        raise utils.DataError(f"{path}:{int(np.where(~np.isfinite(points).all(1))[0][0]) + 1}: not a finite number")
    if len(points) < num_points:
        points = np.resize(points, (num_points, points.shape[1]))
    return points


def normalize(points):
    """Centre the xyz columns and scale them into the unit sphere (normals stay as they are)."""
    points = points.copy()
    xyz = points[:, :3] - points[:, :3].mean(0)
    points[:, :3] = xyz / max(float(np.linalg.norm(xyz, axis=1).max()), 1e-9)
    return points


def preprocess_cls(points, use_normals):
    """What the network sees of one shape: [N, 3] or [N, 6] float32."""
    return normalize(points)[:, :6 if use_normals else 3].astype(np.float32)


def shape_names(data_dir):
    path = os.path.join(data_dir, MODELNET, "modelnet40_shape_names.txt")
    names = [line.strip() for _, line in utils.read_lines(path) if line.strip()]
    if not names:
        raise utils.DataError(f"{path}:1: no shape names")
    return names


def dataset_num_classes(data_dir, task):
    return len(shape_names(data_dir)) if task == "cls" else len(S3DIS_CLASSES)


def modelnet_split(data_dir, split, val_every=10):
    """The shapes of a split as (shape names, list path, [(point file, label)]), from the lists alone:
    train is the train list without every val_every-th shape, val those, test the test list."""
    root = os.path.join(data_dir, MODELNET)
    names = shape_names(data_dir)
    index = {n: i for i, n in enumerate(names)}
    list_path = os.path.join(root, f"modelnet40_{'test' if split == 'test' else 'train'}.txt")
    entries = []
    for number, line in utils.read_lines(list_path):
        name = line.strip()
        if not name:
            continue
        shape = name.rsplit("_", 1)[0]
        if shape not in index:
            raise utils.DataError(f"{list_path}:{number}: shape {shape!r} is not in modelnet40_shape_names.txt")
        entries.append((os.path.join(root, shape, name + ".txt"), index[shape]))
    if split != "test":
        entries = [e for i, e in enumerate(entries) if (i % val_every == val_every - 1) == (split == "val")]
    return names, list_path, entries


class ModelNet40(paddle.io.Dataset):
    """split: train (the train list without every val_every-th shape), val (those), test."""

    def __init__(self, data_dir, split, num_points, use_normals=False, val_every=10, train=False, seed=42,
                 skip_bad_samples=False):
        self.names, self.list_path, entries = modelnet_split(data_dir, split, val_every)
        self.num_points, self.use_normals, self.train, self.seed, self.epoch = num_points, use_normals, train, seed, 0
        points, labels, self.paths, self.skipped = [], [], [], 0
        for path, label in utils.progress(entries, len(entries), f"reading {split} shapes"):
            try:
                points.append(preprocess_cls(read_point_file(path, num_points), use_normals))
            except utils.DataError:
                if not skip_bad_samples:
                    raise
                self.skipped += 1
                continue
            labels.append(label)
            self.paths.append(path)
        if not points:
            raise utils.DataError(f"{self.list_path}: no {split} shapes")
        self.points, self.labels = np.stack(points), np.asarray(labels, dtype=np.int64)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        points = self.points[i]
        if self.train:
            points = augment_cls(points, np.random.default_rng((self.seed, self.epoch, i)))
        return points, self.labels[i]


def augment_cls(points, rng):
    """The release's training transforms that keep a shape's class: point order shuffled, random
    scale (0.8-1.25), shift (+-0.1 per axis) and jitter (sigma 0.01, clipped at 0.05) of xyz."""
    points = points[rng.permutation(len(points))].copy()
    xyz = points[:, :3] * rng.uniform(0.8, 1.25) + rng.uniform(-0.1, 0.1, 3)
    points[:, :3] = xyz + np.clip(rng.normal(0, 0.01, xyz.shape), -0.05, 0.05)
    return points.astype(np.float32)


# ---------------------------------------------------------------------------------------- Indoor3D

def read_indoor3d(data_dir, num_classes=len(S3DIS_CLASSES)):
    """All blocks: (data [B, P, 9] float32, label [B, P] int64, rooms [B]), every file checked."""
    import h5py
    root = os.path.join(data_dir, INDOOR3D)
    list_path = os.path.join(root, "all_files.txt")
    data, label = [], []
    for number, line in utils.read_lines(list_path):
        if not line.strip():
            continue
        path = os.path.join(root, os.path.basename(line.strip()))
        where = f"{list_path}:{number}"
        if not os.path.isfile(path):
            raise utils.DataError(f"{where}: {path} not found")
        try:
            with h5py.File(path, "r") as f:
                d, lab = f["data"][:], f["label"][:]
        except (OSError, KeyError) as e:
            raise utils.DataError(f"{where}: cannot read `data` and `label` from {path} ({e})") from None
        if d.ndim != 3 or d.shape[2] != 9 or lab.shape != d.shape[:2]:
            raise utils.DataError(f"{where}: {path} has data {list(d.shape)} and label {list(lab.shape)}; "
                                  "expected [blocks, points, 9] and [blocks, points]")
        if data and d.shape[1] != data[0].shape[1]:
            raise utils.DataError(f"{where}: {path} has blocks of {d.shape[1]} points, the files before it "
                                  f"{data[0].shape[1]}")
        bad = np.argwhere((lab < 0) | (lab >= num_classes))
        if len(bad):
            raise utils.DataError(f"{where}: {path} block {bad[0][0]} has label {lab[tuple(bad[0])]}, "
                                  f"outside [0, {num_classes})")
        data.append(d.astype(np.float32))
        label.append(lab.astype(np.int64))
    if not data:
        raise utils.DataError(f"{list_path}: no h5 files listed")
    data, label = np.concatenate(data), np.concatenate(label)
    room_path = os.path.join(root, "room_filelist.txt")
    rooms = [line.strip() for _, line in utils.read_lines(room_path)]
    if len(rooms) != len(data):
        raise utils.DataError(f"{room_path}:{len(rooms)}: {len(rooms)} rooms listed for {len(data)} blocks")
    return data, label, np.asarray(rooms)


def indoor3d_split(rooms, split, test_area=5, val_every=10):
    """Block indices of a split: test = Area_<test_area>; val = every val_every-th of the other rooms
    (whole rooms, sorted by name); train = the rest."""
    is_test = np.char.startswith(rooms.astype(str), f"Area_{test_area}_")
    if split == "test":
        return np.where(is_test)[0]
    others = sorted(set(rooms[~is_test]))
    val_rooms = set(others[val_every - 1::val_every])
    in_val = np.array([r in val_rooms for r in rooms]) & ~is_test
    return np.where(in_val if split == "val" else (~is_test & ~in_val))[0]


class Indoor3D(paddle.io.Dataset):
    """Blocks of a split as (points [num_points, 9], labels [num_points]); training picks a random
    subset of each block's points (seeded by seed, epoch and block), evaluation the first num_points."""

    def __init__(self, data_dir, split, num_points, test_area=5, val_every=10, train=False, seed=42, blocks=None):
        data, label, rooms = blocks if blocks is not None else read_indoor3d(data_dir)
        keep = indoor3d_split(rooms, split, test_area, val_every)
        if len(keep) == 0:
            raise utils.DataError(f"{os.path.join(data_dir, INDOOR3D, 'room_filelist.txt')}: no {split} blocks "
                                  f"(test area {test_area})")
        if data.shape[1] < num_points:
            raise utils.DataError(f"{os.path.join(data_dir, INDOOR3D, 'all_files.txt')}: blocks have "
                                  f"{data.shape[1]} points, fewer than --num_points {num_points}")
        self.data, self.label, self.rooms = data[keep], label[keep], rooms[keep]
        self.num_points, self.train, self.seed, self.epoch = num_points, train, seed, 0
        self.names, self.skipped = S3DIS_CLASSES, 0

    @property
    def labels(self):
        return self.label

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        if self.train:
            pick = np.random.default_rng((self.seed, self.epoch, i)).permutation(self.data.shape[1])[:self.num_points]
        else:
            pick = slice(0, self.num_points)
        return self.data[i][pick], self.label[i][pick]


def build_dataset(args, split, train=False, blocks=None):
    if args.task == "cls":
        return ModelNet40(args.data_dir, split, args.num_points, args.use_normals, args.val_every, train, args.seed,
                          getattr(args, "skip_bad_samples", False))
    return Indoor3D(args.data_dir, split, args.num_points, args.test_area, args.val_every, train, args.seed, blocks)


def split_labels(args, split, blocks=None):
    """The labels of a split without building its dataset (no point file read, no block copied): for
    the majority-class baseline. Segmentation takes the blocks read_indoor3d returned."""
    if args.task == "cls":
        return np.asarray([label for _, label in modelnet_split(args.data_dir, split, args.val_every)[2]])
    _, label, rooms = blocks
    return label[indoor3d_split(rooms, split, args.test_area, args.val_every)]


# ----------------------------------------------------------------------------------------- batching

class EpochBatchSampler(paddle.io.Sampler):
    """Batches of one rank: training shuffles by (seed, epoch) and gives every rank as many batches
    (drop_last); evaluation splits the indices between ranks without padding, so no sample counts
    twice. set_epoch(epoch, start_batch) resumes in the middle of an epoch."""

    def __init__(self, n, batch_size, train, seed=42):
        self.n, self.batch_size, self.train, self.seed = n, batch_size, train, seed
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _indices(self):
        rank, world = utils.rank(), utils.world_size()
        if not self.train:
            return np.arange(self.n)[rank::world]
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        per_rank = self.n // world
        return order[rank * per_rank:(rank + 1) * per_rank]

    def _batches(self):
        idx = self._indices()
        if self.train:
            full = len(idx) // self.batch_size
            return [idx[i * self.batch_size:(i + 1) * self.batch_size].tolist() for i in range(full)]
        return [idx[i:i + self.batch_size].tolist() for i in range(0, len(idx), self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]
        self.start_batch = 0

    def __len__(self):
        return len(self._batches())


def make_loader(dataset, args, train):
    sampler = EpochBatchSampler(len(dataset), args.batch_size, train, getattr(args, "seed", 42))
    return utils.make_loader(dataset, args, batch_sampler=sampler)
