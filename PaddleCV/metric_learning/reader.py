"""The only data path: the Stanford Online Products layout, its transforms, and the P x K batches the
pair losses need.

DATA_DIR/Ebay_train.txt and DATA_DIR/Ebay_test.txt, a header line `image_id class_id super_class_id path`
then one image per line, e.g. `1 1 1 bicycle_final/111085122871_0.JPG` (path relative to DATA_DIR).
Training and test classes are disjoint (SOP: 11,318 and 11,316 products). The dev split that picks
best.pdparams is the last --dev_fraction of the training classes (by class id), held out of training,
so the test split is read only by eval.py.
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
HEADER = "image_id class_id super_class_id path"
LIST_FILES = {"train": "Ebay_train.txt", "dev": "Ebay_train.txt", "test": "Ebay_test.txt"}


def read_sop_list(list_path, data_dir):
    """Parse an Ebay_*.txt file into [(image path, class_id, line number)]; a malformed line, an id that
    is not a positive integer or a repeated image_id is a DataError naming the file and line."""
    samples, seen = [], {}
    for lineno, line in utils.read_lines(list_path):
        if not line.strip() or (lineno == 1 and line.split() == HEADER.split()):
            continue
        parts = line.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
            raise utils.DataError(f"{list_path}:{lineno}: expected '{HEADER}', got {line.strip()!r}")
        image_id, class_id, super_id = map(int, parts[:3])
        if class_id < 1 or super_id < 1:
            raise utils.DataError(f"{list_path}:{lineno}: class_id and super_class_id start at 1, got "
                                  f"{class_id} and {super_id}")
        if image_id in seen:
            raise utils.DataError(f"{list_path}:{lineno}: image_id {image_id} repeats line {seen[image_id]}")
        seen[image_id] = lineno
        samples.append((os.path.join(data_dir, parts[3]), class_id, lineno))
    if not samples:
        raise utils.DataError(f"{list_path}:1: the list is empty")
    return samples


def split_classes(class_ids, dev_fraction):
    """(training class ids, dev class ids): the last ceil(dev_fraction * n) ids are dev (none at 0)."""
    ids = sorted(set(class_ids))
    n_dev = math.ceil(dev_fraction * len(ids)) if dev_fraction > 0 else 0
    if n_dev >= len(ids):
        raise utils.DataError(f"--dev_fraction {dev_fraction} leaves no training class of {len(ids)}")
    return ids[:len(ids) - n_dev], ids[len(ids) - n_dev:]


class SOPDataset(paddle.io.Dataset):
    """(image CHW float32, label int64) samples of one split. Training labels are 0..num_classes-1 in
    class id order (the classifier heads' rows); dev and test labels are the class ids themselves
    (retrieval only compares them). A bad sample is returned as a utils.DataError, never raised, and
    random augmentation is seeded per (seed, epoch, index), so a resumed run sees the same crops."""

    def __init__(self, data_dir, split, image_size, dev_fraction=0.0, seed=0, train=None):
        self.list_path = os.path.join(data_dir, LIST_FILES[split])
        samples = read_sop_list(self.list_path, data_dir)
        if split == "test":
            self.check_disjoint(data_dir, samples)
            self.samples = samples
        else:
            train_ids, dev_ids = split_classes([s[1] for s in samples], dev_fraction)
            keep = set(train_ids if split == "train" else dev_ids)
            index = {c: i for i, c in enumerate(train_ids)}
            self.samples = [(p, index[c] if split == "train" else c, n) for p, c, n in samples if c in keep]
            self.num_classes = len(train_ids)
        self.labels = np.array([s[1] for s in self.samples], dtype=np.int64)
        self.train = split == "train" if train is None else train
        self.transform = build_transform(self.train, image_size)
        self.seed, self.epoch = seed, 0

    def check_disjoint(self, data_dir, samples):
        """SOP's test products are not training products; a shared class id is a mistake in the lists."""
        train_path = os.path.join(data_dir, LIST_FILES["train"])
        if not os.path.isfile(train_path):
            return
        train_ids = {s[1] for s in read_sop_list(train_path, data_dir)}
        for _, class_id, lineno in samples:
            if class_id in train_ids:
                raise utils.DataError(f"{self.list_path}:{lineno}: class_id {class_id} is also a training "
                                      f"class in {train_path}; test classes must be disjoint")

    def check_files(self, skip_bad_samples=False):
        """Before the first step: every image of the split exists (a stat per file, no decoding).
        A missing one is a DataError naming the list line, or with skip_bad_samples is dropped and
        counted. Returns the number dropped."""
        missing = [s for s in utils.progress(self.samples, len(self.samples), f"checking {self.list_path}")
                   if not os.path.isfile(s[0])]
        if missing and not skip_bad_samples:
            raise utils.DataError(f"{self.list_path}:{missing[0][2]}: image {missing[0][0]} not found")
        if missing:
            gone = set(missing)
            self.samples = [s for s in self.samples if s not in gone]
            self.labels = np.array([s[1] for s in self.samples], dtype=np.int64)
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


def build_transform(train, image_size):
    """Training: a random resized crop keeping at least 35% of the picture, and a horizontal flip;
    eval: resize the short side to size/0.875 and center-crop (224 from 256, as in the release)."""
    if train:
        ops = [T.RandomResizedCrop(image_size, scale=(0.35, 1.0)), T.RandomHorizontalFlip()]
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


def seed_sample(seed, epoch, index):
    """Seed Python's and numpy's global RNGs for one sample's random augmentation (paddle.vision
    transforms draw from both), so it is the same in every worker and after a resume."""
    value = (seed * 1_000_003 + epoch * 10_007 + index) % (2 ** 32)
    random.seed(value)
    np.random.seed(value)


class PKBatchSampler(paddle.io.BatchSampler):
    """Batches of P classes x K images (K = samples_each_class, P = batch_size // K), each class's K
    images consecutive, as the pair losses need; every class once per epoch, its images drawn without
    replacement (with replacement when it has fewer than K). K = 0: plain shuffled batches (element
    losses). Shuffled by (seed, epoch), dealt to ranks in turn, and able to start mid-epoch for --resume."""

    def __init__(self, labels, batch_size, samples_each_class=0, seed=0):
        self.labels, self.batch_size, self.k, self.seed = np.asarray(labels), batch_size, samples_each_class, seed
        if self.k and batch_size % self.k:
            raise ValueError(f"--batch_size {batch_size} is not a multiple of --samples_each_class {self.k}")
        self.by_class = {}
        for index, label in enumerate(self.labels.tolist()):
            self.by_class.setdefault(label, []).append(index)
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        if not self.k:
            order = rng.permutation(len(self.labels)).tolist()
        else:
            order = []
            for label in rng.permutation(sorted(self.by_class)).tolist():
                members = self.by_class[label]
                order += rng.choice(members, self.k, replace=len(members) < self.k).tolist()
        batches = [order[i:i + self.batch_size] for i in range(0, len(order) - self.batch_size + 1, self.batch_size)]
        world = utils.world_size()
        per_rank = len(batches) // world
        return batches[utils.rank():per_rank * world:world]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        """Batches per rank in a whole epoch (not counting a resumed epoch's skipped start)."""
        count = len(self.labels) if not self.k else len(self.by_class) * self.k
        return count // self.batch_size // utils.world_size()


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
    """The train loader (P x K batches, `args.batch_size` per rank) or this rank's eval loader."""
    if train:
        sampler = PKBatchSampler(dataset.labels, args.batch_size, args.samples_each_class, seed=args.seed)
        return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)
    return utils.make_loader(eval_shard(dataset), args, batch_size=args.batch_size, collate_fn=collate_with_errors)
