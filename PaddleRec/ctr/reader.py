"""The Criteo reader: raw Display Advertising Challenge lines -> batches of id and dense arrays.

On-disk format (train.txt of dac.tar.gz, split into files): one sample per line, 40 tab-separated
fields `label I1..I13 C1..C26`; label is 0 or 1, I are integers, C are 8-hex-digit strings, and any
field but the label may be empty. Kaggle's test.txt has the same lines without the label.

What the reader does:
- FeatureVocab: one pass over the training files counts every categorical value per field, keeps
  those seen at least `min_freq` times (ids 1..n per field; 0 is missing or out of vocabulary), and
  records each dense field's min and max and each file's line count. It also validates every line.
- Encoder: turns a block of lines into arrays. Dense features are scaled as the model's recipe says:
  "minmax" (DeepFM, xDeepFM: (x - min) / (max - min) clipped to [0, 1]) or "log" (DCN: log(1 + x - lo)
  with lo = min(0, train min), i.e. log(4 + x) for I2 and log(1 + x) for the others on Criteo).
  A missing dense value is 0 after scaling.
- The binary cache (build_cache, SplitCache): a split parsed and encoded once into .npy files of ids,
  scaled dense values and labels, opened with mmap_mode="r"; an epoch slices blocks of rows. It is
  rebuilt when the files (name, size, modification time), the vocabulary or the scaling change.
- The text stream (CriteoStream, for --no_cache or a disk without room for the cache): an
  IterableDataset that never holds the data in memory and parses on every pass. The files are one
  stream of lines cut into blocks of batch_size lines; block k goes to rank k % world_size, and each
  rank's blocks go round-robin to its DataLoader workers, so the batches arrive in a fixed order: the
  same as the cache's.

Every batch is (sparse_ids int64 [n, 26], dense float32 [n, 13], label float32 [n, 1], weight float32
[n, 1]). Bad lines are reported as `path:line: what is wrong`, or dropped and counted with skip_bad;
in the stream, the weight is 0 only for the placeholder row of a block whose lines were all bad, so
that every rank still takes the same number of steps.
"""
import collections
import datetime
import hashlib
import itertools
import json
import math
import os
import shutil
import time

import numpy as np
import paddle
from paddle.io.dataloader.collate import default_convert_fn

from utils import DataError, die_with_parent, is_main_process

NUM_DENSE = 13
NUM_SPARSE = 26
NUM_COLUMNS = 1 + NUM_DENSE + NUM_SPARSE
DENSE_NAMES = [f"I{i}" for i in range(1, NUM_DENSE + 1)]
SPARSE_NAMES = [f"C{i}" for i in range(1, NUM_SPARSE + 1)]
DENSE_SCALINGS = ("minmax", "log")
VOCAB_FORMAT = "criteo-vocab-1"
_MISSING = -(2 ** 62)  # marks an empty dense field while values are still integers
_READ_LINES = 20000  # lines per chunk in the vocabulary pass and the cache build
PROGRESS_EVERY = 5.0  # seconds between progress lines of long passes


def list_data_files(directory):
    """The data files of a split directory, sorted by name (hidden files are ignored)."""
    if not os.path.isdir(directory):
        raise DataError(f"{directory}: directory not found (expected Criteo files in it)")
    files = sorted(os.path.join(directory, n) for n in os.listdir(directory)
                   if not n.startswith(".") and os.path.isfile(os.path.join(directory, n)))
    if not files:
        raise DataError(f"{directory}: no data files in this directory")
    return files


# ------------------------------------------------------------------------------------------------
# parsing

def line_problem(raw, num_columns=NUM_COLUMNS):
    """What is wrong with one raw line (bytes, no newline), or None when it is a valid sample."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 text (byte {e.start + 1} of the line)"
    parts = raw.split(b"\t")
    if len(parts) != num_columns:
        return (f"expected {num_columns} tab-separated fields "
                f"({'label, ' if num_columns == NUM_COLUMNS else ''}13 integer, 26 categorical), "
                f"found {len(parts)}")
    if num_columns == NUM_COLUMNS:
        if parts[0] not in (b"0", b"1"):
            return f"label must be 0 or 1, found {_show(parts[0])}"
        parts = parts[1:]
    for name, value in zip(DENSE_NAMES, parts):
        if value:
            try:
                number = int(value)
            except ValueError:
                return f"{name} must be an integer, found {_show(value)}"
            if abs(number) >= -_MISSING:
                return f"{name} is out of range: {_show(value)}"
    return None


def _show(value):
    return repr(value.decode("latin-1"))


def _columns(lines, num_columns):
    """Split n lines into one flat token list; token i*num_columns + c is column c of line i."""
    blob = b"".join(lines)
    if not blob.isascii():
        blob.decode("utf-8")  # UnicodeDecodeError is a ValueError: the caller's slow path names the line
    if b"\r" in blob:  # files written on Windows
        blob = blob.replace(b"\r\n", b"\n")
    return blob.replace(b"\n", b"\t").split(b"\t"), len(lines) * num_columns


def parse_block(records, has_label=True, skip_bad=False):
    """Parse a block of lines.

    records: list of (path, lineno, raw) with raw the line's bytes ending in b"\\n".
    Returns (labels float32 [n] or None, dense int64 [n, 13] with _MISSING for empty fields,
    categorical: 26 lists of n byte strings, kept: indices of the records parsed, errors: messages
    of the records dropped). A bad line raises DataError naming its file and line, or is dropped
    when skip_bad.
    """
    num_columns = NUM_COLUMNS if has_label else NUM_COLUMNS - 1
    lines = [r[2] for r in records]
    try:
        return (*_parse_lines(lines, num_columns), list(range(len(records))), [])
    except (ValueError, OverflowError):
        pass  # some line is bad: find which, the slow way
    kept, errors = [], []
    for i, (path, lineno, raw) in enumerate(records):
        problem = line_problem(raw.rstrip(b"\r\n"), num_columns)
        if problem is None:
            kept.append(i)
        elif skip_bad:
            errors.append(f"{path}:{lineno}: {problem}")
        else:
            raise DataError(f"{path}:{lineno}: {problem}")
    return (*_parse_lines([lines[i] for i in kept], num_columns), kept, errors)


def _parse_lines(lines, num_columns):
    """The fast path over valid lines; raises ValueError if any line is not."""
    # The token count alone would miss one line short and another long, so count per line.
    if any(raw.count(b"\t") != num_columns - 1 for raw in lines):
        raise ValueError("field count")
    flat, end = _columns(lines, num_columns)
    first = 0
    labels = None
    if num_columns == NUM_COLUMNS:
        label_tokens = flat[0:end:num_columns]
        if not set(label_tokens) <= {b"0", b"1"}:
            raise ValueError("label")
        labels = np.array(label_tokens, dtype="S1").astype(np.float32)
        first = 1
    n = len(lines)
    dense_tokens = list(itertools.chain.from_iterable(
        flat[first + j:end:num_columns] for j in range(NUM_DENSE)))
    dense = np.array([int(t) if t else _MISSING for t in dense_tokens], dtype=np.int64)
    # line_problem's range |x| < 2 ** 62: a value equal to _MISSING would pass for an empty field
    if np.count_nonzero(dense == _MISSING) != dense_tokens.count(b"") or \
            ((dense >= -_MISSING) | (dense < _MISSING)).any():
        raise ValueError("dense range")
    dense = dense.reshape(NUM_DENSE, n).T
    categorical = [flat[first + NUM_DENSE + f:end:num_columns] for f in range(NUM_SPARSE)]
    return labels, dense, categorical


# ------------------------------------------------------------------------------------------------
# vocabulary and dense statistics

class FeatureVocab:
    """Categorical values kept per field (id = position + 1), dense min/max, and the training files
    they were counted on (name, bytes, lines), written as one JSON file."""

    def __init__(self, fields, dense_min, dense_max, files, min_freq, bad_lines=0, empty_files=0):
        self.fields, self.files, self.min_freq = fields, files, min_freq
        self.dense_min, self.dense_max = list(dense_min), list(dense_max)
        self.bad_lines, self.empty_files = bad_lines, empty_files
        self._digest = None

    @property
    def sizes(self):
        """Kept values per categorical field (the embedding tables hold one more row: id 0)."""
        return [len(values) for values in self.fields]

    @classmethod
    def build(cls, files, min_freq=10, skip_bad=False):
        """One pass over the training files (progress with an ETA on long passes)."""
        counters = [collections.Counter() for _ in range(NUM_SPARSE)]
        low = np.full(NUM_DENSE, np.inf)
        high = np.full(NUM_DENSE, -np.inf)
        chunks = ChunkReader(files, skip_bad, "feature vocabulary")
        for path, records in chunks:
            _, dense, categorical, kept, _ = parse_block(records, skip_bad=skip_bad)
            chunks.bad += len(records) - len(kept)
            for counter, tokens in zip(counters, categorical):
                counter.update(tokens)
            if kept:
                present = dense != _MISSING
                low = np.minimum(low, np.where(present, dense, np.iinfo(np.int64).max).min(0))
                high = np.maximum(high, np.where(present, dense, np.iinfo(np.int64).min).max(0))
        stats = [dict(file_stat(path), lines=lines) for path, lines in zip(files, chunks.lines)]
        fields = []
        for counter in counters:
            counter.pop(b"", None)
            kept_values = [v for v, c in counter.items() if c >= min_freq]
            # Most frequent first, ties by value: the same ids on every run.
            kept_values.sort(key=lambda v: (-counter[v], v))
            fields.append([v.decode("latin-1") for v in kept_values])
        # A field never seen gets the neutral range [0, 1].
        dense_min = [float(v) if np.isfinite(v) else 0.0 for v in low]
        dense_max = [float(v) if np.isfinite(v) else 1.0 for v in high]
        return cls(fields, dense_min, dense_max, stats, min_freq, chunks.bad, chunks.empty)

    def save(self, path):
        state = {"format": VOCAB_FORMAT, "min_freq": self.min_freq, "files": self.files,
                 "bad_lines": self.bad_lines, "empty_files": self.empty_files,
                 "dense_min": self.dense_min, "dense_max": self.dense_max,
                 "fields": dict(zip(SPARSE_NAMES, self.fields))}
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: cannot read the feature vocabulary ({e})")
        if state.get("format") != VOCAB_FORMAT:
            raise DataError(f"{path}: not a {VOCAB_FORMAT} file")
        return cls([state["fields"][n] for n in SPARSE_NAMES], state["dense_min"], state["dense_max"],
                   state["files"], state["min_freq"], state["bad_lines"], state["empty_files"])

    def matches(self, files):
        """True if files are the ones this vocabulary was counted on (same names, sizes and times)."""
        return [{k: s.get(k) for k in ("name", "bytes", "mtime_ns")} for s in self.files] == \
            [file_stat(p) for p in files]

    def digest(self):
        """A fingerprint of what encoding depends on (kept values, dense ranges); computed once, as
        every cache_key (and a waiting rank's poll) asks for it."""
        if self._digest is None:
            text = json.dumps([self.fields, self.dense_min, self.dense_max])
            self._digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
        return self._digest


def file_stat(path):
    """What tells that a data file changed: its name, size and modification time."""
    st = os.stat(path)
    return {"name": os.path.basename(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


class ChunkReader:
    """Iterates over files in chunks of lines: (path, records) with records [(path, lineno, raw)].
    Prints progress by bytes with an ETA every few seconds and counts each file's lines (`lines`);
    `bad` is for the caller to count the lines it dropped. An empty file is a DataError, or with
    skip_bad is counted in `empty`."""

    def __init__(self, files, skip_bad=False, what="reading", chunk_lines=None):
        self.files, self.skip_bad, self.what, self.chunk_lines = files, skip_bad, what, chunk_lines or _READ_LINES
        self.lines, self.bad, self.empty = [], 0, 0

    def __iter__(self):
        total = sum(os.path.getsize(p) for p in self.files)
        done, start, last = 0, time.time(), time.time()
        for path in self.files:
            lines = 0
            if os.path.getsize(path) == 0:
                if not self.skip_bad:
                    raise DataError(f"{path}: file is empty")
                self.empty += 1
            with open(path, "rb") as f:
                while True:
                    chunk = list(itertools.islice(f, self.chunk_lines))
                    if not chunk:
                        break
                    if not chunk[-1].endswith(b"\n"):
                        chunk[-1] += b"\n"
                    records = [(path, lines + i + 1, raw) for i, raw in enumerate(chunk)]
                    lines += len(chunk)
                    yield path, records
                    done += sum(len(raw) for raw in chunk)
                    now = time.time()
                    if now - last >= PROGRESS_EVERY and is_main_process():
                        eta = datetime.timedelta(seconds=int((now - start) / max(done, 1) * max(total - done, 0)))
                        print(f"{self.what}: {done / 2 ** 20:.1f}/{total / 2 ** 20:.1f} MB "
                              f"({100 * done / max(total, 1):.0f}%) eta {eta}", flush=True)
                        last = now
            self.lines.append(lines)


def check_files(files, skip_bad=False, has_label=True):
    """Parse every line of files once (bad input stops here, before training); returns
    (lines per file, messages of the lines skip_bad would drop)."""
    chunks, errors = ChunkReader(files, skip_bad, "checking " + os.path.dirname(files[0])), []
    for _, records in chunks:
        errors += parse_block(records, has_label, skip_bad)[4]
    return chunks.lines, errors


# ------------------------------------------------------------------------------------------------
# encoding

class Encoder:
    """Parsed lines -> model inputs, with the folder's dense scaling."""

    def __init__(self, vocab, dense_scaling):
        if dense_scaling not in DENSE_SCALINGS:
            raise ValueError(f"dense_scaling must be one of {DENSE_SCALINGS}, not {dense_scaling!r}")
        self.vocab, self.dense_scaling = vocab, dense_scaling
        self.lookups = [{v.encode("latin-1"): i + 1 for i, v in enumerate(values)} for values in vocab.fields]
        self.low = np.array(vocab.dense_min, dtype=np.float64)
        high = np.array(vocab.dense_max, dtype=np.float64)
        self.span = np.where(high > self.low, high - self.low, 1.0)
        self.log_shift = np.minimum(self.low, 0.0)
        self.values_seen = self.values_unknown = 0  # non-empty categorical values looked up, not found

    def scale_dense(self, dense):
        """int64 [n, 13] with _MISSING -> float32 [n, 13]."""
        missing = dense == _MISSING
        x = dense.astype(np.float64)
        if self.dense_scaling == "minmax":
            x = np.clip((x - self.low) / self.span, 0.0, 1.0)
        else:  # values below the training minimum are clipped to it, so log never sees <= 0
            x = np.log1p(np.maximum(x, self.log_shift) - self.log_shift)
        x[missing] = 0.0
        return x.astype(np.float32)

    def lookup(self, categorical):
        """26 lists of n byte strings -> int64 [n, 26] ids (0: empty or not in the vocabulary)."""
        n = len(categorical[0])
        ids = np.empty((n, NUM_SPARSE), dtype=np.int64)
        for f, (table, tokens) in enumerate(zip(self.lookups, categorical)):
            ids[:, f] = np.fromiter(map(table.get, tokens, itertools.repeat(0, n)), dtype=np.int64, count=n)
            blank = tokens.count(b"")
            self.values_seen += n - blank
            self.values_unknown += n - blank - int(np.count_nonzero(ids[:, f]))
        return ids

    def encode(self, records, has_label=True, skip_bad=False):
        """Records -> (sparse_ids, dense, labels or None, kept indices, messages of dropped lines)."""
        labels, dense, categorical, kept, errors = parse_block(records, has_label, skip_bad)
        if not kept:
            empty = np.zeros((0, NUM_SPARSE), np.int64), np.zeros((0, NUM_DENSE), np.float32)
            return (*empty, None if labels is None else np.zeros(0, np.float32), kept, errors)
        return self.lookup(categorical), self.scale_dense(dense), labels, kept, errors

    def encode_batch(self, records, skip_bad=False):
        """Labelled records -> ((sparse_ids, dense, label, weight), messages of dropped lines)."""
        ids, dense, labels, kept, errors = self.encode(records, skip_bad=skip_bad)
        weight = np.ones((len(kept), 1), np.float32)
        if not kept:  # every line was bad: one zero-weight row keeps this step in lockstep
            ids, dense = np.zeros((1, NUM_SPARSE), np.int64), np.zeros((1, NUM_DENSE), np.float32)
            labels, weight = np.zeros(1, np.float32), np.zeros((1, 1), np.float32)
        return (ids, dense, labels.reshape(-1, 1), weight), errors


# ------------------------------------------------------------------------------------------------
# streaming

class LineCursor:
    """Reads the concatenation of files from a position (file index, line index within that file).
    With skip_bad an empty file is passed over and noted in `errors`; otherwise it raises DataError."""

    def __init__(self, files, position=(0, 0), skip_bad=False):
        self.files, self.skip_bad = files, skip_bad
        self.file_index, self.line = position
        self.errors = []
        self._file = None

    def _current(self):
        """The open file at the cursor, or None past the last file."""
        while self._file is None:
            if self.file_index >= len(self.files):
                return None
            path = self.files[self.file_index]
            if os.path.getsize(path) == 0:
                if not self.skip_bad:
                    raise DataError(f"{path}: file is empty")
                self.errors.append(f"{path}: file is empty")
            self._file = open(path, "rb")
            skipped = _skip(self._file, self.line)
            if skipped < self.line:  # the position lies past this file's end: go on in the next
                self._next_file(self.line - skipped)
        return self._file

    def _next_file(self, line=0):
        self._file.close()
        self._file, self.file_index, self.line = None, self.file_index + 1, line

    def take(self, n):
        """Up to n records (path, lineno, raw ending in newline); fewer only at the end of the data."""
        records = []
        while len(records) < n:
            f = self._current()
            if f is None:
                break
            path = self.files[self.file_index]
            for raw in itertools.islice(f, n - len(records)):
                self.line += 1
                records.append((path, self.line, raw if raw.endswith(b"\n") else raw + b"\n"))
            if len(records) < n:
                self._next_file()
        return records

    def skip(self, n):
        while n > 0:
            f = self._current()
            if f is None:
                return
            skipped = _skip(f, n)
            self.line += skipped
            n -= skipped
            if n > 0:
                self._next_file()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def _skip(f, n):
    """Skip up to n lines of an open file; returns how many it skipped."""
    return sum(1 for _ in itertools.islice(f, n))


class StreamPlan:
    """Which lines each rank and worker reads: blocks of batch_size lines, block k to rank
    k % world_size as that rank's batch k // world_size, and a rank's batch i to its worker
    (i - start) % workers, where start is the batch the epoch (re)starts at. The DataLoader takes
    one batch from each worker in turn, so a rank sees its batches in order: start, start + 1, ..."""

    def __init__(self, files, batch_size, world_size=1, num_workers=0, line_counts=None):
        self.files, self.batch_size, self.world_size = files, batch_size, world_size
        self.workers = max(1, num_workers)
        self.line_counts = line_counts
        if line_counts is not None:
            self.line_starts = np.concatenate([[0], np.cumsum(line_counts)]).astype(np.int64)

    @property
    def batches_per_rank(self):
        """Full batches per rank and epoch; the same on every rank, so that they stay in step
        (the last total_lines % (batch_size * world_size) lines of an epoch are not used)."""
        return int(self.line_starts[-1]) // self.batch_size // self.world_size

    def position(self, rank, batch):
        """(file index, line) where a rank's batch starts, from the files' line counts."""
        line = (batch * self.world_size + rank) * self.batch_size
        file_index = min(int(np.searchsorted(self.line_starts, line, side="right")) - 1, len(self.files))
        return file_index, int(line - self.line_starts[file_index])

    def positions(self, rank, next_batch):
        """Each worker's next (file index, line): the reader state a checkpoint stores."""
        return [list(self.position(rank, next_batch + j)) for j in range(self.workers)]


class CriteoStream(paddle.io.IterableDataset):
    """Batches of one rank's share of the files, read by the DataLoader's workers in a fixed order.

    Training (drop_last): every rank yields plan.batches_per_rank full batches, starting at
    start_batch, each worker from its position in `positions` (from a checkpoint, or computed).
    Eval (not drop_last): every line once over all ranks, the last batch possibly short, no line
    counts needed.

    Items are (batch or None, messages of bad lines): bad input is passed on, not raised, because an
    exception inside a DataLoader hangs it (num_workers=0) or loses its message (workers). Use
    `collate` as the DataLoader's collate_fn and utils.BadSampleFilter on the loader."""

    def __init__(self, plan, encoder, rank=0, start_batch=0, positions=None, drop_last=True,
                 skip_bad=False):
        self.plan, self.encoder, self.rank = plan, encoder, rank
        self.start_batch, self.drop_last, self.skip_bad = start_batch, drop_last, skip_bad
        if drop_last and positions is None:
            positions = plan.positions(rank, start_batch)
        if positions is not None and len(positions) != plan.workers:
            raise DataError(f"{plan.files[0]}:0: the reader position was saved for {len(positions)} "
                            f"DataLoader worker(s) per rank, this run has {plan.workers}; "
                            f"resume with the same --num_workers")
        self.positions = positions

    def __iter__(self):
        info = paddle.io.get_worker_info()
        worker = info.id if info is not None else 0
        if (info.num_workers if info is not None else 1) != self.plan.workers:
            raise RuntimeError("the StreamPlan's num_workers differs from the DataLoader's")
        plan = self.plan
        first = self.start_batch + worker  # this worker's first batch of the rank
        stride = plan.world_size * plan.workers  # blocks from one batch of a worker to its next
        remaining = len(range(first, plan.batches_per_rank, plan.workers)) if self.drop_last else math.inf
        position = tuple(self.positions[worker]) if self.positions is not None else (0, 0)
        cursor = LineCursor(plan.files, position, self.skip_bad)
        try:
            if self.positions is None:
                cursor.skip((first * plan.world_size + self.rank) * plan.batch_size)
            while remaining > 0:
                records = cursor.take(plan.batch_size)
                if not records or (self.drop_last and len(records) < plan.batch_size):
                    break
                batch, errors = self.encoder.encode_batch(records, self.skip_bad)
                yield batch, cursor.errors + errors
                cursor.errors = []
                remaining -= 1
                cursor.skip((stride - 1) * plan.batch_size)
            if cursor.errors:  # empty files passed over after the last batch, to be counted
                yield None, cursor.errors
        except DataError as e:
            yield None, [str(e)]
        finally:
            cursor.close()


_NO_BATCH = np.zeros(1, np.int8)  # stands for "no batch": Paddle's loader loses items without tensors


def collate(item):
    """DataLoader collate_fn for CriteoStream: arrays to tensors, messages passed through."""
    batch, errors = item
    return default_convert_fn([_NO_BATCH] if batch is None else list(batch)), errors


class BadSampleFilter:
    """Wraps a stream loader's (batch or None, messages) items: stops at the first bad line with its
    message, or with skip skips and counts it; yields the batches."""

    def __init__(self, skip):
        self.skip, self.skipped = skip, 0

    def __call__(self, loader):
        for batch, errors in loader:
            for message in errors:
                if not self.skip:
                    raise DataError(message)
                self.skipped += 1
                if is_main_process():
                    print(f"skipped bad sample: {message}", flush=True)
            if batch is not None:
                yield batch


class _StreamLoader:
    """Iterates a DataLoader over a CriteoStream as (batch or None, messages of bad lines)."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        for batch, errors in self.loader:
            yield (None if len(batch) == 1 else batch), errors


def make_loader(stream, num_workers, use_shared_memory=True):
    """A DataLoader over a CriteoStream: the stream batches, the workers read in parallel (and die
    with the trainer, even after a kill -9). Wrap it in BadSampleFilter."""
    return _StreamLoader(paddle.io.DataLoader(stream, batch_size=None, num_workers=num_workers, collate_fn=collate,
                                              use_shared_memory=use_shared_memory, worker_init_fn=die_with_parent))


# ------------------------------------------------------------------------------------------------
# binary cache

CACHE_FORMAT = "criteo-cache-1"
CACHE_BYTES_PER_LINE = NUM_SPARSE * 4 + NUM_DENSE * 4 + 1  # int32 ids, float32 dense, uint8 label


class SplitCache:
    """One split's lines, encoded once: ids int32 [n, 26], dense float32 [n, 13] (scaled), label
    uint8 [n], as .npy files opened with mmap_mode="r": an epoch reads slices, the page cache holds
    what fits in memory, and nothing is parsed again."""

    def __init__(self, directory):
        with open(os.path.join(directory, "meta.json")) as f:
            self.meta = json.load(f)
        rows = self.meta["rows"]
        self.ids, self.dense, self.label = (np.load(os.path.join(directory, f"{name}.npy"), mmap_mode="r")[:rows]
                                            for name in ("ids", "dense", "label"))
        self.directory = directory

    def __len__(self):
        return len(self.label)

    def batches_per_rank(self, batch_size, world_size=1):
        return len(self) // batch_size // world_size

    def batches(self, batch_size, rank=0, world_size=1, start_batch=0, drop_last=True):
        """Numpy batches (ids int64, dense, label [n, 1], weight [n, 1]) in the stream's order: block k
        of batch_size rows goes to rank k % world_size. drop_last: every rank the same number of full
        batches; otherwise every row once over all ranks."""
        stop = self.batches_per_rank(batch_size, world_size) if drop_last else math.inf
        ones = np.ones((batch_size, 1), np.float32)
        block = start_batch * world_size + rank
        i = start_batch
        while i < stop and block * batch_size < len(self):
            a, b = block * batch_size, min(len(self), (block + 1) * batch_size)
            yield (self.ids[a:b].astype(np.int64), np.array(self.dense[a:b]),
                   self.label[a:b].astype(np.float32)[:, None], ones[:b - a])
            i, block = i + 1, block + world_size


def cache_key(files, encoder):
    """What a cache depends on: the source files (names, sizes, times), the vocabulary, the scaling."""
    return {"format": CACHE_FORMAT, "files": [file_stat(p) for p in files], "vocab": encoder.vocab.digest(),
            "dense_scaling": encoder.dense_scaling}


def open_cache(directory, files, encoder, skip_bad=False):
    """The SplitCache in directory if it was built from these files with this encoding, else None.
    A cache built with skip_bad that dropped lines is refused without skip_bad (with its first message)."""
    try:
        cache = SplitCache(directory)
    except (OSError, ValueError, KeyError):
        return None
    if cache.meta.get("key") != cache_key(files, encoder):
        return None
    if cache.meta["errors"] and not skip_bad:
        raise DataError(cache.meta["errors"][0])
    return cache


def count_lines(path, block=1 << 24):
    """Newlines in a file, plus one for a last line without one (fast: no parsing)."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while data := f.read(block):
            n += data.count(b"\n")
            last = data[-1:]
    return n + (last != b"\n")


def build_cache(directory, files, encoder, skip_bad=False, what="binary cache"):
    """Parse and encode files once into directory (written aside, then renamed into place), checking
    every line on the way. Returns the SplitCache, or None when the disk has no room for it (then
    the caller streams the text instead)."""
    cache = open_cache(directory, files, encoder, skip_bad)
    if cache is not None:
        return cache
    counts = [count_lines(p) for p in files]
    need = sum(counts) * CACHE_BYTES_PER_LINE
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    if shutil.disk_usage(parent).free < need * 1.1 + (64 << 20):
        return None
    tmp = f"{directory}.tmp{os.getpid()}"
    for old in os.listdir(parent):  # a killed build's leftovers
        if old.startswith(os.path.basename(directory) + ".tmp"):
            shutil.rmtree(os.path.join(parent, old), ignore_errors=True)
    os.makedirs(tmp)
    rows = sum(counts)
    arrays = {name: np.lib.format.open_memmap(os.path.join(tmp, f"{name}.npy"), mode="w+", dtype=dtype, shape=shape)
              for name, dtype, shape in [("ids", np.int32, (rows, NUM_SPARSE)), ("dense", np.float32, (rows, NUM_DENSE)),
                                         ("label", np.uint8, (rows,))]}
    row, errors = 0, []
    chunks = ChunkReader(files, skip_bad, what)
    for _, records in chunks:
        ids, dense, labels, kept, dropped = encoder.encode(records, skip_bad=skip_bad)
        errors += dropped
        arrays["ids"][row:row + len(kept)] = ids
        arrays["dense"][row:row + len(kept)] = dense
        arrays["label"][row:row + len(kept)] = labels
        row += len(kept)
    for array in arrays.values():
        array.flush()
    del arrays
    errors += [f"{p}: file is empty" for p, n in zip(files, chunks.lines) if n == 0]
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump({"key": cache_key(files, encoder), "rows": row, "lines": chunks.lines, "errors": errors[:100],
                   "bad_lines": len(errors)}, f)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return SplitCache(directory)
