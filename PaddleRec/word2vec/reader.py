"""The only data path of word2vec: the corpus (text8 or 1-billion-word layout), the vocabulary with
its counts, sub-sampling of frequent words, the unigram^0.75 noise table, the skip-gram pairs with
their negatives, and the analogy questions.

Corpus layouts (`--data_dir`):
    text8 layout        DATA_DIR/text8: one file, one line of space-separated lowercase words
    1-billion layout    DATA_DIR/training-monolingual.tokenized.shuffled/news.en-*: a directory of
                        shards, one tokenized sentence per line
    any other           --corpus FILE_OR_DIR: one file, or every file of a directory (sorted)
A line is a sentence: a context window never crosses a line break (text8 is one long sentence).

Preprocessing (the release's preprocess.py, done by train.py before the first step): every line is
lowercased and, with --text_filter release (the default), stripped of every character outside a-z;
words seen fewer than --min_count times become <UNK> (their counts summed on its row), the rest keep
their own id, most frequent first. The vocabulary is written as `word count` lines (vocab.txt).

Each epoch draws anew, per chunk of CHUNK_TOKENS corpus words, from a seed made of (seed, epoch,
rank, chunk): which words are kept by sub-sampling (keep probability (sqrt(f/(t*N)) + 1) * t*N / f
for a word seen f times in N, threshold t), a window 1..W for each kept word, the order of the
chunk's (center, context) pairs and NEG_NUM negatives per pair from the unigram^0.75 table. So an
epoch is the same on every run, and a resumed run regenerates its position instead of storing it.
Chunk c belongs to rank c % world_size.
"""
import glob
import os
import re

import numpy as np
import paddle

import utils
from utils import DataError

TEXT8_FILE = "text8"
BILLION_DIR = "training-monolingual.tokenized.shuffled"
QUESTIONS_FILE = "questions-words.txt"
DEV_QUESTIONS_FILE = "questions-dev.txt"
VOCAB_FILE = "vocab.txt"
UNK = "<UNK>"
CHUNK_TOKENS = 100000  # corpus words per chunk (the unit of sharding, shuffling and resuming)
_NOT_AZ = re.compile(r"[^a-z\s]+")


# ----------------------------------------------------------------------------------------------
# files

def corpus_files(data_dir, corpus=None):
    """The corpus files: --corpus (a file or a directory), else DATA_DIR/text8, else the 1-billion
    shards DATA_DIR/training-monolingual.tokenized.shuffled/*."""
    if corpus:
        if os.path.isdir(corpus):
            files = sorted(p for p in glob.glob(os.path.join(corpus, "*")) if os.path.isfile(p))
            if not files:
                raise DataError(f"{corpus}:0: the corpus directory holds no files")
            return files
        if not os.path.isfile(corpus):
            raise DataError(f"{corpus}:0: no such corpus file")
        return [corpus]
    text8 = os.path.join(data_dir, TEXT8_FILE)
    if os.path.isfile(text8):
        return [text8]
    billion = os.path.join(data_dir, BILLION_DIR)
    if os.path.isdir(billion):
        return corpus_files(data_dir, billion)
    raise DataError(f"{text8}:0: no such file, and no {billion}/ either (the text8 or the 1-billion-word layout; "
                    "or pass --corpus)")


def count_lines(files):
    """Lines per file, counted in binary chunks (for the progress line's ETA)."""
    counts = []
    for path in files:
        n, last = 0, b"\n"
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                n += chunk.count(b"\n")
                last = chunk[-1:]
        counts.append(n + (last != b"\n"))
    return counts


def normalize(line, text_filter):
    """The release's text rule: lowercase, and with 'release' drop every character outside a-z."""
    line = line.lower()
    return _NOT_AZ.sub("", line) if text_filter == "release" else line


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def corpus_lines(files, text_filter, skip_bad=False, bad=None):
    """(path, line number, words) of every line, normalised. A line that is not UTF-8 stops the
    run with file:line, or (skip_bad) is skipped and counted in bad[0]."""
    for path in files:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    text = decode(raw, path, lineno)
                except DataError:
                    if not skip_bad:
                        raise
                    bad[0] += 1
                    continue
                yield path, lineno, normalize(text, text_filter).split()


# ----------------------------------------------------------------------------------------------
# vocabulary

class Vocab:
    """Words most frequent first, <UNK> among them at the place of its (summed) count, as the
    release's dictionary; `counts[i]` is how often word i (or the words <UNK> stands for) occurs."""

    def __init__(self, words, counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.word_to_id = {w: i for i, w in enumerate(self.words)}
        self.unk_id = self.word_to_id.get(UNK)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.word_to_id and word != UNK

    def id(self, word):
        """The id of a vocabulary word, or None (an out-of-vocabulary word, or <UNK> itself)."""
        i = self.word_to_id.get(word)
        return None if word == UNK else i

    def save(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(f"{w} {c}\n" for w, c in zip(self.words, self.counts))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        words, counts = [], []
        for lineno, line in utils.read_lines(path):
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit():
                raise DataError(f"{path}:{lineno}: expected `word count`, got {line[:60]!r}")
            words.append(parts[0])
            counts.append(int(parts[1]))
        if not words:
            raise DataError(f"{path}:0: the vocabulary is empty")
        return cls(words, counts)


def build_corpus(files, min_count, text_filter="release", skip_bad=False, what="reading the corpus"):
    """One pass over the corpus: the vocabulary (words seen at least min_count times, the rest
    <UNK>), the corpus as an int32 array of ids and the offsets where its lines (sentences) start.
    Returns (vocab, ids, line_starts, bad lines skipped)."""
    provisional, chunks, starts, bad, total = {}, [], [], [0], 0
    lines = corpus_lines(files, text_filter, skip_bad, bad)
    for _, _, words in utils.progress(lines, sum(count_lines(files)), what):
        if not words:
            continue
        starts.append(total)
        chunks.append(np.fromiter((provisional.setdefault(w, len(provisional)) for w in words),
                                  dtype=np.int32, count=len(words)))
        total += len(words)
    if total == 0:
        raise DataError(f"{files[0]}:0: the corpus is empty (no words"
                        + (f" after skipping {bad[0]} bad lines" if bad[0] else "") + ")")
    ids = np.concatenate(chunks)
    del chunks
    counts = np.bincount(ids, minlength=len(provisional))
    names = np.empty(len(provisional), dtype=object)
    for word, i in provisional.items():
        names[i] = word
    kept = np.flatnonzero(counts >= min_count)
    unk_count = int(counts.sum() - counts[kept].sum())
    if len(kept) == 0:
        raise DataError(f"{files[0]}:0: no word occurs {min_count} times (--min_count); the vocabulary is empty")
    words = list(names[kept]) + [UNK]
    word_counts = list(counts[kept]) + [unk_count]
    # Most frequent first; ties by word, so the vocabulary does not depend on the corpus order.
    order = sorted(range(len(words)), key=lambda i: (-word_counts[i], words[i]))
    vocab = Vocab([words[i] for i in order], [word_counts[i] for i in order])
    remap = np.full(len(provisional), vocab.unk_id, dtype=np.int32)
    remap[kept] = [vocab.word_to_id[w] for w in names[kept]]
    return vocab, remap[ids], np.asarray(starts, dtype=np.int64), bad[0]


def keep_probabilities(counts, threshold):
    """The release's (and word2vec's) sub-sampling: a word seen f times in N words is kept with
    probability (sqrt(f / (t N)) + 1) * t N / f, capped at 1; t = 0 keeps every word."""
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    if threshold <= 0:
        return np.ones_like(counts)
    tn = threshold * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / tn) + 1.0) * tn / counts)


def noise_cdf(counts, power=0.75):
    """Cumulative unigram^power distribution: negatives are searchsorted(cdf, uniform draws)."""
    weights = np.power(np.maximum(np.asarray(counts, dtype=np.float64), 0.0), power)
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf


# ----------------------------------------------------------------------------------------------
# skip-gram pairs

def window_pairs(kept_ids, kept_sent, windows, max_window):
    """(center, context) of every word and each word within its window (1..windows[i] either side)
    in the same sentence, in a fixed order."""
    centers, contexts = [], []
    n = len(kept_ids)
    for offset in range(1, max_window + 1):
        if offset >= n:
            break
        left, right = np.arange(n - offset), np.arange(offset, n)
        same = kept_sent[left] == kept_sent[right]
        fwd = same & (windows[left] >= offset)   # the word at `left` sees `right`
        bwd = same & (windows[right] >= offset)  # the word at `right` sees `left`
        centers += [kept_ids[left[fwd]], kept_ids[right[bwd]]]
        contexts += [kept_ids[right[fwd]], kept_ids[left[bwd]]]
    if not centers:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centers).astype(np.int64), np.concatenate(contexts).astype(np.int64)


class PairStream:
    """The skip-gram training pairs of one rank, epoch by epoch; see the module docstring.

    batches(epoch, start) yields (center [B], context [B], negatives [B, neg_num]) int64 arrays,
    from batch `start` of the epoch on; the last incomplete batch of an epoch is dropped.
    """

    def __init__(self, ids, line_starts, vocab_counts, *, window, neg_num, batch_size, subsample, seed,
                 rank=0, world_size=1, chunk_tokens=CHUNK_TOKENS):
        self.ids, self.line_starts = ids, line_starts
        self.window, self.neg_num, self.batch_size, self.seed = window, neg_num, batch_size, seed
        self.keep = keep_probabilities(vocab_counts, subsample)
        self.cdf = noise_cdf(vocab_counts)
        self.rank, self.world_size, self.chunk_tokens = rank, world_size, chunk_tokens
        self.num_chunks = -(-len(ids) // chunk_tokens)
        self._sizes = {}

    def chunks(self, rank=None):
        rank = self.rank if rank is None else rank
        return range(rank, self.num_chunks, self.world_size)

    def _chunk(self, epoch, rank, chunk, with_negatives=True):
        """The shuffled pairs (and negatives) of one chunk of one epoch."""
        rng = np.random.default_rng([self.seed, epoch, rank, chunk])
        lo = chunk * self.chunk_tokens
        ids = self.ids[lo:lo + self.chunk_tokens]
        sent = np.searchsorted(self.line_starts, np.arange(lo, lo + len(ids)), side="right")
        kept = rng.random(len(ids)) < self.keep[ids]
        ids, sent = ids[kept], sent[kept]
        windows = rng.integers(1, self.window + 1, len(ids))
        centers, contexts = window_pairs(ids, sent, windows, self.window)
        if not with_negatives:
            return len(centers)
        order = rng.permutation(len(centers))
        negatives = np.searchsorted(self.cdf, rng.random((len(centers), self.neg_num)), side="right")
        return centers[order], contexts[order], negatives.astype(np.int64)

    def pairs_per_chunk(self, epoch, rank=None):
        rank = self.rank if rank is None else rank
        key = (epoch, rank)
        if key not in self._sizes:
            self._sizes[key] = [self._chunk(epoch, rank, c, with_negatives=False) for c in self.chunks(rank)]
        return self._sizes[key]

    def steps(self, epoch):
        """Batches of the epoch, the same on every rank: the fewest any rank has (ranks that have
        more leave their last pairs out of the epoch, so that no rank waits for another)."""
        return min(sum(self.pairs_per_chunk(epoch, r)) // self.batch_size for r in range(self.world_size))

    def batches(self, epoch, start=0):
        """The epoch's batches from batch `start` (resume): chunks before it are skipped unread."""
        steps, skip = self.steps(epoch), start * self.batch_size
        if start >= steps:
            return
        sizes = self.pairs_per_chunk(epoch)
        pending, emitted = [], start
        for chunk, size in zip(self.chunks(), sizes):
            if skip >= size:
                skip -= size
                continue
            centers, contexts, negatives = self._chunk(epoch, self.rank, chunk)
            pending.append((centers[skip:], contexts[skip:], negatives[skip:]))
            skip = 0
            buffered = sum(len(p[0]) for p in pending)
            if buffered < self.batch_size:
                continue
            centers, contexts, negatives = (np.concatenate(a) for a in zip(*pending))
            whole = len(centers) // self.batch_size * self.batch_size
            for i in range(0, whole, self.batch_size):
                yield centers[i:i + self.batch_size], contexts[i:i + self.batch_size], negatives[i:i + self.batch_size]
                emitted += 1
                if emitted == steps:
                    return
            pending = [(centers[whole:], contexts[whole:], negatives[whole:])]


class BatchDataset(paddle.io.IterableDataset):
    """The PairStream of one epoch, for a DataLoader (one worker at most: the stream is one sequence)."""

    def __init__(self, stream):
        self.stream, self.epoch, self.start = stream, 0, 0

    def set_epoch(self, epoch, start=0):
        self.epoch, self.start = epoch, start

    def __iter__(self):
        yield from self.stream.batches(self.epoch, self.start)


# ----------------------------------------------------------------------------------------------
# analogy questions

def read_questions(path, skip_bad=False):
    """The questions of a file in the questions-words.txt format: `: section` lines, then lines of
    four words `a b c d` (a is to b as c is to d). Returns ([(section, lineno, (a, b, c, d))], bad)."""
    questions, bad, section = [], 0, "(no section)"
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file (analogy questions: `: section` lines, then `a b c d` lines)")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                text = decode(raw, path, lineno).strip()
                if not text:
                    continue
                if text.startswith(":"):
                    section = text[1:].strip() or "(no section)"
                    continue
                words = text.lower().split()
                if len(words) != 4:
                    raise DataError(f"{path}:{lineno}: an analogy line needs four words (a b c d), got {len(words)}")
            except DataError:
                if not skip_bad:
                    raise
                bad += 1
                continue
            questions.append((section, lineno, tuple(words)))
    if not questions:
        raise DataError(f"{path}:0: no analogy questions in the file")
    return questions, bad


def question_split(data_dir, split, questions_path=None):
    """(path, part): the questions of a split. With DATA_DIR/questions-dev.txt, dev is that file and
    test the whole questions file; otherwise every dev_every-th question of the file is dev (it picks
    best.pdparams) and test is the rest, so that no test question is seen while choosing."""
    path = questions_path or os.path.join(data_dir, QUESTIONS_FILE)
    dev_file = os.path.join(data_dir, DEV_QUESTIONS_FILE)
    if os.path.isfile(dev_file) and not questions_path:
        return (dev_file, "all") if split == "dev" else (path, "all")
    return path, split  # "all", or the dev/test share of the one file


def load_questions(data_dir, split, dev_every, skip_bad=False, questions_path=None):
    path, part = question_split(data_dir, split, questions_path)
    questions, bad = read_questions(path, skip_bad)
    if part != "all":
        questions = [q for i, q in enumerate(questions, 1) if (i % dev_every == 0) == (part == "dev")]
    return path, questions, bad
