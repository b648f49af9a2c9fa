"""SPADE's data path: Cityscapes label maps (gtFine labelIds), instance maps (gtFine instanceIds) and
photos (leftImg8bit), checked file by file, and the label input the generator takes.

Layout: the release's list files DATA_DIR/spade_train_list and spade_test_list, one sample a line,
`labelIds.png<TAB>leftImg8bit.png<TAB>instanceIds.png`, paths relative to DATA_DIR. Without a list,
the Cityscapes tree is read as distributed: DATA_DIR/gtFine/{train,val}/CITY/*_gtFine_labelIds.png with
*_gtFine_instanceIds.png beside it and leftImg8bit/{train,val}/CITY/*_leftImg8bit.png (`test` = val).
`dev` is the train set's last 1/12 (it picks best.pdparams).

Every map and photo is resized to image_size x 2 image_size (Cityscapes' 1:2; labels and instances
nearest, photos bicubic). A label id outside 0..c_dim-1 is bad input (the file is named). The input
of the generator is the one-hot label map with the instance edge map (a pixel whose instance id
differs from a 4-neighbour's) as one more channel: [c_dim + 1, H, W] float32.
"""
import glob
import os

import numpy as np

import utils

LISTS = {"train": "spade_train_list", "dev": "spade_train_list", "test": "spade_test_list"}
TREE = {"train": "train", "dev": "train", "test": "val"}


def _open(path, where, mode=None):
    from PIL import Image
    prefix = where if where == path else f"{where}: {path}"
    if not os.path.isfile(path):
        raise utils.DataError(f"{prefix}: file not found")
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(mode) if mode else im.copy()
    except Exception as e:
        raise utils.DataError(f"{prefix}: cannot read the image ({type(e).__name__})") from None


def edges_of(instances):
    """uint8 [H, W]: 1 where the instance id differs from a 4-neighbour's (the release's and the paper's rule)."""
    e = np.zeros(instances.shape, bool)
    dx, dy = instances[:, 1:] != instances[:, :-1], instances[1:, :] != instances[:-1, :]
    e[:, 1:] |= dx
    e[:, :-1] |= dx
    e[1:, :] |= dy
    e[:-1, :] |= dy
    return e.astype(np.uint8)


def one_hot(labels, edges, c_dim):
    """uint8 label ids [N, H, W] and edges [N, H, W] -> float32 [N, c_dim + 1, H, W]."""
    out = (labels[:, None] == np.arange(c_dim, dtype=labels.dtype)[None, :, None, None]).astype(np.float32)
    return np.concatenate([out, edges[:, None].astype(np.float32)], 1)


class LabelInputs:
    """The generator inputs of a split, built per batch (a one-hot Cityscapes split would not fit in
    memory): inputs[index] -> float32 [n, c_dim + 1, H, W]."""

    def __init__(self, labels, edges, c_dim):
        self.labels, self.edges, self.c_dim = labels, edges, c_dim
        self.shape = (len(labels), c_dim + 1) + labels.shape[1:]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        labels, edges = self.labels[index], self.edges[index]
        if labels.ndim == 2:
            return one_hot(labels[None], edges[None], self.c_dim)[0]
        return one_hot(labels, edges, self.c_dim)


def _entries(data_dir, split):
    """[(where, label, image, instance)] of a split, from the list file or the Cityscapes tree."""
    list_path = os.path.join(data_dir, LISTS[split])
    if os.path.isfile(list_path):
        entries = []
        for n, line in utils.read_lines(list_path):
            if not line.strip():
                continue
            parts = line.strip().split("\t")
            if len(parts) != 3:
                raise utils.DataError(f"{list_path}:{n}: expected `label<TAB>image<TAB>instance`, got {len(parts)} fields")
            entries.append((f"{list_path}:{n}",) + tuple(os.path.join(data_dir, p) for p in parts))
        return list_path, entries
    folder = os.path.join(data_dir, "gtFine", TREE[split])
    labels = sorted(glob.glob(os.path.join(folder, "*", "*_gtFine_labelIds.png")))
    if not labels:
        raise utils.DataError(f"{list_path}: file not found, nor any {folder}/CITY/*_gtFine_labelIds.png "
                              f"(expected the Cityscapes layout, see README.md)")
    entries = []
    for path in labels:
        stem = path[:-len("_gtFine_labelIds.png")]
        image = os.path.join(data_dir, "leftImg8bit", TREE[split], os.path.relpath(stem, folder) + "_leftImg8bit.png")
        entries.append((path, path, image, stem + "_gtFine_instanceIds.png"))
    return folder, entries


class SceneDataset:
    """One split: .labels uint8 [N, H, W], .edges uint8 [N, H, W], .targets float32 [N, 3, H, W] in
    [-1, 1], .inputs (LabelInputs); `skip_bad_samples` drops unreadable samples and label maps with
    ids outside the classes (and counts them)."""

    def __init__(self, data_dir, split, c_dim=35, image_size=256, skip_bad_samples=False, dev_fraction=1 / 12):
        from PIL import Image
        if not os.path.isdir(data_dir):
            raise utils.DataError(f"{data_dir}: folder not found (expected the Cityscapes layout, see README.md)")
        self.list_path, entries = _entries(data_dir, split)
        if split != "test":
            cut = len(entries) - int(round(len(entries) * dev_fraction))
            entries = entries[:cut] if split == "train" else entries[cut:]
        size = (2 * image_size, image_size)
        labels, edges, images, self.skipped = [], [], [], 0
        for where, label_path, image_path, instance_path in entries:
            try:
                label = np.asarray(_open(label_path, where).resize(size, Image.NEAREST))
                if label.ndim != 2:
                    raise utils.DataError(f"{where}: {label_path}: a label map has one channel of ids, this has {label.shape[2]}")
                bad = label >= c_dim
                if bad.any():
                    raise utils.DataError(f"{where}: {label_path}: label id {int(label[bad].max())} outside the "
                                          f"{c_dim} classes 0-{c_dim - 1}")
                instance = np.asarray(_open(instance_path, where).resize(size, Image.NEAREST))
                image = np.asarray(_open(image_path, where, "RGB").resize(size, Image.BICUBIC))
            except utils.DataError:
                if not skip_bad_samples:
                    raise
                self.skipped += 1
                continue
            labels.append(label.astype(np.uint8))
            edges.append(edges_of(instance))
            images.append(image)
        if not labels:
            raise utils.DataError(f"{self.list_path}: no usable samples in the {split} split")
        self.labels, self.edges = np.stack(labels), np.stack(edges)
        self.targets = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0
        self.inputs = LabelInputs(self.labels, self.edges, c_dim)
        self.images = self.targets

    def __len__(self):
        return len(self.labels)


def palette(c_dim):
    """A fixed colour per class id (uint8 [c_dim, 3]), for drawing label maps."""
    rng = np.random.default_rng(12345)
    return rng.integers(0, 256, (c_dim, 3)).astype(np.uint8)


def draw_labels(inputs):
    """Label inputs [N, c_dim + 1, H, W] -> images [N, 3, H, W] in [-1, 1]: each class its palette
    colour, instance edges white."""
    c_dim = inputs.shape[1] - 1
    ids = inputs[:, :c_dim].argmax(1)
    colours = palette(c_dim)[ids].astype(np.float32)  # [N, H, W, 3]
    colours[inputs[:, c_dim] > 0.5] = 255
    return colours.transpose(0, 3, 1, 2) / 127.5 - 1.0
