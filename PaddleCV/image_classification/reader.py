"""The only data path: ImageNet-style datasets and their transforms.

Two on-disk layouts are read:
- list files (the ImageNet layout of the original release): DATA_DIR/train_list.txt and
  DATA_DIR/val_list.txt, one `relative/path.JPEG label` per line, paths relative to DATA_DIR;
  an optional DATA_DIR/label_list.txt (`0 tench` per line) gives the class count and names;
- one folder per class: DATA_DIR/train/<class>/*.JPEG and DATA_DIR/val/<class>/*.JPEG.
"""
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

import utils
import paddle
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
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                parts = line.strip().split(maxsplit=1)
                if not parts[0].isdigit() or int(parts[0]) != len(names):
                    raise utils.DataError(f"{path}:{lineno}: expected '{len(names)} <name>', got {line.strip()!r}")
                names.append(parts[1] if len(parts) > 1 else parts[0])
    return names


def read_list_file(list_path, data_dir, num_classes):
    """Parse `relative/path label` lines into (path, label, lineno); each malformed line is an error."""
    if not os.path.isfile(list_path):
        raise utils.DataError(f"{list_path}:0: list file not found")
    samples = []
    with open(list_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
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


def scan_class_folders(split_dir):
    """Samples of a folder-per-class split; classes are the sorted folder names."""
    classes = sorted(d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)))
    samples = []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(split_dir, name))):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                samples.append((os.path.join(split_dir, name, file), label, 0))
    return samples, classes


def dataset_info(data_dir, default_num_classes=1000):
    """(layout, num_classes, class names or None) of a dataset root."""
    if os.path.isfile(os.path.join(data_dir, "train_list.txt")) or os.path.isfile(os.path.join(data_dir, "val_list.txt")):
        names = read_label_names(data_dir)
        return "list", (len(names) if names else default_num_classes), names
    if os.path.isdir(os.path.join(data_dir, "train")):
        _, classes = scan_class_folders(os.path.join(data_dir, "train"))
        return "folders", len(classes), classes
    raise utils.DataError(f"{os.path.join(data_dir, 'train_list.txt')}:0: no dataset here "
                          "(expected train_list.txt/val_list.txt or train/<class>/ folders)")


def build_transform(train, image_size):
    """Random resized crop + flip for training; resize-short and center crop for eval, keeping the
    recipes' 0.875 crop ratio (256 -> 224, 342 -> 299)."""
    if train:
        ops = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        ops = [T.Resize(int(round(image_size / 0.875))), T.CenterCrop(image_size)]
    return T.Compose(ops)


def to_chw_float(image):
    """PIL RGB -> normalised float32 CHW array; the one conversion shared by train, eval, infer."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    return ((array - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def load_image(path, where):
    """Open an image as RGB; a missing or undecodable file becomes a DataError naming `where`."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        return utils.DataError(f"{where}: cannot decode image {path} ({e})")


class ImageClassificationDataset(paddle.io.Dataset):
    """(image CHW float32, label int64) samples of one split.

    A bad sample is returned as a utils.DataError (see utils.collate_with_errors), never raised.
    Random augmentation is seeded per (seed, epoch, index), so a run is repeatable and a resumed run
    sees exactly the crops the uninterrupted run would have seen."""

    def __init__(self, data_dir, split, image_size, num_classes=1000, seed=0, train=None):
        layout, self.num_classes, self.class_names = dataset_info(data_dir, num_classes)
        if layout == "list":
            self.list_path = os.path.join(data_dir, f"{split}_list.txt")
            self.samples = read_list_file(self.list_path, data_dir, self.num_classes)
        else:
            self.list_path = os.path.join(data_dir, split)
            self.samples, _ = scan_class_folders(self.list_path)
        self.train = split == "train" if train is None else train
        self.transform = build_transform(self.train, image_size)
        self.seed, self.epoch = seed, 0

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, label, lineno = self.samples[index]
        image = load_image(path, f"{self.list_path}:{lineno}")
        if isinstance(image, utils.DataError):
            return image
        if self.train:
            utils.seed_sample(self.seed, self.epoch, index)
        return to_chw_float(self.transform(image)), np.int64(label)

