"""Reading videos for the frame-based models: the Kinetics-400 layout, three kinds of video, clip sampling,
the train/test transforms and the checks run before the first step.

Layout (DATA_DIR, e.g. data/kinetics):

    label_map.txt            one class name per line; the line number - 1 is the label
    train.list val.list test.list
                             `<path> <label>` per line, the path relative to DATA_DIR (or absolute), as the
                             release's lists; val is the dev split (best.pdparams), test is read by eval.py
    videos/<class>/<id>.mp4  a video file (.mp4, .avi, .mkv, .webm, .mov: decoded with OpenCV), or
    <path>/                  a frame folder: <path>/img_00001.jpg, img_00002.jpg, ... (any *.jpg/*.png, sorted), or
    <path>.pkl               the release's pickled frame list: (video id, label, [JPEG bytes of each frame])

Frame cache (--frame_cache DIR; preprocess.py fills it ahead of a run): each video decoded once, resized to
--short_size, as DIR/<name>.<hash>.s<short_size>.npy (uint8 [frames, H, W, 3]) with its index entry
<same>.json (the source's path, size and mtime, the frame count and shape). Every run checks each entry
against its source before the first step: a missing entry is decoded, a stale one (the source's size or
mtime changed) or a corrupt one (unreadable index, truncated or misshapen array) is decoded again with a
notice, never used. The loader memory-maps each entry once per process (a bounded number stay open): a step
only slices and crops.

Sampling (TSN's segments): the video's frames are cut into seg_num equal segments and seglen consecutive
frames are taken from each, at a random offset inside the segment when training and at the segment's centre
when testing; NonLocal takes one clip of seglen frames, sample_rate apart. A video with fewer frames than the
clip needs is LOOPED (frame indices wrap around), never padded with black frames.

Test-time views (the published multi-clip evaluation): --test_clips temporal clips (offsets spread evenly
inside each segment) x --test_crops spatial crops (1: centre; 3: left/centre/right along the long side;
10: the four corners and the centre, each also flipped). The scores of all views are averaged.
"""
import hashlib
import json
import os
import pickle
from typing import NamedTuple, Optional

import numpy as np

import utils

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
SPLIT_LISTS = {"train": "train.list", "val": "val.list", "dev": "val.list", "test": "test.list"}


def _cv2():
    import cv2
    cv2.setNumThreads(1)  # the loader's workers are the parallelism
    return cv2


# ------------------------------------------------------------------------------------------ lists

def read_label_map(data_dir):
    """Class names from DATA_DIR/label_map.txt (one a line; a blank or repeated name is a DataError)."""
    path = os.path.join(data_dir, "label_map.txt")
    names = []
    for number, line in utils.read_lines(path):
        name = line.strip()
        if not name:
            raise utils.DataError(f"{path}:{number}: empty class name")
        if name in names:
            raise utils.DataError(f"{path}:{number}: class {name} listed twice")
        names.append(name)
    if not names:
        raise utils.DataError(f"{path}: no classes")
    return names


def list_path(data_dir, split):
    return os.path.join(data_dir, SPLIT_LISTS.get(split, f"{split}.list"))


def has_split(data_dir, split):
    return os.path.isfile(list_path(data_dir, split))


def read_list(data_dir, split, num_classes):
    """[(video path, label, 'list:line')] of a split's list; a malformed line is a DataError at file:line."""
    path = list_path(data_dir, split)
    items = []
    for number, line in utils.read_lines(path):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.rsplit(None, 1)
        where = f"{path}:{number}"
        if len(parts) != 2:
            raise utils.DataError(f"{where}: expected `<path> <label>`, got {text[:60]!r}")
        try:
            label = int(parts[1])
        except ValueError:
            raise utils.DataError(f"{where}: label {parts[1]!r} is not an integer") from None
        if not 0 <= label < num_classes:
            raise utils.DataError(f"{where}: label {label} outside 0..{num_classes - 1} (label_map.txt)")
        video = parts[0] if os.path.isabs(parts[0]) else os.path.join(data_dir, parts[0])
        items.append((video, label, where))
    if not items:
        raise utils.DataError(f"{path}: no videos listed")
    return items


# -------------------------------------------------------------------------------------- decoding

def kind_of(path):
    if os.path.isdir(path):
        return "frames"
    if path.endswith(".pkl"):
        return "pkl"
    return "video"


def _frame_files(path):
    return sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))


def _decode_image(data, where):
    cv2 = _cv2()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise utils.DataError(f"{where}: a frame is not a decodable image")
    return image[:, :, ::-1]  # BGR -> RGB


def _load_pkl(path):
    try:
        with open(path, "rb") as f:
            record = pickle.load(f, encoding="bytes")
        vid, label, frames = record
        frames = list(frames)
    except Exception as e:  # noqa: BLE001  (any unpickling failure is bad input)
        raise utils.DataError(f"{path}: not the release's pickled frame list (id, label, [jpeg bytes]): "
                              f"{type(e).__name__}") from None
    return frames


def count_frames(path):
    """Number of frames; an unreadable, missing or zero-frame video is a DataError naming it."""
    kind = kind_of(path)
    if kind == "frames":
        n = len(_frame_files(path))
    elif kind == "pkl":
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
        n = len(_load_pkl(path))
    else:
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
        cv2 = _cv2()
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise utils.DataError(f"{path}: not a readable video")
        n = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, _ = capture.read()
        capture.release()
        if not ok:
            n = 0
    if n <= 0:
        raise utils.DataError(f"{path}: video has no frames")
    return n


def read_frames(path, indices):
    """RGB uint8 frames [len(indices), H, W, 3] at the given indices (repeats allowed)."""
    kind = kind_of(path)
    wanted = sorted(set(int(i) for i in indices))
    got = {}
    if kind == "frames":
        files = _frame_files(path)
        for i in wanted:
            with open(os.path.join(path, files[i]), "rb") as f:
                got[i] = _decode_image(f.read(), os.path.join(path, files[i]))
    elif kind == "pkl":
        frames = _load_pkl(path)
        for i in wanted:
            got[i] = _decode_image(frames[i], f"{path} frame {i}")
    else:
        cv2 = _cv2()
        capture = cv2.VideoCapture(path)
        position, last = 0, None
        for i in wanted:  # sequential decoding: seeking is unreliable in some containers
            while position <= i:
                ok, frame = capture.read()
                if not ok:
                    break
                last, position = frame, position + 1
            if last is None:
                capture.release()
                raise utils.DataError(f"{path}: not a readable video")
            got[i] = last[:, :, ::-1]  # a frame count above the real one repeats the last frame
        capture.release()
    return np.stack([got[int(i)] for i in indices])


# ----------------------------------------------------------------------------------- frame cache

def cache_paths(cache_dir, video, short_size):
    """(array .npy, index entry .json) of a video's cached frames; the name keeps the video's file name
    readable and a hash of its absolute path tells apart equal names in different folders."""
    source = os.path.abspath(video).rstrip(os.sep)
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    base = os.path.join(cache_dir, f"{os.path.basename(source)}.{digest}.s{short_size}")
    return base + ".npy", base + ".json"


def source_stamp(path):
    """(size in bytes, mtime in ns) of a video file, or of a frame folder's images (total size, newest
    mtime); a missing source is a DataError naming it, as without the cache."""
    if os.path.isdir(path):
        stats = [os.stat(os.path.join(path, f)) for f in _frame_files(path)]
        return sum(s.st_size for s in stats), max([s.st_mtime_ns for s in stats] + [os.stat(path).st_mtime_ns])
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def _cached_entry(array_path, entry_path, stamp, short_size):
    """((array path, data offset, shape), None) if the entry is usable, else (None, what is wrong with it)."""
    if not os.path.isfile(entry_path):
        return None, None  # never cached: no notice
    try:
        with open(entry_path) as f:
            entry = json.load(f)
        size, mtime = entry["source_size"], entry["source_mtime_ns"]
        shape = tuple(entry["shape"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, "unreadable index entry"
    if (size, mtime) != stamp:
        return None, "stale: the video changed since it was cached (size or mtime)"
    try:
        frames = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError) as e:  # missing or truncated array, broken header
        return None, f"corrupt array ({type(e).__name__})"
    if frames.dtype != np.uint8 or frames.shape != shape or len(shape) != 4 or min(shape[1:3]) != short_size:
        return None, f"corrupt array (shape {frames.shape} {frames.dtype}, index says {shape} uint8)"
    if not frames.flags.c_contiguous:  # a Fortran-order array: read_cached_frames' memmap would scramble it
        return None, "corrupt array (Fortran order)"
    return (array_path, frames.offset, shape), None


def _write_atomically(path, write):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)  # a killed run leaves no half-written entry under the real name


def cache_video(cache_dir, video, short_size):
    """(array path, data offset, shape) of the video's cached frames, decoded into the cache first when its
    entry is missing, stale or corrupt (then with a notice). Decoding errors are DataErrors naming the video."""
    array_path, entry_path = cache_paths(cache_dir, video, short_size)
    stamp = source_stamp(video)
    cached, problem = _cached_entry(array_path, entry_path, stamp, short_size)
    if cached is not None:
        return cached
    if problem and utils.is_main_process():
        print(f"note: frame cache {entry_path}: {problem}; decoding {video} again", flush=True)
    count = count_frames(video)
    frames = np.ascontiguousarray(resize_short(read_frames(video, range(count)), short_size))
    os.makedirs(cache_dir, exist_ok=True)
    _write_atomically(array_path, lambda f: np.save(f, frames))
    entry = {"source": os.path.abspath(video), "source_size": stamp[0], "source_mtime_ns": stamp[1],
             "short_size": short_size, "shape": list(frames.shape)}
    _write_atomically(entry_path, lambda f: f.write(json.dumps(entry).encode()))  # last: the entry is complete
    # np.save puts the C-order data last, right after the header: the data offset without reading the file back
    return array_path, os.path.getsize(array_path) - frames.nbytes, frames.shape


def open_cached_frames(cached):
    """A read-only memory map of a cache entry (array path, data offset, shape), at the offset found when the
    entry was checked: np.load would parse the header again."""
    array_path, offset, shape = cached
    return np.memmap(array_path, np.uint8, "r", offset, shape)


def read_cached_frames(cached, indices):
    """The frames at `indices` of a cache entry: only those frames are read from disk."""
    return np.asarray(open_cached_frames(cached)[np.asarray(indices)])


# -------------------------------------------------------------------------------------- sampling

def sample_indices(num_frames, seg_num, seglen, train, rng=None, clip=0, num_clips=1, sample_rate=1):
    """Frame indices [seg_num * seglen] of one clip. seg_num segments, seglen consecutive frames (sample_rate
    apart) from each: a random start inside the segment when training, else the start of test clip `clip`
    of `num_clips` spread evenly (one clip: the centre). Indices wrap around (a short video is looped)."""
    span = (seglen - 1) * sample_rate + 1
    segment = num_frames / seg_num
    indices = []
    for s in range(seg_num):
        room = max(segment - span, 0.0)
        if train:
            offset = rng.uniform(0, room) if room > 0 else 0.0
        else:
            offset = room * (clip + 0.5) / num_clips
        start = int(s * segment + offset)
        indices.extend((start + k * sample_rate) % num_frames for k in range(seglen))
    return np.asarray(indices, dtype=np.int64)


# ------------------------------------------------------------------------------------ transforms

def resize_short(frames, short_size):
    cv2 = _cv2()
    h, w = frames.shape[1:3]
    if min(h, w) == short_size:
        return frames
    scale = short_size / min(h, w)
    size = (max(short_size, round(w * scale)), max(short_size, round(h * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])


def crop_boxes(h, w, size, num_crops):
    """(top, left, flip) of the test crops: 1 centre, 3 along the long side, 10 = 5 (corners + centre) x flip."""
    ct, cl = (h - size) // 2, (w - size) // 2
    if num_crops == 1:
        return [(ct, cl, False)]
    if num_crops == 3:
        if w >= h:
            return [(ct, 0, False), (ct, cl, False), (ct, w - size, False)]
        return [(0, cl, False), (ct, cl, False), (h - size, cl, False)]
    if num_crops == 10:
        five = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size), (ct, cl)]
        return [(t, l, False) for t, l in five] + [(t, l, True) for t, l in five]
    raise ValueError(f"--test_crops {num_crops}: 1, 3 or 10")


def normalize(frames, mean, std):
    """uint8 [T, H, W, 3] -> float32 [T, 3, H, W], (x/255 - mean) / std as one multiply-add into the output
    (the step-by-step form made a temporary array at each step)."""
    std = np.asarray(std, np.float32).reshape(3, 1, 1)
    scale, shift = 1 / (255 * std), -np.asarray(mean, np.float32).reshape(3, 1, 1) / std
    out = np.empty((frames.shape[0], 3, *frames.shape[1:3]), np.float32)
    np.multiply(frames.transpose(0, 3, 1, 2), scale, out=out)
    out += shift
    return out


def train_transform(frames, short_size, crop, flip, rng, mean, std):
    """One random crop (and a random horizontal flip if `flip`) shared by all frames of the clip."""
    frames = resize_short(frames, short_size)
    h, w = frames.shape[1:3]
    top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    frames = frames[:, top:top + crop, left:left + crop]
    if flip and rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    return normalize(frames, mean, std)


def test_views(frames, short_size, crop, num_crops, mean, std):
    """[num_crops, T, 3, crop, crop] of one clip."""
    frames = resize_short(frames, short_size)
    h, w = frames.shape[1:3]
    views = []
    for top, left, flip in crop_boxes(h, w, crop, num_crops):
        view = frames[:, top:top + crop, left:left + crop]
        views.append(normalize(view[:, :, ::-1] if flip else view, mean, std))
    return np.stack(views)


# --------------------------------------------------------------------------------------- dataset

class CheckedVideo(NamedTuple):
    """What check() found out about one video: its frame count and, with a frame cache, its entry
    (array path, data offset, shape)."""
    num_frames: int
    cached: Optional[tuple] = None


class VideoDataset:
    """Videos to read clips from: a split of the Kinetics layout (from_split) or one video (of_video). Training
    items: (clip [T, 3, S, S], label); test items: (views [test_clips * test_crops, T, 3, S, S], label).
    T = seg_num * seglen. check() reads every video's frame count before the first step, so a bad video is
    named before training starts; with `cache_dir` it also brings each video's frame cache entry up to date,
    and the items are then read from the cache."""

    MAX_OPEN_MAPS = 256  # each open memory map holds a file descriptor and a mapping: a bounded number stay open

    def __init__(self, items, cfg, train, seed=0, cache_dir=None, split="", classes=None, list_path=None):
        self.items = items  # [(video path, label, 'list:line')]
        self.cfg, self.train, self.seed, self.epoch = cfg, train, seed, 0
        self.cache_dir, self.split, self.classes, self.list_path = cache_dir, split, classes, list_path
        self.checked = None  # [CheckedVideo] of the items, filled by check()
        self.skipped = []
        self._open_maps = {}  # item -> memory map of its cache entry, opened in the process that reads it

    @classmethod
    def from_split(cls, data_dir, split, cfg, train, seed=0, cache_dir=None):
        """A split of the Kinetics layout: DATA_DIR/<split>.list, labels checked against label_map.txt."""
        classes = read_label_map(data_dir)
        return cls(read_list(data_dir, split, len(classes)), cfg, train, seed, cache_dir, split, classes,
                   list_path(data_dir, split))

    @classmethod
    def of_video(cls, path, cfg):
        """One unlabelled video (infer.py's input) as a test set of one item; a bad video is a DataError
        naming it when the item is read."""
        return cls([(path, 0, path)], cfg, train=False)

    def __getstate__(self):  # a spawned loader worker opens its own maps (pickling one would copy its frames)
        return {**self.__dict__, "_open_maps": {}}

    def check(self, skip_bad_samples):
        """Frame counts of every video (and with a cache, its up-to-date entry); bad ones raise a DataError,
        or with --skip_bad_samples are dropped and counted."""
        kept, checked = [], []
        what = f"checking {self.split} videos" + (f" (frame cache {self.cache_dir})" if self.cache_dir else "")
        for video, label, where in utils.progress(self.items, len(self.items), what):
            try:
                if self.cache_dir:
                    cached = cache_video(self.cache_dir, video, self.cfg.short_size)
                    checked.append(CheckedVideo(cached[2][0], cached))
                else:
                    checked.append(CheckedVideo(count_frames(video)))
                kept.append((video, label, where))
            except utils.DataError as e:
                if not skip_bad_samples:
                    raise utils.DataError(f"{where}: {e}") from None
                self.skipped.append(f"{where}: {e}")
        if not kept:
            raise utils.DataError(f"{self.list_path}: no readable video")
        self.items, self.checked = kept, checked
        self._open_maps = {}  # the entries may have been decoded again
        return len(self.skipped)

    def read(self, i, indices):
        """Frames [len(indices), H, W, 3] of item i: sliced from its cache entry, or decoded from the video."""
        cached = self.checked[i].cached if self.checked is not None else None
        if cached is None:
            return read_frames(self.items[i][0], indices)
        frames = self._open_maps.get(i)
        if frames is None:
            if len(self._open_maps) >= self.MAX_OPEN_MAPS:
                self._open_maps.pop(next(iter(self._open_maps)))  # the oldest
            frames = self._open_maps[i] = open_cached_frames(cached)
        return np.asarray(frames[np.asarray(indices)])

    def __len__(self):
        return len(self.items)

    def labels(self):
        return np.asarray([label for _, label, _ in self.items], dtype=np.int64)

    def __getitem__(self, i):
        cfg = self.cfg
        video, label, _ = self.items[i]
        n = self.checked[i].num_frames if self.checked is not None else count_frames(video)
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, i))  # reproducible, also after a resume
            idx = sample_indices(n, cfg.seg_num, cfg.seglen, True, rng, sample_rate=cfg.sample_rate)
            clip = train_transform(self.read(i, idx), cfg.short_size, cfg.crop_size, cfg.flip, rng,
                                   cfg.mean, cfg.std)
            return clip, np.int64(label)
        views = []
        for c in range(cfg.test_clips):
            idx = sample_indices(n, cfg.test_seg_num, cfg.seglen, False, clip=c, num_clips=cfg.test_clips,
                                 sample_rate=cfg.sample_rate)
            views.append(test_views(self.read(i, idx), cfg.short_size, cfg.test_crop_size, cfg.test_crops,
                                    cfg.mean, cfg.std))
        return np.concatenate(views), np.int64(label)


class EpochBatchSampler:
    """Shuffled batches (a fixed permutation per (seed, epoch)), split over ranks; set_epoch(start_batch=)
    skips the batches a resumed run has already done."""

    def __init__(self, n, batch_size, shuffle, seed=0, drop_last=False):
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start = epoch, start_batch

    def _batches(self):
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
        world, rank = utils.world_size(), utils.rank()
        if world > 1 and self.shuffle:  # training: equal shares, so every rank takes as many steps
            per_rank = self.n // world
            order = order[rank * per_rank:(rank + 1) * per_rank]
        elif world > 1:  # evaluation: every sample once over all ranks
            order = order[rank::world]
        batches = [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __len__(self):
        return len(self._batches())

    def __iter__(self):
        batches = self._batches()[self.start:]
        self.start = 0
        return iter(batches)
