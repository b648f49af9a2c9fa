"""The only data path: the Ubuntu / Douban multi-turn response-selection layout, the vocabulary,
turn truncation, and batches.

Dataset directory (the text layout of the Ubuntu Dialogue Corpus v1 and the Douban Conversation
Corpus as released by Wu et al. and used by DAM; UTF-8, words separated by spaces):
    vocab.txt   `word<TAB>id` per line (ids from 1; 0 is the padding id; `word` alone takes its
                line number as id). Words not in it get id 0, as padding, but stay unmasked.
    train.txt   `label<TAB>utterance 1<TAB>...<TAB>utterance n<TAB>response` per line, label 0/1
    dev.txt     (valid.txt is read too) the same layout, in groups of 10 consecutive lines that share
                one context: the candidates of that context (Ubuntu: the first is the true one)
    test.txt    like dev.txt; eval.py reports it once, at the end
An utterance may be empty (the Douban corpus has some) but not the whole context. A context longer
than --max_turn_num turns keeps its last turns, a turn or response longer than --max_turn_len words
keeps its last words (the release's 'tail' cut); both are counted and reported.

The release's pickled data (data_small.pkl: train, val, test dicts of ids, the turns of a context
joined by an _EOS_ id) is converted to this layout by convert_pkl.py.
"""
import os

import numpy as np

import paddle

import utils
from utils import DataError

GROUP = 10  # candidates per context in dev and test files


class Vocab:
    """vocab.txt: word -> id. size is the largest id (the embedding has size + 1 rows)."""

    def __init__(self, path):
        self.path, self.word2id = path, {}
        for lineno, line in utils.read_lines(path):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) == 1:
                word, wid = fields[0].strip(), lineno
            elif len(fields) == 2 and fields[1].strip().isdigit():
                word, wid = fields[0], int(fields[1])
            else:
                raise DataError(f"{path}:{lineno}: expected 'word<TAB>id' or one word, got {line!r}")
            self.word2id.setdefault(word, wid)
        if not self.word2id:
            raise DataError(f"{path}: empty vocabulary")
        self.size = max(self.word2id.values())

    def __len__(self):
        return self.size

    def to_ids(self, text):
        return [self.word2id.get(w, 0) for w in text.split()]


class Truncation:
    """How many turns and words were cut to the model's --max_turn_num x --max_turn_len."""

    def __init__(self):
        self.samples = self.turns = self.words = 0

    def __str__(self):
        return (f"{self.samples} samples truncated ({self.turns} turns beyond --max_turn_num, "
                f"{self.words} words beyond --max_turn_len)")


def parse_line(line, where, vocab, max_turn_num, max_turn_len, truncation=None, labelled=True):
    """One line -> (turns [T, L] int64, turn lengths [T], response [L], response length, label or
    None). `where` is `path:line` for the error message."""
    fields = line.split("\t")
    if len(fields) < (3 if labelled else 2):
        raise DataError(f"{where}: expected `label<TAB>utterances...<TAB>response` (at least 3 tab-separated "
                        f"fields), got {len(fields)}")
    label = None
    if labelled:
        label = fields.pop(0).strip()
        if label not in ("0", "1"):
            raise DataError(f"{where}: label {label!r} is not 0 or 1")
        label = int(label)
    *context, response = fields
    turns = [vocab.to_ids(u) for u in context]
    if not any(turns):
        raise DataError(f"{where}: empty context (no word in any utterance)")
    response = vocab.to_ids(response)
    if not response:
        raise DataError(f"{where}: empty response")
    cut_turns = max(0, len(turns) - max_turn_num)
    cut_words = sum(max(0, len(t) - max_turn_len) for t in turns[cut_turns:]) + max(0, len(response) - max_turn_len)
    if truncation is not None and (cut_turns or cut_words):
        truncation.samples += 1
        truncation.turns += cut_turns
        truncation.words += cut_words
    turns = turns[cut_turns:]
    ids = np.zeros((max_turn_num, max_turn_len), dtype="int64")
    lengths = np.zeros(max_turn_num, dtype="int64")
    for i, turn in enumerate(turns):  # turns first, padding turns after, as the release
        turn = turn[-max_turn_len:]
        ids[i, :len(turn)], lengths[i] = turn, len(turn)
    response = response[-max_turn_len:]
    r_ids = np.zeros(max_turn_len, dtype="int64")
    r_ids[:len(response)] = response
    return ids, lengths, r_ids, np.int64(len(response)), label


class DialogueDataset(paddle.io.Dataset):
    """All lines of one file, parsed up front. `grouped` (dev/test): 10 consecutive lines per
    context, checked. Samples are (turns, turn lengths, response, response length, label)."""

    def __init__(self, path, vocab, max_turn_num, max_turn_len, grouped=False, skip_bad_samples=False):
        self.path, self.grouped = path, grouped
        self.samples, self.contexts, self.responses, self.linenos = [], [], [], []
        self.skipped, self.truncation = 0, Truncation()
        for lineno, line in utils.read_lines(path):
            if not line.strip():
                continue
            try:
                sample = parse_line(line, f"{path}:{lineno}", vocab, max_turn_num, max_turn_len, self.truncation)
            except DataError as e:
                if not skip_bad_samples or grouped:  # a dev/test group with a line missing is no group
                    raise
                self.skipped += 1
                if utils.is_main_process():
                    print(f"skipped bad sample: {e}", flush=True)
                continue
            self.samples.append(sample)
            fields = line.split("\t")
            self.contexts.append("\t".join(fields[1:-1]))
            self.responses.append(fields[-1])
            self.linenos.append(lineno)
        if not self.samples:
            raise DataError(f"{path}: no usable lines")
        if grouped:
            self.check_groups()
        self.labels = np.array([s[4] for s in self.samples], dtype="int64")

    def check_groups(self):
        """Dev and test files: groups of GROUP consecutive lines with one context each."""
        for start in range(0, len(self.samples), GROUP):
            first = self.linenos[start]
            end = min(start + GROUP, len(self.samples))
            for i in range(start + 1, end):
                if self.contexts[i] != self.contexts[start]:
                    raise DataError(f"{self.path}:{self.linenos[i]}: the context differs from that of line {first}, "
                                    f"but the group starting there has only {i - start} lines; dev and test files "
                                    f"hold {GROUP} consecutive lines (candidates) per context")
            if end - start != GROUP:
                raise DataError(f"{self.path}:{first}: the last group has {end - start} lines; dev and test files "
                                f"hold {GROUP} consecutive lines (candidates) per context")

    def report(self):
        """One line on truncation, for the scripts' output (empty when nothing was cut)."""
        return f"{self.path}: {self.truncation}" if self.truncation.samples else ""

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def collate(samples):
    """(turns [B, T, L], turn lengths [B, T], response [B, L], response length [B], label float [B])."""
    out = [np.stack([s[k] for s in samples]) for k in range(4)]
    if samples[0][4] is not None:
        out.append(np.array([s[4] for s in samples], dtype="float32"))
    return tuple(out)


class ShuffledBatchSampler(paddle.io.BatchSampler):
    """Training batches: shuffled by (seed, epoch), sharded over ranks in equal shares.
    `set_epoch(epoch, start_batch)` starts mid-epoch, so --resume neither re-reads nor skips a line."""

    def __init__(self, size, batch_size, seed=0):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.size)
        per_rank = self.size // utils.world_size()
        order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())


def eval_batches(size, batch_size):
    """This rank's share of an eval file (every world_size-th line: no padded duplicates)."""
    mine = np.arange(utils.rank(), size, utils.world_size())
    return [mine[i:i + batch_size].tolist() for i in range(0, len(mine), batch_size)]


def find_file(data_dir, split):
    """DATA_DIR/<split>.txt; the dev split is also found as valid.txt (the Ubuntu release's name)."""
    names = {"dev": ("dev.txt", "valid.txt")}.get(split, (f"{split}.txt",))
    for name in names:
        if os.path.isfile(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    return os.path.join(data_dir, names[0])
