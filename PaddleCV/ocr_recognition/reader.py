"""The only data path of ocr_recognition: list files, the character dictionary, image loading and
height normalisation, batches bucketed by width, and padding.

On-disk layout (DATA_DIR):
    dict.txt                      the character dictionary: one character per line, id = line number - 1
                                  (optional for the release's id lists: without it --num_classes says how
                                  many ids there are, and texts are shown as ids)
    train.list / dev.list / test.list, one sample per line, in either of two formats:
        the release's:  `width height image_name label_ids`, e.g. `185 48 00508_0215.jpg 7,53,23`
                        the image is {split}_images/image_name; label_ids are comma-separated dictionary ids
        text lines:     `image_path<TAB>text`; image_path relative to the list file's folder (or absolute)
    {split}_images/               the images of the release's lists (X.list: X_images/) (any format Pillow reads; colour is converted to gray)

Every image is converted to gray, scaled to height 48 keeping its aspect ratio (width clipped to
[16, --max_width]), and normalised to [-1, 1]. A batch is padded on the right to its widest image;
batches are built from images of similar width (BucketSampler), so padding stays small.
"""
import os

import numpy as np
import paddle

import utils

HEIGHT = 48  # the release's input height
DICT_FILE = "dict.txt"
SPLITS = {"train": "train.list", "dev": "dev.list", "test": "test.list"}
MIN_WIDTH = 16


class Dictionary:
    """Characters <-> ids. `chars` is None for id-only data (the release's lists without dict.txt)."""

    def __init__(self, chars=None, num_classes=None):
        self.chars = list(chars) if chars is not None else None
        self.num_classes = len(self.chars) if chars is not None else int(num_classes)
        self.index = {c: i for i, c in enumerate(self.chars or [])}

    @classmethod
    def load(cls, path, num_classes=None):
        """dict.txt if it exists; else ids only (num_classes of them)."""
        if not os.path.isfile(path):
            if not num_classes:
                raise utils.DataError(f"{path}: file not found (needed for text labels; for id lists without a "
                                      "dictionary pass --num_classes)")
            return cls(None, num_classes)
        chars = []
        for number, line in utils.read_lines(path):
            if len(line) != 1:
                raise utils.DataError(f"{path}:{number}: expected one character per line, got {line!r}")
            if line in chars:
                raise utils.DataError(f"{path}:{number}: character {line!r} is already on line {chars.index(line) + 1}")
            chars.append(line)
        if not chars:
            raise utils.DataError(f"{path}:1: empty dictionary")
        return cls(chars)

    def save(self, path):
        if self.chars is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write("".join(c + "\n" for c in self.chars))

    def __len__(self):
        return self.num_classes

    def encode(self, text):
        return [self.index[c] for c in text]

    def decode(self, ids):
        ids = [i for i in ids if 0 <= i < self.num_classes]
        if self.chars is None:
            return ",".join(str(i) for i in ids)
        return "".join(self.chars[i] for i in ids)


class Sample:
    __slots__ = ("list_file", "line", "image", "label", "width")

    def __init__(self, list_file, line, image, label, width=None):
        self.list_file, self.line, self.image, self.label, self.width = list_file, line, image, label, width

    @property
    def where(self):
        return f"{self.list_file}:{self.line}"


def parse_line(path, number, line, dictionary, images_dir):
    """One list line -> Sample (label = list of ids). Raises DataError naming file and line."""
    where = f"{path}:{number}"
    if "\t" in line:
        image, _, text = line.partition("\t")
        if not image or not text:
            raise utils.DataError(f"{where}: expected `image_path<TAB>text`")
        if dictionary.chars is None:
            raise utils.DataError(f"{where}: a text label needs the dictionary {DICT_FILE}")
        unknown = sorted({c for c in text if c not in dictionary.index})
        if unknown:
            raise utils.DataError(f"{where}: characters not in the dictionary: {''.join(unknown)!r}")
        base = os.path.dirname(os.path.abspath(path))
        return Sample(path, number, image if os.path.isabs(image) else os.path.join(base, image),
                      dictionary.encode(text))
    fields = line.split()
    if len(fields) != 4:
        raise utils.DataError(f"{where}: expected `width height image_name label_ids` or `image_path<TAB>text`, "
                              f"got {len(fields)} field(s)")
    try:
        width, height = int(fields[0]), int(fields[1])
        label = [int(i) for i in fields[3].split(",")]
    except ValueError:
        raise utils.DataError(f"{where}: width, height and comma-separated label ids must be integers") from None
    bad = [i for i in label if not 0 <= i < dictionary.num_classes]
    if bad:
        raise utils.DataError(f"{where}: label id {bad[0]} outside the dictionary (0..{dictionary.num_classes - 1})")
    if width <= 0 or height <= 0:
        raise utils.DataError(f"{where}: width and height must be positive")
    return Sample(path, number, os.path.join(images_dir, fields[2]), label, scaled_width(width, height))


def scaled_width(width, height, max_width=None):
    w = max(MIN_WIDTH, int(round(width * HEIGHT / height)))
    return min(w, max_width) if max_width else w


def check_image(sample, max_width):
    """The image exists and Pillow reads its header; sets the sample's scaled width."""
    from PIL import Image
    if not os.path.isfile(sample.image):
        raise utils.DataError(f"{sample.where}: image not found: {sample.image}")
    try:
        with Image.open(sample.image) as im:
            w, h = im.size
    except Exception as e:  # noqa: BLE001 - Pillow raises several kinds
        raise utils.DataError(f"{sample.where}: unreadable image {sample.image}: {type(e).__name__}") from None
    sample.width = scaled_width(w, h, max_width)


def load_split(data_dir, split, dictionary, args, verbose=True, train=False, check_images=True):
    """The checked samples of a split: every line parsed, every image found and readable, before the
    first step. With --skip_bad_samples bad lines are skipped and counted. `check_images=False` parses
    the lines only (for their labels: no image is opened)."""
    path = os.path.join(data_dir, SPLITS[split]) if split in SPLITS else split  # a split name or a list's path
    stem = os.path.splitext(os.path.basename(path))[0]
    images_dir = os.path.join(os.path.dirname(os.path.abspath(path)), f"{stem}_images")
    samples, skipped = [], 0
    max_width = getattr(args, "max_width", None)
    lines = [(n, l) for n, l in utils.read_lines(path) if l.strip()]
    for number, line in utils.progress(lines, len(lines), f"checking {os.path.basename(path)}"):
        try:
            sample = parse_line(path, number, line.rstrip("\n"), dictionary, images_dir)
            if train and not sample.label:
                raise utils.DataError(f"{path}:{number}: empty label")
            if check_images:
                check_image(sample, max_width)
        except utils.DataError:
            if not getattr(args, "skip_bad_samples", False):
                raise
            skipped += 1
            continue
        samples.append(sample)
    if verbose and utils.is_main_process():
        print(f"{path}: {len(samples)} images" + (f"; skipped {skipped} bad line(s)" if skipped else ""), flush=True)
    if not samples:
        raise utils.DataError(f"{path}:1: no samples")
    return samples


def load_image(path, max_width=None):
    """float32 [1, 48, W] in [-1, 1]: gray, height 48, aspect ratio kept."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("L")
        w = scaled_width(im.width, im.height, max_width)
        im = im.resize((w, HEIGHT), Image.BILINEAR)
        return ((np.asarray(im, dtype=np.float32) - 127.5) / 127.5)[None]


class OCRDataset(paddle.io.Dataset):
    """(image [1, 48, W], label ids, index). A file that fails to decode returns an error string (a
    Dataset that raises hangs the loader); collate raises it."""

    def __init__(self, samples, max_width=None):
        self.samples, self.max_width = samples, max_width

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        s = self.samples[index]
        try:
            image = load_image(s.image, self.max_width)
        except Exception as e:  # noqa: BLE001
            return f"{s.where}: unreadable image {s.image}: {type(e).__name__}"
        return image, np.array(s.label, dtype=np.int64), index


def pad_images(images):
    """[B, 1, 48, Wmax] (zeros on the right) and widths [B]."""
    widths = np.array([im.shape[-1] for im in images], dtype=np.int64)
    batch = np.zeros((len(images), 1, HEIGHT, widths.max()), dtype=np.float32)
    for row, im in enumerate(images):
        batch[row, :, :, :im.shape[-1]] = im
    return batch, widths


def collate(samples):
    """images [B, 1, 48, W], widths [B], labels [B, L] (padded with 0), label lengths [B], indices [B]."""
    for s in samples:
        if isinstance(s, str):
            raise utils.DataError(s)
    images, widths = pad_images([s[0] for s in samples])
    lengths = np.array([len(s[1]) for s in samples], dtype=np.int64)
    labels = np.zeros((len(samples), max(lengths.max(), 1)), dtype=np.int64)
    for row, s in enumerate(samples):
        labels[row, :len(s[1])] = s[1]
    return images, widths, labels, lengths, np.array([s[2] for s in samples], dtype=np.int64)


class BucketSampler(paddle.io.BatchSampler):
    """Batches of images of similar width: widths jittered by up to 10% are sorted, cut into global
    batches, and the batches shuffled (per epoch, seeded). `set_epoch(epoch, start_batch)` starts
    mid-epoch for --resume; with `shard` each rank takes an equal share of every global batch (an
    incomplete last batch is dropped then), so ranks stay in step."""

    def __init__(self, widths, batch_size, shuffle=True, seed=0, shard=True):
        self.widths, self.batch_size = np.asarray(widths, dtype=np.float64), batch_size
        self.shuffle, self.seed, self.shard = shuffle, seed, shard
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def batches(self, epoch):
        world = utils.world_size() if self.shard else 1
        size = self.batch_size * world
        if self.shuffle:
            rng = np.random.default_rng((self.seed, epoch))
            order = np.argsort(self.widths * rng.uniform(0.9, 1.1, len(self.widths)), kind="stable")
        else:
            order = np.argsort(self.widths, kind="stable")
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if world > 1:
            batches = [b[utils.rank()::world] for b in batches if len(b) == size]
        return [b.tolist() for b in batches]

    def __iter__(self):
        yield from self.batches(self.epoch)[self.start_batch:]

    def __len__(self):
        return len(self.batches(self.epoch))
