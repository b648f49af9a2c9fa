"""The only data path of EmoTect: the word dictionary, the chit-chat TSV files, segmentation of raw
sentences, length-bucketed batches and padding.

On-disk format (the original EmoTect data, `download_data.sh` -> data/):
    train.tsv / dev.tsv / test.tsv   UTF-8, a header line `label<TAB>text_a`, then one utterance per
                                     line: the label (0 negative, 1 neutral, 2 positive), a tab, the
                                     space-segmented words
    vocab.txt                        one word per line; a word's id is its line number (from 0)

Words missing from the dictionary map to the UNK id; batches are padded with the PAD id, which the
models mask out, so padding never changes a prediction.
"""
import os

import numpy as np
import paddle

import utils

# The two things that differ between Senta and EmoTect: the column order and the label set.
COLUMNS = ("label", "text_a")
LABELS = ("0", "1", "2")
LABEL_NAMES = ("negative", "neutral", "positive")
VOCAB_FILE = "vocab.txt"
MAX_SEQ_LEN = 128  # words kept of each text by default (the recipe's)
SPLITS = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
UNK = "<unk>"


def _decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def raw_lines(path):
    """(line number, bytes) for each line of a file, without the line break. Unlike utils.read_lines
    it decodes nothing, so that --skip_bad_samples can skip a data line that is not UTF-8."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


class Vocab:
    """Word <-> id. Ids follow the dictionary's line order; UNK is the dictionary's own `<unk>` if it
    has one, else the next id; PAD comes last and is used for nothing else."""

    def __init__(self, words):
        self.word_to_id = {}
        for word in words:
            self.word_to_id.setdefault(word, len(self.word_to_id))  # the first of a duplicate wins
        self.unk_id = self.word_to_id.setdefault(UNK, len(self.word_to_id))
        self.pad_id = len(self.word_to_id)
        self.max_word_len = max((len(w) for w in self.word_to_id), default=1)

    @classmethod
    def load(cls, path):
        # One word per line; anything after a tab (an id or a count in some dictionaries) is ignored.
        return cls(line.split("\t")[0].strip() for _, line in utils.read_lines(path) if line.strip())

    def __len__(self):
        """Rows the embedding needs: every word, UNK and PAD."""
        return self.pad_id + 1

    def __contains__(self, word):
        return word in self.word_to_id

    def to_ids(self, words):
        return [self.word_to_id.get(w, self.unk_id) for w in words]


def segment(text, vocab):
    """Words of a sentence. Segmented text (words separated by spaces, as in the dataset) is split on
    the spaces; raw Chinese text without spaces is cut by forward maximum matching against the
    dictionary, one character at a time where no dictionary word matches."""
    text = text.strip()
    if any(c.isspace() for c in text):
        return text.split()
    words, i = [], 0
    while i < len(text):
        for n in range(min(vocab.max_word_len, len(text) - i), 0, -1):
            if n == 1 or text[i:i + n] in vocab:
                words.append(text[i:i + n])
                i += n
                break
    return words


class TextDataset(paddle.io.Dataset):
    """Examples as (word ids, label id) pairs; `lengths` holds each example's length for bucketing."""

    def __init__(self, examples):
        self.examples = examples
        self.lengths = np.array([len(ids) for ids, _ in examples], dtype=np.int64)

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def parse_line(line, path, lineno, vocab, max_seq_len):
    """(word ids, label id) of one data line; DataError naming the file and line when it is bad."""
    fields = line.split("\t")
    if len(fields) != len(COLUMNS):
        raise utils.DataError(f"{path}:{lineno}: expected {len(COLUMNS)} tab-separated fields "
                              f"({', '.join(COLUMNS)}), got {len(fields)}")
    row = dict(zip(COLUMNS, fields))
    label = row["label"].strip()
    if label not in LABELS:
        raise utils.DataError(f"{path}:{lineno}: unknown label {label!r} (expected one of {', '.join(LABELS)})")
    words = row["text_a"].split()
    if not words:
        raise utils.DataError(f"{path}:{lineno}: empty text")
    return vocab.to_ids(words[:max_seq_len]), LABELS.index(label)


def read_examples(path, vocab, max_seq_len, skip_bad_samples=False, texts=None):
    """All examples of one TSV file and the number of bad lines skipped (with --skip_bad_samples).
    A `texts` list, if given, receives (line number, text as written) of each kept example."""
    header = "\t".join(COLUMNS)
    examples, skipped = [], 0
    for lineno, raw in raw_lines(path):
        if lineno == 1:
            line = _decode(raw, path, lineno)
            if line.strip() != header:
                raise utils.DataError(f"{path}:1: expected the header line {header!r}, got {line[:60]!r}")
            continue
        if not raw.strip():
            continue  # a blank line (often the last one) carries nothing
        try:
            line = _decode(raw, path, lineno)
            examples.append(parse_line(line, path, lineno, vocab, max_seq_len))
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
            continue
        if texts is not None:
            texts.append((lineno, line.split("\t")[COLUMNS.index("text_a")]))
    if not examples:
        raise utils.DataError(f"{path}:1: no examples in the file")
    return examples, skipped


def load_split(data_dir, split, vocab, max_seq_len, skip_bad_samples=False, verbose=True):
    path = os.path.join(data_dir, SPLITS[split])
    examples, skipped = read_examples(path, vocab, max_seq_len, skip_bad_samples)
    if skipped and verbose and utils.is_main_process():
        print(f"skipped {skipped} bad line(s) in {path}", flush=True)
    return TextDataset(examples)


def load_vocab(data_dir):
    return Vocab.load(os.path.join(data_dir, VOCAB_FILE))


def run_vocab_path(run_dir, data_dir):
    """The dictionary a run was trained with: the copy train.py keeps in OUTPUT_DIR/MODEL/ (it shapes
    the embedding), else DATA_DIR's."""
    own = os.path.join(run_dir, VOCAB_FILE)
    return own if os.path.isfile(own) else os.path.join(data_dir, VOCAB_FILE)


class LengthBucketSampler(paddle.io.BatchSampler):
    """Batches of indices whose examples have similar lengths, so padding stays small.

    Training: the shuffled order (by seed and epoch) is cut into pools of `pool_batches` batches; each
    pool is sorted by length and cut into batches, and the batches are shuffled. Evaluation: the whole
    set sorted by length. `set_epoch(epoch, start_batch)` starts mid-epoch, so that --resume neither
    re-reads nor skips a text; with `shard` each rank gets an equal share of the data (eval sets come
    already sharded, without duplicates)."""

    def __init__(self, lengths, batch_size, shuffle=True, drop_last=False, seed=0, pool_batches=50, shard=True):
        self.lengths, self.num_samples = np.asarray(lengths), len(lengths)
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.pool_batches, self.shard = pool_batches, shard
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def _batches(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        world = utils.world_size()
        if self.shard and world > 1:
            per_rank = self.num_samples // world  # equal shares keep the ranks in step
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        pool = self.batch_size * self.pool_batches if self.shuffle else len(order)
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __len__(self):
        """Batches in a whole epoch (not counting a resumed epoch's skipped start)."""
        return len(self._batches())


def collate(examples, pad_id):
    """Pad a batch to its longest example: ids [B, T], lengths [B], labels [B] (all int64 numpy)."""
    lengths = np.array([len(ids) for ids, _ in examples], dtype=np.int64)
    ids = np.full((len(examples), lengths.max()), pad_id, dtype=np.int64)
    for row, (seq, _) in enumerate(examples):
        ids[row, :len(seq)] = seq
    labels = np.array([label for _, label in examples], dtype=np.int64)
    return ids, lengths, labels
