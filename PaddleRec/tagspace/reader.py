"""The only data path of TagSpace: the AG News csv files (or the release's preprocessed id files),
the tokenizer, the vocabulary, the dev split, length-bucketed batches and padding.

Two on-disk layouts are read (`data_format` tells them apart):

csv, AG News as published (https://github.com/mhjabreel/CharCNN/tree/master/data/ag_news_csv):
    train.csv, test.csv   one news item a line, `"class","title","description"`; class is 1..N
    classes.txt           optional: the name of class k on line k (World, Sports, Business, Sci/Tech)
    dev.csv               optional: a dev split of its own
  The text is the title and the description, lower-cased and cut into runs of letters and digits.
  The vocabulary is built from the training lines only (not dev, not test), most frequent first;
  a word it lacks maps to the UNK id and is counted.

ids, the preprocessed format of the release (PaddlePaddle/models release/1.7 PaddleRec/tagspace):
    train_data/*, test_data/*   one text a line, `tag_id,word_id word_id ...` (0-based ids)
    vocab_text.txt, vocab_tag.txt   each a single number: the size of the word and of the tag table
  A word id outside [0, size) maps to the UNK id and is counted.

Without a dev split of its own, every DEV_EVERY-th training line (lines 20, 40, ...) is the dev split
and is never trained on. A text without any word is skipped and counted; a malformed line, an unknown
class and a byte that is not UTF-8 stop with `file:line: what` (or, with --skip_bad_samples, are
skipped and counted). Word ids: the known words 0..n-1, then UNK = n, then PAD = n + 1.
"""
import collections
import csv
import glob
import json
import os
import re
import sys

import numpy as np
import paddle

import utils
from utils import DataError

CSV_FILES = {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"}
CLASSES_FILE = "classes.txt"
ID_DIRS = {"train": "train_data", "dev": "dev_data", "test": "test_data"}
VOCAB_TEXT, VOCAB_TAG = "vocab_text.txt", "vocab_tag.txt"
RUN_VOCAB = "vocab.json"  # what a run was trained with; eval/export/infer read this copy
CSV_COLUMNS = ("class", "title", "description")
MAX_SEQ_LEN = 256
DEV_EVERY = 20
MOSTLY_UNKNOWN = 0.5  # above this share of unknown words a split gets a loud warning

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text):
    """Lower-cased runs of letters and digits. AG News writes line breaks and some characters as
    backslash escapes (`\\n`, `\\$`); the backslash is a separator."""
    return _WORD.findall(text.replace("\\", " ").lower())


def data_format(data_dir):
    """'ids' for the release's preprocessed layout, 'csv' for AG News; DataError for neither."""
    if os.path.isfile(os.path.join(data_dir, VOCAB_TEXT)) and os.path.isdir(os.path.join(data_dir, ID_DIRS["train"])):
        return "ids"
    if os.path.isfile(os.path.join(data_dir, CSV_FILES["train"])):
        return "csv"
    raise DataError(f"{os.path.join(data_dir, CSV_FILES['train'])}: file not found (expected AG News "
                    f"train.csv/test.csv, or the release's {ID_DIRS['train']}/ with {VOCAB_TEXT})")


def split_source(data_dir, split, fmt, dev_every=DEV_EVERY):
    """(files, part) of a split. part 'all' takes every line; without a dev split of its own, 'train'
    and 'dev' share the training files: every dev_every-th line is dev."""
    def files_of(name):
        if fmt == "csv":
            path = os.path.join(data_dir, CSV_FILES[name])
            return [path] if os.path.isfile(path) else []
        return sorted(p for p in glob.glob(os.path.join(data_dir, ID_DIRS[name], "*")) if os.path.isfile(p))

    if split == "test" or files_of("dev"):
        files = files_of(split)
        if not files:
            where = CSV_FILES[split] if fmt == "csv" else ID_DIRS[split] + "/"
            raise DataError(f"{os.path.join(data_dir, where)}: file not found")
        return files, "all"
    if dev_every < 2:
        raise DataError(f"{os.path.join(data_dir, CSV_FILES['dev'])}: file not found, and --dev_every {dev_every} "
                        "holds out no training lines for a dev split (use 2 or more)")
    files = files_of("train")
    if not files:
        raise DataError(f"{os.path.join(data_dir, ID_DIRS['train'])}/: no files")
    return files, split


def in_part(lineno, part, dev_every):
    return part == "all" or (lineno % dev_every == 0) == (part == "dev")


def raw_lines(path):
    """(line number, bytes) of each line, undecoded, so that --skip_bad_samples can skip a line that
    is not UTF-8."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


def count_lines(path):
    """Lines of a file, counted in binary chunks (for the progress line of a long read)."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


# ------------------------------------------------------------------------------------------ one line

def parse_csv_line(line, path, lineno, num_tags=None):
    """(tag index, title + description) of an AG News line. num_tags None accepts any class >= 1."""
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error as e:
        raise DataError(f"{path}:{lineno}: malformed csv line ({e})") from None
    fields = rows[0] if rows else []
    if len(fields) != len(CSV_COLUMNS):
        raise DataError(f"{path}:{lineno}: expected {len(CSV_COLUMNS)} comma-separated fields "
                        f"({','.join(CSV_COLUMNS)}), got {len(fields)}")
    label = fields[0].strip()
    if not label.isdigit() or int(label) < 1 or (num_tags is not None and int(label) > num_tags):
        expected = f"1..{num_tags}" if num_tags else "an integer from 1"
        raise DataError(f"{path}:{lineno}: class {label!r} is not one of {expected}")
    return int(label) - 1, fields[1] + " " + fields[2]


def parse_id_line(line, path, lineno, num_tags):
    """(tag index, [word ids]) of a line of the release's format `tag_id,word_id word_id ...`."""
    fields = line.split(",")
    if len(fields) != 2:
        raise DataError(f"{path}:{lineno}: expected `tag_id,word_id word_id ...`, got {len(fields)} "
                        "comma-separated fields")
    tag = fields[0].strip()
    if not tag.isdigit() or int(tag) >= num_tags:
        raise DataError(f"{path}:{lineno}: tag id {tag!r} is not in [0, {num_tags}) set by {VOCAB_TAG}")
    tokens = fields[1].split()
    bad = next((t for t in tokens if not (t.isdigit() or (t[:1] == "-" and t[1:].isdigit()))), None)
    if bad is not None:
        raise DataError(f"{path}:{lineno}: word id {bad!r} is not an integer")
    return int(tag), [int(t) for t in tokens]


# ------------------------------------------------------------------------------------------ vocabulary

class Vocab:
    """Words and tags. Known words have ids 0..n-1 (csv: most frequent first; ids format: the
    release's ids), UNK is n and PAD n + 1, so the text table has n + 2 rows."""

    def __init__(self, fmt, tags, words=None, num_words=None, tag_counts=None):
        self.format, self.tags = fmt, list(tags)
        self.tag_counts = list(tag_counts) if tag_counts is not None else None  # in the training split
        self.words = list(words) if words is not None else None
        self.word_to_id = {w: i for i, w in enumerate(self.words)} if self.words is not None else None
        self.num_known = len(self.words) if self.words is not None else int(num_words)
        self.unk_id, self.pad_id = self.num_known, self.num_known + 1

    def __len__(self):
        """Rows of the text table: the known words, UNK and PAD."""
        return self.num_known + 2

    @property
    def num_tags(self):
        return len(self.tags)

    def to_ids(self, tokens):
        """Word ids of a text's tokens (words for csv, ids for the ids format); unknown ones are UNK."""
        if self.word_to_id is not None:
            return [self.word_to_id.get(t, self.unk_id) for t in tokens]
        return [t if 0 <= t < self.num_known else self.unk_id for t in tokens]

    def to_json(self):
        return {"format": self.format, "tags": self.tags, "tag_counts": self.tag_counts, "words": self.words,
                "num_words": self.num_known}

    @classmethod
    def from_json(cls, obj):
        return cls(obj["format"], obj["tags"], obj.get("words"), obj.get("num_words"), obj.get("tag_counts"))

    def save(self, path):
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        if not os.path.isfile(path):
            raise utils.CheckpointError(f"no vocabulary at {path}; train a run first")
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))


def read_size(path):
    """The single number of vocab_text.txt / vocab_tag.txt."""
    lines = [(n, t.strip()) for n, t in utils.read_lines(path) if t.strip()]
    if not lines or not lines[0][1].isdigit() or int(lines[0][1]) < 1:
        number, text = lines[0] if lines else (1, "")
        raise DataError(f"{path}:{number}: expected the table size as one positive integer, got {text!r}")
    return int(lines[0][1])


def read_class_names(data_dir):
    path = os.path.join(data_dir, CLASSES_FILE)
    if not os.path.isfile(path):
        return None
    return [t.strip() for _, t in utils.read_lines(path) if t.strip()]


# ------------------------------------------------------------------------------------------ records

class Stats:
    """What reading a file met: kept texts, bad lines and empty texts skipped, words, unknown words,
    texts cut to max_seq_len."""

    def __init__(self):
        self.texts = self.bad = self.empty = self.words = self.unknown = self.truncated = 0

    def add(self, other):
        for k, v in vars(other).items():
            setattr(self, k, getattr(self, k) + v)
        return self

    def summary(self, what):
        notes = [f"{self.texts} texts"]
        if self.empty:
            notes.append(f"{self.empty} empty texts skipped")
        if self.bad:
            notes.append(f"{self.bad} bad lines skipped")
        if self.unknown:
            notes.append(f"{self.unknown} of {self.words} words ({100 * self.unknown / max(self.words, 1):.1f}%) "
                         "not in the vocabulary, read as UNK")
        if self.truncated:
            notes.append(f"{self.truncated} texts cut to --max_seq_len")
        return f"{what}: " + "; ".join(notes)

    def report(self, what, out=None):
        """One line on stdout (or `out`); a loud line on stderr when most words are unknown."""
        if not utils.is_main_process():
            return
        print(self.summary(what), file=out or sys.stdout, flush=True)
        if self.words and self.unknown > MOSTLY_UNKNOWN * self.words:
            print(f"WARNING: {what}: {100 * self.unknown / self.words:.0f}% of the words are not in the vocabulary "
                  "the model was trained with; its tags mean little. Is this the data (and the tokenizer: "
                  "lower-cased English words) the run was trained on?", file=sys.stderr, flush=True)


def read_records(files, part, fmt, num_tags, dev_every=DEV_EVERY, skip_bad=False, keep=None):
    """[(tag index, tokens)] of the lines of `part`, and Stats. Tokens are words (csv) or ids (ids).
    Empty texts are skipped and counted. keep, a list, receives (path, lineno) of each kept text."""
    records, stats = [], Stats()
    for path in files:
        parse = parse_csv_line if fmt == "csv" else parse_id_line
        for lineno, raw in utils.progress(raw_lines(path), count_lines(path), f"reading {path}"):
            if not in_part(lineno, part, dev_every):
                continue
            if not raw.strip():
                continue  # a blank line (often the last) carries nothing
            try:
                tag, text = parse(decode(raw, path, lineno), path, lineno, num_tags)
            except DataError:
                if not skip_bad:
                    raise
                stats.bad += 1
                continue
            tokens = tokenize(text) if fmt == "csv" else text
            if not tokens:
                stats.empty += 1
                continue
            records.append((tag, tokens))
            if keep is not None:
                keep.append((path, lineno))
    return records, stats


def build_vocab(data_dir, dev_every=DEV_EVERY, min_freq=1, skip_bad=False):
    """The run's vocabulary and the training records: csv words of the training lines seen at least
    min_freq times, most frequent first; the ids format takes the release's table sizes."""
    fmt = data_format(data_dir)
    files, part = split_source(data_dir, "train", fmt, dev_every)
    if fmt == "ids":
        num_tags = read_size(os.path.join(data_dir, VOCAB_TAG))
        records, stats = read_records(files, part, fmt, num_tags, dev_every, skip_bad)
        vocab = Vocab(fmt, [str(t) for t in range(num_tags)], num_words=read_size(os.path.join(data_dir, VOCAB_TEXT)))
    else:
        names = read_class_names(data_dir)
        records, stats = read_records(files, part, fmt, len(names) if names else None, dev_every, skip_bad)
        if not records:
            raise DataError(f"{files[0]}:0: no training texts")
        num_tags = len(names) if names else max(tag for tag, _ in records) + 1
        counts = collections.Counter(w for _, tokens in records for w in tokens)
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_freq]
        vocab = Vocab(fmt, names or [str(c + 1) for c in range(num_tags)], words=words)
    if not records:
        raise DataError(f"{files[0]}:0: no training texts")
    vocab.tag_counts = np.bincount([tag for tag, _ in records], minlength=vocab.num_tags).tolist()
    if vocab.num_tags < 2:
        raise DataError(f"{files[0]}:0: {vocab.num_tags} tag: TagSpace ranks the true tag above others, it needs two or more")
    return vocab, records, stats


class TagDataset(paddle.io.Dataset):
    """(word ids, tag index) pairs; `lengths` for bucketing."""

    def __init__(self, examples):
        self.examples = examples
        self.lengths = np.array([len(ids) for ids, _ in examples], dtype=np.int64)

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def encode(records, vocab, max_seq_len, stats):
    """Records -> TagDataset of word ids, cut to max_seq_len; counts words and unknown words."""
    examples = []
    for tag, tokens in records:
        ids = vocab.to_ids(tokens[:max_seq_len])
        stats.texts += 1
        stats.words += len(ids)
        stats.unknown += sum(i == vocab.unk_id for i in ids)
        stats.truncated += len(tokens) > max_seq_len
        examples.append((ids, tag))
    return TagDataset(examples)


def load_split(data_dir, split, vocab, max_seq_len=MAX_SEQ_LEN, dev_every=DEV_EVERY, skip_bad=False,
               verbose=True, keep=None):
    """A split ('dev' or 'test'; 'train' too) as a TagDataset read with the run's vocabulary."""
    fmt = data_format(data_dir)
    if fmt != vocab.format:
        raise DataError(f"{data_dir}: {fmt} data, but the run was trained on {vocab.format} data")
    files, part = split_source(data_dir, split, fmt, dev_every)
    records, stats = read_records(files, part, fmt, vocab.num_tags, dev_every, skip_bad, keep)
    if not records:
        raise DataError(f"{files[0]}:0: no texts in the {split} split")
    dataset = encode(records, vocab, max_seq_len, stats)
    if verbose:
        stats.report(f"{split} split ({', '.join(files)}{'' if part == 'all' else f', every {dev_every}th line' if part == 'dev' else ''})")
    return dataset


# ------------------------------------------------------------------------------------------ batches

class LengthBucketSampler(paddle.io.BatchSampler):
    """Batches of indices whose texts have similar lengths, so padding stays small.

    Training: the shuffled order (by seed and epoch) is cut into pools of `pool_batches` batches; each
    pool is sorted by length and cut into batches, and the batches are shuffled. Evaluation: the whole
    set sorted by length. `set_epoch(epoch, start_batch)` starts mid-epoch (resume); with `shard`
    each rank gets an equal share of the training data."""

    def __init__(self, lengths, batch_size, shuffle=True, seed=0, pool_batches=50, shard=True):
        self.lengths, self.num_samples = np.asarray(lengths), len(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
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
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __len__(self):
        return len(self._batches())


def collate(examples, pad_id):
    """Pad a batch to its longest text: ids [B, T], lengths [B], tags [B] (int64 numpy)."""
    lengths = np.array([len(ids) for ids, _ in examples], dtype=np.int64)
    ids = np.full((len(examples), max(lengths.max(), 1)), pad_id, dtype=np.int64)
    for row, (seq, _) in enumerate(examples):
        ids[row, :len(seq)] = seq
    tags = np.array([tag for _, tag in examples], dtype=np.int64)
    return ids, lengths, tags
