"""The only data path: the GOT-10k and VOT2018 sequence layouts, crops around a box, and the training
pairs both trackers learn from.

GOT-10k (training and the dev split):  DATA_DIR/train/list.txt and DATA_DIR/val/list.txt name one
sequence folder per line; DATA_DIR/<split>/<seq>/00000001.jpg ... with groundtruth.txt, one `x,y,w,h`
line per frame (0-based pixels, commas or spaces).
VOT2018 (the test split): TEST_DIR/list.txt; TEST_DIR/<seq>/color/00000001.jpg ... (or the frames in
<seq>/ itself) with groundtruth.txt, one line per frame of 8 values (the corners of a rotated
rectangle) or 4 values (x,y,w,h). A polygon is tracked as its axis-aligned box of the same centre and
area (as the VOT toolkit's rectangle trackers are initialised).
"""
import math
import os
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

import utils
import paddle

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
FRAME_EXTS = (".jpg", ".jpeg", ".png")


class Sequence:
    """One video: frame paths, the boxes (N, 4; x, y, w, h) and the polygons when the file had them."""

    def __init__(self, name, frames, boxes, groundtruth, polygons=None):
        self.name, self.frames, self.boxes, self.groundtruth, self.polygons = name, frames, boxes, groundtruth, polygons

    def __len__(self):
        return len(self.frames)


def polygon_to_box(poly):
    """x, y, w, h of the axis-aligned box with the polygon's centre and area (VOT's rectangle init)."""
    xs, ys = poly[0::2], poly[1::2]
    cx, cy = xs.mean(), ys.mean()
    x1, x2, y1, y2 = xs.min(), xs.max(), ys.min(), ys.max()
    a1 = np.linalg.norm(poly[0:2] - poly[2:4]) * np.linalg.norm(poly[2:4] - poly[4:6])
    a2 = (x2 - x1) * (y2 - y1)
    s = math.sqrt(a1 / a2) if a2 > 0 else 1.0
    w, h = s * (x2 - x1), s * (y2 - y1)
    return np.array([cx - w / 2, cy - h / 2, w, h], dtype=np.float64)


def read_groundtruth(path):
    """(boxes (N, 4), polygons (N, 8) or None). A line with another number of values than 4 or 8, a
    value that is not a number, or a box without area is a DataError naming the file and line."""
    boxes, polys = [], []
    for lineno, line in utils.read_lines(path):
        values = [v for v in re.split(r"[,\s]+", line.strip()) if v]
        try:
            numbers = np.array([float(v) for v in values], dtype=np.float64)
        except ValueError:
            raise utils.DataError(f"{path}:{lineno}: not a number in {line.strip()!r}") from None
        if len(numbers) == 8:
            polys.append(numbers)
            boxes.append(polygon_to_box(numbers))
        elif len(numbers) == 4:
            if numbers[2] <= 0 or numbers[3] <= 0:
                raise utils.DataError(f"{path}:{lineno}: box {line.strip()!r} has no area (w, h must be > 0)")
            boxes.append(numbers)
        else:
            raise utils.DataError(f"{path}:{lineno}: expected 4 values (x,y,w,h) or 8 (polygon), got {len(numbers)}")
    if not boxes:
        raise utils.DataError(f"{path}:1: no boxes")
    if polys and len(polys) != len(boxes):
        raise utils.DataError(f"{path}: mixes 4-value and 8-value lines")
    return np.stack(boxes), (np.stack(polys) if polys else None)


def list_frames(folder, count, groundtruth):
    """The first `count` frames of a folder, numbered 1..count (any zero padding). A missing number is
    a DataError naming the frame file that should be there."""
    names = [n for n in os.listdir(folder) if n.lower().endswith(FRAME_EXTS)]
    numbered = {}
    for name in names:
        stem = os.path.splitext(name)[0]
        if stem.isdigit():
            numbered[int(stem)] = name
    if not numbered:
        raise utils.DataError(f"{groundtruth}:1: no numbered frames (00000001.jpg ...) in {folder}")
    sample = next(iter(numbered.values()))
    width, ext = len(os.path.splitext(sample)[0]), os.path.splitext(sample)[1]
    frames = []
    for i in range(1, count + 1):
        if i not in numbered:
            raise utils.DataError(f"{groundtruth}:{i}: frame {os.path.join(folder, f'{i:0{width}d}{ext}')} not found")
        frames.append(os.path.join(folder, numbered[i]))
    return frames


def read_sequence(seq_dir):
    groundtruth = os.path.join(seq_dir, "groundtruth.txt")
    boxes, polys = read_groundtruth(groundtruth)
    folder = os.path.join(seq_dir, "color") if os.path.isdir(os.path.join(seq_dir, "color")) else seq_dir
    frames = list_frames(folder, len(boxes), groundtruth)
    return Sequence(os.path.basename(seq_dir.rstrip("/")), frames, boxes, groundtruth, polys)


def read_list(list_path):
    if not os.path.isfile(list_path):
        raise utils.DataError(f"{list_path}: file not found")
    names = [(n, line.strip()) for n, line in utils.read_lines(list_path) if line.strip()]
    if not names:
        raise utils.DataError(f"{list_path}:1: the list is empty")
    return names


def load_sequences(root, split, skip_bad=False):
    """The sequences of a split: `train`/`val` of a GOT-10k root, or `test` = a VOT root's list.txt.
    With skip_bad, a sequence with bad input is left out and counted (returned second)."""
    base = root if split == "test" else os.path.join(root, split)
    list_path = os.path.join(base, "list.txt")
    sequences, skipped = [], 0
    for lineno, name in read_list(list_path):
        seq_dir = os.path.join(base, name)
        try:
            if not os.path.isdir(seq_dir):
                raise utils.DataError(f"{list_path}:{lineno}: sequence folder {seq_dir} not found")
            sequences.append(read_sequence(seq_dir))
        except utils.DataError as e:
            if not skip_bad:
                raise
            skipped += 1
            if utils.is_main_process():
                print(f"skipped bad sequence: {e}", flush=True)
    if not sequences:
        raise utils.DataError(f"{list_path}: no usable sequence")
    return sequences, skipped


def load_frame(path):
    """An RGB frame as uint8 HWC, or a DataError naming the file."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        return utils.DataError(f"{path}: frame not found")
    except (UnidentifiedImageError, OSError) as e:
        return utils.DataError(f"{path}: cannot decode frame ({e})")


def crop(image, center, side, out_size, fill=None):
    """The square of `side` pixels (or (w, h)) around `center`, resized to out_size (bilinear); the part
    outside the frame is filled with the frame's mean colour (SiamFC's padding)."""
    sw, sh = (side, side) if np.isscalar(side) else side
    x0, y0 = center[0] - sw / 2, center[1] - sh / 2
    pil = Image.fromarray(image)
    fill = tuple(int(v) for v in (image.reshape(-1, 3).mean(0) if fill is None else fill))
    out = pil.transform((out_size, out_size), Image.Transform.EXTENT, (x0, y0, x0 + sw, y0 + sh),
                        resample=Image.Resampling.BILINEAR, fillcolor=fill)
    return np.asarray(out)


def to_chw(patch, normalize):
    """uint8 HWC -> float32 CHW: 0-255 for SiamFC (as the release), ImageNet mean/std for ATOM."""
    x = patch.astype(np.float32)
    if normalize:
        x = (x / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1).copy()


def context_side(w, h, context=0.5):
    """SiamFC's exemplar region: sqrt((w + p)(h + p)) with p = context * (w + h)."""
    p = context * (w + h)
    return math.sqrt((w + p) * (h + p))


# ----------------------------------------------------------------------------------- training pairs

class PairDataset(paddle.io.Dataset):
    """`length` training pairs per epoch, each drawn from (seed, epoch, index): a sequence, a
    reference frame and a test frame at most `max_gap` frames apart. A bad frame is returned as a
    utils.DataError (the main process raises it, or skips it with --skip_bad_samples).

    mode "siamfc": (exemplar 3x127x127, search 3x255x255 around the target moved by up to
    `max_shift` px and rescaled by up to `scale_jitter`, label map 17x17, weight map 17x17).
    mode "atom": (reference crop, test crop, reference box, proposals (P, 4), their IoU with the test
    box (P,)) where crops are `image_size` squares of `search_area` times the target's size."""

    def __init__(self, sequences, mode, length, seed, cfg):
        self.sequences, self.mode, self.length, self.seed, self.cfg = sequences, mode, length, seed, cfg
        self.epoch = 0

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, index))
        seq = self.sequences[rng.integers(len(self.sequences))]
        a = int(rng.integers(len(seq)))
        lo, hi = max(0, a - self.cfg["max_gap"]), min(len(seq) - 1, a + self.cfg["max_gap"])
        b = int(rng.integers(lo, hi + 1))
        frames = [load_frame(seq.frames[a]), load_frame(seq.frames[b])]
        for f in frames:
            if isinstance(f, utils.DataError):
                return f
        if self.mode == "siamfc":
            return siamfc_pair(frames, seq.boxes[a], seq.boxes[b], rng, self.cfg)
        return atom_pair(frames, seq.boxes[a], seq.boxes[b], rng, self.cfg)


def siamfc_pair(frames, box_z, box_x, rng, cfg):
    ez, sx = cfg["exemplar_size"], cfg["search_size"]
    side = context_side(box_z[2], box_z[3])
    exemplar = crop(frames[0], box_z[:2] + box_z[2:] / 2, side, ez)
    side_x = context_side(box_x[2], box_x[3]) * sx / ez * math.exp(rng.uniform(-1, 1) * cfg["scale_jitter"])
    shift = rng.uniform(-1, 1, 2) * cfg["max_shift"]  # in search-crop pixels
    center = box_x[:2] + box_x[2:] / 2 - shift * side_x / sx
    search = crop(frames[1], center, side_x, sx)
    label, weight = siamfc_labels(cfg["score_size"], cfg["total_stride"], shift, cfg["radius"])
    return to_chw(exemplar, False), to_chw(search, False), label, weight


def siamfc_labels(score_size, stride, shift, radius):
    """The logistic loss's targets: 1 within `radius` search pixels of the target (at `shift` from
    the crop centre), 0 elsewhere, and class-balanced weights (half the loss on each class)."""
    c = (score_size - 1) / 2
    ys, xs = np.mgrid[0:score_size, 0:score_size].astype(np.float32)
    dist = np.hypot((xs - c) * stride - shift[0], (ys - c) * stride - shift[1])
    label = (dist <= radius).astype(np.float32)
    pos = label.sum()
    weight = np.where(label > 0, 0.5 / max(pos, 1), 0.5 / (label.size - pos)).astype(np.float32)
    return label, weight


def iou_xywh(a, b):
    """IoU of boxes (..., 4) x, y, w, h, broadcasting."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    x1 = np.maximum(a[..., 0], b[..., 0])
    y1 = np.maximum(a[..., 1], b[..., 1])
    x2 = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    y2 = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def atom_crop(frame, box, center, cfg):
    """A square crop of `search_area` x sqrt(w*h) around `center`, resized to image_size; returns the
    crop and the box in crop pixels."""
    side = cfg["search_area"] * math.sqrt(box[2] * box[3])
    size = cfg["image_size"]
    patch = crop(frame, center, side, size)
    scale = size / side
    x0, y0 = center[0] - side / 2, center[1] - side / 2
    return patch, np.array([(box[0] - x0) * scale, (box[1] - y0) * scale, box[2] * scale, box[3] * scale])


def jitter_boxes(box, rng, count, sigmas=(0.05, 0.1, 0.2, 0.3)):
    """`count` proposals around a box: centre moved and size rescaled by Gaussian noise of a sigma
    picked per proposal (ATOM's mixed sigmas, relative to the box size)."""
    out = []
    for _ in range(count):
        s = sigmas[rng.integers(len(sigmas))]
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        w, h = box[2] * math.exp(rng.normal(0, s)), box[3] * math.exp(rng.normal(0, s))
        cx += rng.normal(0, s) * box[2]
        cy += rng.normal(0, s) * box[3]
        out.append([cx - w / 2, cy - h / 2, w, h])
    return np.array(out)


def atom_pair(frames, box_a, box_b, rng, cfg):
    def jittered_center(box):
        c = box[:2] + box[2:] / 2
        return c + rng.uniform(-1, 1, 2) * cfg["center_jitter"] * math.sqrt(box[2] * box[3])

    ref, ref_box = atom_crop(frames[0], box_a, jittered_center(box_a), cfg)
    test, test_box = atom_crop(frames[1], box_b, jittered_center(box_b), cfg)
    proposals = jitter_boxes(test_box, rng, cfg["num_proposals"])
    iou = iou_xywh(proposals, test_box[None])
    return (to_chw(ref, True), to_chw(test, True), ref_box.astype(np.float32), proposals.astype(np.float32),
            iou.astype(np.float32))


# ------------------------------------------------------------------------------------------- loading

_NO_GOOD_SAMPLES = "__no_good_samples__"


def collate_with_errors(samples):
    """(batch, [error messages]): bad samples are kept out of the batch and reported."""
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    if not good:
        return {_NO_GOOD_SAMPLES: True}, errors
    return [np.stack(field) for field in zip(*good)], errors


class BadSampleFilter:
    """Stops at the first bad sample with its message, or with --skip_bad_samples skips and counts it."""

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
            if not (isinstance(batch, dict) and _NO_GOOD_SAMPLES in batch):
                yield [x if isinstance(x, paddle.Tensor) else paddle.to_tensor(x) for x in batch]


class ResumableBatchSampler(paddle.io.Sampler):
    """Consecutive index batches of this rank's share; set_epoch(epoch, start_batch) restarts mid-epoch.
    The pairs themselves are random by (seed, epoch, index), so no shuffling is needed."""

    def __init__(self, length, batch_size):
        self.length, self.batch_size = length, batch_size
        self.start = 0

    def set_epoch(self, epoch, start_batch=0):
        self.start = start_batch

    def __iter__(self):
        n, r = utils.world_size(), utils.rank()
        for b in range(self.start, len(self)):
            first = (b * n + r) * self.batch_size
            yield list(range(first, first + self.batch_size))

    def __len__(self):
        return self.length // (self.batch_size * utils.world_size())


def make_train_loader(dataset, args):
    sampler = ResumableBatchSampler(len(dataset), args.batch_size)
    return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)

