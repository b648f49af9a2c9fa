"""The only data path: the slot format of Multiview-SimNet, parsed once into memory, and batches.

Dataset directory (PaddleRec's layout for this model; every file of a split is read, in sorted order):
    DATA_DIR/train/*.txt   one training triple per line
    DATA_DIR/test/*.txt    the same, scored once by eval.py
    DATA_DIR/dev/*.txt     optional; without it every --dev_every-th train line is the dev split

A line is whitespace-separated `slot:id` tokens. With Q query slots and T title slots (--query_slots,
--title_slots), slots 0..Q-1 are the query's views, Q..Q+T-1 the positive title's and Q+T..Q+2T-1
the negative title's; the ids of a slot keep their order (the CNN and GRU encoders read it):
    0:12 0:7 1:301 2:12 2:95 3:77 4:40 4:8 5:76            (Q = 2, T = 2)
infer.py also takes lines with only the query and one title (slots 0..Q+T-1).

What is refused (DataError `file:line: what`, exit 2; with --skip_bad_samples skipped and counted):
a token that is not `slot:id` with non-negative integers, a slot number outside the layout, a byte
that is not UTF-8. What is counted and not refused: an id at or above --sparse_feature_dim is mapped
to the unknown id 0; an empty line, and a line where a slot has no id, are skipped (the release
reader gave an empty slot the single id 0; here the line is left out).
"""
import glob
import os

import numpy as np

import paddle

import utils
from utils import DataError

UNK_ID = 0
DEV_EVERY = 20


class SlotLayout:
    """Which slot numbers are which view: query 0..Q-1, positive title Q..Q+T-1, negative title Q+T..Q+2T-1."""

    def __init__(self, query_slots, title_slots):
        self.query_slots, self.title_slots = query_slots, title_slots
        self.triple = query_slots + 2 * title_slots
        self.pair = query_slots + title_slots

    def describe(self, slot):
        q, t = self.query_slots, self.title_slots
        if slot < q:
            return f"slot {slot} (query view {slot})"
        if slot < q + t:
            return f"slot {slot} (positive title view {slot - q})"
        return f"slot {slot} (negative title view {slot - q - t})"

    def summary(self):
        q, t = self.query_slots, self.title_slots
        return (f"query 0-{q - 1}, positive title {q}-{q + t - 1}, negative title {q + t}-{q + 2 * t - 1}")


class SkippedLine(Exception):
    """A line that is left out and counted, not an error: empty, or with an empty slot."""


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def parse_line(text, path, lineno, layout, vocab_size, allow_pair=False):
    """One line -> (list of int64 id arrays, one per slot present, unknown-id count). A triple has
    every slot; with allow_pair a line with only the query and one title (slots 0..Q+T-1) is accepted
    too. DataError if malformed, SkippedLine if empty or a slot has no id."""
    tokens = text.split()
    if not tokens:
        raise SkippedLine("empty line")
    slots = [[] for _ in range(layout.triple)]
    unknown = 0
    for token in tokens:
        slot, sep, value = token.partition(":")
        if not sep or not slot.isdigit() or not value.isdigit():  # isdigit refuses '-', '+', '1.5', ''
            raise DataError(f"{path}:{lineno}: token {token!r} is not slot:id (two non-negative integers)")
        k, i = int(slot), int(value)
        if k >= layout.triple:
            raise DataError(f"{path}:{lineno}: slot {k} is outside the {layout.triple} slots ({layout.summary()}; "
                            f"--query_slots {layout.query_slots} --title_slots {layout.title_slots})")
        if i >= vocab_size:
            i, unknown = UNK_ID, unknown + 1
        slots[k].append(i)  # the ids of one slot keep their order
    if allow_pair and not any(slots[layout.pair:]):
        slots = slots[:layout.pair]
    for k, ids in enumerate(slots):
        if not ids:
            raise SkippedLine(f"{layout.describe(k)} is empty")
    return [np.array(ids, dtype=np.int64) for ids in slots], unknown


def count_lines(path):
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file")
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 22), b""))


def split_files(data_dir, split):
    """The files of DATA_DIR/<split>/, sorted; DataError if there are none."""
    folder = os.path.join(data_dir, split)
    files = sorted(p for p in glob.glob(os.path.join(folder, "*")) if os.path.isfile(p))
    if not files:
        raise DataError(f"{folder}:0: no such directory, or no files in it (expected {split}/*.txt)")
    return files


def split_source(data_dir, split, dev_every=DEV_EVERY):
    """(files, part) of a split: the dev split is DATA_DIR/dev/ if it exists, else the train files'
    every dev_every-th line (part 'dev'); the train split then leaves those lines out (part 'train')."""
    has_dev = os.path.isdir(os.path.join(data_dir, "dev"))
    if split == "dev" and not has_dev:
        if dev_every < 1:
            raise DataError(f"{os.path.join(data_dir, 'dev')}:0: no dev folder, and --dev_every {dev_every} "
                            "holds out no train lines: give one of them")
        return split_files(data_dir, "train"), "dev"
    if split == "train" and not has_dev and dev_every:
        return split_files(data_dir, "train"), "train"
    return split_files(data_dir, split), "all"


class SlotDataset(paddle.io.Dataset):
    """Every usable line of some files, parsed up front. samples[i] is a list of id arrays (one per
    slot), where[i] its (file, line). counts: lines read, kept, skipped empty lines and lines with an
    empty slot, bad lines skipped (--skip_bad_samples), and unknown ids mapped to 0."""

    def __init__(self, files, layout, vocab_size, *, part="all", dev_every=DEV_EVERY, skip_bad=False,
                 allow_pair=False, what="reading"):
        self.layout, self.samples, self.where = layout, [], []
        self.counts = dict(lines=0, kept=0, empty_lines=0, empty_slot_lines=0, bad_lines=0, unknown_ids=0)
        self.notes = []  # the first few lines skipped for an empty slot or as bad, for the user

        def lines():
            for path in files:
                with open(path, "rb") as f:
                    for lineno, raw in enumerate(f, 1):
                        yield path, lineno, raw

        total = sum(count_lines(path) for path in files)  # for the progress line; checks every file exists
        for path, lineno, raw in utils.progress(lines(), total, what):
            if part != "all" and (lineno % dev_every == 0) != (part == "dev"):
                continue  # the other part of the train files (dev or train)
            self.counts["lines"] += 1
            try:
                sample, unknown = parse_line(decode(raw, path, lineno), path, lineno, layout, vocab_size, allow_pair)
            except SkippedLine as e:
                if str(e) == "empty line":
                    self.counts["empty_lines"] += 1
                else:
                    self.counts["empty_slot_lines"] += 1
                    self._note(f"{path}:{lineno}: {e}")
                continue
            except DataError as e:
                if not skip_bad:
                    raise
                self.counts["bad_lines"] += 1
                self._note(str(e))
                continue
            self.counts["unknown_ids"] += unknown
            self.samples.append(sample)
            self.where.append((path, lineno))
        self.counts["kept"] = len(self.samples)

    def _note(self, message):
        if len(self.notes) < 5:
            self.notes.append(message)

    def report(self):
        """One line on what was left out or mapped, or '' when everything was used as it is."""
        c = self.counts
        parts = [f"{c[k]} {name}" for k, name in (
            ("empty_lines", "empty lines skipped"), ("empty_slot_lines", "lines with an empty slot skipped"),
            ("bad_lines", "bad lines skipped"), ("unknown_ids", "ids outside the vocabulary mapped to the unknown id 0"))
            if c[k]]
        return ", ".join(parts) + (f" (first: {self.notes[0]})" if self.notes else "") if parts else ""

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def pack(samples, slots):
    """ids int64 [B, S, L] and lengths int64 [B, S] of the given slot numbers of each sample, padded
    (with id 0, which the encoders mask) to the longest of them."""
    lengths = np.array([[len(s[k]) for k in slots] for s in samples], dtype=np.int64).reshape(len(samples), len(slots))
    ids = np.zeros((len(samples), len(slots), max(1, int(lengths.max(initial=1)))), dtype=np.int64)
    for b, s in enumerate(samples):
        for j, k in enumerate(slots):
            ids[b, j, :len(s[k])] = s[k]
    return ids, lengths


def collate_triples(samples, layout):
    """(query, query_len, pos_title, pos_title_len, neg_title, neg_title_len). The two titles are
    padded to one width, so the model encodes them in one pass."""
    q, t = layout.query_slots, layout.title_slots
    query = pack(samples, range(q))
    both = [s[q:q + t] for s in samples] + [s[q + t:q + 2 * t] for s in samples]
    titles, lengths = pack(both, range(t))
    n = len(samples)
    return query + (titles[:n], lengths[:n], titles[n:], lengths[n:])


def collate_pairs(samples, layout):
    """(query, query_len, title, title_len) of lines with the query and one title (slots 0..Q+T-1)."""
    q, t = layout.query_slots, layout.title_slots
    return pack(samples, range(q)) + pack(samples, range(q, q + t))


class ShardedBatchSampler(paddle.io.BatchSampler):
    """Training batches: per epoch the lines are shuffled by (seed, epoch) and every rank takes an
    equal share; set_epoch(epoch, start_batch) starts mid-epoch, so --resume neither re-reads nor
    skips a line."""

    def __init__(self, size, batch_size, shuffle=True, seed=0):
        self.size, self.batch_size, self.shuffle, self.seed = size, batch_size, shuffle, seed
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def batches(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.size) if self.shuffle \
            else np.arange(self.size)
        per_rank = self.size // utils.world_size()  # equal shares keep the ranks in step
        order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]

    def __iter__(self):
        yield from self.batches()[self.start_batch:]

    def __len__(self):
        return -(-(self.size // utils.world_size()) // self.batch_size)


def eval_batches(size, batch_size):
    """This rank's share of an evaluation (every world_size-th line: no padded duplicates)."""
    mine = np.arange(utils.rank(), size, utils.world_size())
    return [mine[i:i + batch_size].tolist() for i in range(0, len(mine), batch_size)]
