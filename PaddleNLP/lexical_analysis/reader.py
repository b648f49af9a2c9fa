"""The only data path: the LAC on-disk format, dictionaries, length-bucketed batches.

Dataset directory (the layout of the released LAC data, dictionaries beside the splits):
    train.tsv, test.tsv   header `text_a\tlabel`; then per line the characters joined by \\002,
                          a tab, and one IOB2 tag per character (`n-B`, `PER-I`, ...) joined by \\002
    word.dic              `id\tchar` per line, including an `OOV` entry for unknown characters
    tag.dic               `id\ttag` per line
    q2b.dic               `from\tto` per line: full-width to half-width normalisation,
                          applied to every character before the word.dic look-up

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


def decode_line(raw, path, lineno):
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: invalid UTF-8 ({e.reason} at byte {e.start})") from None


def raw_lines(path):
    """(line number, undecoded line) for every line of a file."""
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: file not found")
    with open(path, "rb") as f:
        yield from enumerate(f, 1)


def read_lines(path):
    """(line number, text) for every line of a UTF-8 file; invalid bytes name their line."""
    for lineno, raw in raw_lines(path):
        yield lineno, decode_line(raw, path, lineno)


def load_id_dict(path):
    """`id\ttoken` lines -> {token: id}; ids must be unique integers."""
    token2id = {}
    for lineno, line in read_lines(path):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].lstrip("-").isdigit():
            raise DataError(f"{path}:{lineno}: expected 'id<TAB>token', got {line!r}")
        if fields[1] in token2id:
            raise DataError(f"{path}:{lineno}: duplicate entry {fields[1]!r}")
        token2id[fields[1]] = int(fields[0])
    if not token2id:
        raise DataError(f"{path}:0: empty dictionary")
    if len(set(token2id.values())) != len(token2id):
        raise DataError(f"{path}:0: the same id is given to two entries")
    return token2id


def load_q2b(path):
    """`from\tto` lines -> {from: to}."""
    mapping = {}
    for lineno, line in read_lines(path):
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
            raise DataError(f"{os.path.join(data_dir, 'word.dic')}:0: no '{OOV}' entry for unknown characters")
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
    """A labelled split; samples are (char ids, tag ids) numpy arrays."""

    def __init__(self, path, vocab, skip_bad_samples=False, max_seq_len=0):
        self.path, self.samples, self.skipped = path, [], 0
        for lineno, raw in raw_lines(path):
            try:
                line = decode_line(raw, path, lineno)
                if lineno == 1:
                    if line.strip() != HEADER:
                        raise DataError(f"{path}:1: expected the header line 'text_a<TAB>label'")
                    continue
                if not line:  # a blank line (say, at the end of the file) holds no sentence
                    continue
                chars, tags = parse_line(line, path, lineno, vocab)
            except DataError:
                if not skip_bad_samples or lineno == 1:
                    raise
                self.skipped += 1
                continue
            if max_seq_len:  # as the original recipe: training sentences are cut to max_seq_len
                chars, tags = chars[:max_seq_len], tags[:max_seq_len]
            self.samples.append((chars, tags))
        if not self.samples:
            raise DataError(f"{path}:0: no usable sentences")
        self.lengths = np.array([len(c) for c, _ in self.samples])

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


class LengthBucketBatchSampler(paddle.io.BatchSampler):
    """Training batches of similar length, so padding stays small.

    Per epoch the indices are shuffled by (seed, epoch) and sharded over ranks as in
    utils.ResumableBatchSampler; each pool of `pool_batches` batches is sorted by length and cut
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
    """This rank's share of an eval split (no duplicates, see utils.eval_shard) in length order."""
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
