"""The only data path: the KITTI object layout, parsed and checked, and the per-frame samples the
networks take.

    DATA_DIR/ImageSets/train.txt, val.txt (and, optionally, a labelled test.txt): frame ids, one a line
    DATA_DIR/training/velodyne/000000.bin   float32 x, y, z, reflectance per point (LiDAR frame)
    DATA_DIR/training/calib/000000.txt      P0-P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo
    DATA_DIR/training/label_2/000000.txt    15 fields per object (type ... rotation_y)
    DATA_DIR/training/image_2/000000.png    the left colour image (only its size is read)

Everything downstream works in the rectified camera frame (x right, y down, z forward), as KITTI's
labels do: a box is (x, y, z, h, w, l, ry) with (x, y, z) the centre of its bottom face. Points are
moved there with the calib file, kept inside PC_AREA_SCOPE and the camera's field of view, and sampled
to a fixed count (--num_points) as the release does. Bad input (a .bin whose size is not a multiple of
16 bytes, a calib file missing a matrix, a label line with the wrong field count, a missing file, an
id listed twice) is a DataError naming the file and line.
"""
import os

import numpy as np
from PIL import Image

import utils

CALIB_KEYS = {"P0": 12, "P1": 12, "P2": 12, "P3": 12, "R0_rect": 9, "Tr_velo_to_cam": 12, "Tr_imu_to_velo": 12}
# x (right), y (down), z (forward) limits of the points used, in the rectified camera frame (the release's)
AREA_SCOPE = np.array([[-40.0, 40.0], [-1.0, 3.0], [0.0, 70.4]], np.float32)
LABEL_FIELDS = 15


def split_ids(data_dir, split):
    path = os.path.join(data_dir, "ImageSets", f"{split}.txt")
    ids, seen = [], {}
    for number, line in utils.read_lines(path):
        frame = line.strip()
        if not frame:
            continue
        if not frame.isdigit():
            raise utils.DataError(f"{path}:{number}: frame id {frame!r} is not a number")
        if frame in seen:
            raise utils.DataError(f"{path}:{number}: frame {frame} already listed on line {seen[frame]}")
        seen[frame] = number
        ids.append(frame)
    if not ids:
        raise utils.DataError(f"{path}: no frame ids")
    return ids


def has_split(data_dir, split):
    return os.path.isfile(os.path.join(data_dir, "ImageSets", f"{split}.txt"))


def frame_path(data_dir, kind, frame):
    ext = {"velodyne": ".bin", "calib": ".txt", "label_2": ".txt", "image_2": ".png"}[kind]
    return os.path.join(data_dir, "training", kind, frame + ext)


def check_velodyne(path):
    """A DataError unless the .bin exists and holds whole points (16 bytes each)."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    size = os.path.getsize(path)
    if size % 16:
        raise utils.DataError(f"{path}: {size} bytes is not a multiple of 16 (4 float32 per point)")


def read_velodyne(path):
    """[N, 4] float32 (x, y, z, reflectance) in the LiDAR frame."""
    check_velodyne(path)
    points = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    if not np.isfinite(points).all():
        raise utils.DataError(f"{path}: point {int(np.where(~np.isfinite(points).all(1))[0][0])} is not finite")
    return points


class Calibration:
    """KITTI's calib file: LiDAR -> rectified camera -> image."""

    def __init__(self, path):
        found = {}
        for number, line in utils.read_lines(path):
            if not line.strip():
                continue
            key, _, values = line.partition(":")
            try:
                numbers = [float(v) for v in values.split()]
            except ValueError:
                raise utils.DataError(f"{path}:{number}: {key.strip()}: not numbers") from None
            key = key.strip()
            if key in CALIB_KEYS and len(numbers) != CALIB_KEYS[key]:
                raise utils.DataError(f"{path}:{number}: {key} has {len(numbers)} values, not {CALIB_KEYS[key]}")
            found[key] = np.array(numbers, np.float64)
        missing = [k for k in CALIB_KEYS if k not in found]
        if missing:
            raise utils.DataError(f"{path}: no {', '.join(missing)} matrix")
        self.P2 = found["P2"].reshape(3, 4)
        self.R0 = found["R0_rect"].reshape(3, 3)
        self.V2C = found["Tr_velo_to_cam"].reshape(3, 4)

    def lidar_to_rect(self, points):
        homogeneous = np.concatenate([points[:, :3], np.ones((len(points), 1))], 1)
        return (homogeneous @ self.V2C.T @ self.R0.T).astype(np.float32)

    def rect_to_lidar(self, points):
        cam = points[:, :3] @ np.linalg.inv(self.R0).T  # undo the rectification
        rot, trans = self.V2C[:, :3], self.V2C[:, 3]
        return ((cam - trans) @ np.linalg.inv(rot).T).astype(np.float32)

    def rect_to_image(self, points):
        """[N, 2] pixel coordinates and [N] depths of points in the rectified frame."""
        homogeneous = np.concatenate([points[:, :3], np.ones((len(points), 1))], 1) @ self.P2.T
        depth = homogeneous[:, 2]
        return homogeneous[:, :2] / np.where(np.abs(depth) < 1e-6, 1e-6, depth)[:, None], depth


def read_labels(path):
    """The objects of a label_2 file: dicts with type, truncated, occluded, alpha, bbox [4], box [7]
    (x, y, z, h, w, l, ry in the rectified frame) and score (a result file's 16th field, else 1)."""
    objects = []
    for number, line in utils.read_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (LABEL_FIELDS, LABEL_FIELDS + 1):
            raise utils.DataError(f"{path}:{number}: {len(fields)} fields, a KITTI label line has {LABEL_FIELDS} "
                                  f"(or {LABEL_FIELDS + 1} with a score)")
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise utils.DataError(f"{path}:{number}: fields 2-{len(fields)} must be numbers") from None
        h, w, l, x, y, z, ry = values[7:14]
        objects.append({"type": fields[0], "truncated": values[0], "occluded": int(values[1]), "alpha": values[2],
                        "bbox": np.array(values[3:7], np.float32),
                        "box": np.array([x, y, z, h, w, l, ry], np.float32),
                        "score": values[14] if len(values) > 14 else 1.0, "line": number})
    return objects


def image_size(path):
    """(width, height) of image_2's picture, from its header."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as e:  # PIL raises several kinds for a corrupt file
        raise utils.DataError(f"{path}: cannot read image ({e})") from None


def valid_mask(points_rect, calib, size):
    """Inside AREA_SCOPE and in front of the camera, inside the image."""
    keep = np.ones(len(points_rect), bool)
    for axis in range(3):
        keep &= (points_rect[:, axis] >= AREA_SCOPE[axis, 0]) & (points_rect[:, axis] <= AREA_SCOPE[axis, 1])
    pixels, depth = calib.rect_to_image(points_rect)
    keep &= (depth > 0) & (pixels[:, 0] >= 0) & (pixels[:, 0] < size[0]) & (pixels[:, 1] >= 0) & (pixels[:, 1] < size[1])
    return keep


class KittiSplit:
    """One split: its frame ids and, read and checked at construction (before any training step), every
    frame's calib, labels and image size, and the size of every .bin (points are read per sample)."""

    def __init__(self, data_dir, split, skip_bad_samples=False, with_labels=True, ids=None):
        self.data_dir, self.split = data_dir, split
        self.list_path = os.path.join(data_dir, "ImageSets", f"{split}.txt")
        self.frames, self.skipped = [], []
        for frame in split_ids(data_dir, split) if ids is None else ids:
            try:
                record = {"id": frame, "calib": Calibration(frame_path(data_dir, "calib", frame)),
                          "size": image_size(frame_path(data_dir, "image_2", frame)),
                          "labels": read_labels(frame_path(data_dir, "label_2", frame)) if with_labels else []}
                check_velodyne(frame_path(data_dir, "velodyne", frame))
            except utils.DataError as e:
                if not skip_bad_samples:
                    raise
                self.skipped.append(str(e))
                continue
            self.frames.append(record)
        if self.skipped and utils.is_main_process():
            print(f"skipped {len(self.skipped)} bad frames of {self.list_path} (first: {self.skipped[0]})", flush=True)
        if not self.frames:
            raise utils.DataError(f"{self.list_path}: no usable frames")

    def cars(self, record):
        return np.array([o["box"] for o in record["labels"] if o["type"] == "Car"], np.float32).reshape(-1, 7)

    def points(self, record):
        """The frame's points in the rectified camera frame (x, y, z, reflectance), scope and FOV kept."""
        raw = read_velodyne(frame_path(self.data_dir, "velodyne", record["id"]))
        rect = record["calib"].lidar_to_rect(raw)
        keep = valid_mask(rect, record["calib"], record["size"])
        return np.concatenate([rect[keep], raw[keep, 3:4]], 1)


def sample_points(points, num_points, rng):
    """A fixed count: the release keeps all near points (depth < 40 m) first when it must drop some, and
    repeats points when there are too few. Without rng (eval): a seeded draw per frame, the same each time."""
    n = len(points)
    if n == 0:
        return np.zeros((num_points, points.shape[1]), np.float32)
    if n >= num_points:
        far = points[:, 2] >= 40.0
        near_idx, far_idx = np.where(~far)[0], np.where(far)[0]
        if len(near_idx) >= num_points:
            choice = rng.choice(near_idx, num_points, replace=False)
        else:
            choice = np.concatenate([near_idx, rng.choice(far_idx, num_points - len(near_idx), replace=False)])
    else:
        choice = np.concatenate([np.arange(n), rng.choice(n, num_points - n, replace=n < num_points - n)])
    rng.shuffle(choice)
    return points[choice].astype(np.float32)


def augment(points, boxes, rng):
    """The release's three augmentations, each with probability 1/2: rotation about the camera's y axis
    (+-18 degrees), scaling (0.95-1.05) and a left-right flip."""
    points, boxes = points.copy(), boxes.copy()
    if rng.random() < 0.5:
        angle = rng.uniform(-np.pi / 10, np.pi / 10)
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)  # rotation about y by -angle in KITTI's sense
        points[:, :3] = points[:, :3] @ rot.T
        boxes[:, :3] = boxes[:, :3] @ rot.T
        boxes[:, 6] += angle
    if rng.random() < 0.5:
        scale = rng.uniform(0.95, 1.05)
        points[:, :3] *= scale
        boxes[:, :6] *= scale
    if rng.random() < 0.5:
        points[:, 0] = -points[:, 0]
        boxes[:, 0] = -boxes[:, 0]
        boxes[:, 6] = np.pi - boxes[:, 6]
    boxes[:, 6] = (boxes[:, 6] + np.pi) % (2 * np.pi) - np.pi
    return points, boxes


MAX_BOXES = 32  # cars per frame given to the losses (padded); more are dropped with a notice


class FrameDataset:
    """Samples of a split: points [num_points, 3] (x, y, z; reflectance is not used, as in the release's
    default config), the padded car boxes [MAX_BOXES, 7] and their count, and the frame's index.
    A frame whose .bin turns out unreadable returns a DataError (raised by the main process)."""

    def __init__(self, split, num_points, train=False, seed=0):
        self.split, self.num_points, self.train, self.seed = split, num_points, train, seed
        self.epoch = 0

    def __len__(self):
        return len(self.split.frames)

    def __getitem__(self, index):
        record = self.split.frames[index]
        try:
            points = self.split.points(record)
        except utils.DataError as e:
            return e
        boxes = self.split.cars(record)
        rng = np.random.default_rng([self.seed, self.epoch if self.train else 0, index])
        if self.train:
            points, boxes = augment(points, boxes, rng)
        points = sample_points(points[:, :3], self.num_points, rng)
        padded = np.zeros((MAX_BOXES, 7), np.float32)
        padded[:min(len(boxes), MAX_BOXES)] = boxes[:MAX_BOXES]
        return points, padded, np.int64(min(len(boxes), MAX_BOXES)), np.int64(index)


def collate(samples):
    """Batches with the bad samples taken out: (batch or None, [error messages])."""
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    if not good:
        return None, errors
    return [np.stack(column) for column in zip(*good)], errors


class BadSampleFilter:
    """Stops at the first bad sample with its message or, with --skip_bad_samples, skips and counts it."""

    def __init__(self, skip):
        self.skip, self.skipped = skip, 0

    def __call__(self, loader):
        for batch, errors in loader:
            for message in errors:
                if not self.skip:
                    raise utils.DataError(message)
                self.skipped += 1
                if utils.is_main_process():
                    print(f"skipped bad sample: {message}", flush=True)
            if batch is not None:
                yield [b.numpy() if hasattr(b, "numpy") else np.asarray(b) for b in batch]


class ResumableBatchSampler:
    """Shuffled batches per epoch (seeded by seed and epoch, split over the ranks), that can start
    part-way through an epoch, so a resumed run sees the batches the unbroken run would have."""

    def __init__(self, size, batch_size, seed, shuffle=True):
        self.size, self.batch_size, self.seed, self.shuffle = size, batch_size, seed, shuffle
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start = epoch, start_batch

    def _batches(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size) if self.shuffle \
            else np.arange(self.size)
        world, rank = utils.world_size(), utils.rank()
        per_rank = self.size // world
        mine = order[rank * per_rank:(rank + 1) * per_rank]
        return [mine[i:i + self.batch_size].tolist() for i in range(0, per_rank - self.batch_size + 1, self.batch_size)]

    def __len__(self):
        return len(self._batches())

    def __iter__(self):
        yield from self._batches()[self.start:]
        self.start = 0


class EvalShard:
    """This rank's share of an eval split (frames rank, rank + world, ...): no padded duplicates."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.indices = list(range(utils.rank(), len(dataset), utils.world_size()))

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def make_train_loader(dataset, args):
    sampler = ResumableBatchSampler(len(dataset), args.batch_size, args.seed)
    return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate)


def make_eval_loader(dataset, args):
    return utils.make_loader(EvalShard(dataset), args, batch_size=args.batch_size, collate_fn=collate)
