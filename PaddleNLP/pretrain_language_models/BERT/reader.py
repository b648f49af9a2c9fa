"""The only data path: pre-training documents, GLUE/XNLI-style sentence-pair tsv files, and
resumable batches. (SQuAD json lives in squad.py.)

On-disk formats:
    DATA_DIR/vocab.txt                  one WordPiece token per line (id = line number from 0); it must
                                        hold [PAD] [UNK] [CLS] [SEP] [MASK]
    DATA_DIR/pretrain/{train,dev}.txt   the original BERT input: one sentence per line, a blank line
                                        between documents
    DATA_DIR/classify/{train,dev,test}.tsv   a header line, then tab-separated rows; the text columns are
                                        sentence1/sentence2 (GLUE RTE, QNLI, MNLI, XNLI dev/test) or
                                        premise/hypo (XNLI train), the label column label or gold_label

Pre-training examples are made as in BERT's create_pretraining_data: segment A from a document,
segment B its next sentences (50%) or sentences of another document (NSP label 1), the pair truncated
to fit; then 15% of the tokens are chosen (80% -> [MASK], 10% a random token, 10% kept). The choice
is drawn again each epoch from (seed, epoch, example), so a resumed run masks what the unbroken one does.
"""
import os

import numpy as np
import paddle

import utils

TEXT_COLUMNS = (("sentence1", "sentence2"), ("premise", "hypo"))
LABEL_COLUMNS = ("label", "gold_label")
IGNORE = -100


def read_documents(path, tokenizer):
    """[[token ids of a sentence, ...] per document]; a document file with no sentences is a DataError."""
    docs, current = [], []
    for lineno, line in utils.read_lines(path):
        if not line.strip():
            if current:
                docs.append(current)
            current = []
            continue
        ids = tokenizer.encode(line)
        if ids:
            current.append(ids)
    if current:
        docs.append(current)
    if not docs:
        raise utils.DataError(f"{path}:1: no sentences in the document file")
    return docs


class PretrainDataset(paddle.io.Dataset):
    """Sentence-pair examples (segment A, segment B, is_random_next) made once from the documents
    (seeded); masking is drawn per epoch in __getitem__."""

    def __init__(self, docs, tokenizer, max_seq_len, seed=0, mask_prob=0.15):
        self.tok, self.max_seq_len, self.seed, self.mask_prob = tokenizer, max_seq_len, seed, mask_prob
        self.epoch = 0
        rng = np.random.default_rng(seed)
        budget = max_seq_len - 3
        self.examples = []
        for d, doc in enumerate(docs):
            i = 0
            while i < len(doc):
                # segment A: sentences from i while they fit half the budget (at least one)
                a, j = list(doc[i]), i + 1
                while j < len(doc) and len(a) + len(doc[j]) <= budget // 2:
                    a += doc[j]
                    j += 1
                if len(docs) > 1 and (j >= len(doc) or rng.random() < 0.5):
                    other = int(rng.integers(len(docs) - 1))
                    other += other >= d
                    k = int(rng.integers(len(docs[other])))
                    b, random_next = list(docs[other][k]), 1
                    for s in docs[other][k + 1:]:
                        if len(a) + len(b) + len(s) > budget:
                            break
                        b += s
                    nxt = j  # the sentences not used stay for the next example
                else:
                    if j >= len(doc):
                        break
                    b, random_next, nxt = list(doc[j]), 0, j + 1
                    while nxt < len(doc) and len(a) + len(b) + len(doc[nxt]) <= budget:
                        b += doc[nxt]
                        nxt += 1
                while len(a) + len(b) > budget:  # truncate the longer segment, as BERT does
                    (a if len(a) > len(b) else b).pop()
                self.examples.append((a, b, random_next))
                i = nxt
        if not self.examples:
            raise utils.DataError("no pre-training examples: every document has a single sentence")

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        a, b, random_next = self.examples[index]
        tok = self.tok
        ids = np.array([tok.cls_id] + a + [tok.sep_id] + b + [tok.sep_id], dtype=np.int64)
        types = np.array([0] * (len(a) + 2) + [1] * (len(b) + 1), dtype=np.int64)
        rng = np.random.default_rng((self.seed, self.epoch, index))
        candidates = np.flatnonzero((ids != tok.cls_id) & (ids != tok.sep_id))
        n = max(1, int(round(len(candidates) * self.mask_prob)))
        positions = np.sort(rng.choice(candidates, size=min(n, len(candidates)), replace=False))
        labels = ids[positions].copy()
        action = rng.random(len(positions))
        ids[positions[action < 0.8]] = tok.mask_id
        rand = positions[(action >= 0.8) & (action < 0.9)]
        ids[rand] = rng.integers(tok.first_word_id, len(tok), size=len(rand))  # never a special token
        return ids, types, positions, labels, random_next


def collate_pretrain(batch, pad_id, pad_to=None):
    """ids, token types [B, L]; flat masked positions into [B * L] and their labels; NSP labels [B]."""
    length = pad_to or max(len(b[0]) for b in batch)
    ids = np.full((len(batch), length), pad_id, dtype=np.int64)
    types = np.zeros((len(batch), length), dtype=np.int64)
    positions, labels = [], []
    for row, (i, t, p, lab, _) in enumerate(batch):
        ids[row, :len(i)], types[row, :len(t)] = i, t
        positions.append(p + row * length)
        labels.append(lab)
    nsp = np.array([b[4] for b in batch], dtype=np.int64)
    return ids, types, np.concatenate(positions).astype(np.int64), np.concatenate(labels).astype(np.int64), nsp


# ---------------------------------------------------------------------------- sentence-pair classification

def _decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def read_pairs(path, skip_bad_samples=False):
    """[(line number, sentence1, sentence2, label)] of a tsv, and the number of bad lines skipped."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    header = _decode(raw[0], path, 1).rstrip("\r").split("\t")
    text = next((cols for cols in TEXT_COLUMNS if all(c in header for c in cols)), None)
    label = next((c for c in LABEL_COLUMNS if c in header), None)
    if text is None or label is None:
        raise utils.DataError(f"{path}:1: the header needs sentence1/sentence2 (or premise/hypo) and label "
                              f"(or gold_label) columns, got {header}")
    cols = [header.index(c) for c in (*text, label)]
    rows, skipped = [], 0
    for lineno, line in enumerate(raw[1:], 2):
        if not line.strip():
            continue
        try:
            fields = _decode(line, path, lineno).rstrip("\r").split("\t")
            if len(fields) != len(header):
                raise utils.DataError(f"{path}:{lineno}: expected {len(header)} tab-separated fields, got {len(fields)}")
            rows.append((lineno, *(fields[c] for c in cols)))
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
    if not rows:
        raise utils.DataError(f"{path}:1: no examples in the file")
    return rows, skipped


def encode_pair(tokenizer, a, b, max_seq_len):
    """[CLS] a [SEP] b [SEP] ids and token types; longer pairs lose tokens from the longer side."""
    a, b = tokenizer.encode(a), tokenizer.encode(b)
    while len(a) + len(b) > max_seq_len - 3:
        (a if len(a) > len(b) else b).pop()
    ids = [tokenizer.cls_id] + a + [tokenizer.sep_id] + b + [tokenizer.sep_id]
    return ids, [0] * (len(a) + 2) + [1] * (len(b) + 1)


class PairDataset(paddle.io.Dataset):
    def __init__(self, examples, labels):
        self.examples, self.labels = examples, labels  # (ids, types, label id); the label names

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def load_pairs(path, tokenizer, labels, max_seq_len, skip_bad_samples=False):
    """A PairDataset of a tsv file; a label outside `labels` is a DataError naming the line.
    labels None: the sorted set of the file's own labels (a run's train.tsv defines them)."""
    rows, skipped = read_pairs(path, skip_bad_samples)
    if labels is None:
        labels = sorted({r[3] for r in rows})
    examples = []
    for lineno, a, b, label in rows:
        if label not in labels:
            if skip_bad_samples:
                skipped += 1
                continue
            raise utils.DataError(f"{path}:{lineno}: unknown label {label!r} (the run's labels: {', '.join(labels)})")
        examples.append((*encode_pair(tokenizer, a, b, max_seq_len), labels.index(label)))
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad line(s) in {path}", flush=True)
    return PairDataset(examples, labels)


def collate_pairs(batch, pad_id, pad_to=None):
    length = pad_to or max(len(b[0]) for b in batch)
    ids = np.full((len(batch), length), pad_id, dtype=np.int64)
    types = np.zeros((len(batch), length), dtype=np.int64)
    for row, (i, t, _) in enumerate(batch):
        ids[row, :len(i)], types[row, :len(t)] = i, t
    return ids, types, np.array([b[2] for b in batch], dtype=np.int64)


# ---------------------------------------------------------------------------------------------- batches

class BatchSampler(paddle.io.BatchSampler):
    """Shuffled (by seed and epoch) or ordered batches of indices; each rank gets an equal share when
    training. `set_epoch(epoch, start_batch)` starts mid-epoch, so --resume neither re-reads nor skips."""

    def __init__(self, num_samples, batch_size, shuffle=True, seed=0, shard=True):
        self.num_samples, self.batch_size, self.shuffle, self.seed, self.shard = num_samples, batch_size, shuffle, seed, shard
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.num_samples) if self.shuffle \
            else np.arange(self.num_samples)
        world = utils.world_size()
        if self.shard and world > 1:
            per_rank = self.num_samples // world
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        batches = [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        if self.shuffle:  # training: equal batches (a short last one would weigh its examples more)
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())
