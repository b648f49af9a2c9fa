"""The only data path: COCO-layout detection datasets, YOLOv3's augmentation, and the batching that
multi-scale training, --resume and bad samples need.

The layout (MS-COCO 2017):

    DATA_DIR/annotations/instances_train2017.json     images, annotations, categories
    DATA_DIR/annotations/instances_val2017.json
    DATA_DIR/train2017/*.jpg, DATA_DIR/val2017/*.jpg
    (optional) annotations/instances_test2017.json + test2017/: a labelled test split, read by eval.py only

Crowd annotations (iscrowd 1) are not trained on (pycocotools ignores them when scoring). Images
without a box are kept: in training they teach the "no object" score. A box reaching outside its
image is clipped to it and counted; a box with no area (width or height <= 0, or nothing left
inside the image) is an error naming the annotation id, or with --skip_bad_samples dropped and
counted. A category id outside the category list, an image id the json does not list, a missing
image file and a malformed json are errors naming the file and the id; a corrupt JPEG is found when
it is read and named the same way.
"""
import json
import math
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

import utils
import paddle
from paddle.io.dataloader.collate import default_collate_fn

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
NUM_MAX_BOXES = 50  # boxes per image given to the loss (PaddleDetection's PadBox); more are dropped
INTERPOLATIONS = [Image.NEAREST, Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.BOX]


def split_paths(data_dir, split):
    return (os.path.join(data_dir, "annotations", f"instances_{split}2017.json"),
            os.path.join(data_dir, f"{split}2017"))


def has_split(data_dir, split):
    return os.path.isfile(split_paths(data_dir, split)[0])


def load_json(path):
    """A json file; unreadable bytes or malformed json are a DataError naming the file and line."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise utils.DataError(f"{path}:{line}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise utils.DataError(f"{path}:{e.lineno}: malformed json ({e.msg}, column {e.colno})") from None


def read_categories(path, data):
    """[(category id, name)] sorted by id: class k of the model is the k-th category."""
    cats = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(cats, list) or not cats:
        raise utils.DataError(f"{path}: no 'categories' list")
    out = []
    for c in cats:
        if not isinstance(c, dict) or not isinstance(c.get("id"), int):
            raise utils.DataError(f"{path}: category {c!r} has no integer id")
        out.append((c["id"], str(c.get("name", c["id"]))))
    ids = [i for i, _ in out]
    if len(set(ids)) != len(ids):
        raise utils.DataError(f"{path}: category ids repeat")
    return sorted(out)


def dataset_info(data_dir):
    """(category ids, names) from the train split's json (val's when there is no train split)."""
    split = "train" if has_split(data_dir, "train") else "val"
    path = split_paths(data_dir, split)[0]
    cats = read_categories(path, load_json(path))
    return [i for i, _ in cats], [n for _, n in cats]


class CocoSplit:
    """One split's json parsed into per-image records: {id, file, width, height, boxes (xyxy pixels),
    labels (class index), first annotation id}. Bad annotations are errors, or skipped and counted."""

    def __init__(self, data_dir, split, skip_bad_samples=False, category_ids=None):
        self.json_path, self.image_dir = split_paths(data_dir, split)
        self.split = split
        data = load_json(self.json_path)
        path = self.json_path
        cats = read_categories(path, data)
        self.category_ids = list(category_ids or [i for i, _ in cats])
        self.names = [n for _, n in cats]
        if [i for i, _ in cats] != self.category_ids:
            raise utils.DataError(f"{path}: its categories {[i for i, _ in cats][:8]}... differ from the "
                                  f"run's {list(self.category_ids)[:8]}...")
        label_of = {cid: k for k, cid in enumerate(self.category_ids)}
        images = data.get("images")
        annotations = data.get("annotations", [])
        if not isinstance(images, list) or not isinstance(annotations, list):
            raise utils.DataError(f"{path}: expected 'images' and 'annotations' lists")
        self.records, by_id = [], {}
        for image in images:
            if not isinstance(image, dict) or not isinstance(image.get("id"), int) or "file_name" not in image:
                raise utils.DataError(f"{path}: image entry {str(image)[:80]} lacks an integer id or a file_name")
            if image["id"] in by_id:
                raise utils.DataError(f"{path}: image id {image['id']} is listed twice")
            w, h = image.get("width"), image.get("height")
            if not (isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0):
                raise utils.DataError(f"{path}: image id {image['id']}: width and height must be positive numbers")
            record = {"id": image["id"], "file": os.path.join(self.image_dir, image["file_name"]),
                      "width": float(w), "height": float(h), "boxes": [], "labels": [], "ann": None}
            by_id[image["id"]] = record
            self.records.append(record)
        self.skipped, self.clipped, self.crowd = [], [], 0
        for ann in annotations:
            aid = ann.get("id") if isinstance(ann, dict) else None
            where = f"{path}: annotation id {aid}"
            if not isinstance(ann, dict):
                raise utils.DataError(f"{path}: annotation {str(ann)[:80]} is not an object")
            record = by_id.get(ann.get("image_id"))
            if record is None:
                raise utils.DataError(f"{where}: image_id {ann.get('image_id')} is not in 'images'")
            if record["ann"] is None:
                record["ann"] = aid
            if ann.get("category_id") not in label_of:
                self._bad(skip_bad_samples, f"{where}: category_id {ann.get('category_id')} is not in the category list")
                continue
            bbox = ann.get("bbox")
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
                self._bad(skip_bad_samples, f"{where}: bbox {bbox!r} is not [x, y, width, height]")
                continue
            if ann.get("iscrowd", 0):
                self.crowd += 1
                continue
            x, y, bw, bh = map(float, bbox)
            if bw <= 0 or bh <= 0:
                self._bad(skip_bad_samples, f"{where}: box of width {bw:g} and height {bh:g} has no area")
                continue
            x1, y1 = max(x, 0.0), max(y, 0.0)
            x2, y2 = min(x + bw, record["width"]), min(y + bh, record["height"])
            if x2 - x1 < 1 or y2 - y1 < 1:
                self._bad(skip_bad_samples, f"{where}: box {bbox} lies outside its {record['width']:g}x"
                                            f"{record['height']:g} image")
                continue
            if (x1, y1, x2, y2) != (x, y, x + bw, y + bh):
                self.clipped.append(aid)
            record["boxes"].append([x1, y1, x2, y2])
            record["labels"].append(label_of[ann["category_id"]])
        for record in self.records:
            record["boxes"] = np.array(record["boxes"], np.float32).reshape(-1, 4)
            record["labels"] = np.array(record["labels"], np.int32)
        if utils.is_main_process():
            if self.clipped:
                print(f"{path}: clipped {len(self.clipped)} boxes to their image (first: annotation id "
                      f"{self.clipped[0]})", flush=True)
            if self.skipped:
                print(f"{path}: skipped {len(self.skipped)} bad annotations (first: {self.skipped[0]})", flush=True)
        if not self.records:
            raise utils.DataError(f"{path}: no images")

    def _bad(self, skip, message):
        if not skip:
            raise utils.DataError(message)
        self.skipped.append(message)

    def where(self, record):
        """How an error names an image: the json, the image id and its first annotation id."""
        ann = f", annotation id {record['ann']}" if record["ann"] is not None else ""
        return f"{self.json_path}: image id {record['id']}{ann}"

    def check_files(self, skip_bad_samples=False):
        """Before the first step: every image file exists (a stat each). A missing one is an error
        naming the image (and an annotation of it), or with --skip_bad_samples dropped and counted."""
        missing = []
        for record in utils.progress(self.records, len(self.records), f"checking {self.image_dir}"):
            if not os.path.isfile(record["file"]):
                if not skip_bad_samples:
                    raise utils.DataError(f"{self.where(record)}: image {record['file']} not found")
                missing.append(record)
        if missing:
            ids = {r["id"] for r in missing}
            self.records = [r for r in self.records if r["id"] not in ids]
            if utils.is_main_process():
                print(f"skipped {len(missing)} missing images of {self.json_path} (first: image id "
                      f"{missing[0]['id']}, {missing[0]['file']})", flush=True)
        if not self.records:
            raise utils.DataError(f"{self.json_path}: no image of this split exists")
        return len(missing)


def load_image(path, where, recipe="ours"):
    """RGB uint8 HWC array; a missing or undecodable file becomes a DataError naming `where`.
    recipe "paddledet": decoded by OpenCV as PaddleDetection's Decode does (cv2.imdecode, BGR -> RGB)."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    if recipe == "paddledet":
        cv2 = _cv2()
        image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return utils.DataError(f"{where}: cannot decode image {path} (OpenCV)")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return utils.DataError(f"{where}: cannot decode image {path} ({e})")


# ------------------------------------------------------------------------------------ augmentation

def mixup(a, b, rng, alpha=1.5):
    """Blend two samples with a Beta(1.5, 1.5) weight on a canvas that holds both; each box keeps its
    image's weight as its score (yolo_loss's gt_score)."""
    factor = float(np.clip(rng.beta(alpha, alpha), 0.0, 1.0))
    if factor >= 1.0:
        return a
    if factor <= 0.0:
        return b
    (ia, ba, la, sa), (ib, bb, lb, sb) = a, b
    h, w = max(ia.shape[0], ib.shape[0]), max(ia.shape[1], ib.shape[1])
    canvas = np.zeros((h, w, 3), np.float32)
    canvas[:ia.shape[0], :ia.shape[1]] += ia.astype(np.float32) * factor
    canvas[:ib.shape[0], :ib.shape[1]] += ib.astype(np.float32) * (1.0 - factor)
    return (canvas.astype(np.uint8), np.concatenate([ba, bb]), np.concatenate([la, lb]),
            np.concatenate([sa * factor, sb * (1.0 - factor)]))


def distort_colour(image, rng):
    """Brightness, contrast, saturation (each x[0.5, 1.5]) and hue (+-18 degrees), each with
    probability 1/2, in a random order."""
    img = image.astype(np.float32)
    for op in rng.permutation(4):
        if rng.random() < 0.5:
            continue
        if op == 0:
            img *= rng.uniform(0.5, 1.5)
        elif op == 1:
            mean = img.mean()
            img = (img - mean) * rng.uniform(0.5, 1.5) + mean
        elif op == 2:
            grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
            delta = rng.uniform(0.5, 1.5)
            img = img * delta + grey[..., None] * (1 - delta)
        else:  # rotate the chroma plane of YIQ
            theta = np.deg2rad(rng.uniform(-18, 18))
            to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]], np.float32)
            rot = np.array([[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]],
                           np.float32)
            img = img @ (np.linalg.inv(to_yiq) @ rot @ to_yiq).T.astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def random_expand(image, boxes, rng, max_ratio=4.0, prob=0.5):
    """Place the image at a random spot of a canvas up to 4x its size, filled with the mean colour."""
    if rng.random() < prob:
        return image, boxes
    ratio = rng.uniform(1.0, max_ratio)
    h, w = image.shape[:2]
    nh, nw = int(h * ratio), int(w * ratio)
    y, x = int(rng.uniform(0, nh - h)), int(rng.uniform(0, nw - w))
    canvas = np.empty((nh, nw, 3), np.uint8)
    canvas[:] = np.round(MEAN * 255).astype(np.uint8)
    canvas[y:y + h, x:x + w] = image
    return canvas, boxes + np.array([x, y, x, y], np.float32)


def iou_with(box, boxes):
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area - inter, 1e-9)


def random_crop(image, boxes, rng, thresholds=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9), attempts=50):
    """SSD-style crop: for a random minimum IoU (or no crop), up to 50 tries of a crop 0.3-1 of the
    side and aspect 1/2-2 that overlaps some box by that IoU; boxes whose centre falls inside are kept
    (clipped). Returns (image, boxes, index of the kept boxes)."""
    keep_all = np.arange(len(boxes))
    if len(boxes) == 0:
        return image, boxes, keep_all
    h, w = image.shape[:2]
    for choice in rng.permutation(len(thresholds) + 1):
        if choice == len(thresholds):
            return image, boxes, keep_all
        for _ in range(attempts):
            scale = rng.uniform(0.3, 1.0)
            aspect = rng.uniform(max(0.5, scale ** 2), min(2.0, scale ** -2))
            ch, cw = int(h * scale / math.sqrt(aspect)), int(w * scale * math.sqrt(aspect))
            if ch < 1 or cw < 1:
                continue
            y, x = int(rng.uniform(0, h - ch)), int(rng.uniform(0, w - cw))
            crop = np.array([x, y, x + cw, y + ch], np.float32)
            if iou_with(crop, boxes).max() < thresholds[choice]:
                continue
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            inside = np.where((centres >= crop[:2]).all(1) & (centres < crop[2:]).all(1))[0]
            if not len(inside):
                continue
            kept = boxes[inside].copy()
            kept[:, :2] = np.maximum(kept[:, :2], crop[:2]) - crop[:2]
            kept[:, 2:] = np.minimum(kept[:, 2:], crop[2:]) - crop[:2]
            return image[y:y + ch, x:x + cw], kept, inside
    return image, boxes, keep_all


def resize(image, size, interpolation=Image.BICUBIC):
    """To size x size (not keeping the aspect ratio, as YOLOv3 does); returns the image and the
    (y, x) scale factor."""
    h, w = image.shape[:2]
    out = np.asarray(Image.fromarray(image).resize((size, size), interpolation))
    return out, np.array([size / h, size / w], np.float32)


def normalize(image):
    """uint8 HWC -> float32 CHW with the ImageNet mean and std; the one conversion train, eval,
    export and infer share."""
    return ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)


# Eval preprocessing: "ours" (PIL bicubic), or "paddledet" for PaddleDetection's weights (pretrained.py):
# its eval reader's Resize(target_size=[S, S], keep_ratio=False, interp=2), i.e. cv2.resize with
# fx = S / width, fy = S / height and cv2.INTER_CUBIC, then the same ImageNet mean/std on RGB.
RECIPES = ("ours", "paddledet")


def _cv2():
    try:
        import cv2
    except ImportError:
        raise utils.CheckpointError("PaddleDetection's weights are evaluated with its OpenCV preprocessing: "
                                    "pip install opencv-python-headless") from None
    return cv2


def resize_paddledet(image, size):
    """PaddleDetection's eval resize (cv2, bicubic, scale factors fx, fy), and the (y, x) scale factor."""
    cv2 = _cv2()
    h, w = image.shape[:2]
    scale = np.array([size / h, size / w], np.float32)
    out = cv2.resize(image, None, None, fx=size / w, fy=size / h, interpolation=cv2.INTER_CUBIC)
    return out, scale


def preprocess(image, size, recipe="ours"):
    """Eval/infer: (CHW float32, im_shape [size, size], scale_factor [sy, sx]) of an RGB array."""
    resized, scale = resize_paddledet(image, size) if recipe == "paddledet" else resize(image, size)
    return normalize(resized), np.array([size, size], np.float32), scale


# ----------------------------------------------------------------------------------------- datasets

class DetectionDataset(paddle.io.Dataset):
    """Training samples: (image CHW float32 at the batch's size, gt_box [50, 4] centre-x, centre-y,
    width, height as fractions of the input, gt_label [50] int32, gt_score [50] float32). The index
    is (image index, input size), as ResumableBatchSampler yields it. Augmentation draws from a
    generator seeded by (seed, epoch, index), so a run repeats and a resumed run sees the same
    samples. A bad image is returned as a utils.DataError (see collate_with_errors)."""

    def __init__(self, split, seed=0, mixup_epochs=0, augment=True):
        self.split, self.seed, self.epoch = split, seed, 0
        self.mixup_epochs, self.augment = mixup_epochs, augment

    def __len__(self):
        return len(self.split.records)

    def _load(self, index):
        record = self.split.records[index]
        image = load_image(record["file"], self.split.where(record))
        if isinstance(image, utils.DataError):
            return image
        if image.shape[:2] != (int(record["height"]), int(record["width"])):
            boxes = record["boxes"] * np.array([image.shape[1] / record["width"], image.shape[0] / record["height"]] * 2,
                                               np.float32)
        else:
            boxes = record["boxes"]
        return image, boxes.copy(), record["labels"].copy(), np.ones(len(boxes), np.float32)

    def __getitem__(self, item):
        index, size = item
        rng = np.random.default_rng((self.seed, self.epoch, index))
        sample = self._load(index)
        if isinstance(sample, utils.DataError):
            return sample
        if self.augment and self.epoch < self.mixup_epochs and len(self) > 1:
            other = self._load(int((index + rng.integers(1, len(self))) % len(self)))
            if isinstance(other, utils.DataError):
                return other
            sample = mixup(sample, other, rng)
        image, boxes, labels, scores = sample
        interpolation = Image.BICUBIC
        if self.augment:
            image = distort_colour(image, rng)
            image, boxes = random_expand(image, boxes, rng)
            image, boxes, kept = random_crop(image, boxes, rng)
            labels, scores = labels[kept], scores[kept]
            if rng.random() < 0.5:
                image = image[:, ::-1]
                boxes = np.stack([image.shape[1] - boxes[:, 2], boxes[:, 1], image.shape[1] - boxes[:, 0],
                                  boxes[:, 3]], 1).reshape(-1, 4)
            interpolation = INTERPOLATIONS[rng.integers(len(INTERPOLATIONS))]
        h, w = image.shape[:2]
        image, _ = resize(np.ascontiguousarray(image), size, interpolation)
        boxes = boxes / np.array([w, h, w, h], np.float32)
        wh = boxes[:, 2:] - boxes[:, :2]
        ok = (wh * size >= 1).all(1)  # boxes a crop left thinner than a pixel
        boxes, wh, labels, scores = boxes[ok], wh[ok], labels[ok], scores[ok]
        n = min(len(boxes), NUM_MAX_BOXES)
        gt_box = np.zeros((NUM_MAX_BOXES, 4), np.float32)
        gt_box[:n] = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, wh], 1)[:n]
        gt_label = np.zeros(NUM_MAX_BOXES, np.int32)
        gt_label[:n] = labels[:n]
        gt_score = np.zeros(NUM_MAX_BOXES, np.float32)
        gt_score[:n] = scores[:n]
        return normalize(image), gt_box, gt_label, gt_score


class EvalDataset(paddle.io.Dataset):
    """(image CHW float32, im_shape, scale_factor, image id) of a split, resized to size x size."""

    def __init__(self, split, size, recipe="ours"):
        self.split, self.size, self.recipe = split, size, recipe

    def __len__(self):
        return len(self.split.records)

    def __getitem__(self, index):
        record = self.split.records[index]
        image = load_image(record["file"], self.split.where(record), self.recipe)
        if isinstance(image, utils.DataError):
            return image
        return (*preprocess(image, self.size, self.recipe), np.int64(record["id"]))


class ResumableBatchSampler(paddle.io.BatchSampler):
    """Batches of (index, input size): shuffled by (seed, epoch), sharded over ranks, one random size
    per batch from `sizes` (multi-scale training), able to start mid-epoch so that --resume neither
    re-reads nor skips a sample."""

    def __init__(self, num_samples, batch_size, sizes, shuffle=True, drop_last=True, seed=0):
        self.num_samples, self.batch_size, self.sizes = num_samples, batch_size, list(sizes)
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        per_rank = self.num_samples // utils.world_size()
        mine = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank] if utils.world_size() > 1 else order
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        batches = [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]
        # the same size on every rank for a given step
        sizes = np.random.default_rng((self.seed, self.epoch, 1)).choice(self.sizes, size=len(batches))
        return [[(i, int(s)) for i in batch] for batch, s in zip(batches, sizes)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        per_rank = self.num_samples // utils.world_size()
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


def eval_shard(dataset):
    """This rank's share of an eval set (no padded duplicates): distributed eval = single-process."""
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


def make_train_loader(dataset, args, sizes):
    sampler = ResumableBatchSampler(len(dataset), args.batch_size, sizes, shuffle=True, seed=args.seed)
    return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)


def make_eval_loader(dataset, args):
    return utils.make_loader(eval_shard(dataset), args, batch_size=args.batch_size, collate_fn=collate_with_errors)
