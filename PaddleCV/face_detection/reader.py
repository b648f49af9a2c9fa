"""The only data path: WIDER FACE annotations, the training augmentation (colour distortion, flip,
PyramidBox's data-anchor-sampling), the training targets, and the batching that --resume and bad
samples need.

On-disk layout (the real WIDER FACE's; DATA_DIR defaults to data/demo):

    DATA_DIR/WIDER_train/images/<event>/<name>.jpg          e.g. 0--Parade/0_Parade_marchingband_1_849.jpg
    DATA_DIR/WIDER_val/images/<event>/<name>.jpg
    DATA_DIR/wider_face_split/wider_face_{train,val}_bbx_gt.txt
    DATA_DIR/ground_truth/wider_{easy,medium,hard}_val.mat  the official evaluation's files (eval_tools)

A bbx_gt file repeats: the image's path under images/, the number of faces n, then n lines
`x y w h blur expression illumination invalid occlusion pose` (pixels; a count of 0 is followed by one
line of zeros). Faces marked invalid are read and ignored: not trained on, and left out of the metric
(the official .mat files leave them out of every subset).

Bad input, checked for the whole split before the first step: a malformed count or face line stops
with `file:line: what`; a missing image and a valid face with zero or negative width or height stop
with the file and line too, or with --skip_bad_samples the image is skipped and counted. (A malformed
count cannot be skipped: the rest of the file could not be read reliably.) A corrupt JPEG is found
when it is read (the same message, or skipped and counted). Invalid faces of zero size, which the
real train file has, are dropped without a message.
"""
import math
import os

import numpy as np
from PIL import Image, ImageEnhance, UnidentifiedImageError

import utils
import paddle
from paddle.io.dataloader.collate import default_collate_fn

import anchors

MEAN = np.array([123.0, 117.0, 104.0], dtype=np.float32)  # the recipes' mean colour, RGB
STD = 127.502231
FIELDS = "x y w h blur expression illumination invalid occlusion pose"


def gt_file(data_dir, split):
    return os.path.join(data_dir, "wider_face_split", f"wider_face_{split}_bbx_gt.txt")


def image_root(data_dir, split):
    return os.path.join(data_dir, f"WIDER_{split}", "images")


def read_split(data_dir, split, skip_bad_samples=False):
    """Records of every image of `split` (train or val) in file order: image path, `where` (file:line of
    its name), event, name (without .jpg), boxes [G, 4] float32 (x, y, w, h of every face, invalid ones
    too), invalid [G] bool, attributes [G, 6] int (blur expression illumination invalid occlusion pose).
    Returns (records, skipped)."""
    path = gt_file(data_dir, split)
    root = image_root(data_dir, split)
    lines = utils.read_lines(path)
    records, bad = [], BadSampleFilter(skip_bad_samples)
    i = 0
    while i < len(lines):
        lineno, text = lines[i]
        name = text.strip()
        i += 1
        if not name:
            continue
        where = f"{path}:{lineno}"
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            raise utils.DataError(f"{where}: expected an image path (<event>/<name>.jpg), got {name!r}")
        if i >= len(lines):
            raise utils.DataError(f"{where}: the file ends before the face count of {name}")
        count_line, count_text = lines[i]
        try:
            count = int(count_text.strip())
            if count < 0:
                raise ValueError
        except ValueError:
            raise utils.DataError(f"{path}:{count_line}: expected the number of faces of {name}, "
                                  f"got {count_text.strip()!r}") from None
        i += 1
        rows, problem = [], None
        for k in range(max(count, 1)):
            if i >= len(lines):
                raise utils.DataError(f"{path}:{lines[-1][0]}: the file ends inside the entry of {name} "
                                      f"({count} faces announced, {k} given)")
            face_line, face_text = lines[i]
            i += 1
            fields = face_text.split()
            try:
                values = [float(v) for v in fields]
            except ValueError:
                values = []
            if len(values) != 10:
                problem = problem or (f"{path}:{face_line}: face {k + 1} of {name}: expected 10 numbers ({FIELDS}), "
                                      f"got {face_text.strip()!r}")
                continue
            if count:
                rows.append((face_line, values))
        if problem:
            bad.report(problem)
            continue
        boxes, attrs, degenerate = [], [], None
        for k, (face_line, v) in enumerate(rows, 1):
            invalid = v[7] != 0
            if v[2] <= 0 or v[3] <= 0:
                if invalid:
                    continue  # the real train file has some; they are ignored anyway
                degenerate = degenerate or (f"{path}:{face_line}: face {k} of {name}: box (x {v[0]:g}, y {v[1]:g}, "
                                            f"w {v[2]:g}, h {v[3]:g}) has zero or negative size")
            boxes.append(v[:4])
            attrs.append([int(a) for a in v[4:]])
        image = os.path.join(root, name)
        if degenerate:
            bad.report(degenerate)
            continue
        if not os.path.isfile(image):
            bad.report(f"{where}: image {image} not found")
            continue
        attrs = np.array(attrs, dtype=np.int64).reshape(-1, 6)
        records.append({"image": image, "where": where, "event": os.path.dirname(name),
                        "name": os.path.splitext(os.path.basename(name))[0],
                        "boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4),
                        "invalid": attrs[:, 3] != 0, "attributes": attrs})
    if not records:
        raise utils.DataError(f"{path}:1: no image in this split")
    return records, bad.skipped


def split_dev(records, dev_every):
    """(training records, dev records): every `dev_every`-th image of the training file is held out to
    pick best.pdparams (WIDER FACE has no dev split; its val split is the one reported)."""
    if not dev_every:
        return records, []
    return ([r for i, r in enumerate(records) if i % dev_every != dev_every - 1],
            [r for i, r in enumerate(records) if i % dev_every == dev_every - 1])


def load_image(path, where):
    """RGB uint8 array [H, W, 3]; a missing or undecodable file becomes a DataError naming `where`."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return utils.DataError(f"{where}: cannot decode image {path} ({e})")


def corner_boxes(record):
    """The valid faces as (x1, y1, x2, y2) pixels."""
    b = record["boxes"][~record["invalid"]]
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1).astype(np.float32)


# ------------------------------------------------------------------------------------ augmentation

def photometric_distort(image, rng):
    """Brightness (x0.875-1.125), contrast and saturation (x0.5-1.5), each with probability 0.5."""
    pil = Image.fromarray(image)
    if rng.random() < 0.5:
        pil = ImageEnhance.Brightness(pil).enhance(rng.uniform(0.875, 1.125))
    if rng.random() < 0.5:
        pil = ImageEnhance.Contrast(pil).enhance(rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        pil = ImageEnhance.Color(pil).enhance(rng.uniform(0.5, 1.5))
    return np.asarray(pil)


def random_flip(image, boxes, rng):
    if rng.random() < 0.5:
        w = image.shape[1]
        image = image[:, ::-1]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    return image, boxes


def data_anchor_sampling(image, boxes, rng, anchor_sizes, out_size):
    """PyramidBox's data-anchor-sampling (Tang et al. 2018, sec. 3.4): pick a face, find the anchor
    size nearest to it (index i), draw a target anchor size index uniformly from 0..min(i + 1, last),
    rescale the picture so that the face's size is uniform in [target / 2, 2 * target], and cut an
    out_size x out_size window around the face (the canvas beyond the picture is the mean colour).
    Faces whose centre leaves the window are dropped; the others are clipped to it."""
    if len(boxes) == 0:
        return image, boxes
    face = boxes[rng.integers(len(boxes))]
    size = math.sqrt(max((face[2] - face[0]) * (face[3] - face[1]), 1.0))
    nearest = int(np.argmin([abs(a - size) for a in anchor_sizes]))
    target = anchor_sizes[int(rng.integers(0, min(nearest + 1, len(anchor_sizes) - 1) + 1))]
    scale = rng.uniform(target / 2, target * 2) / size
    h, w = image.shape[:2]
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    boxes = boxes * np.array([nw / w, nh / h, nw / w, nh / h], dtype=np.float32)
    face = face * np.array([nw / w, nh / h, nw / w, nh / h], dtype=np.float32)
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    x0 = int(rng.uniform(cx - out_size, cx))
    y0 = int(rng.uniform(cy - out_size, cy))
    canvas = np.empty((out_size, out_size, 3), dtype=np.uint8)
    canvas[:] = MEAN.astype(np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + out_size, nw), min(y0 + out_size, nh)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    boxes = boxes - np.array([x0, y0, x0, y0], dtype=np.float32)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    keep = np.all((centres >= 0) & (centres < out_size), axis=1)
    boxes = np.clip(boxes[keep], 0, out_size)
    return canvas, boxes


def resize_normalise(image, image_size):
    """The one eval/infer/export preprocessing of our runs: resize to image_size x image_size (bilinear,
    not keeping the aspect ratio), subtract the mean colour, divide by STD (127.502231), CHW float32.
    Returns (chw, im_shape, scale_factor) with scale_factor = (image_size / h, image_size / w).
    PaddleDetection's own weights take suite_recipe.preprocess instead."""
    h, w = image.shape[:2]
    if (h, w) != (image_size, image_size):
        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((image_size, image_size), Image.BILINEAR))
    chw = ((image.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
    return (np.ascontiguousarray(chw, dtype=np.float32), np.array([image_size, image_size], dtype=np.float32),
            np.array([image_size / h, image_size / w], dtype=np.float32))


def expand_head_boxes(boxes):
    """PyramidBox's head boxes (normalised x1 y1 x2 y2): each face box grown by half its size on every
    side, clipped to the picture, as the release's reader derives them."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.clip(np.stack([boxes[:, 0] - w / 2, boxes[:, 1] - h / 2, boxes[:, 2] + w / 2, boxes[:, 3] + h / 2],
                            axis=1), 0.0, 1.0).astype(np.float32)


class WiderFace(paddle.io.Dataset):
    """Training samples (image, loc [P, 4], labels [P]) and for PyramidBox also (head loc, head labels),
    or eval samples (image, im_shape, scale_factor, index). A bad sample is returned as a
    utils.DataError, never raised. Augmentation draws from a generator seeded by (seed, epoch,
    index): the same in every worker and after a resume."""

    def __init__(self, records, image_size, train=False, seed=0, augment=True, spec=None, anchor_sampling=0.0):
        self.records, self.image_size = records, image_size
        self.train, self.seed, self.epoch, self.augment = train, seed, 0, augment
        self.anchor_sampling = anchor_sampling
        self.spec = spec
        self.priors = spec.priors(image_size) if train else None

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        record = self.records[index]
        image = load_image(record["image"], record["where"])
        if isinstance(image, utils.DataError):
            return image
        if not self.train:
            return (*resize_normalise(image, self.image_size), np.int64(index))
        boxes = corner_boxes(record)
        h, w = image.shape[:2]
        boxes = np.clip(boxes, 0, np.array([w, h, w, h], dtype=np.float32))
        boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image = photometric_distort(image, rng)
            if self.anchor_sampling and rng.random() < self.anchor_sampling:
                image, boxes = data_anchor_sampling(image, boxes, rng, self.spec.anchor_sizes, self.image_size)
            image, boxes = random_flip(image, boxes, rng)
        h, w = image.shape[:2]
        chw = resize_normalise(image, self.image_size)[0]
        normalised = boxes / np.array([w, h, w, h], dtype=np.float32)
        labels = np.ones(len(normalised), dtype=np.int64)
        loc, target = anchors.match(normalised, labels, self.priors, self.spec.match_iou)
        if not self.spec.head_boxes:
            return chw, loc, target
        head_loc, head_target = anchors.match(expand_head_boxes(normalised), labels, self.priors, self.spec.match_iou)
        return chw, loc, target, head_loc, head_target


class ResumableBatchSampler(paddle.io.BatchSampler):
    """Batches of dataset indices: shuffled by (seed, epoch), sharded over ranks, and able to start
    mid-epoch, so that --resume neither re-reads nor skips a sample."""

    def __init__(self, num_samples, batch_size, shuffle=True, drop_last=True, seed=0):
        self.num_samples, self.batch_size = num_samples, batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        order = np.arange(self.num_samples)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(self.num_samples)
        per_rank = self.num_samples // utils.world_size()
        mine = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank] if utils.world_size() > 1 else order
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        return [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        per_rank = self.num_samples // utils.world_size()
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


def eval_shard(dataset):
    """This rank's share of an eval set, without padded duplicates."""
    if utils.world_size() == 1:
        return dataset
    return paddle.io.Subset(dataset, list(range(utils.rank(), len(dataset), utils.world_size())))


_NO_GOOD_SAMPLES = "no_good_samples"


def collate_with_errors(samples):
    """Collate a batch's good samples and pass the bad ones' messages along (a Dataset that raises
    hangs Paddle's DataLoader or buries the message; an all-bad batch travels as a marker dict)."""
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    batch = default_collate_fn(good) if good else {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}
    return batch, errors


class BadSampleFilter:
    """Stops at the first bad sample with its message, or with --skip_bad_samples skips and counts
    (bad annotation entries in read_split, bad pictures in a loader's batches)."""

    def __init__(self, skip):
        self.skip, self.skipped = skip, 0

    def report(self, message):
        if not self.skip:
            raise utils.DataError(message)
        self.skipped += 1
        if utils.is_main_process():
            print(f"skipped bad sample: {message}", flush=True)

    def __call__(self, loader):
        for batch, errors in loader:
            for message in errors:
                self.report(message)
            if not (isinstance(batch, dict) and _NO_GOOD_SAMPLES in batch):
                yield batch


def make_loader(dataset, args, train):
    if train:
        sampler = ResumableBatchSampler(len(dataset), args.batch_size, shuffle=True, seed=args.seed)
        return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)
    return utils.make_loader(eval_shard(dataset), args, batch_size=args.batch_size, collate_fn=collate_with_errors)
