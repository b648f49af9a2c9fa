"""The only data path: streams the preprocessed Amazon Electronics files of the DIN recipe.

Layout of a data directory (what the original data/build_dataset.py writes, and make_demo_data.py):

    config.txt          three lines: user_count, item_count, cat_count
    paddle_train.txt    one sample a line: history_items;history_cats;target_item;target_cat;label
    paddle_test.txt     the same, for evaluation

History lists are space-separated ids (item i's category at the same position), the label is 0 or
1. Several files per split also work (paddle_train*.txt, read in sorted order).

How the stream is cut (it never holds a file in memory):
- Lines are grouped into blocks of GROUP_BATCHES * batch_size lines. Block b belongs to rank
  b % world_size, and within a rank to shard (b // world_size) % num_shards; each DataLoader worker
  serves one shard. Every worker walks the files but parses only its own blocks.
- Inside a block the samples are sorted by history length (so a batch pads little) and cut into
  batches; in training the ties and the batch order are shuffled with a seed made of
  (seed, epoch, block), so the whole epoch is the same on every run.
- Every batch carries where its block starts (file, byte offset, line) and its index in the block.
  The training loop keeps the last one per shard (ReaderPosition); a resumed run seeks each shard to
  its block and drops the batches already trained on, so it neither re-reads nor skips a sample.
"""
import glob
import os

import numpy as np
import paddle

from utils import DataError

CONFIG_FILE = "config.txt"
GROUP_BATCHES = 20  # batches per length-sorted block, as in the original reader
NUM_FIELDS = 5
LINE_FORMAT = "history_items;history_cats;target_item;target_cat;label"
# Order of the arrays in a batch; the first five are the model's inputs.
BATCH_FIELDS = ("hist_items", "hist_cats", "hist_len", "target_item", "target_cat", "label", "index", "meta")
# meta = [shard, file_idx, block byte offset, block first line (1-based), block number,
#         batch index in block, batches in block, bad lines skipped since the previous batch]


# ----------------------------------------------------------------------------------------------
# files

def read_config(data_dir):
    """(user_count, item_count, cat_count) from config.txt."""
    path = os.path.join(data_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file (expected three lines: user_count, item_count, cat_count)")
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    if len(lines) < 3:
        raise DataError(f"{path}:{len(lines) + 1}: expected three lines: user_count, item_count, cat_count")
    counts = []
    for lineno, text in enumerate(lines[:3], 1):
        if not text.isdigit() or int(text) <= 0:
            raise DataError(f"{path}:{lineno}: expected a positive integer count, got {text!r}")
        counts.append(int(text))
    return tuple(counts)


def split_files(data_dir, split):
    """The files of a split ('train' or 'test'): paddle_<split>.txt, or paddle_<split>*.txt."""
    files = sorted(glob.glob(os.path.join(data_dir, f"paddle_{split}*.txt")))
    if not files:
        raise DataError(f"{os.path.join(data_dir, f'paddle_{split}.txt')}:0: no such file "
                        f"(lines of {LINE_FORMAT})")
    return files


def count_lines(files):
    """Lines per file, counted in binary chunks (no parsing): the number of steps of an epoch."""
    counts = []
    for path in files:
        if os.path.getsize(path) == 0:
            raise DataError(f"{path}:0: file is empty")
        n, last = 0, b"\n"
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                n += chunk.count(b"\n")
                last = chunk[-1:]
        counts.append(n + (last != b"\n"))
    return counts


# ----------------------------------------------------------------------------------------------
# one line

def _ids(text, what, limit, path, lineno):
    tokens = text.split()
    try:
        ids = list(map(int, tokens))
    except ValueError:
        ids = None
    if ids is None or not all(map(str.isdigit, tokens)):  # int() would also take "+3" and "1_0"
        bad = next(t for t in tokens if not t.isdigit())
        if bad.startswith("-") and bad[1:].isdigit():
            raise DataError(f"{path}:{lineno}: {what} {bad} is out of range [0, {limit}) set by {CONFIG_FILE}")
        raise DataError(f"{path}:{lineno}: {what} {bad!r} is not an integer id")
    if ids and max(ids) >= limit:
        raise DataError(f"{path}:{lineno}: {what} {max(ids)} is out of range [0, {limit}) set by {CONFIG_FILE}")
    return ids


def parse_line(text, path, lineno, item_count, cat_count):
    """One line -> (history items, history cats, target item, target cat, label); DataError if bad."""
    fields = text.rstrip("\r\n").split(";")
    if len(fields) != NUM_FIELDS:
        raise DataError(f"{path}:{lineno}: expected {NUM_FIELDS} ';'-separated fields ({LINE_FORMAT}), "
                        f"got {len(fields)}")
    items = _ids(fields[0], "history item", item_count, path, lineno)
    cats = _ids(fields[1], "history category", cat_count, path, lineno)
    if len(items) != len(cats):
        raise DataError(f"{path}:{lineno}: {len(items)} history items but {len(cats)} history categories")
    target = _ids(fields[2], "target item", item_count, path, lineno)
    target_cat = _ids(fields[3], "target category", cat_count, path, lineno)
    if len(target) != 1 or len(target_cat) != 1:
        raise DataError(f"{path}:{lineno}: expected one target item and one target category")
    label = fields[4].strip()
    if label not in ("0", "1"):
        raise DataError(f"{path}:{lineno}: label {label!r} is not 0 or 1")
    return items, cats, target[0], target_cat[0], int(label)


def make_batch(samples, indices, meta):
    """Pad the histories of a list of parsed samples to the longest one (at least 1)."""
    longest = max([1] + [len(s[0]) for s in samples])
    hist_items = np.zeros((len(samples), longest), dtype=np.int64)
    hist_cats = np.zeros((len(samples), longest), dtype=np.int64)
    for row, s in enumerate(samples):
        hist_items[row, :len(s[0])] = s[0]
        hist_cats[row, :len(s[1])] = s[1]
    return (hist_items, hist_cats,
            np.array([len(s[0]) for s in samples], dtype=np.int64),
            np.array([s[2] for s in samples], dtype=np.int64),
            np.array([s[3] for s in samples], dtype=np.int64),
            np.array([s[4] for s in samples], dtype=np.float32),
            np.asarray(indices, dtype=np.int64),
            np.asarray(meta, dtype=np.int64))


def read_lines(path, item_count, cat_count, skip_bad=False):
    """All samples of one small file (infer.py's own inputs, tests): (samples, line numbers, bad count)."""
    samples, linenos, bad = [], [], 0
    with open(path) as f:
        for lineno, text in enumerate(f, 1):
            try:
                samples.append(parse_line(text, path, lineno, item_count, cat_count))
                linenos.append(lineno)
            except DataError:
                if not skip_bad:
                    raise
                bad += 1
    if not samples and not bad:
        raise DataError(f"{path}:0: file is empty")
    return samples, linenos, bad


# ----------------------------------------------------------------------------------------------
# the stream

class DinStream(paddle.io.IterableDataset):
    """Batches of one split, sharded over ranks and DataLoader workers; see the module docstring.

    Load it with make_loader (one DataLoader worker per shard), and call set_epoch(epoch, position)
    before each epoch. Each batch is BATCH_FIELDS: the five model inputs, the label, the line index
    of every sample, and the meta array that ReaderPosition reads."""

    def __init__(self, files, item_count, cat_count, batch_size, *, shuffle, seed=0, num_shards=1,
                 rank=0, world_size=1, skip_bad=False, group_batches=GROUP_BATCHES):
        self.files, self.item_count, self.cat_count = list(files), item_count, cat_count
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.num_shards, self.rank, self.world_size = max(1, num_shards), rank, world_size
        self.skip_bad, self.block_lines = skip_bad, batch_size * group_batches
        self.epoch, self.position = 0, None

    def set_epoch(self, epoch, position=None):
        """Start `epoch` from the beginning, or from a ReaderPosition of the same epoch."""
        self.epoch, self.position = epoch, position

    # -- sizes
    def batches_per_rank(self, line_counts=None):
        """Batches each rank gets in an epoch (bad lines not counted out)."""
        total = sum(line_counts if line_counts is not None else count_lines(self.files))
        per_rank = [0] * self.world_size
        for b in range(0, -(-total // self.block_lines)):
            size = min(self.block_lines, total - b * self.block_lines)
            per_rank[b % self.world_size] += -(-size // self.batch_size)
        return per_rank

    # -- iteration
    def _owner(self, block_no):
        return block_no % self.world_size, (block_no // self.world_size) % self.num_shards

    def __iter__(self):
        info = paddle.io.get_worker_info()
        workers = info.num_workers if info is not None else 1
        if workers != self.num_shards:
            raise ValueError(f"the stream has {self.num_shards} shards but the DataLoader {workers} workers")
        rotation = self.position.rotation if self.position is not None else 0
        shard = ((info.id if info is not None else 0) + rotation) % self.num_shards
        start = self.position.shards.get(shard) if self.position is not None else None
        if start is not None and start["done"]:
            return
        yield from self._shard_batches(shard, start)

    def _blocks(self, shard, start):
        """(block_no, file_idx, offset, first line, [(text, path, lineno, index)]) of this shard's blocks,
        from `start` (a block this shard owns) or from the beginning."""
        file_idx, offset, lineno, block_no = (0, 0, 0, 0) if start is None else (
            start["file_idx"], start["offset"], start["lineno"] - 1, start["block_no"])
        index = block_no * self.block_lines
        block, block_start = [], None
        for fi in range(file_idx, len(self.files)):
            path = self.files[fi]
            if os.path.getsize(path) == 0:
                raise DataError(f"{path}:0: file is empty")
            pos = offset if fi == file_idx else 0
            lineno = lineno if fi == file_idx else 0
            with open(path, "rb") as f:
                f.seek(pos)
                for raw in f:
                    lineno += 1
                    b = index // self.block_lines
                    if index % self.block_lines == 0:
                        block_start = (fi, pos, lineno)
                    if self._owner(b) == (self.rank, shard):
                        block.append((raw, path, lineno, index))
                        if index % self.block_lines == self.block_lines - 1:
                            yield (b, *block_start, block)
                            block = []
                    pos += len(raw)
                    index += 1
        if block:  # the last block of the split, shorter than the others
            yield ((index - 1) // self.block_lines, *block_start, block)

    def _shard_batches(self, shard, start):
        skip_until = start["next_batch"] if start is not None else 0
        pending_bad = 0
        for block_no, fi, offset, first_line, lines in self._blocks(shard, start):
            samples, indices = [], []
            for raw, path, lineno, index in lines:
                try:
                    samples.append(parse_line(raw.decode("utf-8", "replace"), path, lineno,
                                              self.item_count, self.cat_count))
                    indices.append(index)
                except DataError:
                    if not self.skip_bad:
                        raise
                    pending_bad += 1
            batches = self._cut(block_no, samples)
            for k, rows in enumerate(batches):
                if skip_until:  # already trained on before the resume (bad lines counted then too)
                    skip_until -= 1
                    pending_bad = 0
                    continue
                meta = [shard, fi, offset, first_line, block_no, k, len(batches), pending_bad]
                pending_bad = 0
                yield make_batch([samples[i] for i in rows], [indices[i] for i in rows], meta)
            skip_until = 0
        if pending_bad:  # bad lines after the last batch: an empty batch carries their count
            yield make_batch([], [], [shard, 0, 0, 0, -1, -1, 0, pending_bad])

    def _cut(self, block_no, samples):
        """Row indices of each batch of one block: sorted by history length, shuffled in training."""
        lengths = np.array([len(s[0]) for s in samples], dtype=np.int64)
        order = np.arange(len(samples))
        rng = None
        if self.shuffle:
            rng = np.random.default_rng((self.seed, self.epoch, block_no))
            order = rng.permutation(len(samples))
        order = order[np.argsort(lengths[order], kind="stable")]
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches


class ReaderPosition:
    """Where each shard of a rank's stream is, from the meta of the batches the loop has consumed.

    state() is what goes into a checkpoint; DinStream.set_epoch(epoch, position) continues from it."""

    def __init__(self, epoch, num_shards):
        self.epoch, self.num_shards = epoch, num_shards
        self.shards, self.rotation = {}, 0

    def update(self, meta):
        shard, fi, offset, first_line, block_no, k, n, _ = (int(v) for v in meta)
        self.rotation = (shard + 1) % self.num_shards  # the DataLoader serves the shards round-robin
        if block_no < 0:  # the end-of-shard batch that only carries a count of bad lines
            self.shards[shard] = dict(done=True)
            return
        self.shards[shard] = dict(done=False, file_idx=fi, offset=offset, lineno=first_line,
                                  block_no=block_no, next_batch=k + 1)

    def state(self):
        return {"epoch": self.epoch, "num_shards": self.num_shards, "rotation": self.rotation,
                "shards": {str(k): v for k, v in self.shards.items()}}

    @classmethod
    def from_state(cls, state):
        position = cls(state["epoch"], state["num_shards"])
        position.rotation = state["rotation"]
        position.shards = {int(k): dict(v) for k, v in state["shards"].items()}
        return position


def _die_with_parent(worker_id):
    """Runs in each DataLoader worker. When the training process dies (SIGKILL, or the os._exit of a
    clear data error) a Paddle worker that has batches queued waits forever to flush them at exit;
    ask Linux to kill the worker together with its parent instead."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: nothing to do


def make_loader(stream, num_workers, use_shared_memory=True):
    """A DataLoader over a DinStream: one worker per shard (or none for a single shard)."""
    return paddle.io.DataLoader(stream, batch_size=None, num_workers=num_workers if stream.num_shards > 1 else 0,
                                use_shared_memory=use_shared_memory, worker_init_fn=_die_with_parent)
