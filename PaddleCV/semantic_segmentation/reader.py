"""The only data path: Cityscapes-style list files (`image_path label_path` per line, relative to the
dataset root) over PNG/JPEG images and single-channel train-id label PNGs, plus the transforms, the
resumable batch sampler and the bad-sample handling of the loaders.

Training: random scale (0.5-2.0), random crop with padding (image by the mean colour, label by the
ignore index), horizontal flip, normalize. Evaluation and inference: the full image, normalize only.
Bad input raises utils.DataError naming the list file and line; every list line and the files it
names are checked when the dataset is built, so a missing val image stops a run before its first
step. With skip_bad_samples a bad line or sample is skipped and counted instead."""
import math
import os
import random

import numpy as np
from PIL import Image

import utils  # first: it silences paddle's import-time warnings
import paddle
from paddle.io.dataloader.collate import default_collate_fn

IGNORE_INDEX = 255
MEAN = np.array([0.5, 0.5, 0.5], dtype=np.float32)  # PaddleSeg's normalisation: x/255 -> [-1, 1]
STD = np.array([0.5, 0.5, 0.5], dtype=np.float32)

CITYSCAPES_CLASSES = ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                      "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car", "truck",
                      "bus", "train", "motorcycle", "bicycle"]
# The Cityscapes colour of each train id, used for the prediction PNGs.
CITYSCAPES_PALETTE = [(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
                      (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
                      (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
                      (0, 80, 100), (0, 0, 230), (119, 11, 32)]
# PASCAL Context's 59 classes (PaddleSeg's ids 0-58; the background is the ignore index).
PASCAL_CONTEXT_CLASSES = [
    "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
    "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow", "cup",
    "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground", "horse", "keyboard",
    "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant", "road",
    "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table", "track", "train",
    "tree", "truck", "tvmonitor", "wall", "water", "window", "wood"]
DATASETS = {"cityscapes": CITYSCAPES_CLASSES, "pascal_context": PASCAL_CONTEXT_CLASSES}


def class_names(dataset, num_classes):
    """The dataset's class names; `class <id>` for ids beyond them (a --num_classes override)."""
    names = DATASETS.get(dataset, [])
    return [names[i] if i < len(names) and len(names) == num_classes else f"class {i}" for i in range(num_classes)]


def palette(num_classes):
    """Cityscapes colours for its 19 classes, fixed pseudo-random colours beyond; ignore is black."""
    colors = np.random.default_rng(7).integers(0, 256, size=(256, 3)).astype(np.uint8)
    colors[:len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE
    colors[IGNORE_INDEX] = 0
    return colors


class BadSamples:
    """Stops at the first bad line or sample with its message or, with skip=True
    (--skip_bad_samples), prints it and counts it."""

    def __init__(self, skip):
        self.skip, self.skipped = skip, 0

    def report(self, message):
        if not self.skip:
            raise utils.DataError(message)
        self.skipped += 1
        if utils.is_main_process():
            print(f"skipped bad sample: {message}", flush=True)

    def __call__(self, loader):
        """Yield the batches of a loader built with `collate`, reporting the bad samples they carry."""
        for batch, errors in loader:
            for message in errors:
                self.report(message)
            if not (isinstance(batch, dict) and _NO_GOOD_SAMPLES in batch):
                yield batch


def read_list(list_path, data_dir, with_labels=True, bad=None):
    """[(image_path, label_path or None, where)] with `where` = 'list_path:lineno' for error messages.
    Every line is checked here, and that its files exist, so a run fails (or skips, with
    bad=BadSamples(skip=True)) before it trains. A non-UTF-8 byte always stops: the file is not a list."""
    bad = bad or BadSamples(skip=False)
    samples = []
    for lineno, line in utils.read_lines(list_path):
        parts = line.split()
        if not parts:
            continue
        where = f"{list_path}:{lineno}"
        if len(parts) > 2 or (with_labels and len(parts) != 2):
            bad.report(f"{where}: expected 'image_path label_path', got {line.strip()!r}")
            continue
        image = os.path.join(data_dir, parts[0])
        label = os.path.join(data_dir, parts[1]) if len(parts) == 2 else None
        missing = [(what, path) for what, path in (("image", image), ("label", label))
                   if path is not None and not os.path.isfile(path)]
        if missing:
            bad.report(f"{where}: {missing[0][0]} file not found: {missing[0][1]}")
            continue
        samples.append((image, label, where))
    if not samples:
        raise utils.DataError(f"{list_path}:1: the list has no usable line")
    return samples


def to_rgb8(im):
    """A PIL image as uint8 HWC RGB. 16-bit greyscale (PNG mode I;16 or I) is scaled to 0-255 rather
    than clipped (convert("RGB") would make nearly every pixel white); 16-bit RGB PNGs already load
    as 8-bit RGB."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey = np.clip(np.round(grey * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def load_image(path, where):
    if not os.path.isfile(path):
        raise utils.DataError(f"{where}: image file not found: {path}")
    try:
        with Image.open(path) as im:
            return to_rgb8(im)
    except Exception as e:  # PIL raises several types for truncated or non-image files
        raise utils.DataError(f"{where}: cannot decode image {path}: {e}") from None


def load_label(path, where, num_classes, image_shape):
    if not os.path.isfile(path):
        raise utils.DataError(f"{where}: label file not found: {path}")
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise utils.DataError(f"{where}: label {path} has mode {im.mode}; expected a single-channel "
                                      f"PNG of train ids (e.g. *_gtFine_labelTrainIds.png)")
            label = np.asarray(im)
    except utils.DataError:
        raise
    except Exception as e:
        raise utils.DataError(f"{where}: cannot decode label {path}: {e}") from None
    if label.shape != image_shape[:2]:
        raise utils.DataError(f"{where}: label {path} is {label.shape[1]}x{label.shape[0]} but its image is "
                              f"{image_shape[1]}x{image_shape[0]}")
    values = np.unique(label)
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        raise utils.DataError(f"{where}: label {path} has value(s) {bad[:5].tolist()} that are neither a class id "
                              f"(0..{num_classes - 1}) nor the ignore index {IGNORE_INDEX}")
    return label.astype(np.int64)


def normalize(image):
    """uint8 HWC RGB -> float32 CHW, the one preprocessing of train, eval, infer and export."""
    return ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)


def random_scale(image, label, rng, scale_range):
    s = rng.uniform(*scale_range)
    h, w = label.shape
    size = (max(1, int(w * s + 0.5)), max(1, int(h * s + 0.5)))
    image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    label = np.asarray(Image.fromarray(label.astype(np.uint8)).resize(size, Image.NEAREST)).astype(np.int64)
    return image, label


def random_crop(image, label, rng, crop_h, crop_w):
    """Pad to at least the crop size (image with the mean colour, label with ignore), then crop."""
    h, w = label.shape
    ph, pw = max(crop_h - h, 0), max(crop_w - w, 0)
    if ph or pw:
        mean_color = (MEAN * 255).astype(np.uint8)
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
        image[h:, :] = mean_color
        image[:, w:] = mean_color
        label = np.pad(label, ((0, ph), (0, pw)), constant_values=IGNORE_INDEX)
        h, w = label.shape
    y, x = rng.integers(0, h - crop_h + 1), rng.integers(0, w - crop_w + 1)
    return image[y:y + crop_h, x:x + crop_w], label[y:y + crop_h, x:x + crop_w]


def seed_sample(seed, epoch, index):
    """Seed Python's and numpy's global RNGs for one sample's augmentation, so it is the same on every
    run, in every worker and after a resume, whichever process loads the sample."""
    value = (seed * 1_000_003 + epoch * 10_007 + index) % (2 ** 32)
    random.seed(value)
    np.random.seed(value)


class SegDataset(paddle.io.Dataset):
    """A list file of (image, label) pairs. mode='train' applies the random augmentation, seeded per
    (seed, epoch, index) so a resumed run sees the same crops; mode='eval' returns full images.
    `bad`: the BadSamples that stops on (or skips and counts) a bad list line."""

    def __init__(self, data_dir, list_name, num_classes, mode="train", crop_size=(512, 1024),
                 scale_range=(0.5, 2.0), seed=0, bad=None):
        super().__init__()
        self.list_path = os.path.join(data_dir, list_name)
        self.samples = read_list(self.list_path, data_dir, bad=bad)
        self.num_classes, self.mode = num_classes, mode
        self.crop_size, self.scale_range = crop_size, scale_range
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.samples)

    def load(self, index):
        image_path, label_path, where = self.samples[index]
        image = load_image(image_path, where)
        return image, load_label(label_path, where, self.num_classes, image.shape)

    def __getitem__(self, index):
        # A bad sample comes back as its DataError (not raised): Paddle's DataLoader would hang or bury
        # the message; BadSamples stops on it, or skips and counts it (--skip_bad_samples).
        try:
            image, label = self.load(index)
        except utils.DataError as e:
            return e
        if self.mode == "train":
            seed_sample(self.seed, self.epoch, index)
            rng = np.random.default_rng(np.random.randint(2 ** 31))
            image, label = random_scale(image, label, rng, self.scale_range)
            image, label = random_crop(image, label, rng, *self.crop_size)
            if rng.random() < 0.5:
                image, label = image[:, ::-1], label[:, ::-1]
        return normalize(image), np.ascontiguousarray(label)


_NO_GOOD_SAMPLES = "no_good_samples"


def collate(samples):
    """(batch of the good samples, messages of the bad ones). A batch with no good sample travels as a
    marker dict, which BadSamples drops: the DataLoader cannot carry None or empty arrays."""
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    batch = default_collate_fn(good) if good else {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}
    return batch, errors


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
        world = utils.world_size()
        per_rank = self.num_samples // world  # equal shares keep the ranks in step
        mine = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank] if world > 1 else order
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        return [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        """Batches in a whole epoch (not counting a resumed epoch's skipped start)."""
        per_rank = self.num_samples // utils.world_size()
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


def eval_shard(dataset):
    """This rank's share of an eval set, without the padded duplicates a DistributedBatchSampler adds,
    so distributed eval gives exactly the single-process metric."""
    if utils.world_size() == 1:
        return dataset
    return paddle.io.Subset(dataset, list(range(utils.rank(), len(dataset), utils.world_size())))
