"""The only data path: the session-per-line files of the GRU4Rec release (what convert_rsc15.py
writes), length-bucketed batches, and padding.

Layout of a data directory (the release's train_data/, test_data/ and vocab.txt, plus dev_data/):

    vocab.txt            one line: the number of items V; item indices are 0 .. V-1
    train_data/*.txt     one session a line: space-separated item indices in click order
    dev_data/*.txt       the same, for picking best.pdparams (optional, see below)
    test_data/*.txt      the same, for the final report (eval.py)

Every file in a split's directory is read, in sorted order. Without dev_data/ every DEV_EVERY-th
line of the train files is held out as the dev split (never trained on).

A session of n items gives n - 1 next-item predictions: the model reads items 1..n-1 and each position
predicts the item that follows. What is not a clean session is handled, naming the file and line:
- a token that is not a non-negative integer, or a byte that is not UTF-8: DataError (exit 2), or
  with --skip_bad_samples the line is skipped and counted;
- an item index >= V (outside the vocabulary): mapped to the unknown item (index V, one extra row)
  and counted; the unknown item is never recommended, so a prediction of it is a miss;
- an empty line (an empty session), or a session of one item (nothing to predict): skipped and counted;
- a session longer than --max_seq_len + 1 items: its last max_seq_len + 1 items are kept, and counted.
"""
import glob
import os

import numpy as np
import paddle

import utils
from utils import DataError

VOCAB_FILE = "vocab.txt"
SPLIT_DIRS = {"train": "train_data", "dev": "dev_data", "test": "test_data"}
DEV_EVERY = 20  # without dev_data/: every 20th train line (5%) is the dev split
MAX_SEQ_LEN = 1000  # inputs kept of a session (the release skipped sessions longer than 1000)


def read_vocab_size(data_dir):
    """V from vocab.txt (its first line, as the release reads it)."""
    path = os.path.join(data_dir, VOCAB_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file (one line: the number of items)")
    lines = [(n, text) for n, text in utils.read_lines(path) if text.strip()]
    if not lines:
        raise DataError(f"{path}:1: empty (expected the number of items)")
    lineno, text = lines[0]
    if not text.strip().isdigit() or int(text) <= 0:
        raise DataError(f"{path}:{lineno}: expected the number of items, a positive integer, got {text.strip()!r}")
    return int(text)


def split_files(data_dir, split):
    folder = os.path.join(data_dir, SPLIT_DIRS[split])
    files = sorted(p for p in glob.glob(os.path.join(folder, "*")) if os.path.isfile(p))
    if not files:
        raise DataError(f"{folder}:0: no files (one session a line: space-separated item indices)")
    return files


def split_source(data_dir, split, dev_every=DEV_EVERY):
    """(files, part): part 'all', or without dev_data/ 'train'/'dev' (lines held out of the train files)."""
    if split == "test" or os.path.isdir(os.path.join(data_dir, SPLIT_DIRS["dev"])):
        return split_files(data_dir, split), "all"
    if dev_every < 2:
        raise DataError(f"{os.path.join(data_dir, SPLIT_DIRS['dev'])}:0: no such directory, and --dev_every "
                        f"{dev_every} holds out no train lines for a dev split (use 2 or more)")
    return split_files(data_dir, "train"), split


def parse_session(text, path, lineno, vocab_size):
    """Item indices of one line, indices >= vocab_size mapped to the unknown item (vocab_size);
    returns (items, number mapped). DataError for a token that is not a non-negative integer."""
    tokens = text.split()
    if not all(map(str.isdigit, tokens)):  # isdigit also refuses "-3", "+3", "1.5" and "1_0"
        bad = next(t for t in tokens if not t.isdigit())
        raise DataError(f"{path}:{lineno}: item {bad!r} is not a non-negative integer index")
    items = np.array(tokens, dtype=np.int64) if tokens else np.zeros(0, np.int64)
    unknown = items >= vocab_size
    items[unknown] = vocab_size
    return items, int(unknown.sum())


class Stats:
    """What reading a split skipped, mapped or cut, with the first place of each kind."""
    KINDS = {"bad": "bad lines skipped", "empty": "empty sessions skipped",
             "single": "sessions of one item skipped (nothing to predict)",
             "unknown": "item indices outside the vocabulary mapped to the unknown item",
             "truncated": "sessions cut to their last MAX items"}

    def __init__(self):
        self.counts = dict.fromkeys(self.KINDS, 0)
        self.first = {}

    def add(self, kind, path, lineno, n=1):
        self.counts[kind] += n
        self.first.setdefault(kind, f"{path}:{lineno}")

    def notes(self, max_seq_len):
        return [f"{n} {self.KINDS[k].replace('MAX', str(max_seq_len + 1))} (first at {self.first[k]})"
                for k, n in self.counts.items() if n]


def read_sessions(files, vocab_size, *, part="all", dev_every=DEV_EVERY, max_seq_len=MAX_SEQ_LEN,
                  skip_bad=False, keep_lines=False):
    """Sessions of a split as int64 arrays, and its Stats. keep_lines: also (path, lineno) of each."""
    sessions, where, stats = [], [], Stats()
    for path in files:
        if not os.path.isfile(path):
            raise DataError(f"{path}:0: no such file")
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if part != "all" and (lineno % dev_every == 0) != (part == "dev"):
                    continue
                try:
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None
                    items, unknown = parse_session(text, path, lineno, vocab_size)
                except DataError:
                    if not skip_bad:
                        raise
                    stats.add("bad", path, lineno)
                    continue
                if unknown:
                    stats.add("unknown", path, lineno, unknown)
                if len(items) == 0:
                    stats.add("empty", path, lineno)
                    continue
                if len(items) == 1:
                    stats.add("single", path, lineno)
                    continue
                if max_seq_len and len(items) > max_seq_len + 1:
                    items = items[-(max_seq_len + 1):]
                    stats.add("truncated", path, lineno)
                sessions.append(items)
                if keep_lines:
                    where.append((path, lineno))
    return (sessions, stats, where) if keep_lines else (sessions, stats)


def load_split(data_dir, split, vocab_size, args, verbose=True):
    """A SessionDataset of one split, with what reading it skipped printed (by rank 0)."""
    files, part = split_source(data_dir, split, getattr(args, "dev_every", DEV_EVERY))
    sessions, stats = read_sessions(files, vocab_size, part=part, dev_every=getattr(args, "dev_every", DEV_EVERY),
                                    max_seq_len=args.max_seq_len, skip_bad=args.skip_bad_samples)
    where = files[0] if part == "all" else f"every {args.dev_every}th line of {files[0]}"
    if not sessions:
        raise DataError(f"{files[0]}:0: no session of two or more items in the {split} split")
    if verbose and utils.is_main_process():
        notes = stats.notes(args.max_seq_len)
        print(f"{split}: {len(sessions)} sessions, {sum(len(s) - 1 for s in sessions)} next-item predictions "
              f"({where}{' ...' if len(files) > 1 else ''})" + ("; " + "; ".join(notes) if notes else ""), flush=True)
    return SessionDataset(sessions, stats)


class SessionDataset(paddle.io.Dataset):
    def __init__(self, sessions, stats=None):
        self.sessions = sessions
        self.stats = stats
        self.lengths = np.array([len(s) for s in sessions], dtype=np.int64)

    def __len__(self):
        return len(self.sessions)

    def __getitem__(self, index):
        return self.sessions[index]


def collate(sessions):
    """Pad a batch: inputs [B, T] (each session but its last item), targets [B, T] (each but its first),
    lengths [B] (predictions per session). Padding is item 0 and lies at or past a row's length."""
    lengths = np.array([len(s) - 1 for s in sessions], dtype=np.int64)
    inputs = np.zeros((len(sessions), lengths.max()), dtype=np.int64)
    targets = np.zeros_like(inputs)
    for row, s in enumerate(sessions):
        inputs[row, :len(s) - 1] = s[:-1]
        targets[row, :len(s) - 1] = s[1:]
    return inputs, targets, lengths


def item_counts(sessions, num_items):
    """Clicks per item over sessions (the popularity baseline's ranking)."""
    return np.bincount(np.concatenate(sessions), minlength=num_items) if sessions else np.zeros(num_items, np.int64)


class LengthBucketSampler(paddle.io.BatchSampler):
    """Batches of sessions of similar length, so that padding stays small.

    Training: the shuffled order (by seed and epoch) is cut into pools of `pool_batches` batches (the
    release sorted groups of 20 batches by length); each pool is sorted by length and cut into
    batches, and the batches are shuffled. Evaluation: the whole set sorted by length.
    `set_epoch(epoch, start_batch)` starts mid-epoch, so that --resume neither re-reads nor skips a
    session. Under data parallel each rank takes an equal share of the shuffled order."""

    def __init__(self, lengths, batch_size, shuffle=True, seed=0, pool_batches=20, shard=True):
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
        pool = self.batch_size * self.pool_batches if self.shuffle else max(len(order), 1)
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __len__(self):
        """Batches in a whole epoch (not counting a resumed epoch's skipped start)."""
        return len(self._batches())
