"""The only data path: PASCAL VOC annotations, SSD's augmentation, the training targets, and the
batching that --resume and bad samples need.

On-disk layout (the real VOC's; DATA_DIR defaults to data/demo):

    DATA_DIR/VOCdevkit/VOC2007/Annotations/000005.xml
    DATA_DIR/VOCdevkit/VOC2007/JPEGImages/000005.jpg
    DATA_DIR/VOCdevkit/VOC2007/ImageSets/Main/{trainval,test,train,val}.txt   one image id per line
    DATA_DIR/VOCdevkit/VOC2012/...                                           the same
    DATA_DIR/label_list.txt      optional: one class name per line (default: the 20 VOC classes)

A split is named `VOC2007/trainval`; several are read together with a comma
(`VOC2007/trainval,VOC2012/trainval`, the recipe's training set). `difficult` objects are kept for
training and left out of the metric (voc_eval.py), as VOC does.

Bad input, checked for every split before the first step: a missing list, annotation or image, a
malformed XML, a class not in the class list and a box of zero or negative size stop with
`file:line: what` (or `file: object k: what`); with --skip_bad_samples the image is skipped and
counted. A box reaching outside its image is clipped to it and counted (one notice per split). A
corrupt JPEG is found when it is read (the same message, or skipped and counted).
"""
import math
import os
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image, ImageEnhance, UnidentifiedImageError

import utils
import paddle
from paddle.io.dataloader.collate import default_collate_fn

import prior_box

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor"]
MEAN, STD = 127.5, 127.502231  # the recipe's normalisation: (pixel - 127.5) / 127.5
EXPAND_FILL = 128  # the recipe fills the expanded canvas with 127.5; 8-bit images round it to 128


def class_names(data_dir):
    """The object classes (without the background): DATA_DIR/label_list.txt, else VOC's 20."""
    path = os.path.join(data_dir, "label_list.txt")
    if not os.path.isfile(path):
        return list(VOC_CLASSES)
    names = []
    for lineno, line in utils.read_lines(path):
        name = line.strip()
        if not name:
            continue
        if name in names:
            raise utils.DataError(f"{path}:{lineno}: class {name!r} is listed twice")
        names.append(name)
    if not names:
        raise utils.DataError(f"{path}:1: no class names")
    return names


def split_paths(data_dir, split):
    """(list file, VOC year folder) of a split named like `VOC2007/test`."""
    if split.count("/") != 1:
        raise utils.DataError(f"{split}: a split is named YEAR_FOLDER/LIST, e.g. VOC2007/trainval")
    year, name = split.split("/")
    root = os.path.join(data_dir, "VOCdevkit", year)
    return os.path.join(root, "ImageSets", "Main", f"{name}.txt"), root


def has_split(data_dir, split):
    return os.path.isfile(split_paths(data_dir, split)[0])


def _number(node, tag, xml_path, k, name):
    try:
        return float(node.find(tag).text)
    except (AttributeError, TypeError, ValueError):
        raise utils.DataError(f"{xml_path}: object {k} ({name}): <bndbox> has no number in <{tag}>") from None


def parse_annotation(xml_path, image_path, names):
    """A record dict of one VOC XML: boxes [G, 4] float32 pixel (x1, y1, x2, y2), labels [G] int64
    (1-based: 0 is the background), difficult [G] bool, width, height, clipped (boxes clipped).
    Raises DataError naming the file and the object."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        line, column = e.position
        raise utils.DataError(f"{xml_path}:{line}: malformed XML ({e.msg if hasattr(e, 'msg') else e}, "
                              f"column {column})") from None
    except OSError as e:
        raise utils.DataError(f"{xml_path}: cannot read ({e.strerror})") from None
    size = root.find("size")
    try:
        width, height = int(float(size.find("width").text)), int(float(size.find("height").text))
    except (AttributeError, TypeError, ValueError):
        width = height = 0
    if width <= 0 or height <= 0:  # some VOC2012 files lack it: read the image's header
        try:
            with Image.open(image_path) as im:
                width, height = im.size
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
            width = height = 0  # a missing or corrupt image is reported where it is checked/read
    boxes, labels, difficult, clipped = [], [], [], 0
    for k, obj in enumerate(root.findall("object"), 1):
        name = (obj.findtext("name") or "").strip()
        if name not in names:
            raise utils.DataError(f"{xml_path}: object {k}: class {name!r} is not one of the "
                                  f"{len(names)} classes (label_list.txt, or VOC's 20)")
        box = obj.find("bndbox")
        if box is None:
            raise utils.DataError(f"{xml_path}: object {k} ({name}): no <bndbox>")
        x1, y1, x2, y2 = (_number(box, t, xml_path, k, name) for t in ("xmin", "ymin", "xmax", "ymax"))
        if x2 <= x1 or y2 <= y1:
            raise utils.DataError(f"{xml_path}: object {k} ({name}): box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) "
                                  "has zero or negative size")
        if width > 0 and (x1 < 0 or y1 < 0 or x2 > width or y2 > height):
            x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))
            clipped += 1
            if x2 <= x1 or y2 <= y1:
                raise utils.DataError(f"{xml_path}: object {k} ({name}): box lies outside the "
                                      f"{width}x{height} image")
        boxes.append([x1, y1, x2, y2])
        labels.append(names.index(name) + 1)
        difficult.append((obj.findtext("difficult") or "0").strip() == "1")
    return {"boxes": np.array(boxes, dtype=np.float32).reshape(-1, 4), "labels": np.array(labels, dtype=np.int64),
            "difficult": np.array(difficult, dtype=bool), "width": width, "height": height, "clipped": clipped}


def read_split(data_dir, split, names, skip_bad_samples=False):
    """Records of every image of one or more comma-separated splits, in list order. Each record:
    image path, `where` (list file:line), id and parse_annotation's fields. Returns (records, skipped)."""
    records, skipped = [], 0
    for part in [s.strip() for s in split.split(",") if s.strip()]:
        list_path, root = split_paths(data_dir, part)
        clipped = 0
        lines = utils.read_lines(list_path)
        for lineno, line in utils.progress(lines, len(lines), f"reading {list_path}"):
            image_id = line.strip().split()[0] if line.strip() else ""
            if not image_id:
                continue
            where = f"{list_path}:{lineno}"
            xml_path = os.path.join(root, "Annotations", f"{image_id}.xml")
            image_path = os.path.join(root, "JPEGImages", f"{image_id}.jpg")
            try:
                if not os.path.isfile(xml_path):
                    raise utils.DataError(f"{where}: annotation {xml_path} not found")
                if not os.path.isfile(image_path):
                    raise utils.DataError(f"{where}: image {image_path} not found")
                record = parse_annotation(xml_path, image_path, names)
            except utils.DataError as e:
                if not skip_bad_samples:
                    raise
                skipped += 1
                if utils.is_main_process():
                    print(f"skipped bad sample: {e}", flush=True)
                continue
            clipped += record["clipped"]
            records.append({"image": image_path, "where": where, "id": f"{part.split('/')[0]}/{image_id}", **record})
        if clipped and utils.is_main_process():
            print(f"note: {list_path}: clipped {clipped} boxes that reached outside their image", flush=True)
    if not records:
        raise utils.DataError(f"{split_paths(data_dir, split.split(',')[0].strip())[0]}:1: no image in this split")
    return records, skipped


def load_image(path, where):
    """RGB uint8 array [H, W, 3]; a missing or undecodable file becomes a DataError naming `where`."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return utils.DataError(f"{where}: cannot decode image {path} ({e})")


# ------------------------------------------------------------------------------------ augmentation

def photometric_distort(image, rng):
    """SSD's colour distortion: brightness (+-32), contrast and saturation (x0.5-1.5) and hue
    (+-18 degrees), each with probability 0.5, contrast first or last at random."""
    pil = Image.fromarray(image)

    def contrast(p):
        return ImageEnhance.Contrast(p).enhance(rng.uniform(0.5, 1.5)) if rng.random() < 0.5 else p

    if rng.random() < 0.5:
        delta = rng.uniform(-32, 32)
        pil = Image.fromarray(np.clip(np.asarray(pil, dtype=np.float32) + delta, 0, 255).astype(np.uint8))
    contrast_first = rng.random() < 0.5
    if contrast_first:
        pil = contrast(pil)
    if rng.random() < 0.5:
        pil = ImageEnhance.Color(pil).enhance(rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        hsv = np.asarray(pil.convert("HSV")).copy()
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(round(rng.uniform(-18, 18) * 256 / 360))) % 256
        pil = Image.fromarray(hsv, "HSV").convert("RGB")
    if not contrast_first:
        pil = contrast(pil)
    return np.asarray(pil)


def random_expand(image, boxes, rng, max_ratio=4.0, prob=0.5):
    """Place the image at a random spot of a canvas up to 4x its size (zoom out)."""
    if rng.random() >= prob:
        return image, boxes
    h, w = image.shape[:2]
    ratio = rng.uniform(1.0, max_ratio)
    nh, nw = int(h * ratio), int(w * ratio)
    top, left = int(rng.uniform(0, nh - h)), int(rng.uniform(0, nw - w))
    canvas = np.full((nh, nw, 3), EXPAND_FILL, dtype=np.uint8)
    canvas[top:top + h, left:left + w] = image
    return canvas, boxes + np.array([left, top, left, top], dtype=np.float32)


CROP_MIN_IOUS = [None, 0.1, 0.3, 0.5, 0.7, 0.9, 0.0]  # None: keep the whole image


def random_crop(image, boxes, labels, rng, trials=50):
    """SSD's IoU-constrained crop: pick a mode (no crop, or a minimum IoU of 0.1/0.3/0.5/0.7/0.9
    with some object, or none), try up to 50 crops of 0.3-1 of each side and aspect 0.5-2, keep the
    first that meets it; objects whose centre falls outside the crop are dropped."""
    h, w = image.shape[:2]
    mode = CROP_MIN_IOUS[rng.integers(len(CROP_MIN_IOUS))]
    if mode is None:
        return image, boxes, labels
    for _ in range(trials):
        scale = rng.uniform(0.3, 1.0)
        aspect = rng.uniform(max(0.5, scale ** 2), min(2.0, 1 / scale ** 2))
        cw, ch = int(w * scale * math.sqrt(aspect)), int(h * scale / math.sqrt(aspect))
        if cw < 1 or ch < 1 or cw > w or ch > h:
            continue
        x0, y0 = int(rng.uniform(0, w - cw)), int(rng.uniform(0, h - ch))
        crop = np.array([[x0, y0, x0 + cw, y0 + ch]], dtype=np.float32)
        if len(boxes) == 0:
            return image[y0:y0 + ch, x0:x0 + cw], boxes, labels
        if prior_box.iou_matrix(boxes, crop).max() < mode:
            continue
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        keep = np.all((centres > crop[0, :2]) & (centres < crop[0, 2:]), axis=1)
        if not keep.any():
            continue
        kept = boxes[keep].copy()
        kept[:, :2] = np.maximum(kept[:, :2], crop[0, :2])
        kept[:, 2:] = np.minimum(kept[:, 2:], crop[0, 2:])
        kept -= np.array([x0, y0, x0, y0], dtype=np.float32)
        return image[y0:y0 + ch, x0:x0 + cw], kept, labels[keep]
    return image, boxes, labels


def random_flip(image, boxes, rng):
    if rng.random() < 0.5:
        w = image.shape[1]
        image = image[:, ::-1]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    return image, boxes


def resize_linear_cv2(image, width, height):
    """OpenCV's INTER_LINEAR resize (PaddleDetection's `Resize: {interp: 1}`) in numpy: bilinear between
    the 4 nearest source pixels of each output pixel's centre, no antialiasing when shrinking (unlike
    PIL's BILINEAR). OpenCV rounds its weights to 11 bits, so 8-bit results may differ by 1 level."""
    def taps(n_out, n_in):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        return lo, np.minimum(lo + 1, n_in - 1), (src - lo).astype(np.float32)
    y0, y1, fy = taps(height, image.shape[0])
    x0, x1, fx = taps(width, image.shape[1])
    rows = np.unique(np.concatenate([y0, y1]))  # only the source rows used, horizontally first as OpenCV
    cols = np.zeros((image.shape[0],) + (width,) + image.shape[2:], np.float32)
    fx = fx.reshape((1, -1) + (1,) * (image.ndim - 2))
    cols[rows] = image[rows][:, x0] * (1 - fx) + image[rows][:, x1] * fx
    fy = fy.reshape((-1, 1) + (1,) * (image.ndim - 2))
    out = cols[y0] * (1 - fy) + cols[y1] * fy
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# The resize of the eval/infer/export path: this folder's own (PIL, antialiased), or that of the
# PaddleDetection recipe whose weights are loaded (pretrained.SUITE_RECIPE)
RESIZES = ("pil_bilinear", "cv2_linear")


def resize_normalise(image, image_size, resize="pil_bilinear"):
    """The one eval/infer/export preprocessing: resize to image_size x image_size (not keeping the
    aspect ratio, bilinear, as the recipe), normalise, CHW float32. Returns (chw, im_shape,
    scale_factor) with scale_factor = (image_size / h, image_size / w). `resize`: one of RESIZES."""
    h, w = image.shape[:2]
    if resize == "cv2_linear":
        resized = resize_linear_cv2(image, image_size, image_size)
    else:
        resized = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((image_size, image_size),
                                                                                 Image.BILINEAR))
    chw = ((resized.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
    return (np.ascontiguousarray(chw, dtype=np.float32), np.array([image_size, image_size], dtype=np.float32),
            np.array([image_size / h, image_size / w], dtype=np.float32))


class VOCDetection(paddle.io.Dataset):
    """Training samples (image, loc targets [P, 4], labels [P]) with SSD augmentation and matching,
    or eval samples (image, im_shape, scale_factor, index). A bad sample is returned as a
    utils.DataError (see collate_with_errors), never raised. Augmentation draws from a generator
    seeded by (seed, epoch, index): the same in every worker and after a resume."""

    def __init__(self, data_dir, split, image_size, names, train=False, seed=0, augment=True,
                 skip_bad_samples=False, expand_prob=0.5, model="SSD_MobileNetV1", resize="pil_bilinear"):
        self.data_dir, self.split, self.image_size, self.names = data_dir, split, image_size, names
        self.resize = resize  # of eval samples (resize_normalise)
        self.records, self.skipped = read_split(data_dir, split, names, skip_bad_samples)
        self.train, self.seed, self.epoch, self.augment = train, seed, 0, augment
        self.expand_prob = expand_prob
        self.priors = None
        if train:
            from models import model_priors
            self.priors = model_priors(model, image_size)

    def __len__(self):
        return len(self.records)

    def __getitem__(self, index):
        record = self.records[index]
        image = load_image(record["image"], record["where"])
        if isinstance(image, utils.DataError):
            return image
        if not self.train:
            return (*resize_normalise(image, self.image_size, self.resize), np.int64(index))
        boxes, labels = record["boxes"].copy(), record["labels"].copy()
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image = photometric_distort(image, rng)
            image, boxes = random_expand(image, boxes, rng, prob=self.expand_prob)
            image, boxes, labels = random_crop(image, boxes, labels, rng)
            image, boxes = random_flip(image, boxes, rng)
        h, w = image.shape[:2]
        chw = resize_normalise(image, self.image_size)[0]
        normalised = boxes / np.array([w, h, w, h], dtype=np.float32)
        loc, target = prior_box.match(normalised, labels, self.priors)
        return chw, loc, target


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
        per_rank = self.num_samples // utils.world_size()
        mine = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank] if utils.world_size() > 1 else order
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        return [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        per_rank = self.num_samples // utils.world_size()
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


def eval_shard(dataset):
    """This rank's share of an eval set, without padded duplicates."""
    if utils.world_size() == 1:
        return dataset
    return paddle.io.Subset(dataset, list(range(utils.rank(), len(dataset), utils.world_size())))


_NO_GOOD_SAMPLES = "no_good_samples"


def collate_with_errors(samples):
    """Collate a batch's good samples and pass the bad ones' messages along (a Dataset that raises
    hangs Paddle's DataLoader or buries the message; an all-bad batch travels as a marker dict)."""
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    batch = default_collate_fn(good) if good else {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}
    return batch, errors


class BadSampleFilter:
    """Stops at the first bad sample with its message, or with --skip_bad_samples skips and counts."""

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


def make_loader(dataset, args, train, batch_size=None):
    if train:
        sampler = ResumableBatchSampler(len(dataset), args.batch_size, shuffle=True, seed=args.seed)
        return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)
    return utils.make_loader(eval_shard(dataset), args, batch_size=batch_size or args.batch_size,
                             collate_fn=collate_with_errors)
