"""The only data path of ADE: the release's `.ids` files, the word list, batching and padding.

On-disk layout (the release's `data/input/data/` after `ade/prepare_data_and_model.py`):
    DATA_DIR/word2ids                              one word per line: `word<TAB>id`
    DATA_DIR/unlabel_data/{train,val,test}.ids     matching data (stage 1, --model match)
    DATA_DIR/label_data/human/{train,val,test}.ids human-scored data (stage 2, --model human), and the same
                                                   for keywords/, seq2seq_att/, seq2seq_naive/
Every .ids line is `context ids<TAB>response ids<TAB>label`, ids separated by spaces. The label is
0/1 (mismatch/match) in unlabel_data and the human score 0, 1 or 2 (no, partial, full match) in
label_data. The matching val/test files come in groups of 10 lines: the true response first (label 1),
then 9 random ones (label 0); Recall@k is computed per group, as the release's evaluation.py.

Texts longer than --max_seq_len ids keep their first max_seq_len ids (as the release's reader) and are
counted. Batches are padded with id 0; the model reads each text's length, so padding changes nothing.
"""
import os

import numpy as np
import paddle

import utils

VOCAB_FILE = "word2ids"
SPLITS = {"train": "train.ids", "dev": "val.ids", "test": "test.ids"}
MATCH_DIR = "unlabel_data"
LABEL_TASKS = ("human", "keywords", "seq2seq_att", "seq2seq_naive")  # the release's four scored systems
TASKS = ("match",) + LABEL_TASKS
SCORE_MAX = 2  # human scores are on 0..2; the fine-tuned model predicts 2 * sigmoid(logit)
GROUP = 10  # matching eval files: 1 true response + 9 random ones
MAX_SEQ_LEN = 50  # the release's max_seq_len


def task_dir(data_dir, task):
    return os.path.join(data_dir, MATCH_DIR if task == "match" else os.path.join("label_data", task))


def split_path(data_dir, task, split):
    return os.path.join(task_dir(data_dir, task), SPLITS[split])


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def raw_lines(path):
    """(line number, bytes) of each line, undecoded, so that --skip_bad_samples can skip a bad one."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


class Vocab:
    """word2ids: word -> id as the file says; vocab_size is the largest id + 1 (the embedding's rows)."""

    def __init__(self, word_to_id):
        self.word_to_id = dict(word_to_id)
        self.size = max(self.word_to_id.values(), default=-1) + 1
        self.unk_id = self.word_to_id.get("<unk>")

    @classmethod
    def load(cls, path):
        pairs = {}
        for lineno, line in utils.read_lines(path):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not fields[1].strip().isdigit():
                raise utils.DataError(f"{path}:{lineno}: expected `word<TAB>id`, got {line[:60]!r}")
            pairs.setdefault(fields[0], int(fields[1]))
        if not pairs:
            raise utils.DataError(f"{path}:1: no words in the file")
        return cls(pairs)

    def to_ids(self, words, where):
        ids = []
        for w in words:
            if w in self.word_to_id:
                ids.append(self.word_to_id[w])
            elif self.unk_id is not None:
                ids.append(self.unk_id)
            else:
                raise utils.DataError(f"{where}: word {w!r} is not in {VOCAB_FILE} (which has no <unk>)")
        return ids


def parse_ids(text, path, lineno, what, vocab_size):
    try:
        ids = [int(x) for x in text.split()]
    except ValueError:
        raise utils.DataError(f"{path}:{lineno}: the {what} holds something that is not an integer id: "
                              f"{text.strip()[:40]!r}") from None
    if not ids:
        raise utils.DataError(f"{path}:{lineno}: empty {what}")
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise utils.DataError(f"{path}:{lineno}: {what} id {bad[0]} outside the vocabulary (0..{vocab_size - 1})")
    return ids


def parse_label(text, path, lineno, task):
    """0/1 for matching data; a score in [0, SCORE_MAX] for scored data (integers in the release; a
    fractional score, e.g. a mean of raters, is accepted)."""
    text = text.strip()
    if task == "match":
        if text not in ("0", "1"):
            raise utils.DataError(f"{path}:{lineno}: matching label {text!r} is not 0 or 1")
        return float(text)
    try:
        score = float(text)
    except ValueError:
        raise utils.DataError(f"{path}:{lineno}: score {text!r} is not a number") from None
    if not 0 <= score <= SCORE_MAX:
        raise utils.DataError(f"{path}:{lineno}: score {text!r} is outside the scale 0..{SCORE_MAX}")
    return score


class PairDataset(paddle.io.Dataset):
    """Examples (context ids, response ids, label); `linenos` their line numbers in the file."""

    def __init__(self, examples, linenos=None, path=None):
        self.examples, self.path = examples, path
        self.linenos = linenos if linenos is not None else list(range(1, len(examples) + 1))
        self.lengths = np.array([max(len(c), len(r)) for c, r, _ in examples], dtype=np.int64)
        self.truncated = (0, 0)  # contexts, responses cut to max_seq_len

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def read_file(path, task, vocab_size, max_seq_len, skip_bad_samples=False, with_label=True):
    """A PairDataset of one .ids file and the number of bad lines skipped. Without labels (infer.py
    inputs) a line may have 2 fields, and gets the label nan."""
    examples, linenos, skipped, cut_c, cut_r = [], [], 0, 0, 0
    for lineno, raw in raw_lines(path):
        if not raw.strip():
            continue
        try:
            line = decode(raw, path, lineno)
            fields = line.split("\t")
            if len(fields) != 3 and not (not with_label and len(fields) == 2):
                raise utils.DataError(f"{path}:{lineno}: expected 3 tab-separated fields (context ids, "
                                      f"response ids, label), got {len(fields)}")
            context = parse_ids(fields[0], path, lineno, "context", vocab_size)
            response = parse_ids(fields[1], path, lineno, "response", vocab_size)
            label = parse_label(fields[2], path, lineno, task) if len(fields) == 3 else float("nan")
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
            continue
        cut_c += len(context) > max_seq_len
        cut_r += len(response) > max_seq_len
        examples.append((context[:max_seq_len], response[:max_seq_len], label))
        linenos.append(lineno)
    if not examples:
        raise utils.DataError(f"{path}:1: no examples in the file")
    dataset = PairDataset(examples, linenos, path)
    dataset.truncated = (cut_c, cut_r)
    return dataset, skipped


def load_split(data_dir, task, split, vocab_size, max_seq_len, skip_bad_samples=False, verbose=True):
    path = split_path(data_dir, task, split)
    dataset, skipped = read_file(path, task, vocab_size, max_seq_len, skip_bad_samples)
    if task == "match" and split != "train":
        dataset = keep_whole_groups(dataset, skipped)
    if verbose and utils.is_main_process():
        report(dataset, skipped, max_seq_len)
    return dataset


def report(dataset, skipped, max_seq_len, file=None):
    """Print what was skipped and truncated (infer.py: to stderr, so that stdout is its table)."""
    if skipped:
        print(f"skipped {skipped} bad line(s) in {dataset.path}", file=file, flush=True)
    if any(dataset.truncated):
        print(f"{dataset.path}: {dataset.truncated[0]} context(s) and {dataset.truncated[1]} response(s) longer "
              f"than max_seq_len {max_seq_len} were truncated", file=file, flush=True)


def keep_whole_groups(dataset, skipped=0):
    """Matching eval files: groups of GROUP consecutive lines, the true response (label 1) first. A group
    with a skipped line is dropped (with --skip_bad_samples); a group out of shape is a DataError."""
    by_group = {}
    for i, lineno in enumerate(dataset.linenos):
        by_group.setdefault((lineno - 1) // GROUP, []).append(i)
    keep = []
    for group, members in sorted(by_group.items()):
        if len(members) < GROUP and not skipped:
            raise utils.DataError(f"{dataset.path}:{dataset.linenos[members[-1]]}: the file ends mid-group "
                                  f"(a matching eval group is {GROUP} lines)")
        if len(members) < GROUP:
            continue  # a line of it was skipped: the group is dropped
        labels = [dataset.examples[i][2] for i in members]
        if labels[0] != 1 or any(labels[1:]):
            raise utils.DataError(f"{dataset.path}:{group * GROUP + 1}: a matching eval group is {GROUP} lines, "
                                  f"the true response (label 1) first and {GROUP - 1} labelled 0; got labels "
                                  f"{' '.join(str(int(x)) for x in labels)}")
        keep += members
    if not keep:
        raise utils.DataError(f"{dataset.path}:1: no complete group of {GROUP} lines (true response first)")
    out = PairDataset([dataset.examples[i] for i in keep], [dataset.linenos[i] for i in keep], dataset.path)
    out.truncated = dataset.truncated
    return out


def load_vocab(data_dir):
    return Vocab.load(os.path.join(data_dir, VOCAB_FILE))


class BatchSampler(paddle.io.BatchSampler):
    """Training: each epoch a seeded shuffle (keeping a random `sample_pro` share of the lines, as the
    release's sample_pro), cut into pools of 50 batches sorted by length so padding stays small, the
    batches shuffled; each rank takes an equal share. `set_epoch(epoch, start_batch)` starts mid-epoch
    for --resume. Evaluation (shuffle=False): file order."""

    def __init__(self, lengths, batch_size, shuffle=True, seed=0, sample_pro=1.0, shard=True, pool_batches=50):
        self.lengths, self.num_samples = np.asarray(lengths), len(lengths)
        self.batch_size, self.shuffle, self.seed, self.sample_pro = batch_size, shuffle, seed, sample_pro
        self.shard, self.pool_batches = shard, pool_batches
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def _batches(self):
        if not self.shuffle:
            order = np.arange(self.num_samples)
            return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(self.num_samples)
        if self.sample_pro < 1:
            order = order[:max(1, int(round(self.sample_pro * self.num_samples)))]
        world = utils.world_size()
        if self.shard and world > 1:
            per_rank = len(order) // world
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        batches, pool = [], self.batch_size * self.pool_batches
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __len__(self):
        return len(self._batches())


def pad(seqs):
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    ids = np.zeros((len(seqs), lengths.max()), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, :len(seq)] = seq
    return ids, lengths


def collate(examples):
    """context ids [B, Tc], context lengths [B], response ids [B, Tr], response lengths [B], labels [B]."""
    c_ids, c_len = pad([c for c, _, _ in examples])
    r_ids, r_len = pad([r for _, r, _ in examples])
    labels = np.array([label for _, _, label in examples], dtype=np.float32)
    return c_ids, c_len, r_ids, r_len, labels
