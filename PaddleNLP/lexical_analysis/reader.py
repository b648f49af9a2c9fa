"""The only data path: the LAC on-disk format, dictionaries, length-bucketed batches.

Dataset directory (the layout of the released LAC data, dictionaries beside the splits):
    train.tsv, test.tsv   header `text_a\tlabel`; then per line the characters joined by \\002,
                          a tab, and one IOB2 tag per character (`n-B`, `PER-I`, ...) joined by \\002
    word.dic              `id\tchar` per line, including an `OOV` entry for unknown characters
    tag.dic               `id\ttag` per line
    q2b.dic               `from\tto` per line: full-width to half-width normalisation,
                          applied to every character before the word.dic look-up

The release has no dev split: unless DATA_DIR holds a dev.tsv in the same format, training
holds out every --dev_every-th training sentence as dev (load_splits) and picks its best weights
there; test.tsv is only scored by eval.py, once, at the end.

Raw text for inference is a plain string: each character is one token.
"""
import os

import numpy as np

import utils
from utils import DataError
import paddle

CHAR_SEP = "\002"
HEADER = "text_a\tlabel"
OOV = "OOV"


def load_id_dict(path):
    """`id\ttoken` lines -> {token: id}; ids must be unique integers."""
    token2id = {}
    for lineno, line in utils.read_lines(path):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].lstrip("-").isdigit():
            raise DataError(f"{path}:{lineno}: expected 'id<TAB>token', got {line!r}")
        if fields[1] in token2id:
            raise DataError(f"{path}:{lineno}: duplicate entry {fields[1]!r}")
        token2id[fields[1]] = int(fields[0])
    if not token2id:
        raise DataError(f"{path}: empty dictionary")
    if len(set(token2id.values())) != len(token2id):
        raise DataError(f"{path}: the same id is given to two entries")
    return token2id


def load_q2b(path):
    """`from\tto` lines -> {from: to}."""
    mapping = {}
    for lineno, line in utils.read_lines(path):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"{path}:{lineno}: expected 'from<TAB>to', got {line!r}")
        mapping[fields[0]] = fields[1]
    return mapping


class Vocab:
    """word.dic, tag.dic and q2b.dic of one dataset directory."""

    def __init__(self, data_dir):
        self.word2id = load_id_dict(os.path.join(data_dir, "word.dic"))
        self.tag2id = load_id_dict(os.path.join(data_dir, "tag.dic"))
        self.q2b = load_q2b(os.path.join(data_dir, "q2b.dic"))
        if OOV not in self.word2id:
            raise DataError(f"{os.path.join(data_dir, 'word.dic')}: no '{OOV}' entry for unknown characters")
        self.oov_id = self.word2id[OOV]
        self.id2word = {i: w for w, i in self.word2id.items()}
        self.id2tag = {i: t for t, i in self.tag2id.items()}
        self.vocab_size = max(self.word2id.values()) + 1
        self.num_tags = max(self.tag2id.values()) + 1

    def char_ids(self, chars):
        return np.array([self.word2id.get(self.q2b.get(c, c), self.oov_id) for c in chars], dtype="int64")

    def tag_names(self, ids):
        return [self.id2tag[int(i)] for i in ids]


def parse_line(line, path, lineno, vocab):
    """One `chars\ttags` line -> (char ids, tag ids); raises DataError on anything malformed."""
    fields = line.split("\t")
    if len(fields) != 2:
        raise DataError(f"{path}:{lineno}: expected 2 tab-separated fields (text_a, label), got {len(fields)}")
    text, label = fields
    if not text.strip(CHAR_SEP + " "):
        raise DataError(f"{path}:{lineno}: empty text")
    chars, tags = text.split(CHAR_SEP), label.split(CHAR_SEP)
    if len(chars) != len(tags):
        raise DataError(f"{path}:{lineno}: {len(chars)} characters but {len(tags)} tags")
    unknown = [t for t in tags if t not in vocab.tag2id]
    if unknown:
        raise DataError(f"{path}:{lineno}: unknown tag {unknown[0]!r} (not in tag.dic)")
    return vocab.char_ids(chars), np.array([vocab.tag2id[t] for t in tags], dtype="int64")


class LacDataset(paddle.io.Dataset):
    """A labelled split: (char ids, tag ids) numpy arrays, and how many bad lines were skipped."""

    def __init__(self, path, samples, skipped=0):
        if not samples:
            raise DataError(f"{path}: no usable sentences")
        self.path, self.samples, self.skipped = path, samples, skipped
        self.lengths = np.array([len(c) for c, _ in samples])

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def read_split(path, vocab, skip_bad_samples=False):
    """A LAC .tsv -> LacDataset. With skip_bad_samples a malformed line is counted and skipped; a
    byte that is not UTF-8 stops the run either way: it means the file is in another encoding
    (say GBK), and skipping would quietly drop most of it."""
    samples, skipped = [], 0
    lines = utils.read_lines(path)
    for lineno, line in utils.progress(lines, len(lines), f"reading {path}"):
        if lineno == 1:
            if line.strip() != HEADER:
                raise DataError(f"{path}:1: expected the header line 'text_a<TAB>label'")
            continue
        if not line:  # a blank line (say, at the end of the file) holds no sentence
            continue
        try:
            samples.append(parse_line(line, path, lineno, vocab))
        except DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
    return LacDataset(path, samples, skipped)


def load_splits(data_dir, vocab, dev_every, skip_bad_samples=False, max_seq_len=0):
    """(train, dev) for training. The LAC release has no dev split (train.tsv and test.tsv only),
    so unless DATA_DIR holds a dev.tsv, every `dev_every`-th training sentence (the 10th, 20th,
    ... by default) is held out as dev: deterministic, and test.tsv is never used to pick a model.
    Dev sentences stay whole; training sentences are cut to max_seq_len, as in the recipe."""
    train = read_split(os.path.join(data_dir, "train.tsv"), vocab, skip_bad_samples)
    dev_path = os.path.join(data_dir, "dev.tsv")
    if os.path.isfile(dev_path):
        dev = read_split(dev_path, vocab, skip_bad_samples)
    elif dev_every < 2:
        raise DataError(f"{dev_path}: file not found, and --dev_every {dev_every} cannot hold out a dev split "
                        "of train.tsv (use 2 or more)")
    else:
        held = np.arange(len(train)) % dev_every == dev_every - 1
        dev = LacDataset(f"{train.path} (every {dev_every}th sentence)", [s for s, h in zip(train.samples, held) if h])
        train = LacDataset(train.path, [s for s, h in zip(train.samples, held) if not h], train.skipped)
    if max_seq_len:
        train = LacDataset(train.path, [(c[:max_seq_len], t[:max_seq_len]) for c, t in train.samples], train.skipped)
    return train, dev


def eval_split(data_dir, vocab, split, dev_every, skip_bad_samples=False):
    """The split eval.py scores: test.tsv, or the dev split that training selected on."""
    if split == "dev":
        return load_splits(data_dir, vocab, dev_every, skip_bad_samples)[1]
    return read_split(os.path.join(data_dir, "test.tsv"), vocab, skip_bad_samples)


class LengthBucketBatchSampler(paddle.io.BatchSampler):
    """Training batches of similar length, so padding stays small.

    Per epoch the indices are shuffled by (seed, epoch) and sharded over ranks as in
    DistributedBatchSampler; each pool of `pool_batches` batches is sorted by length and cut
    into batches, and the batch order is shuffled again. `set_epoch(epoch, start_batch)` starts
    mid-epoch, so --resume neither re-reads nor skips a sentence."""

    def __init__(self, lengths, batch_size, shuffle=True, drop_last=True, seed=0, pool_batches=50):
        self.lengths, self.batch_size = np.asarray(lengths), batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.pool = batch_size * pool_batches
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        n = len(self.lengths)
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        world = utils.world_size()
        if world > 1:
            per_rank = n // world  # equal shares keep the ranks in step
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        batches = []
        for start in range(0, len(order), self.pool):
            pool = order[start:start + self.pool]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += [pool[i:i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())


def eval_batches(lengths, batch_size):
    """This rank's share of an eval split in length order: every rank takes every world_size-th
    sentence, so no sentence is scored twice and the summed counts equal a single process's."""
    mine = np.arange(utils.rank(), len(lengths), utils.world_size())
    mine = mine[np.argsort(np.asarray(lengths)[mine], kind="stable")]
    return [mine[i:i + batch_size].tolist() for i in range(0, len(mine), batch_size)]


def pad_batch(char_ids_list, tag_ids_list=None):
    """Pad to the longest sentence of the batch: chars [B, T], lengths [B] and, if given, tags [B, T].
    The padding value does not matter: the GRU and the CRF only read up to each length."""
    lengths = np.array([len(c) for c in char_ids_list], dtype="int64")
    chars = np.zeros((len(lengths), lengths.max()), dtype="int64")
    for i, c in enumerate(char_ids_list):
        chars[i, :len(c)] = c
    if tag_ids_list is None:
        return chars, lengths
    tags = np.zeros_like(chars)
    for i, t in enumerate(tag_ids_list):
        tags[i, :len(t)] = t
    return chars, lengths, tags


def collate(samples):
    return pad_batch([s[0] for s in samples], [s[1] for s in samples])
