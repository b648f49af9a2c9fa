"""The only data path: the SimNet on-disk format, the vocabulary and length-bucketed batches.

Dataset directory (the layout of the released simnet_dataset-1.0.0, all UTF-8, no header lines):
    term2id.dict            `word<TAB>id` per line; id 0 also stands for <unk>
    train_pairwise_data     `query<TAB>similar<TAB>dissimilar` per line
    train_pointwise_data    `query1<TAB>query2<TAB>label`, label 0 or 1
    test_pairwise_data      `query1<TAB>query2<TAB>label` (pairwise models are tested on labelled pairs)
    test_pointwise_data     `query1<TAB>query2<TAB>label`
    infer_data              `query1<TAB>query2`
Texts are words separated by spaces, as in the dataset. As in the original reader, words missing
from term2id.dict are dropped, and a text left with no known word becomes the single id 0. A text
with no space that is not itself a known word (raw, unsegmented Chinese) is first cut into words by
forward maximum matching over term2id.dict, in every script alike (see Vocab.words).
"""
import os

import numpy as np

import paddle

import utils
from utils import DataError

UNK_ID = 0
FIELDS = {  # mode -> field names; the last is the label in pointwise and labelled-pair files
    "pairwise": ("query", "similar", "dissimilar"),
    "pointwise": ("query1", "query2", "label"),
    "infer": ("query1", "query2"),
}


def raw_lines(path):
    """(line number, undecoded line) for every line of a file."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        yield from enumerate(f, 1)


def decode_line(raw, path, lineno):
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: invalid UTF-8 ({e.reason} at byte {e.start})") from None


class Vocab:
    """term2id.dict: word -> id. The model's embedding has max(id) + 1 rows."""

    def __init__(self, path):
        self.path, self.word2id = path, {}
        for lineno, raw in raw_lines(path):
            line = decode_line(raw, path, lineno)
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[1].strip().isdigit():
                raise DataError(f"{path}:{lineno}: expected 'word<TAB>id', got {line!r}")
            self.word2id.setdefault(fields[0], int(fields[1]))  # the first entry of a word wins
        if not self.word2id:
            raise DataError(f"{path}: empty dictionary")
        self.word2id.setdefault("<unk>", UNK_ID)
        self.size = max(self.word2id.values()) + 1
        self.max_word_len = max(map(len, self.word2id))

    def __len__(self):
        return self.size

    def words(self, text):
        """The words of a text: split on spaces; a text without spaces that is not a known word (raw
        Chinese) is cut by forward maximum matching: at each position the longest dictionary word
        that starts there, or one character when none does."""
        text = text.strip()
        if any(c.isspace() for c in text) or text in self.word2id:
            return text.split()
        words, i = [], 0
        while i < len(text):
            n = next((n for n in range(min(self.max_word_len, len(text) - i), 1, -1)
                      if text[i:i + n] in self.word2id), 1)
            words.append(text[i:i + n])
            i += n
        return words

    def to_ids(self, text):
        """Text -> int64 ids; unknown words are dropped, as the original reader does."""
        ids = [self.word2id[w] for w in self.words(text) if w in self.word2id]
        return np.array(ids or [UNK_ID], dtype="int64")

    def unknown(self, text):
        """(unknown words, words) of a text, for infer.py's warning."""
        words = self.words(text)
        return sum(w not in self.word2id for w in words), len(words)


def parse_line(line, path, lineno, mode, vocab):
    """One line -> tuple of id arrays (plus the int label in pointwise mode); DataError if malformed.
    In infer mode a third column (a label) is allowed and returned, so a test file can be scored."""
    fields = line.split("\t")
    names = FIELDS[mode]
    allowed = (2, 3) if mode == "infer" else (len(names),)
    if len(fields) not in allowed:
        raise DataError(f"{path}:{lineno}: expected {len(names)} tab-separated fields "
                        f"({', '.join(names)}), got {len(fields)}")
    label = None
    if mode == "pointwise" or (mode == "infer" and len(fields) == 3):
        label = fields.pop().strip()
        if label not in ("0", "1"):
            raise DataError(f"{path}:{lineno}: label {label!r} is not 0 or 1")
        label = int(label)
    for i, text in enumerate(fields):
        if not text.strip():
            raise DataError(f"{path}:{lineno}: empty text in field {i + 1} ({names[i]})")
    ids = tuple(vocab.to_ids(text) for text in fields)
    return ids + ((label,) if label is not None else ())


class TextPairDataset(paddle.io.Dataset):
    """All lines of one file, parsed up front (the files are small next to the model).

    Samples are tuples of int64 id arrays, pointwise ones end with the label. `texts` keeps each
    line's raw texts (the positive/negative order ratio groups candidates by the first one, infer.py
    prints them), `lengths` the longest text of each sample (for bucketing)."""

    def __init__(self, path, mode, vocab, skip_bad_samples=False, max_seq_len=0):
        self.path, self.mode = path, mode
        self.samples, self.texts, self.linenos, self.skipped = [], [], [], 0
        for lineno, raw in raw_lines(path):
            try:
                line = decode_line(raw, path, lineno)
                if not line.strip():  # a blank line (say, at the end of the file) holds no pair
                    continue
                sample = parse_line(line, path, lineno, mode, vocab)
            except DataError as e:
                if not skip_bad_samples:
                    raise
                self.skipped += 1
                if utils.is_main_process():
                    print(f"skipped bad sample: {e}", flush=True)
                continue
            if max_seq_len:
                sample = tuple(s[:max_seq_len] if isinstance(s, np.ndarray) else s for s in sample)
            self.samples.append(sample)
            self.texts.append(tuple(line.split("\t")[:2 if mode != "pairwise" else 3]))
            self.linenos.append(lineno)
        if not self.samples:
            raise DataError(f"{path}: no usable lines")
        self._index()

    def _index(self):
        self.lengths = np.array([max(len(s) for s in sample if isinstance(s, np.ndarray)) for sample in self.samples])
        self.labels = np.array([s[2] for s in self.samples]) if self.mode == "pointwise" else None

    def hold_out(self, every):
        """Move every `every`-th line out of this (training) set into a labelled-pair dev set, for data
        that has no dev file: a pairwise triple becomes (query, similar, 1) and (query, dissimilar, 0)."""
        dev = TextPairDataset.__new__(TextPairDataset)
        dev.path, dev.mode, dev.skipped = f"{self.path} (every {every}th line, held out)", "pointwise", 0
        dev.samples, dev.texts, dev.linenos = [], [], []
        keep = [i % every != every - 1 for i in range(len(self.samples))]
        for i in (i for i, k in enumerate(keep) if not k):
            sample, texts = self.samples[i], self.texts[i]
            if self.mode == "pairwise":
                dev.samples += [(sample[0], sample[1], 1), (sample[0], sample[2], 0)]
                dev.texts += [(texts[0], texts[1]), (texts[0], texts[2])]
                dev.linenos += [self.linenos[i]] * 2
            else:
                dev.samples.append(sample)
                dev.texts.append(texts)
                dev.linenos.append(self.linenos[i])
        if not dev.samples:
            raise DataError(f"{self.path}: too few lines to hold out a dev set (every {every}th line)")
        for name in ("samples", "texts", "linenos"):
            setattr(self, name, [x for x, k in zip(getattr(self, name), keep) if k])
        self._index()
        dev._index()
        return dev

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def pad(seqs, width=0):
    """Right-pad id arrays to one width: ids [B, T] and lengths [B]. T is the longest text, or exactly
    `width` when given (longer texts are cut: MM-DNN's fixed size). The pad id does not matter: every
    model reads only up to each length."""
    if width:
        seqs = [s[:width] for s in seqs]
    lengths = np.fromiter(map(len, seqs), dtype="int64", count=len(seqs))
    ids = np.zeros((len(seqs), width or lengths.max()), dtype="int64")
    ids[np.arange(ids.shape[1]) < lengths[:, None]] = np.concatenate(seqs)  # row by row, as a mask is read
    return ids, lengths


def collate_pairwise(samples, fixed_len=0):
    """(query, query_len, similar, similar_len, dissimilar, dissimilar_len); similar and dissimilar
    share one width so the model can encode them in one pass."""
    query = pad([s[0] for s in samples], fixed_len)
    both, both_len = pad([s[1] for s in samples] + [s[2] for s in samples], fixed_len)
    n = len(samples)
    return query + (both[:n], both_len[:n], both[n:], both_len[n:])


def collate_pair(samples, fixed_len=0):
    """(left, left_len, right, right_len[, label]) for pointwise training, eval and inference."""
    batch = pad([s[0] for s in samples], fixed_len) + pad([s[1] for s in samples], fixed_len)
    if len(samples[0]) == 3:
        batch += (np.array([s[2] for s in samples], dtype="int64"),)
    return batch


class LengthBucketBatchSampler(paddle.io.BatchSampler):
    """Training batches of similar length, so padding stays small.

    Per epoch the indices are shuffled by (seed, epoch) and sharded over ranks (equal shares); each pool of `pool_batches` batches is sorted by length and cut into
    batches, and the batch order is shuffled again. `set_epoch(epoch, start_batch)` starts mid-epoch,
    so --resume neither re-reads nor skips a line."""

    def __init__(self, lengths, batch_size, shuffle=True, drop_last=False, seed=0, pool_batches=50):
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
    """This rank's share of an eval file (every world_size-th line: no padded duplicates), in length order."""
    mine = np.arange(utils.rank(), len(lengths), utils.world_size())
    mine = mine[np.argsort(np.asarray(lengths)[mine], kind="stable")]
    return [mine[i:i + batch_size].tolist() for i in range(0, len(mine), batch_size)]
