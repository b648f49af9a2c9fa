"""The only data path: Cityscapes-style list files (`image_path label_path` per line, relative to the
dataset root) over PNG/JPEG images and single-channel train-id label PNGs, plus the transforms.

Training: random scale (0.5-2.0), random crop with padding (image by the mean colour, label by the
ignore index), horizontal flip, normalize. Evaluation and inference: the full image, normalize only.
Bad input raises utils.DataError naming the list file and line."""
import os
import signal

import numpy as np
from PIL import Image

import utils  # before paddle: sets up the CPU
import paddle

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
DATASETS = {"cityscapes": 19, "pascal_context": 59}


def palette(num_classes):
    """Cityscapes colours for its 19 classes, fixed pseudo-random colours beyond; ignore is black."""
    colors = np.random.default_rng(7).integers(0, 256, size=(256, 3)).astype(np.uint8)
    colors[:len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE
    colors[IGNORE_INDEX] = 0
    return colors


def read_list(list_path, data_dir, with_labels=True):
    """[(image_path, label_path or None, where)] with `where` = 'list_path:lineno' for error messages."""
    if not os.path.isfile(list_path):
        raise utils.DataError(f"{list_path}:0: list file not found")
    samples = []
    with open(list_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            where = f"{list_path}:{lineno}"
            if len(parts) > 2 or (with_labels and len(parts) != 2):
                raise utils.DataError(f"{where}: expected 'image_path label_path', got {line.strip()!r}")
            image = os.path.join(data_dir, parts[0])
            label = os.path.join(data_dir, parts[1]) if len(parts) == 2 else None
            samples.append((image, label, where))
    if not samples:
        raise utils.DataError(f"{list_path}:1: the list is empty")
    return samples


def load_image(path, where):
    if not os.path.isfile(path):
        raise utils.DataError(f"{where}: image file not found: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
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


class SegDataset(paddle.io.Dataset):
    """A list file of (image, label) pairs. mode='train' applies the random augmentation, seeded per
    (seed, epoch, index) so a resumed run sees the same crops; mode='eval' returns full images."""

    def __init__(self, data_dir, list_name, num_classes, mode="train", crop_size=(512, 1024),
                 scale_range=(0.5, 2.0), seed=0):
        super().__init__()
        self.samples = read_list(os.path.join(data_dir, list_name), data_dir)
        self.num_classes, self.mode = num_classes, mode
        self.crop_size, self.scale_range = crop_size, scale_range
        self.seed, self.epoch = seed, 0
        self.list_path = os.path.join(data_dir, list_name)

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
        # the message; utils.BadSampleFilter stops on it, or skips and counts it (--skip_bad_samples).
        try:
            image, label = self.load(index)
        except utils.DataError as e:
            return e
        if self.mode == "train":
            # Seeded by (seed, epoch, index) only: the same crop in any worker and after a resume.
            utils.seed_sample(self.seed, self.epoch, index)
            rng = np.random.default_rng(np.random.randint(2 ** 31))
            image, label = random_scale(image, label, rng, self.scale_range)
            image, label = random_crop(image, label, rng, *self.crop_size)
            if rng.random() < 0.5:
                image, label = image[:, ::-1], label[:, ::-1]
        return normalize(image), np.ascontiguousarray(label)


def collate(samples):
    """utils.collate_with_errors, but a batch whose samples are all bad becomes an empty batch instead
    of None (Paddle's DataLoader cannot carry None); the loops skip empty batches."""
    batch, errors = utils.collate_with_errors(samples)
    if batch is None:
        batch = [np.zeros((0, 3, 1, 1), np.float32), np.zeros((0, 1, 1), np.int64)]
    return batch, errors



def quiet_worker_exit(main):
    """main(), but on a DataError Paddle's SIGCHLD handler is removed before the error propagates.

    utils.run_main then kills the DataLoader workers; with Paddle's handler still installed, a
    worker's death could raise "DataLoader process ... is killed by signal" in the middle of that
    and replace the one-line message with a traceback."""
    def wrapped():
        try:
            return main()
        except utils.DataError:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            raise
    return wrapped
