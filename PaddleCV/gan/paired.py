"""The image data paths of the translators, the release's layouts, checked image by image: paired
(Pix2Pix, below) and unpaired (CycleGAN, UnpairedDataset at the end).

Layout (as the release's data/cityscapes): DATA_DIR/pix2pix_train_list and pix2pix_test_list, one
sample a line, paths relative to DATA_DIR: either one image holding input|target side by side (the
Cityscapes/facades files: input on the left half, target on the right), or `input<TAB>target`, two
files. Splits: `train` is the train list without its last `dev_fraction` (`dev`, which picks
best.pdparams); `test` is the test list (read once, by eval.py). Every image of a set must have the
size of the first (--image_size resizes none: the demo is 32x32 a side, the release crops 256x256).
Images become float32 [3, H, W] in [-1, 1].
"""
import os

import numpy as np

import utils

LISTS = {"train": "pix2pix_train_list", "dev": "pix2pix_train_list", "test": "pix2pix_test_list"}


def _load(path, where):
    from PIL import Image
    prefix = where if where == path else f"{where}: {path}"
    if not os.path.isfile(path):
        raise utils.DataError(f"{prefix}: image not found")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:  # truncated, not an image, ...
        raise utils.DataError(f"{prefix}: cannot read the image ({type(e).__name__})") from None


def _same_size(im, size, where):
    """The first image's shape (size None: im is the first); a differently sized image is a DataError."""
    if size is not None and im.shape != size:
        raise utils.DataError(f"{where}: image is {im.shape[1]}x{im.shape[0]}, the set's first is {size[1]}x{size[0]}")
    return im.shape


def _to_float(images):
    """uint8 HWC images -> one float32 NCHW array in [-1, 1]."""
    return np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


class PairedDataset:
    """One split: .inputs and .targets float32 [N, 3, H, W]; `skip_bad_samples` drops unreadable or
    wrongly sized pairs (and counts them)."""

    def __init__(self, data_dir, split, skip_bad_samples=False, dev_fraction=1 / 12):
        if not os.path.isdir(data_dir):
            raise utils.DataError(f"{data_dir}: folder not found (expected the paired layout, see README.md)")
        self.list_path = os.path.join(data_dir, LISTS[split])
        if not os.path.isfile(self.list_path):
            raise utils.DataError(f"{self.list_path}: file not found (expected the paired layout, see README.md)")
        entries = [(n, line.strip()) for n, line in utils.read_lines(self.list_path) if line.strip()]
        if split != "test":
            cut = len(entries) - int(round(len(entries) * dev_fraction))
            entries = entries[:cut] if split == "train" else entries[cut:]
        inputs, targets, self.skipped, size = [], [], 0, None
        for n, line in entries:
            where = f"{self.list_path}:{n}"
            try:
                parts = line.split("\t")
                if len(parts) == 1:
                    pair = _load(os.path.join(data_dir, parts[0]), where)
                    if pair.shape[1] % 2:
                        raise utils.DataError(f"{where}: {parts[0]} is {pair.shape[1]} pixels wide; a side-by-side "
                                              f"pair needs an even width")
                    a, b = np.split(pair, 2, axis=1)
                elif len(parts) == 2:
                    a, b = (_load(os.path.join(data_dir, p), where) for p in parts)
                else:
                    raise utils.DataError(f"{where}: expected `image` or `input<TAB>target`, got {len(parts)} fields")
                size = _same_size(b, _same_size(a, size, where), where)
            except utils.DataError:
                if not skip_bad_samples:
                    raise
                self.skipped += 1
                continue
            inputs.append(a)
            targets.append(b)
        if not inputs:
            raise utils.DataError(f"{self.list_path}: no usable pairs in the {split} split")
        self.inputs, self.targets = _to_float(inputs), _to_float(targets)
        self.images = self.targets  # what the generic loop calls the real images

    def __len__(self):
        return len(self.inputs)


def l1_psnr(output, target):
    """Mean absolute error in [0, 1] pixel units and the mean per-image PSNR (dB, peak 1), of
    images in [-1, 1]."""
    a, b = (np.clip(np.asarray(x, np.float64), -1, 1) / 2 + 0.5 for x in (output, target))
    l1 = float(np.abs(a - b).mean())
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(1)
    psnr = float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10))))
    return l1, psnr


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


class UnpairedDataset:
    """CycleGAN's layout (the release's): DATA_DIR/{trainA,trainB,testA,testB}/ images. `dev` is the
    last `dev_fraction` of trainA and of trainB (by name), `train` the rest. .inputs (domain A) and
    .targets (domain B) float32 [N, 3, H, W]; .paired says whether B/NAME exists for every A/NAME
    (in the demo's test set B/NAME is then A/NAME's known target; its train files share names but
    not shapes, so only the test split is scored against B)."""

    def __init__(self, data_dir, split, skip_bad_samples=False, dev_fraction=1 / 12):
        folder_split = "test" if split == "test" else "train"
        self.skipped, size, domains, names = 0, None, [], []
        for domain in ("A", "B"):
            folder = os.path.join(data_dir, folder_split + domain)
            if not os.path.isdir(folder):
                raise utils.DataError(f"{folder}: domain folder not found (expected {folder_split}A/ and "
                                      f"{folder_split}B/, see README.md)")
            files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
            if split != "test":
                cut = len(files) - int(round(len(files) * dev_fraction))
                files = files[:cut] if split == "train" else files[cut:]
            images, kept = [], []
            for name in files:
                path = os.path.join(folder, name)
                try:
                    im = _load(path, path)
                    size = _same_size(im, size, path)
                except utils.DataError:
                    if not skip_bad_samples:
                        raise
                    self.skipped += 1
                    continue
                images.append(im)
                kept.append(name)
            if not images:
                raise utils.DataError(f"{folder}: no usable images in the {split} split")
            domains.append(_to_float(images))
            names.append(kept)
        self.inputs, self.targets = domains
        self.paired = names[0] == names[1]
        self.list_path = os.path.join(data_dir, folder_split + "A")
        self.images = self.targets

    def __len__(self):
        return len(self.inputs)
