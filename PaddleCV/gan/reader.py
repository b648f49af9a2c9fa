"""The only data path: MNIST idx files (CGAN, DCGAN), checked record by record, and the batch order.

Layout: DATA_DIR/mnist/{train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte (LeCun's
files, gunzipped). Splits: `train` is the train file without its last `dev_fraction`, `dev` is that
last part (it picks best.pdparams), `test` is the t10k file (read once, by eval.py).
Images become float32 [1, 28, 28] in [-1, 1] (the generators end in tanh).
"""
import os
import struct

import numpy as np

import utils

IMAGE_SIZE = 28
NUM_CLASSES = 10
FILES = {"train": "train", "dev": "train", "test": "t10k"}


def _read(path):
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found (expected the MNIST idx layout, see README.md)")
    with open(path, "rb") as f:
        return f.read()


def read_idx_images(path):
    """uint8 [N, 28, 28]; a wrong magic number, image size or a truncated file is a DataError."""
    raw = _read(path)
    if len(raw) < 16:
        raise utils.DataError(f"{path}: not an idx3 image file (only {len(raw)} bytes)")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 2051:
        raise utils.DataError(f"{path}: not an idx3 image file (magic number {magic}, expected 2051)")
    if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
        raise utils.DataError(f"{path}: images are {rows}x{cols}, the models need {IMAGE_SIZE}x{IMAGE_SIZE}")
    size = rows * cols
    have = (len(raw) - 16) // size
    if have < count or (len(raw) - 16) % size:
        raise utils.DataError(f"{path}:{have + 1}: image {have + 1} of {count} is truncated "
                              f"(file has {len(raw) - 16} bytes of pixels, expected {count * size})")
    return np.frombuffer(raw, dtype=np.uint8, offset=16, count=count * size).reshape(count, rows, cols)


def read_idx_labels(path):
    raw = _read(path)
    if len(raw) < 8:
        raise utils.DataError(f"{path}: not an idx1 label file (only {len(raw)} bytes)")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != 2049:
        raise utils.DataError(f"{path}: not an idx1 label file (magic number {magic}, expected 2049)")
    if len(raw) - 8 != count:
        raise utils.DataError(f"{path}:{min(count, len(raw) - 8) + 1}: the header says {count} labels, "
                              f"the file holds {len(raw) - 8}")
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


class MnistDataset:
    """One split of the idx files; `skip_bad_samples` drops labels outside 0-9 (and counts them)."""

    def __init__(self, data_dir, split, skip_bad_samples=False, dev_fraction=1 / 12):
        prefix = os.path.join(data_dir, "mnist", FILES[split])
        self.images_path, self.labels_path = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        images, labels = read_idx_images(self.images_path), read_idx_labels(self.labels_path)
        if len(images) != len(labels):
            raise utils.DataError(f"{self.labels_path}: {len(labels)} labels for {len(images)} images "
                                  f"in {self.images_path}")
        index = np.arange(len(labels))
        if split != "test":
            cut = len(labels) - int(round(len(labels) * dev_fraction))
            index = index[:cut] if split == "train" else index[cut:]
        bad = index[labels[index] >= NUM_CLASSES]
        if len(bad) and not skip_bad_samples:
            raise utils.DataError(f"{self.labels_path}:{bad[0] + 1}: label {labels[bad[0]]} outside 0-{NUM_CLASSES - 1}")
        self.skipped = len(bad)
        index = index[labels[index] < NUM_CLASSES]
        self.images = images[index].astype(np.float32)[:, None] / 127.5 - 1.0
        self.labels = labels[index]
        if not len(self.labels):
            raise utils.DataError(f"{self.labels_path}: no usable samples in the {split} split")

    def __len__(self):
        return len(self.labels)


class BatchOrder:
    """Shuffled batches of indices, a new order each epoch from (seed, epoch), this rank's share only,
    and able to start mid-epoch: a resumed run sees exactly the batches the killed run would have."""

    def __init__(self, size, batch_size, seed):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.per_rank = size // utils.world_size()

    def __len__(self):
        return self.per_rank // self.batch_size

    def epoch(self, epoch, start_batch=0):
        order = np.random.default_rng((self.seed, epoch)).permutation(self.size)
        mine = order[utils.rank() * self.per_rank:(utils.rank() + 1) * self.per_rank]
        for b in range(start_batch, len(self)):
            yield mine[b * self.batch_size:(b + 1) * self.batch_size]
