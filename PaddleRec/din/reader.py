"""The only data path: streams the preprocessed Amazon Electronics files of the DIN recipe.

Layout of a data directory (what the original data/build_dataset.py writes, and make_demo_data.py):

    config.txt          three lines: user_count, item_count, cat_count
    paddle_train.txt    one sample a line: history_items;history_cats;target_item;target_cat;label
    paddle_test.txt     the same, for evaluation

History lists are space-separated ids (item i's category at the same position), the label is 0 or
1. Several files per split also work (paddle_train*.txt, read in sorted order).

The dev split (for picking best.pdparams; the test split is only for the final report) is
paddle_dev*.txt when the data has it. The release's layout has none, so by default every
DEV_EVERY-th line of each train file (its lines 20, 40, 60, ...) is held out as the dev split and
never trained on: deterministic, and the same whatever the batch size or the number of ranks.

A history longer than --max_history_len keeps its most recent (last) items; the older ones are
dropped before they are converted, so one huge line costs memory in proportion to the cap, not to
the line. The release applied no cap (it padded every batch to its longest history).

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
import re

import numpy as np
import paddle

import utils
from utils import DataError

CONFIG_FILE = "config.txt"
GROUP_BATCHES = 20  # batches per length-sorted block, as in the original reader
DEV_EVERY = 20  # without paddle_dev*.txt: every 20th train line (5%) is the dev split
MAX_HISTORY_LEN = 512  # default cap of a history, in items (the most recent ones are kept)
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
    """The files of a split ('train', 'dev' or 'test'): paddle_<split>.txt, or paddle_<split>*.txt."""
    files = sorted(glob.glob(os.path.join(data_dir, f"paddle_{split}*.txt")))
    if not files:
        raise DataError(f"{os.path.join(data_dir, f'paddle_{split}.txt')}:0: no such file "
                        f"(lines of {LINE_FORMAT})")
    return files


def split_source(data_dir, split, dev_every=DEV_EVERY):
    """(files, part) that make up a split. `part` says which lines of the files belong to it: 'all',
    or, when the data has no paddle_dev*.txt, 'train' (all but every dev_every-th line of the train
    files) and 'dev' (those lines)."""
    has_dev = bool(glob.glob(os.path.join(data_dir, "paddle_dev*.txt")))
    if split == "test" or has_dev:
        return split_files(data_dir, split), "all"
    if dev_every < 2:
        raise DataError(f"{os.path.join(data_dir, 'paddle_dev.txt')}:0: no such file, and --dev_every "
                        f"{dev_every} holds out no train lines for a dev split (use 2 or more)")
    return split_files(data_dir, "train"), split


def in_part(lineno, part, dev_every):
    """Whether line `lineno` (1-based, of its file) belongs to `part` (see split_source)."""
    if part == "all":
        return True
    return (lineno % dev_every == 0) == (part == "dev")


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
    return _token_ids(text.split(), what, limit, path, lineno)


def _token_ids(tokens, what, limit, path, lineno):
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


_NOT_ID = re.compile(r"[^\s]*[^0-9\s][^\s]*")


def _count_tokens(text):
    """Whitespace-separated tokens of a long text, without building them (a byte array of its size)."""
    chars = np.frombuffer(text.encode(), dtype=np.uint8)
    space = chars <= 32  # whitespace; other control bytes were refused as not being ids before this
    return int((~space[0])) + int(np.count_nonzero(space[:-1] & ~space[1:])) if len(chars) else 0


def _history(text, what, limit, path, lineno, max_len):
    """(the last max_len ids of a history, its full length). The dropped older part is only checked
    for being integers and counted, never split into a list."""
    if not max_len:
        ids = _ids(text, what, limit, path, lineno)
        return ids, len(ids)
    pieces = text.rsplit(None, max_len)
    if len(pieces) <= max_len:
        return _token_ids(pieces, what, limit, path, lineno), len(pieces)
    dropped = pieces[0]
    bad = _NOT_ID.search(dropped)
    if bad:
        raise DataError(f"{path}:{lineno}: {what} {bad.group()!r} is not an integer id")
    return _token_ids(pieces[1:], what, limit, path, lineno), max_len + _count_tokens(dropped)


def parse_line(text, path, lineno, item_count, cat_count, max_len=MAX_HISTORY_LEN):
    """One line -> (history items, history cats, target item, target cat, label, full history length);
    DataError if bad. The histories keep their last max_len items (0: no cap)."""
    fields = text.rstrip("\r\n").split(";")
    if len(fields) != NUM_FIELDS:
        raise DataError(f"{path}:{lineno}: expected {NUM_FIELDS} ';'-separated fields ({LINE_FORMAT}), "
                        f"got {len(fields)}")
    items, num_items = _history(fields[0], "history item", item_count, path, lineno, max_len)
    cats, num_cats = _history(fields[1], "history category", cat_count, path, lineno, max_len)
    if num_items != num_cats:
        raise DataError(f"{path}:{lineno}: {num_items} history items but {num_cats} history categories")
    target = _ids(fields[2], "target item", item_count, path, lineno)
    target_cat = _ids(fields[3], "target category", cat_count, path, lineno)
    if len(target) != 1 or len(target_cat) != 1:
        raise DataError(f"{path}:{lineno}: expected one target item and one target category")
    label = fields[4].strip()
    if label not in ("0", "1"):
        raise DataError(f"{path}:{lineno}: label {label!r} is not 0 or 1")
    return items, cats, target[0], target_cat[0], int(label), num_items


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


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def scan(files, item_count, cat_count, *, max_len=MAX_HISTORY_LEN, skip_bad=False, dev_every=DEV_EVERY,
         what="checking the data"):
    """Parse every line of `files` once, before a run starts, so that a bad line anywhere stops the
    run before its first step (or, with skip_bad, is counted). Returns the lines per file of each
    part ({'all': [...], 'train': [...], 'dev': [...]}, bad lines included: the stream counts them
    out as it meets them), the number of bad lines and of lines whose history is over the cap."""
    totals = count_lines(files)  # also stops on an empty file
    counts = {"all": totals, "train": [], "dev": []}
    bad = truncated = 0

    def lines():
        for path in files:
            with open(path, "rb") as f:
                yield from ((path, lineno, raw) for lineno, raw in enumerate(f, 1))

    for path, lineno, raw in utils.progress(lines(), sum(totals), what):
        try:
            sample = parse_line(decode(raw, path, lineno), path, lineno, item_count, cat_count, max_len)
            truncated += bool(max_len) and sample[5] > max_len
        except DataError:
            if not skip_bad:
                raise
            bad += 1
    for n in totals:
        dev = n // dev_every if dev_every else 0
        counts["dev"].append(dev)
        counts["train"].append(n - dev)
    return counts, bad, truncated


# ----------------------------------------------------------------------------------------------
# the stream

class DinStream(paddle.io.IterableDataset):
    """Batches of one split, sharded over ranks and DataLoader workers; see the module docstring.

    Load it with make_loader (one DataLoader worker per shard), and call set_epoch(epoch, position)
    before each epoch. Each batch is BATCH_FIELDS: the five model inputs, the label, the line index
    of every sample, and the meta array that ReaderPosition reads."""

    def __init__(self, files, item_count, cat_count, batch_size, *, shuffle, seed=0, num_shards=1,
                 rank=0, world_size=1, skip_bad=False, group_batches=GROUP_BATCHES, part="all",
                 dev_every=DEV_EVERY, max_len=MAX_HISTORY_LEN):
        self.files, self.item_count, self.cat_count = list(files), item_count, cat_count
        self.part, self.dev_every, self.max_len = part, dev_every, max_len
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.num_shards, self.rank, self.world_size = max(1, num_shards), rank, world_size
        self.skip_bad, self.block_lines = skip_bad, batch_size * group_batches
        self.epoch, self.position = 0, None

    def set_epoch(self, epoch, position=None):
        """Start `epoch` from the beginning, or from a ReaderPosition of the same epoch."""
        self.epoch, self.position = epoch, position

    # -- sizes
    def batches_per_rank(self, line_counts=None):
        """Batches each rank gets in an epoch (bad lines not counted out). line_counts: the lines of
        this stream's part in each file (scan() gives them); by default all lines are counted."""
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
                    if not in_part(lineno, self.part, self.dev_every):
                        pos += len(raw)
                        continue
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
                    samples.append(parse_line(decode(raw, path, lineno), path, lineno,
                                              self.item_count, self.cat_count, self.max_len))
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


def make_loader(stream, num_workers, use_shared_memory=True):
    """A DataLoader over a DinStream: one worker per shard (or none for a single shard). Its workers
    die with the trainer, even on kill -9 (utils.die_with_parent)."""
    return paddle.io.DataLoader(stream, batch_size=None, num_workers=num_workers if stream.num_shards > 1 else 0,
                                use_shared_memory=use_shared_memory, worker_init_fn=utils.die_with_parent)
