"""The only data path: the preprocessed DIGINETICA files of the SR-GNN release, and session lines.

Layout of a data directory (what preprocess.py writes from train-item-views.csv, as the release's
data/preprocess.py did):

    config.txt          one line: items_num, the item ids' upper bound (ids run 1 .. items_num - 1;
                        the release's DIGINETICA gives 43098)
    train.txt           the training samples; test.txt the test samples; dev.txt (optional) a dev split
    all_train_seq.txt   the training sessions before augmentation (written for the release's layout; unused)

A split file is either the release's pickle of (session_list, label_list) (session_list[k] the
clicks before the target label_list[k]), or text with one sample a line: `item item item;label`
(infer.py also takes lines without `;label`). Text is what a person writes; the pickle is what the
release shipped. Both are read by the same checks:
- a malformed line (not `items;label`, an id that is not a non-negative integer): an error naming
  the file and line (for a pickle the "line" is the sample number, 1-based);
- a byte that is not UTF-8: the same;
- an item outside [1, items_num) is mapped to the unknown id 0 and counted; a sample whose TARGET is
  unknown cannot be learnt: training skips it, evaluation counts it as a miss (both counted);
- an empty session (no clicks) is skipped and counted.
With skip_bad, malformed lines are skipped and counted instead of stopping.

The dev split (for picking best.pdparams; the test split is only for the final report) is dev.txt
when the data has one; otherwise every DEV_EVERY-th SESSION of train.txt is held out with all its
samples (the prefixes of one session are consecutive in the release's files, so a sample continues
the previous one when its clicks plus its target equal the previous sample's clicks). Holding out
whole sessions keeps the prefixes of a dev session out of training.

A batch is one graph (see models/srgnn.py): make_batch builds it with numpy.
"""
import os
import pickle

import numpy as np
import paddle

import utils
from utils import DataError

CONFIG_FILE = "config.txt"
UNK = 0  # the release's padding row; unknown input items use it, it is never a scored item
DEV_EVERY = 20  # without dev.txt: every 20th training session (5%) is the dev split
LINE_FORMAT = "item item ...;label"
# Order of the arrays in a batch; the first six are the model's inputs.
BATCH_FIELDS = ("node_items", "edge_src", "edge_dst", "seq_index", "seq_len", "last_index", "label", "index")


def read_config(data_dir):
    """items_num from config.txt (the first line)."""
    path = os.path.join(data_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file (expected one line: items_num)")
    lines = [line for _, line in utils.read_lines(path)]
    text = lines[0].strip() if lines else ""
    if not text.isdigit() or int(text) < 2:
        raise DataError(f"{path}:1: expected the item count (an integer >= 2), got {text!r}")
    return int(text)


def split_path(data_dir, split):
    return os.path.join(data_dir, f"{split}.txt")


class _DataOnly(pickle.Unpickler):
    """The release's files hold lists and ints only: refuse anything that would run code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


class Samples:
    """The samples of one file, parsed and checked, in flat numpy arrays (a split of DIGINETICA holds
    about 720k samples). items[offsets[k]:offsets[k + 1]] are sample k's clicks (unknown ones are 0);
    labels[k] its target (0: unknown or absent); lines[k] where it came from; session[k] its session."""

    def __init__(self, path, items_num, *, skip_bad=False, need_label=True):
        self.path, self.items_num = path, items_num
        self.bad = self.empty = self.unknown_items = self.unknown_labels = self.total = 0
        self.bad_lines, self.empty_lines = [], []
        seqs, labels, lines = [], [], []
        for lineno, seq, label in self._records(path, skip_bad, need_label):
            if not seq:
                self.empty += 1
                self.empty_lines.append(lineno)
                continue
            seqs.append(seq)
            labels.append(label)
            lines.append(lineno)
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # Ids outside [1, items_num) become UNK before numpy sees them (an id may not even fit int64).
        self.items = np.fromiter((i if 0 < i < items_num else UNK for s in seqs for i in s), dtype=np.int64,
                                 count=int(lengths.sum()))
        self.unknown_items = int(lengths.sum()) - int(np.count_nonzero(self.items))
        self.has_label = np.array([label >= 0 for label in labels], dtype=bool)
        self.labels = np.array([label if 0 < label < items_num else 0 for label in labels], dtype=np.int64)
        self.unknown_labels = int((self.has_label & (self.labels == 0)).sum())
        self.lines = np.array(lines, dtype=np.int64)
        self.session = self._sessions(seqs, labels)

    def __len__(self):
        return len(self.labels)

    def seq(self, k):
        return self.items[self.offsets[k]:self.offsets[k + 1]]

    # -- reading
    def _records(self, path, skip_bad, need_label):
        """(line number, clicks, label or -1) of every sample; DataError or, with skip_bad, counted."""
        if not os.path.isfile(path):
            raise DataError(f"{path}:0: no such file (samples as {LINE_FORMAT}, or the release's pickle)")
        with open(path, "rb") as f:
            head = f.read(1)
        if not head:
            raise DataError(f"{path}:0: file is empty")
        if head == b"\x80":
            records, total = self._pickle_records(path)
        else:
            records, total = self._text_records(path, need_label), count_lines(path)
        for lineno, parsed in utils.progress(records, total, f"reading {path}"):
            self.total = lineno
            if isinstance(parsed, DataError):
                if not skip_bad:
                    raise parsed
                self.bad += 1
                self.bad_lines.append(lineno)
                continue
            yield (lineno, *parsed)

    def _text_records(self, path, need_label):
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    yield lineno, DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)")
                    continue
                yield lineno, parse_line(text, path, lineno, need_label)

    def _pickle_records(self, path):
        try:
            with open(path, "rb") as f:
                data = _DataOnly(f).load()
        except Exception as e:  # a truncated or foreign pickle
            raise DataError(f"{path}:0: not the release's pickle of (session_list, label_list): {e}") from None
        if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(d, list) for d in data)
                and len(data[0]) == len(data[1])):
            raise DataError(f"{path}:0: not the release's pickle of (session_list, label_list) of equal length")
        return self._check_pickled(path, data), len(data[0])

    @staticmethod
    def _check_pickled(path, data):
        for k, (seq, label) in enumerate(zip(*data), 1):
            if not isinstance(seq, list) or not all(type(i) is int and i >= 0 for i in seq):
                yield k, DataError(f"{path}:{k}: session {str(seq)[:40]} is not a list of non-negative integer ids")
            elif type(label) is not int or label < 0:
                yield k, DataError(f"{path}:{k}: label {label!r} is not a non-negative integer id")
            else:
                yield k, (seq, label)

    @staticmethod
    def _sessions(seqs, labels):
        """Session number of each sample: a sample continues the previous one when its clicks plus its
        target are the previous sample's clicks (the release writes a session's prefixes longest first)."""
        session = np.zeros(len(seqs), dtype=np.int64)
        current = 0
        for k in range(1, len(seqs)):
            prev, seq = seqs[k - 1], seqs[k]
            if not (len(seq) + 1 == len(prev) and prev[-1] == labels[k] and prev[:-1] == seq):
                current += 1
            session[k] = current
        return session

    def counts_text(self):
        notes = [f"{n} {what}" for n, what in (
            (self.bad, "bad lines skipped"), (self.empty, "empty sessions skipped"),
            (self.unknown_items, "unknown clicks mapped to id 0"),
            (self.unknown_labels, "unknown targets")) if n]
        return "; ".join(notes)


def count_lines(path):
    """Lines of a file, counted in binary chunks (for the progress line's total)."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def parse_line(text, path, lineno, need_label=True):
    """`item item ...;label` -> (clicks, label), or a DataError to raise; the label may be left out
    when not need_label (it is then -1). An empty line is an empty session."""
    text = text.rstrip("\r\n")
    fields = text.split(";")
    if len(fields) > 2 or (need_label and len(fields) != 2 and text.strip()):
        return DataError(f"{path}:{lineno}: expected '{LINE_FORMAT}', got {len(fields)} ';'-separated fields")
    tokens = fields[0].split()
    for t in tokens:
        if not t.isdigit():
            return DataError(f"{path}:{lineno}: item {t!r} is not a non-negative integer id")
    label = -1
    if len(fields) == 2:
        label_text = fields[1].strip()
        if not label_text.isdigit():
            return DataError(f"{path}:{lineno}: label {label_text!r} is not a non-negative integer id")
        label = int(label_text)
    return list(map(int, tokens)), label


def load_train_dev(data_dir, items_num, skip_bad=False, dev_every=DEV_EVERY):
    """(train Samples, train indices, dev Samples, dev indices): dev.txt when the data has one, else
    every dev_every-th session of train.txt (the same Samples object, read once)."""
    samples = Samples(split_path(data_dir, "train"), items_num, skip_bad=skip_bad)
    if os.path.isfile(split_path(data_dir, "dev")):
        dev = Samples(split_path(data_dir, "dev"), items_num, skip_bad=skip_bad)
        return samples, np.arange(len(samples)), dev, np.arange(len(dev))
    if dev_every < 2:
        raise DataError(f"{split_path(data_dir, 'dev')}:0: no such file, and --dev_every {dev_every} holds "
                        "out no training sessions for a dev split (use 2 or more)")
    is_dev = samples.session % dev_every == dev_every - 1
    return samples, np.flatnonzero(~is_dev), samples, np.flatnonzero(is_dev)


def load_split(data_dir, split, items_num, skip_bad=False, dev_every=DEV_EVERY):
    """(Samples, indices of the split's samples) of 'train', 'dev' or 'test' (see load_train_dev)."""
    if split in ("train", "dev"):
        train, train_idx, dev, dev_idx = load_train_dev(data_dir, items_num, skip_bad, dev_every)
        return (train, train_idx) if split == "train" else (dev, dev_idx)
    samples = Samples(split_path(data_dir, split), items_num, skip_bad=skip_bad)
    return samples, np.arange(len(samples))


def make_batch(samples, indices):
    """The graph of a batch of samples (see models/srgnn.py) plus the targets and the sample indices.
    Each session's nodes are its distinct items; each edge (consecutive clicks) appears once."""
    node_items, edge_src, edge_dst, seq_rows, last_index = [], [], [], [], []
    offset = 0
    for k in indices:
        seq = samples.seq(k)
        nodes, where = np.unique(seq, return_inverse=True)
        edges = np.unique(where[:-1] * len(nodes) + where[1:])
        node_items.append(nodes)
        edge_src.append(edges // len(nodes) + offset)
        edge_dst.append(edges % len(nodes) + offset)
        seq_rows.append(where + offset)
        last_index.append(where[-1] + offset)
        offset += len(nodes)
    lengths = np.array([len(r) for r in seq_rows], dtype=np.int64)
    seq_index = np.zeros((len(seq_rows), max(1, int(lengths.max(initial=1)))), dtype=np.int64)
    for row, r in enumerate(seq_rows):
        seq_index[row, :len(r)] = r
    cat = (lambda parts: np.concatenate(parts).astype(np.int64)) if len(indices) else (lambda _: np.zeros(0, np.int64))
    return (cat(node_items), cat(edge_src), cat(edge_dst), seq_index, lengths,
            np.array(last_index, dtype=np.int64), samples.labels[np.asarray(indices, dtype=np.int64)].copy(),
            np.asarray(indices, dtype=np.int64))


class BatchDataset(paddle.io.Dataset):
    """Item i is batch i of a fixed list of batches (lists of sample indices), built by make_batch in
    the DataLoader's workers."""

    def __init__(self, samples, batches):
        self.samples, self.batches = samples, batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return make_batch(self.samples, self.batches[i])


def train_batches(indices, batch_size, seed, epoch, rank=0, world_size=1):
    """This rank's batches of one epoch: the split shuffled with a seed of (seed, epoch), cut into
    full batches (the release drops the last partial one too), batch b going to rank b % world_size.
    Every rank gets the same number of batches. Deterministic, so a resumed run skips what it did."""
    order = np.random.default_rng((seed, epoch)).permutation(indices)
    num = len(order) // batch_size // world_size * world_size
    return [order[b * batch_size:(b + 1) * batch_size] for b in range(rank, num, world_size)]


def eval_batches(indices, batch_size, rank=0, world_size=1):
    """All samples in order, the last batch partial, batch b to rank b % world_size (no duplicates)."""
    cuts = range(0, len(indices), batch_size)
    return [indices[s:s + batch_size] for b, s in enumerate(cuts) if b % world_size == rank]


def make_loader(samples, batches, num_workers, use_shared_memory=True):
    """A DataLoader over fixed batches; its workers die with the trainer, even on kill -9."""
    return paddle.io.DataLoader(BatchDataset(samples, batches), batch_size=None, shuffle=False,
                                num_workers=num_workers, use_shared_memory=use_shared_memory,
                                worker_init_fn=utils.die_with_parent)
