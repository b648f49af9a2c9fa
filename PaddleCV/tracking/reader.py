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


def atom_crop(frame, box, center, cfg, size_estimate=None):
    """A square crop of `search_area` x sqrt(w*h) (of `size_estimate` when given) around `center`,
    resized to image_size; returns the crop and the box in crop pixels."""
    wh = box[2:] if size_estimate is None else size_estimate
    side = cfg["search_area"] * math.sqrt(wh[0] * wh[1])
    size = cfg["image_size"]
    patch = crop(frame, center, side, size)
    scale = size / side
    x0, y0 = center[0] - side / 2, center[1] - side / 2
    return patch, np.array([(box[0] - x0) * scale, (box[1] - y0) * scale, box[2] * scale, box[3] * scale])


def jitter_boxes(box, rng, count, sigmas, min_iou):
    """`count` proposals around a box: centre moved and size rescaled by Gaussian noise of a sigma
    picked per proposal (ATOM's mixed sigmas, relative to the box size). With `min_iou` > 0 a
    proposal overlapping the box by less is drawn again with its sigma x0.9 (up to 100 times), as the
    release's perturb_box does."""
    out = []
    centre_x, centre_y = box[0] + box[2] / 2, box[1] + box[3] / 2
    for _ in range(count):
        s = sigmas[rng.integers(len(sigmas))]
        for _ in range(100):
            w, h = box[2] * math.exp(rng.normal(0, s)), box[3] * math.exp(rng.normal(0, s))
            cx = centre_x + rng.normal(0, s) * box[2]
            cy = centre_y + rng.normal(0, s) * box[3]
            proposal = [cx - w / 2, cy - h / 2, w, h]
            if min_iou <= 0 or iou_xywh(np.array([proposal]), box[None])[0] > min_iou:
                break
            s *= 0.9
        out.append(proposal)
    return np.array(out)


def atom_pair(frames, box_a, box_b, rng, cfg):
    """As the release samples them: the reference crop centred on its target (as the first frame is at
    tracking time), the test crop's centre jittered by up to `center_jitter` target sizes and its scale
    by exp(N(0, `scale_jitter`)) (the previous frame's estimate the tracker crops around)."""
    def jittered_center(box, factor):
        c = box[:2] + box[2:] / 2
        return c + rng.uniform(-1, 1, 2) * factor * math.sqrt(box[2] * box[3])

    ref, ref_box = atom_crop(frames[0], box_a, jittered_center(box_a, cfg["ref_jitter"]), cfg)
    size_estimate = box_b[2:] * math.exp(rng.normal(0, cfg["scale_jitter"]))  # what the crop is sized by, not the box
    test, test_box = atom_crop(frames[1], box_b, jittered_center(box_b, cfg["center_jitter"]), cfg, size_estimate)
    proposals = jitter_boxes(test_box, rng, cfg["num_proposals"], cfg["proposal_sigmas"], cfg["min_iou"])
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


# ------------------------------------------------------------------------------------ ImageNet-VID

def is_vid(root):
    """True when `root` has ImageNet-VID's layout (Annotations/VID and Data/VID)."""
    return os.path.isdir(os.path.join(root, "Annotations", "VID")) and os.path.isdir(os.path.join(root, "Data", "VID"))


def vid_snippets(root, split):
    """The snippet paths of a VID split: the first field of every line of ImageSets/VID/train_*.txt
    (`<snippet> <1|-1>`, one file per class: their union is every snippet) for "train", and the
    folders of ImageSets/VID/val.txt's `<snippet>/<frame> <index>` lines for "val"; in file order,
    each once."""
    sets = os.path.join(root, "ImageSets", "VID")
    if split == "train":
        files = sorted(n for n in os.listdir(sets) if re.fullmatch(r"train_\d+\.txt", n)) if os.path.isdir(sets) else []
        if not files:
            raise utils.DataError(f"{sets}/train_1.txt: file not found (no ImageSets/VID/train_*.txt)")
    else:
        files = ["val.txt"]
    seen = {}
    for name in files:
        for lineno, line in read_list(os.path.join(sets, name)):
            first = line.split()[0]
            snippet = first if split == "train" else os.path.dirname(first)
            if not snippet:
                raise utils.DataError(f"{os.path.join(sets, name)}:{lineno}: expected <snippet>/<frame> <index>, got {line!r}")
            seen.setdefault(snippet, (os.path.join(sets, name), lineno))
    return seen


def read_vid_annotation(path):
    """{trackid: (x, y, w, h)} of one frame's xml; malformed xml or a box field missing is a DataError
    naming the file (and line)."""
    import xml.etree.ElementTree as ET
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        raise utils.DataError(f"{path}:{e.position[0]}: malformed xml ({e})") from None
    boxes = {}
    for n, obj in enumerate(tree.getroot().iter("object"), 1):
        try:
            track = int(obj.findtext("trackid"))
            b = obj.find("bndbox")
            x1, y1, x2, y2 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError, AttributeError):
            raise utils.DataError(f"{path}: <object> {n}: expected an integer <trackid> and a numeric "
                                  "<bndbox> xmin/ymin/xmax/ymax") from None
        if x2 > x1 and y2 > y1:  # VID has a few empty boxes: that frame does not count for the track
            boxes[track] = np.array([x1, y1, x2 - x1, y2 - y1])
    return boxes


def read_vid_snippet(root, split, snippet, listed_at):
    """One training sequence per track of a snippet (the frames where it has a box, at least 2);
    `listed_at` (list file:line) names where a snippet without annotations was listed."""
    ann_dir = os.path.join(root, "Annotations", "VID", split, snippet)
    data_dir = os.path.join(root, "Data", "VID", split, snippet)
    if not os.path.isdir(ann_dir):
        raise utils.DataError(f"{listed_at}: annotation folder {ann_dir} not found")
    tracks = {}
    for name in sorted(n for n in os.listdir(ann_dir) if n.endswith(".xml")):
        xml = os.path.join(ann_dir, name)
        frame = os.path.join(data_dir, name[:-4] + ".JPEG")
        if not os.path.isfile(frame):
            raise utils.DataError(f"{xml}: frame {frame} not found")
        for track, box in read_vid_annotation(xml).items():
            tracks.setdefault(track, ([], []))
            tracks[track][0].append(frame)
            tracks[track][1].append(box)
    return [Sequence(f"{snippet}#{track}", frames, np.stack(boxes), ann_dir)
            for track, (frames, boxes) in sorted(tracks.items()) if len(frames) >= 2]


def load_vid_sequences(root, split, skip_bad=False):
    """ImageNet-VID's train or val split as training sequences (one per track); as load_sequences."""
    sequences, skipped = [], 0
    for snippet, (list_path, lineno) in vid_snippets(root, split).items():
        try:
            sequences += read_vid_snippet(root, split, snippet, f"{list_path}:{lineno}")
        except utils.DataError as e:
            if not skip_bad:
                raise
            skipped += 1
            if utils.is_main_process():
                print(f"skipped bad snippet: {e}", flush=True)
    if not sequences:
        raise utils.DataError(f"{root}/ImageSets/VID: no track with two frames in the {split} split")
    return sequences, skipped


def load_training_sequences(root, split, data_format="auto", skip_bad=False):
    """train/val sequences of a GOT-10k root or (data_format vid, or auto-detected) an ImageNet-VID root."""
    if data_format == "vid" or (data_format == "auto" and is_vid(root)):
        return load_vid_sequences(root, split, skip_bad)
    return load_sequences(root, split, skip_bad)
