"""The only data path: the PTB text files, their vocabulary, and the [batch, num_steps] streams.

On-disk layout (Mikolov's simple-examples/data, also what make_demo_data.py writes):

    DATA_DIR/ptb.train.txt   ptb.valid.txt   ptb.test.txt

one tokenised sentence per line, tokens separated by spaces, rare words already replaced by `<unk>`.
Each line ends with an end-of-sentence token `<eos>` when read. The vocabulary is every token of the
training file plus `<eos>`, ordered by frequency (ties by spelling), so ids are the same on every run;
on PTB it has exactly 10000 entries.

Each split is read as one long token stream, cut into `batch_size` rows; training walks the rows
`num_steps` tokens at a time, and the LSTM state at the end of one chunk starts the next (truncated
BPTT). The sentences are never shuffled: neighbouring sentences come from the same article.
"""
import collections
import os

import numpy as np

import utils

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")


def split_path(data_dir, split):
    return os.path.join(data_dir, f"ptb.{split}.txt")


def read_sentences(path, skip_bad=False):
    """Token lists of a PTB file, and how many bad lines were skipped.

    A bad line (invalid UTF-8, or no tokens) raises utils.DataError naming the file and line, or with
    skip_bad is skipped and counted."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    sentences, skipped = [], 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                tokens = raw.decode("utf-8").split()
                if not tokens:
                    raise utils.DataError(f"{path}:{lineno}: empty sentence")
            except UnicodeDecodeError as e:
                error = utils.DataError(f"{path}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})")
            except utils.DataError as e:
                error = e
            else:
                sentences.append((lineno, tokens))
                continue
            if not skip_bad:
                raise error
            skipped += 1
            print(f"skipped bad sample: {error}", flush=True)
    if not sentences:
        raise utils.DataError(f"{path}:1: no sentences in the file")
    return sentences, skipped


class Vocabulary:
    """Word <-> id. Words outside it become `<unk>` when the vocabulary has one."""

    def __init__(self, words):
        self.words = list(words)
        self.ids = {w: i for i, w in enumerate(self.words)}
        if len(self.ids) != len(self.words):
            raise ValueError("duplicate words in the vocabulary")
        self.eos_id = self.ids[EOS]
        self.unk_id = self.ids.get(UNK)

    def __len__(self):
        return len(self.words)

    @classmethod
    def from_sentences(cls, sentences):
        counts = collections.Counter(t for _, tokens in sentences for t in tokens)
        counts[EOS] += len(sentences)
        return cls(w for w, _ in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])))

    @classmethod
    def load(cls, path):
        """The vocabulary train.py saved with its run (one word a line)."""
        if not os.path.isfile(path):
            raise utils.CheckpointError(f"no vocabulary at {path}; it is written by train.py")
        return cls(text for _, text in utils.read_lines(path) if text.strip())

    def save(self, path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(w + "\n" for w in self.words)

    def encode(self, tokens, where=None):
        """Token ids; an unknown word is `<unk>`, or a DataError at `where` without one."""
        ids = []
        for token in tokens:
            i = self.ids.get(token, self.unk_id)
            if i is None:
                raise utils.DataError(f"{where}: word {token!r} is not in the vocabulary, which has no {UNK}")
            ids.append(i)
        return ids

    def decode(self, ids):
        return [self.words[i] for i in ids]


def sentences_to_stream(sentences, vocab, path, skip_bad=False):
    """One int64 id stream: each sentence's ids followed by <eos>. Returns (stream, skipped lines)."""
    ids, skipped = [], 0
    for lineno, tokens in sentences:
        try:
            ids.extend(vocab.encode(tokens, f"{path}:{lineno}"))
        except utils.DataError as e:
            if not skip_bad:
                raise
            skipped += 1
            print(f"skipped bad sample: {e}", flush=True)
            continue
        ids.append(vocab.eos_id)
    return np.asarray(ids, dtype=np.int64), skipped


def load_corpus(data_dir, splits=SPLITS, skip_bad=False, vocab=None):
    """(vocabulary, {split: id stream}, number of bad lines skipped). The vocabulary is built from
    ptb.train.txt unless one is given (eval/infer use the run's own, saved by train.py)."""
    skipped, train_sentences = 0, None
    if vocab is None:
        train_sentences, skipped = read_sentences(split_path(data_dir, "train"), skip_bad)
        vocab = Vocabulary.from_sentences(train_sentences)
    streams = {}
    for split in splits:
        path = split_path(data_dir, split)
        sentences, bad = ((train_sentences, 0) if split == "train" and train_sentences is not None
                          else read_sentences(path, skip_bad))
        streams[split], unknown = sentences_to_stream(sentences, vocab, path, skip_bad)
        skipped += bad + unknown
    return vocab, streams, skipped


class StreamBatches:
    """(x, y) int64 chunks of shape [rows, num_steps] from an id stream, y being x shifted by one.

    The stream is cut into `total_rows` equal rows (the tail that does not fill a row is dropped);
    this process reads the rows `rows` selects (all by default; a rank's share under data parallel).
    Consecutive chunks continue each row, so the LSTM state carries over from one chunk to the next.
    `keep_tail` also yields the last, shorter chunk (eval scores every token of the rows); training
    drops it, as the original recipe does, so every step has the same shape. `start` skips chunks,
    for a resumed epoch."""

    def __init__(self, stream, total_rows, num_steps, rows=None, keep_tail=False):
        row_len = len(stream) // total_rows
        if row_len < 2:
            raise ValueError(f"a stream of {len(stream)} tokens is too short for {total_rows} rows")
        data = stream[:total_rows * row_len].reshape(total_rows, row_len)
        self.data = data if rows is None else data[rows]
        self.num_steps = num_steps
        full, tail = divmod(row_len - 1, num_steps)
        self.num_batches = full + (1 if keep_tail and tail else 0)
        self.start = 0

    def __len__(self):
        return self.num_batches

    def __iter__(self):
        for i in range(self.start, self.num_batches):
            begin = i * self.num_steps
            end = min(begin + self.num_steps, self.data.shape[1] - 1)
            yield self.data[:, begin:end], self.data[:, begin + 1:end + 1]
