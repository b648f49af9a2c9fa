"""The only data path: sessions in the layout of the release (PaddlePaddle/models release/1.7
PaddleRec/ssr, data made by GRU4Rec's scripts, or by convert_rsc15.py here):

    DATA_DIR/vocab.txt        the number of items V on its first line; item ids are 0 .. V-1
    DATA_DIR/train_data/*     one session per line: its item ids in click order, space separated
    DATA_DIR/dev_data/*       optional; without it every --dev_every-th train line is the dev split
    DATA_DIR/test_data/*      the same, for the final report

A session of n items gives one sample, as in the release: the first n-1 items are the user's
sequence, the last one the item to retrieve. What the reader does with odd lines:
- an empty line is skipped and counted; a one-item session (nothing to predict from) too;
- an item id >= V in the sequence becomes the unknown id V (one extra, trained, embedding row) and is
  counted; a target >= V cannot be retrieved: the sample is skipped and counted;
- a token that is not a non-negative integer, or a byte that is not UTF-8, is a bad line: DataError
  `file:line: what` (exit 2), or skipped and counted with --skip_bad_samples.
Every file is parsed once, completely, before a run's first step; the samples stay in memory as flat
int64 arrays (8 bytes a click: about 0.25 GB for RSC15's 31M clicks, more while loading).

Batches: an epoch's order is a permutation seeded by (seed, epoch); batch b holds the samples
order[b*B:(b+1)*B]; under data parallel rank r takes the batches r, r+W, ... (training: the same
number on every rank). Each batch carries NUM_NEG negatives per sample drawn uniformly from the V
items with a generator seeded by (seed, epoch, b), so a resumed run sees the very same batches.
"""
import os

import numpy as np
import paddle

import utils
from utils import DataError

VOCAB_FILE = "vocab.txt"
SPLIT_DIRS = {"train": "train_data", "dev": "dev_data", "test": "test_data"}
DEV_EVERY = 20


def read_vocab(data_dir):
    path = os.path.join(data_dir, VOCAB_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file (it holds the number of items on its first line)")
    lines = utils.read_lines(path)
    text = lines[0][1].strip() if lines else ""
    if not text.isdigit() or int(text) < 1:
        raise DataError(f"{path}:1: expected the number of items (a positive integer), got {text!r}")
    return int(text)


def split_files(data_dir, split):
    folder = os.path.join(data_dir, SPLIT_DIRS[split])
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)) if os.path.isdir(folder) else []
    files = [f for f in files if os.path.isfile(f) and not os.path.basename(f).startswith(".")]
    if not files:
        raise DataError(f"{folder}:0: no such directory, or no files in it")
    return files


def split_source(data_dir, split, dev_every=DEV_EVERY):
    """(files, part): which files a split reads and which of their lines. The dev split is dev_data/
    if there is one, else every dev_every-th line of the train files, which training then skips."""
    if split == "dev" and not os.path.isdir(os.path.join(data_dir, SPLIT_DIRS["dev"])):
        return split_files(data_dir, "train"), "dev"
    if split == "train" and not os.path.isdir(os.path.join(data_dir, SPLIT_DIRS["dev"])):
        return split_files(data_dir, "train"), "train"
    return split_files(data_dir, split), "all"


def in_part(lineno, part, dev_every):
    if part == "all":
        return True
    return (lineno % dev_every == 0) == (part == "dev")


def parse_session(text, path, lineno, vocab_size):
    """A line -> (item ids, with ids >= vocab_size replaced by vocab_size; how many were replaced)."""
    tokens = text.split()
    if not all(t.isdigit() and t.isascii() for t in tokens):
        bad = next(t for t in tokens if not (t.isdigit() and t.isascii()))
        raise DataError(f"{path}:{lineno}: item {bad!r} is not a non-negative integer id")
    ids = np.array([int(t) for t in tokens], dtype=np.int64)
    unknown = ids >= vocab_size
    ids[unknown] = vocab_size
    return ids, int(unknown.sum())


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


class Samples:
    """The samples of one split: sequences (a flat int64 array with offsets), targets, and where each
    came from; `counts` says what was skipped or mapped to the unknown id."""

    COUNTS = ("lines", "samples", "empty", "one_item", "unknown_items", "unknown_target", "bad", "truncated")

    def __init__(self, sequences, targets, where, counts):
        self.lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.flat = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int64)
        self.targets = np.array(targets, dtype=np.int64)
        self.where, self.counts = where, counts

    def __len__(self):
        return len(self.targets)

    def sequence(self, i):
        return self.flat[self.offsets[i]:self.offsets[i + 1]]

    def summary(self):
        c = self.counts
        notes = [f"{c[k]} {what}" for k, what in (
            ("empty", "empty lines skipped"), ("one_item", "one-item sessions skipped"),
            ("unknown_items", "unknown item ids mapped to the unknown id"),
            ("unknown_target", "sessions with an unknown last item skipped"),
            ("bad", "bad lines skipped"), ("truncated", "sequences cut to --max_len")) if c[k]]
        return f"{c['samples']} samples from {c['lines']} lines" + (f" ({'; '.join(notes)})" if notes else "")


def to_sample(ids, unknown, vocab_size, max_len, counts):
    """A parsed session -> (sequence, target), or None when it is skipped (counted in counts)."""
    if len(ids) == 0:
        counts["empty"] += 1
        return None
    if len(ids) == 1:
        counts["one_item"] += 1
        return None
    if ids[-1] == vocab_size:
        counts["unknown_target"] += 1
        return None
    counts["unknown_items"] += unknown
    sequence = ids[:-1]
    if max_len and len(sequence) > max_len:
        counts["truncated"] += 1
        sequence = sequence[-max_len:]  # the most recent clicks
    counts["samples"] += 1
    return sequence, int(ids[-1])


def load(files, vocab_size, part="all", dev_every=DEV_EVERY, skip_bad=False, max_len=0, what="reading"):
    """Parse every line of `files` (the lines of `part`) into Samples; DataError on a bad line."""
    sequences, targets, where = [], [], []
    counts = dict.fromkeys(Samples.COUNTS, 0)
    for path in files:
        with open(path, "rb") as f:
            raw_lines = f.read().split(b"\n")
        if raw_lines and raw_lines[-1] == b"":
            raw_lines.pop()
        for lineno, raw in utils.progress(enumerate(raw_lines, 1), len(raw_lines), f"{what} {path}"):
            if not in_part(lineno, part, dev_every):
                continue
            counts["lines"] += 1
            try:
                ids, unknown = parse_session(decode(raw, path, lineno), path, lineno, vocab_size)
            except DataError:
                if not skip_bad:
                    raise
                counts["bad"] += 1
                continue
            sample = to_sample(ids, unknown, vocab_size, max_len, counts)
            if sample is not None:
                sequences.append(sample[0])
                targets.append(sample[1])
                where.append((path, lineno))
    return Samples(sequences, targets, where, counts)


def load_split(data_dir, split, vocab_size, *, dev_every=DEV_EVERY, skip_bad=False, max_len=0):
    files, part = split_source(data_dir, split, dev_every)
    return load(files, vocab_size, part, dev_every, skip_bad, max_len, what=f"reading the {split} split:")


def pad(sequences):
    """[B, T] int64 (T = the longest, at least 1), zeros past each length, and the lengths [B]."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    items = np.zeros((len(sequences), max(1, lengths.max(initial=0))), dtype=np.int64)
    for row, s in enumerate(sequences):
        items[row, :len(s)] = s
    return items, lengths


class SessionBatches(paddle.io.Dataset):
    """Batch k of this rank in the current epoch -> (items [B, T], lengths [B], targets [B],
    negatives [B, num_neg], sample indices [B]), all numpy int64. Call set_epoch before each epoch."""

    def __init__(self, samples, batch_size, vocab_size, *, shuffle, num_neg=1, seed=0, rank=0, world_size=1):
        self.samples, self.batch_size, self.vocab_size = samples, batch_size, vocab_size
        self.shuffle, self.num_neg, self.seed = shuffle, num_neg, seed
        self.rank, self.world_size = rank, world_size
        self.set_epoch(0)

    def set_epoch(self, epoch):
        self.epoch = epoch
        n = len(self.samples)
        order = np.random.default_rng((self.seed, epoch)).permutation(n) if self.shuffle else np.arange(n)
        batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        self.batch_ids = list(range(self.rank, len(batches), self.world_size))
        if self.shuffle:  # training: every rank takes the same number of steps
            self.batch_ids = self.batch_ids[:len(batches) // self.world_size]
        self.batches = batches

    def __len__(self):
        return len(self.batch_ids)

    def __getitem__(self, k):
        b = self.batch_ids[k]
        rows = self.batches[b]
        items, lengths = pad([self.samples.sequence(i) for i in rows])
        rng = np.random.default_rng((self.seed, self.epoch, b, 1))
        negatives = rng.integers(0, self.vocab_size, (len(rows), self.num_neg), dtype=np.int64)
        return items, lengths, self.samples.targets[rows], negatives, rows.astype(np.int64)


class FromBatch(paddle.io.BatchSampler):
    """Batch indices start, start+1, ... of a SessionBatches (start > 0 when resuming an epoch)."""

    def __init__(self, dataset, start=0):
        self.dataset, self.start = dataset, start

    def __iter__(self):
        for k in range(self.start, len(self.dataset)):
            yield [k]

    def __len__(self):
        return max(0, len(self.dataset) - self.start)


class InMainProcess:
    """The batches of a SessionBatches from batch `start`, built in the loop's own thread. A batch takes
    a fraction of a millisecond to build; Paddle's DataLoader without workers still hands each one
    over through a queue and a thread, which cost several milliseconds a step on a loaded machine."""

    def __init__(self, dataset, start=0):
        self.dataset, self.start = dataset, start

    def __iter__(self):
        for k in range(self.start, len(self.dataset)):
            yield tuple(paddle.to_tensor(a) for a in self.dataset[k])

    def __len__(self):
        return max(0, len(self.dataset) - self.start)


def make_loader(dataset, num_workers, start=0, use_shared_memory=True):
    """The batches of a SessionBatches from batch `start`: in the main process (num_workers 0), or
    from a DataLoader whose workers die with the trainer (utils.die_with_parent)."""
    if num_workers == 0:
        return InMainProcess(dataset, start)
    return paddle.io.DataLoader(dataset, batch_sampler=FromBatch(dataset, start), collate_fn=lambda x: x[0],
                                num_workers=num_workers, use_shared_memory=use_shared_memory,
                                worker_init_fn=utils.die_with_parent)
