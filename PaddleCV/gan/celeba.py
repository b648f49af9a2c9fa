"""The CelebA layout of the attribute editors (StarGAN, AttGAN, STGAN), checked line by line and image
by image.

    DATA_DIR/img_align_celeba/000001.jpg ...
    DATA_DIR/list_attr_celeba.txt      line 1: the image count; line 2: the 40 attribute names;
                                       then `000001.jpg  -1  1 ...` (one 1/-1 per name)
    DATA_DIR/list_eval_partition.txt   optional: `000001.jpg 0` (0 train, 1 dev, 2 test), the official split

Without the partition file the last 10% of the attribute file is the test split and the 10% before it
dev. `dev` picks best.pdparams; `test` is read once, by eval.py. Images are centre-cropped to
`crop_size` (0: the largest centred square; the release crops 178 for StarGAN, 170 for AttGAN/STGAN)
and resized to `image_size`; kept in memory as uint8 and served as float32 [3, S, S] in [-1, 1].
Labels are 0/1 float32 [N, K] over the selected attributes.
"""
import os

import numpy as np

import utils

ATTR_FILE, PARTITION_FILE, IMAGE_DIR = "list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba"
STARGAN_ATTRS = "Black_Hair,Blond_Hair,Brown_Hair,Male,Young"  # the StarGAN paper's five
ATTGAN_ATTRS = ("Bald,Bangs,Black_Hair,Blond_Hair,Brown_Hair,Bushy_Eyebrows,Eyeglasses,Male,Mouth_Slightly_Open,"
                "Mustache,No_Beard,Pale_Skin,Young")  # the release's thirteen (AttGAN, STGAN)
HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")  # one at most: setting one clears the others
SPLITS = {"train": 0, "dev": 1, "test": 2}


def read_attributes(data_dir):
    """(names [40], rows [(line, file, values int8 [40])]) of the attribute file; a count line that
    disagrees with the rows, a row with another number of values than the header names, or a value
    other than 1/-1 is a DataError naming file:line."""
    path = os.path.join(data_dir, ATTR_FILE)
    if not os.path.isdir(data_dir):
        raise utils.DataError(f"{data_dir}: folder not found (expected the CelebA layout, see README.md)")
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found (expected the CelebA layout, see README.md)")
    lines = [(n, line.split()) for n, line in utils.read_lines(path) if line.strip()]
    if len(lines) < 2 or len(lines[0][1]) != 1 or not lines[0][1][0].isdigit():
        raise utils.DataError(f"{path}:1: expected the image count, then a header line of attribute names")
    names = lines[1][1]
    rows = []
    for n, fields in lines[2:]:
        if len(fields) != len(names) + 1:
            raise utils.DataError(f"{path}:{n}: {len(fields) - 1} values for the {len(names)} attributes of the "
                                  f"header (line {lines[1][0]})")
        if any(v not in ("1", "-1") for v in fields[1:]):
            bad = next(v for v in fields[1:] if v not in ("1", "-1"))
            raise utils.DataError(f"{path}:{n}: value {bad!r} is not 1 or -1")
        rows.append((n, fields[0], np.array(fields[1:], dtype=np.int8)))
    if int(lines[0][1][0]) != len(rows):
        raise utils.DataError(f"{path}:1: the count line says {lines[0][1][0]} images, the file lists {len(rows)}")
    return names, rows


def read_partition(data_dir, rows):
    """Split id per row: the partition file's, or train / dev / test = 80 / 10 / 10% in file order."""
    path = os.path.join(data_dir, PARTITION_FILE)
    if not os.path.isfile(path):
        n = len(rows)
        return np.array([0 if i < n - 2 * (n // 10) else 1 if i < n - n // 10 else 2 for i in range(n)])
    part = {}
    for n, line in utils.read_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise utils.DataError(f"{path}:{n}: expected `file.jpg 0|1|2`")
        part[fields[0]] = int(fields[1])
    missing = [r for r in rows if r[1] not in part]
    if missing:
        raise utils.DataError(f"{path}: {missing[0][1]} (attribute file line {missing[0][0]}) has no partition")
    return np.array([part[r[1]] for r in rows])


def load_image(path, where, crop_size, image_size):
    from PIL import Image
    if not os.path.isfile(path):
        raise utils.DataError(f"{where}: image {path} not found")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            c = crop_size or min(w, h)
            if c > min(w, h):
                raise utils.DataError(f"{where}: image {path} is {w}x{h}, smaller than --crop_size {c}")
            left, top = (w - c) // 2, (h - c) // 2
            im = im.crop((left, top, left + c, top + c)).resize((image_size, image_size), Image.BICUBIC)
            return np.asarray(im, dtype=np.uint8)
    except utils.DataError:
        raise
    except Exception as e:  # truncated, not an image, ...
        raise utils.DataError(f"{where}: cannot read the image {path} ({type(e).__name__})") from None


class CelebA:
    """One split: .images uint8 [N, S, S, 3], .labels float32 [N, K] (0/1) over `attrs`, .names."""

    def __init__(self, data_dir, split, attrs, image_size=128, crop_size=0, skip_bad_samples=False):
        self.attrs = [a for a in attrs.split(",") if a] if isinstance(attrs, str) else list(attrs)
        names, rows = read_attributes(data_dir)
        self.attr_path = os.path.join(data_dir, ATTR_FILE)
        unknown = [a for a in self.attrs if a not in names]
        if unknown:
            raise utils.DataError(f"{self.attr_path}:2: the header has no attribute {unknown[0]!r} (--attrs)")
        columns = [names.index(a) for a in self.attrs]
        part = read_partition(data_dir, rows)
        images, labels, self.files, self.skipped = [], [], [], 0
        for (n, name, values), p in zip(rows, part):
            if p != SPLITS[split]:
                continue
            try:
                images.append(load_image(os.path.join(data_dir, IMAGE_DIR, name), f"{self.attr_path}:{n}",
                                         crop_size, image_size))
            except utils.DataError:
                if not skip_bad_samples:
                    raise
                self.skipped += 1
                continue
            labels.append((values[columns] > 0).astype(np.float32))
            self.files.append(name)
        if not images:
            raise utils.DataError(f"{self.attr_path}: no usable images in the {split} split")
        self.images, self.labels = np.stack(images), np.stack(labels)

    def __len__(self):
        return len(self.images)

    def batch(self, index):
        """float32 images [B, 3, S, S] in [-1, 1] and labels [B, K] of the rows `index`."""
        return to_float(self.images[index]), self.labels[index]


def to_float(images):
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def flip(labels, k, attrs):
    """Target attributes: attribute k of every row flipped; a hair colour switched on switches the
    other hair colours off (as the StarGAN paper's test edits). Returns (targets, changed mask [N, K])."""
    target = labels.copy()
    target[:, k] = 1 - target[:, k]
    if attrs[k] in HAIR:
        others = [j for j, a in enumerate(attrs) if a in HAIR and j != k]
        on = target[:, k] == 1
        for j in others:
            target[on, j] = 0
    return target, target != labels
