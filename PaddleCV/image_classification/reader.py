"""The only data path: ImageNet-style datasets, their transforms, and the batching that --resume and
bad samples need.

Two on-disk layouts are read:
- list files (the ImageNet layout of the original release): DATA_DIR/train_list.txt and
  DATA_DIR/val_list.txt (and an optional test_list.txt), one `relative/path.JPEG label` per line,
  paths relative to DATA_DIR; an optional DATA_DIR/label_list.txt (`0 tench` per line) gives the
  class count and names;
- one folder per class: DATA_DIR/train/<class>/*.JPEG, DATA_DIR/val/<class>/*.JPEG (and test/).
"""
import math
import os
import random

import numpy as np
from PIL import Image, UnidentifiedImageError

import utils
import paddle
from paddle.io.dataloader.collate import default_collate_fn
from paddle.vision import transforms as T

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp")


def read_label_names(data_dir):
    """Class names from label_list.txt (`id name` per line), or None when the file is absent."""
    path = os.path.join(data_dir, "label_list.txt")
    if not os.path.isfile(path):
        return None
    names = []
    for lineno, line in utils.read_lines(path):
        if line.strip():
            parts = line.strip().split(maxsplit=1)
            if not parts[0].isdigit() or int(parts[0]) != len(names):
                raise utils.DataError(f"{path}:{lineno}: expected '{len(names)} <name>', got {line.strip()!r}")
            names.append(parts[1] if len(parts) > 1 else parts[0])
    return names


def read_list_file(list_path, data_dir, num_classes):
    """Parse `relative/path label` lines into (path, label, lineno); each malformed line is an error."""
    samples = []
    for lineno, line in utils.read_lines(list_path):
        if not line.strip():
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise utils.DataError(f"{list_path}:{lineno}: expected 'relative/path label', got {line.strip()!r}")
        label = int(parts[1])
        if not 0 <= label < num_classes:
            raise utils.DataError(f"{list_path}:{lineno}: label {label} is outside [0, {num_classes})")
        samples.append((os.path.join(data_dir, parts[0].strip()), label, lineno))
    if not samples:
        raise utils.DataError(f"{list_path}:1: the list is empty")
    return samples


def class_folders(split_dir):
    """The sorted class folder names of a folder-per-class split (no file listing)."""
    if not os.path.isdir(split_dir):
        raise utils.DataError(f"{split_dir}: folder not found")
    return sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))


def scan_class_folders(split_dir):
    """Samples of a folder-per-class split; classes are the sorted folder names."""
    classes = class_folders(split_dir)
    samples = []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(split_dir, name))):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                samples.append((os.path.join(split_dir, name, file), label, 0))
    return samples, classes


def dataset_info(data_dir, num_classes=0):
    """(layout, num_classes, class names or None) of a dataset root. `num_classes` (0: unknown) is
    used for a list layout without label_list.txt; 1000 (ImageNet) when it is 0."""
    if any(os.path.isfile(os.path.join(data_dir, f"{s}_list.txt")) for s in ("train", "val")):
        names = read_label_names(data_dir)
        if names and num_classes and num_classes != len(names):
            raise utils.DataError(f"{os.path.join(data_dir, 'label_list.txt')}:{len(names)}: "
                                  f"{len(names)} classes, but --num_classes {num_classes}")
        return "list", (len(names) if names else num_classes or 1000), names
    if os.path.isdir(os.path.join(data_dir, "train")):
        classes = class_folders(os.path.join(data_dir, "train"))  # asked once per split: no file listing
        return "folders", len(classes), classes
    raise utils.DataError(f"{os.path.join(data_dir, 'train_list.txt')}: no dataset here "
                          "(expected train_list.txt/val_list.txt or train/<class>/ folders)")


def has_split(data_dir, split):
    return os.path.isfile(os.path.join(data_dir, f"{split}_list.txt")) or os.path.isdir(os.path.join(data_dir, split))


class PaddleClasEval:
    """PaddleClas 2.6's ImageNet eval preprocessing (its configs' ResizeImage + CropImage), for its
    weights: the short side resized to `resize_short` with OpenCV's bilinear (cv2.resize, INTER_LINEAR:
    no antialiasing, unlike PIL's), the other side round()ed as PaddleClas does, then a center crop
    of `crop` with floored offsets. Returns the RGB uint8 HWC array that to_chw_float normalises
    (scale 1/255, ImageNet mean/std, as PaddleClas's NormalizeImage)."""

    def __init__(self, resize_short, crop):
        import cv2  # only this recipe needs OpenCV (requirements.txt)
        self.cv2, self.resize_short, self.crop = cv2, resize_short, crop

    def __call__(self, image):
        array = np.asarray(image)
        h, w = array.shape[:2]
        scale = self.resize_short / min(w, h)
        array = self.cv2.resize(array, (int(round(w * scale)), int(round(h * scale))),
                                interpolation=self.cv2.INTER_LINEAR)
        h, w = array.shape[:2]
        top, left = (h - self.crop) // 2, (w - self.crop) // 2
        return array[top:top + self.crop, left:left + self.crop]


def build_transform(train, image_size, recipe=None):
    """Random resized crop + flip for training; resize-short and center crop for eval, keeping the
    recipes' 0.875 crop ratio (256 -> 224, 342 -> 299). `recipe` ({"resize_short", "crop"}): eval
    with PaddleClas's preprocessing instead (pretrained.eval_recipe, for PaddleClas's weights)."""
    if recipe and not train:
        return PaddleClasEval(recipe["resize_short"], recipe["crop"])
    if train:
        ops = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        ops = [T.Resize(int(round(image_size / 0.875))), T.CenterCrop(image_size)]
    return T.Compose(ops)


def to_chw_float(image):
    """PIL RGB -> normalised float32 CHW array; the one conversion shared by train, eval, infer."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    return ((array - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def to_rgb(image):
    """RGB with 8 bits per channel. 16-bit greyscale (PNG/TIFF modes I;16*, and I or F holding values
    above 255) is scaled down by 257 (65535 -> 255); convert("RGB") alone would clip it to white."""
    if image.mode.startswith("I;16") or (image.mode in ("I", "F") and np.asarray(image).max() > 255):
        array = np.asarray(image).astype(np.float64) / 257.0
        image = Image.fromarray(np.clip(np.round(array), 0, 255).astype(np.uint8), "L")
    return image.convert("RGB")


def load_image(path, where):
    """Open an image as RGB; a missing or undecodable file becomes a DataError naming `where`."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return utils.DataError(f"{where}: cannot decode image {path} ({e})")


class ImageClassificationDataset(paddle.io.Dataset):
    """(image CHW float32, label int64) samples of one split.

    A bad sample is returned as a utils.DataError (see collate_with_errors), never raised. Random
    augmentation is seeded per (seed, epoch, index), so a run is repeatable and a resumed run sees
    exactly the crops the uninterrupted run would have seen."""

    def __init__(self, data_dir, split, image_size, num_classes=0, seed=0, train=None, recipe=None):
        layout, self.num_classes, self.class_names = dataset_info(data_dir, num_classes)
        if layout == "list":
            self.list_path = os.path.join(data_dir, f"{split}_list.txt")
            self.samples = read_list_file(self.list_path, data_dir, self.num_classes)
        else:
            self.list_path = os.path.join(data_dir, split)
            self.samples, _ = scan_class_folders(self.list_path)
        self.train = split == "train" if train is None else train
        self.transform = build_transform(self.train, image_size, recipe)
        self.seed, self.epoch = seed, 0

    def check_files(self, skip_bad_samples=False):
        """Before the first step: every image of the split exists (a stat per file, no decoding).
        A missing one is a DataError naming the list line, or with skip_bad_samples is dropped and
        counted. Returns the number dropped."""
        missing = []
        for sample in utils.progress(self.samples, len(self.samples), f"checking {self.list_path}"):
            if not os.path.isfile(sample[0]):
                if not skip_bad_samples:
                    raise utils.DataError(f"{self.list_path}:{sample[2]}: image {sample[0]} not found")
                missing.append(sample)
        if missing:
            gone = set(missing)
            self.samples = [s for s in self.samples if s not in gone]
            if utils.is_main_process():
                print(f"skipped {len(missing)} missing images of {self.list_path} "
                      f"(first: line {missing[0][2]}, {missing[0][0]})", flush=True)
        if not self.samples:
            raise utils.DataError(f"{self.list_path}:1: no image of this split exists")
        return len(missing)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label, lineno = self.samples[index]
        image = load_image(path, f"{self.list_path}:{lineno}")
        if isinstance(image, utils.DataError):
            return image
        if self.train:
            seed_sample(self.seed, self.epoch, index)
        return to_chw_float(self.transform(image)), np.int64(label)


def seed_sample(seed, epoch, index):
    """Seed Python's and numpy's global RNGs for one sample's random augmentation (paddle.vision
    transforms draw from both), so it is the same in every worker and after a resume."""
    value = (seed * 1_000_003 + epoch * 10_007 + index) % (2 ** 32)
    random.seed(value)
    np.random.seed(value)


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
        world, per_rank = utils.world_size(), self.num_samples // utils.world_size()  # equal shares
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
    """This rank's share of an eval set, without the padded duplicates a DistributedBatchSampler
    adds, so distributed eval gives exactly the single-process metric."""
    if utils.world_size() == 1:
        return dataset
    return paddle.io.Subset(dataset, list(range(utils.rank(), len(dataset), utils.world_size())))


_NO_GOOD_SAMPLES = "no_good_samples"


def collate_with_errors(samples):
    """Collate a batch's good samples and pass the bad ones' messages along. (A Dataset that raises
    hangs Paddle's DataLoader or buries the message; a batch with no good sample travels as a marker
    dict, since the DataLoader cannot carry None.)"""
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    batch = default_collate_fn(good) if good else {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}
    return batch, errors


class BadSampleFilter:
    """Wraps a loader built with collate_with_errors: stops at the first bad sample with its message,
    or with --skip_bad_samples skips it and counts it."""

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
                yield batch


def make_loader(dataset, args, train):
    """The train loader (resumable batches, `args.batch_size` per rank) or this rank's eval loader."""
    if train:
        sampler = ResumableBatchSampler(len(dataset), args.batch_size, shuffle=True, seed=args.seed)
        return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)
    return utils.make_loader(eval_shard(dataset), args, batch_size=args.batch_size, collate_fn=collate_with_errors)
