"""The only data path: COCO-layout detection datasets (boxes, and the segmentation polygons or RLE
that Mask R-CNN trains on), the R-CNN recipe's transforms (short side resized with the aspect ratio
kept, horizontal flip, batches padded to a multiple of 32), and the batching that --resume and bad
samples need.

The layout (MS-COCO 2017):

    DATA_DIR/annotations/instances_train2017.json     images, annotations, categories
    DATA_DIR/annotations/instances_val2017.json
    DATA_DIR/train2017/*.jpg, DATA_DIR/val2017/*.jpg
    (optional) annotations/instances_test2017.json + test2017/: a labelled test split, read by eval.py only

Crowd annotations (iscrowd 1) are not trained on (pycocotools ignores them when scoring). Images
without a box are kept: in training they teach the "no object" score. A box reaching outside its
image is clipped to it and counted; a box with no area (width or height <= 0, or nothing left
inside the image) is an error naming the annotation id, or with --skip_bad_samples dropped and
counted. A segmentation that is neither polygons nor RLE is an error naming the annotation id.
A category id outside the category list, an image id the json does not list, a missing
image file and a malformed json are errors naming the file and the id; a corrupt JPEG is found when
it is read and named the same way.
"""
import functools
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
# the same mean/std as PaddleDetection's configs write them (float64: its NormalizeImage's arithmetic)
SUITE_MEAN, SUITE_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
MAX_BOXES = 128  # boxes per picture a batch carries (COCO has at most 93 non-crowd); more are dropped


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


def segmentation_problem(segm):
    """What is wrong with an annotation's segmentation, or None: polygons ([[x, y, ...], ...], each
    of at least 3 points) or RLE ({"counts": str or list, "size": [h, w]}); a missing one is allowed
    (the box models do not need it; Mask R-CNN refuses such a set in check_masks)."""
    if segm is None:
        return None
    if isinstance(segm, list):
        ok = all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(isinstance(v, (int, float)) for v in p)
                 for p in segm)
        return None if ok and segm else "is not a list of polygons of at least 3 points"
    if isinstance(segm, dict):
        size = segm.get("size")
        if isinstance(segm.get("counts"), (str, list)) and isinstance(size, list) and len(size) == 2:
            return None
        return "is not RLE ({'counts': ..., 'size': [h, w]})"
    return f"{str(segm)[:40]!r} is neither polygons nor RLE"


def decode_mask(segm, height, width):
    """A binary [height, width] uint8 mask from polygons, uncompressed or compressed RLE (pycocotools)."""
    from pycocotools import mask as mask_utils
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    elif isinstance(segm["counts"], list):
        rle = mask_utils.frPyObjects(segm, height, width)
    else:
        rle = segm
    return mask_utils.decode(rle)


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
                      "width": float(w), "height": float(h), "boxes": [], "labels": [], "segms": [], "ann_ids": [],
                      "ann": None}
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
            segm = ann.get("segmentation")
            problem = segmentation_problem(segm)
            if problem:
                self._bad(skip_bad_samples, f"{where}: segmentation {problem}")
                continue
            if (x1, y1, x2, y2) != (x, y, x + bw, y + bh):
                self.clipped.append(aid)
            record["boxes"].append([x1, y1, x2, y2])
            record["segms"].append(segm)
            record["ann_ids"].append(aid)
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

    def check_masks(self):
        """For Mask R-CNN: every box has its segmentation."""
        for record in self.records:
            for aid, segm in zip(record["ann_ids"], record["segms"]):
                if segm is None:
                    raise utils.DataError(f"{self.json_path}: annotation id {aid}: no segmentation (Mask R-CNN needs one)")

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


def load_image(path, where, recipe=None):
    """RGB uint8 HWC array; a missing or undecodable file becomes a DataError naming `where`.
    With a suite recipe (pretrained.SUITE_RECIPE): decoded by OpenCV as PaddleDetection's Decode does
    (cv2.imdecode, BGR -> RGB)."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    if recipe is not None:
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


# ------------------------------------------------------------------------------- transforms

def resize_keep_ratio(image, short, max_size):
    """Resize so the short side is `short` and the long side at most `max_size` (bilinear); returns
    the image and its scale factor."""
    h, w = image.shape[:2]
    scale = min(short / min(h, w), max_size / max(h, w))
    nh, nw = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
    out = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    return out, np.array([nh / h, nw / w], np.float32)


def normalize(image):
    """uint8 HWC -> float32 CHW with the ImageNet mean and std; the one conversion train, eval,
    export and infer share."""
    return ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)


def _cv2():
    try:
        import cv2
    except ImportError:
        raise utils.CheckpointError("PaddleDetection's weights are evaluated with its OpenCV preprocessing: "
                                    "pip install opencv-python-headless") from None
    return cv2


def preprocess_suite(image, short, max_size, interp):
    """PaddleDetection's eval transforms: Resize(target_size=[short, max_size], keep_ratio=True, interp)
    = cv2.resize by the factor min(short / short side, max_size / long side) in x and y, with im_shape
    the unrounded h, w times that factor and scale_factor [factor, factor] as it sets them; then
    NormalizeImage(is_scale) as it computes it (float32 * 1/255, then the float64 mean and std applied in
    place, so rounded to float32 after each step) and Permute (HWC -> CHW)."""
    cv2 = _cv2()
    h, w = image.shape[:2]
    scale = min(short / min(h, w), max_size / max(h, w))
    flag = {"cv2_cubic": cv2.INTER_CUBIC, "cv2_linear": cv2.INTER_LINEAR}[interp]
    out = cv2.resize(image, None, None, fx=scale, fy=scale, interpolation=flag).astype(np.float32)
    out *= 1.0 / 255.0
    out -= SUITE_MEAN[None, None]
    out /= SUITE_STD[None, None]
    return (np.ascontiguousarray(out.transpose(2, 0, 1)), np.array([scale * h, scale * w], np.float32),
            np.array([scale, scale], np.float32))


def preprocess(image, short, max_size, recipe=None):
    """Eval/infer/export: (CHW float32, im_shape [h, w] after resizing, scale_factor [sy, sx]); with a
    suite recipe (pretrained.SUITE_RECIPE), that suite's eval transforms instead (preprocess_suite)."""
    if recipe is not None:
        return preprocess_suite(image, short, max_size, recipe["resize"])
    resized, scale = resize_keep_ratio(image, short, max_size)
    return normalize(resized), np.array(resized.shape[:2], np.float32), scale


def pad_batch(images, stride=32):
    """Images of a batch zero-padded (bottom, right) to a common size, a multiple of `stride` (1: only
    to the largest of the batch, as PaddleDetection's PadBatch with pad_to_stride -1)."""
    h = int(math.ceil(max(i.shape[1] for i in images) / stride) * stride)
    w = int(math.ceil(max(i.shape[2] for i in images) / stride) * stride)
    out = np.zeros((len(images), 3, h, w), np.float32)
    for k, image in enumerate(images):
        out[k, :, :image.shape[1], :image.shape[2]] = image
    return out


def mask_targets(split, record_index, flipped, scale, gt_indices, rois, size):
    """[P, size, size] targets of a picture's positive RoIs (input pixels): each RoI's gt mask,
    decoded from its polygons or RLE at the picture's size, flipped as the picture was, sampled at
    size x size bin centres inside the RoI."""
    record = split.records[record_index]
    h, w = int(record["height"]), int(record["width"])
    out = np.zeros((len(rois), size, size), np.float32)
    cache = {}
    for k, (g, roi) in enumerate(zip(gt_indices, rois)):
        if g >= len(record["segms"]) or record["segms"][g] is None:
            continue
        if g not in cache:
            mask = decode_mask(record["segms"][g], h, w)
            cache[g] = mask[:, ::-1] if flipped else mask
        mask = cache[g]
        x1, y1, x2, y2 = roi / np.array([scale[1], scale[0]] * 2)
        xs = np.clip((x1 + (np.arange(size) + 0.5) * (x2 - x1) / size).astype(int), 0, w - 1)
        ys = np.clip((y1 + (np.arange(size) + 0.5) * (y2 - y1) / size).astype(int), 0, h - 1)
        out[k] = mask[ys[:, None], xs[None, :]]
    return out


# ----------------------------------------------------------------------------------------- datasets

class DetectionDataset(paddle.io.Dataset):
    """Training samples: (image CHW float32, im_shape [h, w], scale_factor [sy, sx], gt_box
    [MAX_BOXES, 4] in input pixels, gt_label [MAX_BOXES] int64 (-1: padding), the record index, and
    whether the picture was flipped). The recipe's augmentation: a short side drawn from
    `short_sizes` (long side at most `max_size`), and a horizontal flip with probability 1/2, drawn
    from a generator seeded by (seed, epoch, index): a resumed run sees the same samples. The
    sampler hands over (index, epoch), so that no copy of the dataset in a worker or a prefetching
    thread draws with a stale epoch. A bad image is returned as a utils.DataError (see
    collate_with_errors)."""

    def __init__(self, split, short_sizes, max_size, seed=0, augment=True):
        self.split, self.short_sizes, self.max_size = split, list(short_sizes), max_size
        self.seed, self.epoch, self.augment = seed, 0, augment

    def __len__(self):
        return len(self.split.records)

    def __getitem__(self, item):
        index, epoch = item if isinstance(item, tuple) else (item, self.epoch)
        rng = np.random.default_rng((self.seed, epoch, index))
        record = self.split.records[index]
        image = load_image(record["file"], self.split.where(record))
        if isinstance(image, utils.DataError):
            return image
        boxes = record["boxes"] * np.array([image.shape[1] / record["width"], image.shape[0] / record["height"]] * 2,
                                           np.float32)
        short = self.short_sizes[rng.integers(len(self.short_sizes))] if self.augment else self.short_sizes[-1]
        flipped = bool(self.augment and rng.random() < 0.5)
        resized, scale = resize_keep_ratio(image, short, self.max_size)
        boxes = boxes * np.array([scale[1], scale[0]] * 2, np.float32)
        if flipped:
            resized = resized[:, ::-1]
            w = resized.shape[1]
            boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1).reshape(-1, 4)
        n = min(len(boxes), MAX_BOXES)
        gt_box = np.zeros((MAX_BOXES, 4), np.float32)
        gt_box[:n] = boxes[:n]
        gt_label = np.full(MAX_BOXES, -1, np.int64)
        gt_label[:n] = record["labels"][:n]
        return (normalize(np.ascontiguousarray(resized)), np.array(resized.shape[:2], np.float32), scale, gt_box,
                gt_label, np.int64(index), np.int32(flipped))


class EvalDataset(paddle.io.Dataset):
    """(image CHW float32, im_shape, scale_factor, image id) of a split, resized as preprocess does
    (with a suite recipe: decoded and resized as that suite does)."""

    def __init__(self, split, short, max_size, recipe=None):
        self.split, self.short, self.max_size, self.recipe = split, short, max_size, recipe

    def __len__(self):
        return len(self.split.records)

    def __getitem__(self, index):
        record = self.split.records[index]
        image = load_image(record["file"], self.split.where(record), self.recipe)
        if isinstance(image, utils.DataError):
            return image
        return (*preprocess(image, self.short, self.max_size, self.recipe), np.int64(record["id"]))


def targets_of(gt_box, gt_label):
    """Per picture numpy boxes and labels of a batch, the padding rows dropped."""
    boxes, labels = [], []
    for b, lab in zip(gt_box.numpy(), gt_label.numpy()):
        keep = lab >= 0
        boxes.append(b[keep])
        labels.append(lab[keep])
    return boxes, labels


class ResumableBatchSampler(paddle.io.BatchSampler):
    """Batches of (index, epoch): shuffled by (seed, epoch), sharded over ranks, able to start mid-epoch so
    that --resume neither re-reads nor skips a sample."""

    def __init__(self, num_samples, batch_size, shuffle=True, drop_last=True, seed=0):
        self.num_samples, self.batch_size = num_samples, batch_size
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
        return [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        for batch in self._batches()[self.start_batch:]:
            yield [(i, self.epoch) for i in batch]

    def __len__(self):
        per_rank = self.num_samples // utils.world_size()
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


def eval_shard(dataset):
    """This rank's share of an eval set (no padded duplicates): distributed eval = single-process."""
    if utils.world_size() == 1:
        return dataset
    return paddle.io.Subset(dataset, list(range(utils.rank(), len(dataset), utils.world_size())))


_NO_GOOD_SAMPLES = "no_good_samples"


def collate_with_errors(samples, stride=32):
    """Collate a batch's good samples (images padded to a multiple of 32) and pass the bad ones'
    messages along. (A Dataset that raises hangs Paddle's DataLoader or buries the message; a batch
    with no good sample travels as a marker dict, since the DataLoader cannot carry None.)"""
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    if not good:
        return {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}, errors
    images = pad_batch([s[0] for s in good], stride)
    rest = default_collate_fn([s[1:] for s in good])
    return [images, *rest], errors


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


def make_train_loader(dataset, args):
    sampler = ResumableBatchSampler(len(dataset), args.batch_size, shuffle=True, seed=args.seed)
    return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)


def make_eval_loader(dataset, args, stride=32):
    """stride: the padding of each batch (a suite recipe's pad_stride: C4's PaddleDetection reader pads
    nothing, stride 1, at batch 1)."""
    collate = collate_with_errors if stride == 32 else functools.partial(collate_with_errors, stride=stride)
    return utils.make_loader(eval_shard(dataset), args, batch_size=args.batch_size, collate_fn=collate)
