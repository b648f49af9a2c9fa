"""The only data path: the COCO keypoints layout, person crops by affine transform, Gaussian target
heatmaps, and the batching that --resume and bad samples need.

The layout (MS-COCO 2017 keypoints):

    DATA_DIR/annotations/person_keypoints_train2017.json   images, annotations (keypoints, bbox), categories
    DATA_DIR/annotations/person_keypoints_val2017.json
    DATA_DIR/train2017/*.jpg, DATA_DIR/val2017/*.jpg
    (optional) annotations/person_keypoints_test2017.json + test2017/: a labelled test split, eval.py only

A person is one annotation of the keypoint category with at least one labelled keypoint (as the
release trains and scores). Its crop is its box, padded to the input's aspect ratio and by 1.25, then
warped (scale, rotation, flip in training) to the input size. Bad input stops with one line naming
the json and the annotation or image id: a keypoint list of the wrong length or a visibility flag
outside 0-2, a box with no area or outside its picture, an unknown image id, a malformed json, a
missing or corrupt picture.
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
PADDING = 1.25  # the box is enlarged by this before cropping (the release's and MSRA's)
SCALE_FACTOR, ROTATION_FACTOR, ROTATION_PROB = 0.3, 40.0, 0.6  # the release's COCO augmentation
SIGMA = 2.0  # Gaussian target, in heatmap pixels


def parse_size(text):
    """'256x192' -> (height, width), both multiples of 32 (the backbone's stride)."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise SystemExit(f"error: --input_size must be HEIGHTxWIDTH, got {text!r}") from None
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise SystemExit(f"error: --input_size sides must be positive multiples of 32, got {text!r}")
    return h, w


DATASETS = ("coco", "mpii")


def split_paths(data_dir, split, dataset="coco"):
    """(annotation file, picture folder) of a split: COCO's person_keypoints_<split>2017.json, or the
    release's MPII annot/train.json and annot/valid.json (MPII's labelled splits; no test)."""
    if dataset == "mpii":
        return os.path.join(data_dir, "annot", {"train": "train", "val": "valid"}.get(split, split) + ".json"), \
            os.path.join(data_dir, "images")
    return (os.path.join(data_dir, "annotations", f"person_keypoints_{split}2017.json"),
            os.path.join(data_dir, f"{split}2017"))


def has_split(data_dir, split, dataset="coco"):
    return (dataset != "mpii" or split != "test") and os.path.isfile(split_paths(data_dir, split, dataset)[0])


def joint_names(dataset, data_dir):
    """(keypoint names, skeleton as 1-based pairs) of a dataset: COCO's from its train (or val) json."""
    if dataset == "mpii":
        import mpii
        return list(mpii.JOINTS), [list(p) for p in mpii.SKELETON]
    path = split_paths(data_dir, "train" if has_split(data_dir, "train") else "val")[0]
    _, names, skeleton = keypoint_info(path, load_json(path))
    return names, skeleton


def open_split(dataset, data_dir, split, aspect, skip_bad_samples=False, detections=None, det_threshold=0.0):
    if dataset == "mpii":
        if detections:
            raise SystemExit("error: --det_json is for the COCO layout; MPII's people come with their boxes")
        return MpiiKeypoints(data_dir, split, aspect, skip_bad_samples)
    return CocoKeypoints(data_dir, split, aspect, skip_bad_samples, detections, det_threshold)


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


def flip_pairs(names):
    """Index pairs (left, right) from keypoint names: COCO's left_eye/right_eye ... (8 pairs)."""
    pairs = []
    for i, name in enumerate(names):
        if name.startswith("left_") and "right_" + name[5:] in names:
            pairs.append((i, names.index("right_" + name[5:])))
    return pairs


def keypoint_info(path, data):
    """(category id, keypoint names, skeleton) of the json's person category."""
    cats = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(cats, list) or not cats or not isinstance(cats[0], dict):
        raise utils.DataError(f"{path}: no 'categories' list")
    cat = next((c for c in cats if isinstance(c, dict) and c.get("name") == "person"), cats[0])
    names = cat.get("keypoints")
    if not isinstance(cat.get("id"), int) or not isinstance(names, list) or not names:
        raise utils.DataError(f"{path}: category {str(cat)[:80]} has no integer id or no 'keypoints' names")
    return cat["id"], [str(n) for n in names], cat.get("skeleton", [])


def box_to_center_scale(x, y, w, h, aspect):
    """A box -> (centre, size in pixels) of the crop: padded to the input's width/height ratio, then
    by 1.25."""
    center = np.array([x + w * 0.5, y + h * 0.5], np.float32)
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], np.float32) * PADDING


class CocoKeypoints:
    """One split's json parsed into people: {image id, annotation id, file, image size, centre and crop
    size, joints [K, 2], visible [K], box score}. Bad annotations are errors, or skipped and counted."""

    def __init__(self, data_dir, split, aspect, skip_bad_samples=False, detections=None, det_threshold=0.0):
        self.json_path, self.image_dir = split_paths(data_dir, split)
        self.skipped = []
        path = self.json_path
        data = load_json(path)
        self.category_id, self.names, _ = keypoint_info(path, data)
        self.num_joints = len(self.names)
        self.flip_pairs = flip_pairs(self.names)
        images, annotations = data.get("images"), data.get("annotations", [])
        if not isinstance(images, list) or not isinstance(annotations, list):
            raise utils.DataError(f"{path}: expected 'images' and 'annotations' lists")
        self.images = {}
        for image in images:
            if not isinstance(image, dict) or not isinstance(image.get("id"), int) or "file_name" not in image:
                raise utils.DataError(f"{path}: image entry {str(image)[:80]} lacks an integer id or a file_name")
            w, h = image.get("width"), image.get("height")
            if not (isinstance(w, (int, float)) and isinstance(h, (int, float)) and w > 0 and h > 0):
                raise utils.DataError(f"{path}: image id {image['id']}: width and height must be positive numbers")
            self.images[image["id"]] = {"id": image["id"], "file": os.path.join(self.image_dir, image["file_name"]),
                                        "width": float(w), "height": float(h)}
        self.people = []
        for ann in annotations:
            person = self._person(ann, aspect, skip_bad_samples)
            if person is not None and detections is None:
                self.people.append(person)
        if detections is not None:  # person boxes from a detector's results json instead of the annotations
            self.people = self._detected(detections, aspect, det_threshold)
        if self.skipped and utils.is_main_process():
            print(f"{path}: skipped {len(self.skipped)} bad annotations (first: {self.skipped[0]})", flush=True)
        if not self.people:
            raise utils.DataError(f"{path}: no person with a labelled keypoint")

    def _bad(self, skip, message):
        if not skip:
            raise utils.DataError(message)
        self.skipped.append(message)

    def _person(self, ann, aspect, skip):
        path = self.json_path
        if not isinstance(ann, dict):
            raise utils.DataError(f"{path}: annotation {str(ann)[:80]} is not an object")
        where = f"{path}: annotation id {ann.get('id')}"
        image = self.images.get(ann.get("image_id"))
        if image is None:
            raise utils.DataError(f"{where}: image_id {ann.get('image_id')} is not in 'images'")
        if ann.get("category_id") != self.category_id or ann.get("iscrowd", 0):
            return None
        kps = ann.get("keypoints")
        if not (isinstance(kps, list) and all(isinstance(v, (int, float)) for v in kps)):
            return self._bad(skip, f"{where}: 'keypoints' is not a list of numbers")
        if len(kps) != 3 * self.num_joints:
            return self._bad(skip, f"{where}: {len(kps)} keypoint values, expected {3 * self.num_joints} "
                                   f"({self.num_joints} joints x (x, y, visibility))")
        kps = np.array(kps, np.float32).reshape(-1, 3)
        if not np.isin(kps[:, 2], (0, 1, 2)).all():
            return self._bad(skip, f"{where}: visibility {sorted(set(kps[:, 2].tolist()) - {0, 1, 2})} "
                                   f"is not 0, 1 or 2")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            return self._bad(skip, f"{where}: bbox {bbox!r} is not [x, y, width, height]")
        box = self._clip(bbox, image, where, skip)
        if box is None or not (kps[:, 2] > 0).any():  # no labelled keypoint: nothing to learn or score
            return None
        center, size = box_to_center_scale(*box, aspect)
        return {"image_id": image["id"], "ann": ann.get("id"), "file": image["file"], "center": center,
                "size": size, "joints": kps[:, :2].copy(), "visible": (kps[:, 2] > 0).astype(np.float32),
                "score": 1.0, "area": float(box[2] * box[3])}

    def _clip(self, bbox, image, where, skip):
        """The box clipped to its picture (xywh); None (error or skipped) when nothing is left."""
        x, y, w, h = map(float, bbox)
        if w <= 0 or h <= 0:
            return self._bad(skip, f"{where}: box of width {w:g} and height {h:g} has no area")
        x1, y1 = max(x, 0.0), max(y, 0.0)
        x2, y2 = min(x + w, image["width"]), min(y + h, image["height"])
        if x2 - x1 < 1 or y2 - y1 < 1:
            return self._bad(skip, f"{where}: box {bbox} lies outside its {image['width']:g}x{image['height']:g} "
                                   f"picture (less than one pixel inside)")
        return x1, y1, x2 - x1, y2 - y1

    def _detected(self, det_path, aspect, threshold):
        """People from a COCO detection results json ([{image_id, category_id, bbox, score}])."""
        dets = load_json(det_path)
        if not isinstance(dets, list):
            raise utils.DataError(f"{det_path}: expected a list of detections")
        people = []
        for k, det in enumerate(dets):
            where = f"{det_path}: detection {k}"
            if not isinstance(det, dict) or det.get("image_id") not in self.images:
                raise utils.DataError(f"{where}: image_id {det.get('image_id') if isinstance(det, dict) else None} "
                                      f"is not in {self.json_path}")
            if det.get("category_id", self.category_id) != self.category_id or det.get("score", 1.0) < threshold:
                continue
            image = self.images[det["image_id"]]
            box = self._clip(det.get("bbox") if isinstance(det.get("bbox"), list) else [0, 0, 0, 0], image, where, False)
            center, size = box_to_center_scale(*box, aspect)
            people.append({"image_id": image["id"], "ann": None, "file": image["file"], "center": center,
                           "size": size, "joints": np.zeros((self.num_joints, 2), np.float32),
                           "visible": np.zeros(self.num_joints, np.float32), "score": float(det.get("score", 1.0)),
                           "area": float(box[2] * box[3])})
        return people

    def where(self, person):
        ann = f", annotation id {person['ann']}" if person["ann"] is not None else ""
        return f"{self.json_path}: image id {person['image_id']}{ann}"

    def check_files(self, skip_bad_samples=False):
        """Before the first step: every picture exists (a stat each); a missing one is an error naming
        the image and annotation, or with --skip_bad_samples dropped and counted."""
        missing = {}
        for image in utils.progress(list(self.images.values()), len(self.images), f"checking {self.image_dir}"):
            if not os.path.isfile(image["file"]):
                missing[image["id"]] = image["file"]
        used = [p for p in self.people if p["image_id"] in missing]
        if used and not skip_bad_samples:
            raise utils.DataError(f"{self.where(used[0])}: image {used[0]['file']} not found")
        if used:
            self.people = [p for p in self.people if p["image_id"] not in missing]
            if utils.is_main_process():
                print(f"skipped {len(used)} people of {len({p['image_id'] for p in used})} missing pictures of "
                      f"{self.json_path} (first: {used[0]['file']})", flush=True)
        if not self.people:
            raise utils.DataError(f"{self.json_path}: no picture of this split exists")
        return len(used)


class MpiiKeypoints:
    """The release's MPII json (mpii.py) as the people CocoKeypoints gives: the person's centre lowered
    by 15 x scale and its 200 x scale px square padded by 1.25, as the release crops it (then to the
    input's aspect ratio). Picture ids are positions in the json's picture order; val needs
    annot/gt_valid.mat (the head boxes of PCKh), in the json's person order."""

    def __init__(self, data_dir, split, aspect, skip_bad_samples=False):
        import mpii
        self.json_path, self.image_dir = split_paths(data_dir, split, "mpii")
        self.skipped, self.category_id = [], 1
        self.names, self.num_joints, self.flip_pairs = list(mpii.JOINTS), len(mpii.JOINTS), list(mpii.FLIP_PAIRS)
        self.gt_path = os.path.join(data_dir, "annot", "gt_valid.mat") if split == "val" else None
        if self.gt_path and not os.path.isfile(self.gt_path):
            raise utils.DataError(f"{self.gt_path}: file not found (PCKh needs its head boxes)")
        self.images, self.people = {}, []
        for k, p in enumerate(mpii.read_annotations(self.json_path)):
            file = os.path.join(self.image_dir, p["image"])
            image = self.images.setdefault(file, {"id": len(self.images), "file": file})
            center = p["center"].copy()
            center[1] += 15 * p["scale"]
            side = p["scale"] * 200.0
            w, h = (side, side / aspect) if aspect < 1 else (side * aspect, side)
            self.people.append({"image_id": image["id"], "ann": k, "file": file, "center": center.astype(np.float32),
                                "size": np.array([w, h], np.float32) * PADDING, "joints": p["joints"].astype(np.float32),
                                "visible": (p["visible"] > 0).astype(np.float32), "score": 1.0, "area": side * side})
        self.images = {v["id"]: v for v in self.images.values()}
        if not self.people:
            raise utils.DataError(f"{self.json_path}: no person")

    def where(self, person):
        return f"{self.json_path}: entry {person['ann']}"

    check_files = CocoKeypoints.check_files


def load_image(path, where):
    """RGB PIL image; a missing or undecodable file becomes a DataError naming `where`."""
    if not os.path.isfile(path):
        return utils.DataError(f"{where}: image {path} not found")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.load()
            return image
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        return utils.DataError(f"{where}: cannot decode image {path} ({e})")


# ------------------------------------------------------------------------------------------ transforms

def crop_transform(center, size, rotation, out_wh):
    """The 3x3 matrix taking picture pixels to crop pixels: the crop of `size` (w, h) around `center`,
    turned by `rotation` degrees (counter-clockwise in the picture), scaled to out_wh (w, h)."""
    theta = math.radians(rotation)
    s = out_wh[0] / size[0]
    cos, sin = math.cos(theta) * s, math.sin(theta) * s
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    m[:2, 2] = np.array(out_wh, np.float64) * 0.5 - m[:2, :2] @ np.asarray(center, np.float64)
    return m


def apply(matrix, points):
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def warp(image, matrix, out_wh):
    """PIL's affine warp (bilinear, black outside). PIL maps output to input with pixel centres at
    +0.5; the matrix is in pixel-index coordinates as the keypoints are, so it is shifted to match."""
    inv = np.linalg.inv(matrix)
    a, b, c = inv[0]
    d, e, f = inv[1]
    data = (a, b, c + 0.5 - 0.5 * (a + b), d, e, f + 0.5 - 0.5 * (d + e))
    return image.transform(tuple(int(v) for v in out_wh), Image.AFFINE, data, resample=Image.BILINEAR)


def normalize(image):
    return ((np.asarray(image, np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def gaussian_targets(joints, visible, heatmap_hw, stride, sigma=SIGMA):
    """Per joint a Gaussian (sigma in heatmap pixels, peak 1 at the rounded joint position) and a
    weight: 0 for an unlabelled joint or one whose Gaussian would fall wholly outside the heatmap."""
    h, w = heatmap_hw
    target = np.zeros((len(joints), h, w), np.float32)
    weight = visible.astype(np.float32).copy()
    radius = int(sigma * 3)
    ys, xs = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None]
    for k, (x, y) in enumerate(joints):
        if weight[k] <= 0:
            continue
        mx, my = int(x / stride + 0.5), int(y / stride + 0.5)
        if mx - radius >= w or my - radius >= h or mx + radius < 0 or my + radius < 0:
            weight[k] = 0
            continue
        inside = (np.abs(xs - mx) <= radius) & (np.abs(ys - my) <= radius)  # the release's 6-sigma square
        target[k] = np.exp(-((xs - mx) ** 2 + (ys - my) ** 2) / (2 * sigma ** 2)) * inside
    return target, weight[:, None]


class TrainDataset(paddle.io.Dataset):
    """(crop CHW float32, target heatmaps [K, H/4, W/4], target weight [K, 1]) per person, with random
    scale (x N(1, 0.3) clipped to 0.7-1.3), rotation (N(0, 40) degrees clipped to 80, 60% of the time)
    and horizontal flip (left/right joints swapped). Each sample's randomness is seeded by (seed, epoch,
    index), so a resumed run sees what the unbroken run saw."""

    def __init__(self, split, input_hw, seed=0, augment=True):
        self.split, self.input_hw, self.seed, self.augment, self.epoch = split, input_hw, seed, augment, 0

    def __len__(self):
        return len(self.split.people)

    def __getitem__(self, index):
        person = self.split.people[index]
        image = load_image(person["file"], self.split.where(person))
        if isinstance(image, utils.DataError):
            return image
        rng = np.random.default_rng((self.seed, self.epoch, index))
        scale, rotation, flip = 1.0, 0.0, False
        if self.augment:
            scale = float(np.clip(rng.standard_normal() * SCALE_FACTOR + 1, 1 - SCALE_FACTOR, 1 + SCALE_FACTOR))
            if rng.random() <= ROTATION_PROB:
                rotation = float(np.clip(rng.standard_normal() * ROTATION_FACTOR, -2 * ROTATION_FACTOR,
                                         2 * ROTATION_FACTOR))
            flip = bool(rng.random() <= 0.5)
        crop, joints, visible = self.transform(image, person, scale, rotation, flip)
        h, w = self.input_hw
        target, weight = gaussian_targets(joints, visible, (h // 4, w // 4), 4.0)
        return normalize(crop), target, weight

    def transform(self, image, person, scale=1.0, rotation=0.0, flip=False):
        """(crop, joints in crop pixels, visible) of a person, its crop scaled, turned and mirrored. A
        mirror maps picture x to width - 1 - x and swaps left and right joints; it is folded into the
        crop's matrix, so the picture itself is never copied."""
        center, size = person["center"].astype(np.float64), person["size"].astype(np.float64) * scale
        joints, visible = person["joints"].astype(np.float64), person["visible"].copy()
        mirror = np.eye(3)
        if flip:
            mirror = np.array([[-1.0, 0.0, image.width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            joints, center = apply(mirror, joints), apply(mirror, center[None])[0]
            for a, b in self.split.flip_pairs:
                joints[[a, b]], visible[[a, b]] = joints[[b, a]], visible[[b, a]]
        h, w = self.input_hw
        matrix = crop_transform(center, size, rotation, (w, h))
        return warp(image, matrix @ mirror, (w, h)), apply(matrix, joints), visible


class EvalDataset(paddle.io.Dataset):
    """(crop CHW float32, person index) per person of a split, cropped without augmentation."""

    def __init__(self, split, input_hw):
        self.split, self.input_hw = split, input_hw

    def __len__(self):
        return len(self.split.people)

    def __getitem__(self, index):
        person = self.split.people[index]
        image = load_image(person["file"], self.split.where(person))
        if isinstance(image, utils.DataError):
            return image
        return crop_person(image, person["center"], person["size"], self.input_hw), np.int64(index)


def crop_person(image, center, size, input_hw):
    """The one preprocessing of eval, infer and export: the person's crop, normalised, CHW."""
    h, w = input_hw
    return normalize(warp(image, crop_transform(center, size, 0.0, (w, h)), (w, h)))


# ------------------------------------------------------------------------------------------- batching

class ResumableBatchSampler(paddle.io.BatchSampler):
    """Batches of indices: shuffled by (seed, epoch), sharded over ranks, able to start mid-epoch so
    that --resume neither re-reads nor skips a sample."""

    def __init__(self, num_samples, batch_size, seed=0, drop_last=True):
        self.num_samples, self.batch_size, self.seed, self.drop_last = num_samples, batch_size, seed, drop_last
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.num_samples)
        per_rank = self.num_samples // utils.world_size()
        mine = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        stop = len(mine) - len(mine) % self.batch_size if self.drop_last else len(mine)
        batches = [mine[i:i + self.batch_size].tolist() for i in range(0, stop, self.batch_size)]
        yield from batches[self.start_batch:]

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
    """Collate the good samples and pass the bad ones' messages along (a Dataset that raises hangs
    Paddle's DataLoader or buries the message)."""
    good = [s for s in samples if not isinstance(s, utils.DataError)]
    errors = [str(s) for s in samples if isinstance(s, utils.DataError)]
    batch = default_collate_fn(good) if good else {_NO_GOOD_SAMPLES: np.zeros([1], "int8")}
    return batch, errors


class BadSampleFilter:
    """Stops at the first bad sample with its message, or with --skip_bad_samples skips and counts it."""

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
    sampler = ResumableBatchSampler(len(dataset), args.batch_size, seed=args.seed)
    return utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate_with_errors)


def make_eval_loader(dataset, args):
    return utils.make_loader(eval_shard(dataset), args, batch_size=args.batch_size, collate_fn=collate_with_errors)
