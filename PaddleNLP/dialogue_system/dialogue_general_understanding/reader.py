"""The six DGU datasets in the release's tsv layouts (DATA_DIR/TASK/{train,dev,test}.txt, one example or
one dialogue turn per line, fields separated by tabs), and their encoding into BERT inputs.

    udc          label \t context utterance 1 \t ... \t context utterance N \t response
                 (label 1: the right response; dev/test come in groups of 10 candidates, the right one first)
    atis_intent  label id \t utterance                                          (26 intents)
    atis_slot    utterance \t one slot label id per word, space-separated         (130 slot labels)
    dstc2        dialogue id \t turn text \t the dialogue state after the turn: slot-value ids, space-separated
                 (217 slot-value pairs; a turn may hold several utterances joined by \\1)
    swda, mrda   dialogue id \t act label id \t caller \t utterance                 (42 act labels each)

Examples are built as the release's reader built them:
- udc: [CLS] context (utterances joined by an inner separator) [SEP] response (at most 60 tokens) [SEP];
- swda/mrda: the five utterances before, "caller : text" of the current one (at most 50 tokens, segment 1),
  and the two after, each window part joined by the inner separator;
- dstc2: the dialogue up to the current turn (at most 20 turns before it), joined by the inner separator;
- atis: the utterance alone.
The inner separator is [unused0] (id 1 in the published uncased vocabulary, the id the release used), or
[SEP] in a vocabulary without it. Too long inputs lose their oldest context tokens first, as in the
release; the datasets count the examples that were cut (`truncated`). ATIS slots are cut at the end
instead (the release's cut from the front would misalign the labels), and a word that WordPiece splits
carries its label on its first piece (the others are ignored by the loss and the metric).
"""
import os

import numpy as np
import paddle

import utils

# task -> (head, number of labels, fields per line (None: at least 3))
TASKS = {
    "udc": ("match", 2, None),
    "atis_intent": ("cls", 26, 2),
    "atis_slot": ("tag", 130, 2),
    "dstc2": ("multi", 217, 3),
    "swda": ("cls", 42, 4),
    "mrda": ("cls", 42, 4),
}
SPLITS = ("train", "dev", "test")
IGNORE = -100
LIMIT_B = {"udc": 60, "swda": 50, "mrda": 50}  # tokens kept of the middle segment (the release's limit_length)
DSTC2_MAX_TURNS = 20
DA_BEFORE, DA_AFTER = 5, 2


def task_file(data_dir, task, split):
    return os.path.join(data_dir, task, f"{split}.txt")


def _decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


def _int_label(text, path, lineno, num_labels, what="label"):
    if not text.strip().lstrip("-").isdigit() or not 0 <= int(text) < num_labels:
        raise utils.DataError(f"{path}:{lineno}: {what} {text!r} is not an id in 0..{num_labels - 1}")
    return int(text)


def parse_line(task, fields, path, lineno):
    """One line's fields -> a record (dict with its line number); a DataError names file and line."""
    head, num_labels, width = TASKS[task]
    if width is None and len(fields) < 3 or width is not None and len(fields) != width:
        want = "at least 3" if width is None else str(width)
        raise utils.DataError(f"{path}:{lineno}: expected {want} tab-separated fields, got {len(fields)}")
    if task == "udc":
        if fields[0] not in ("0", "1"):
            raise utils.DataError(f"{path}:{lineno}: label {fields[0]!r} is not 0 or 1")
        context = [u for u in fields[1:-1] if u.strip()]
        if not context:
            raise utils.DataError(f"{path}:{lineno}: empty context (no utterance before the response)")
        if not fields[-1].strip():
            raise utils.DataError(f"{path}:{lineno}: empty response")
        return {"line": lineno, "label": int(fields[0]), "context": context, "response": fields[-1]}
    if task == "atis_intent":
        if not fields[1].strip():
            raise utils.DataError(f"{path}:{lineno}: empty utterance")
        return {"line": lineno, "label": _int_label(fields[0], path, lineno, num_labels), "text": fields[1]}
    if task == "atis_slot":
        words, labels = fields[0].split(), fields[1].split()
        if not words:
            raise utils.DataError(f"{path}:{lineno}: empty utterance")
        if len(words) != len(labels):
            raise utils.DataError(f"{path}:{lineno}: {len(words)} words but {len(labels)} slot labels")
        return {"line": lineno, "words": words,
                "label": [_int_label(l, path, lineno, num_labels, "slot label") for l in labels]}
    if task == "dstc2":
        turns = [t for t in fields[1].split("\1") if t.strip()]
        if not turns:
            raise utils.DataError(f"{path}:{lineno}: empty turn")
        state = sorted({_int_label(l, path, lineno, num_labels, "state label") for l in fields[2].split()})
        return {"line": lineno, "dialogue": fields[0], "turns": turns, "label": state}
    # swda / mrda
    if not fields[3].strip():
        raise utils.DataError(f"{path}:{lineno}: empty utterance")
    return {"line": lineno, "dialogue": fields[0], "label": _int_label(fields[1], path, lineno, num_labels),
            "text": f"{fields[2]} : {fields[3]}"}


def read_records(task, path, skip_bad_samples=False):
    """([record], bad lines skipped) of a task file; bad lines stop the run unless skipped."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    records, skipped = [], 0
    for lineno, line in enumerate(raw, 1):
        if not line.strip():
            continue
        try:
            records.append(parse_line(task, _decode(line, path, lineno).rstrip("\r").split("\t"), path, lineno))
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
    if not records:
        raise utils.DataError(f"{path}:1: no examples in the file")
    return records, skipped


def _dialogues(records):
    """Consecutive records of the same dialogue id, as the release groups them."""
    groups = []
    for r in records:
        if groups and groups[-1][0]["dialogue"] == r["dialogue"]:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def make_examples(task, records):
    """Records -> examples: dicts with the text segments a, b, c (a list of utterances or a string) and
    the label, each keeping the line it came from."""
    if task == "udc":
        return [{"line": r["line"], "a": r["context"], "b": r["response"], "c": None, "label": r["label"]}
                for r in records]
    if task == "atis_intent":
        return [{"line": r["line"], "a": r["text"], "b": None, "c": None, "label": r["label"]} for r in records]
    if task == "atis_slot":
        return [{"line": r["line"], "a": r["words"], "b": None, "c": None, "label": r["label"]} for r in records]
    examples = []
    for conv in _dialogues(records):
        for i, r in enumerate(conv):
            if task == "dstc2":
                turns = [t for turn in conv[max(i - DSTC2_MAX_TURNS, 0):i + 1] for t in turn["turns"]]
                examples.append({"line": r["line"], "a": turns, "b": None, "c": None, "label": r["label"]})
            else:
                examples.append({"line": r["line"], "a": [c["text"] for c in conv[max(0, i - DA_BEFORE):i]],
                                 "b": r["text"], "c": [c["text"] for c in conv[i + 1:i + 1 + DA_AFTER]],
                                 "label": r["label"]})
    return examples


def inner_separator(tokenizer):
    return tokenizer.vocab.get("[unused0]", tokenizer.sep_id)


def _ids(tokenizer, texts, inner):
    if texts is None:
        return []
    if isinstance(texts, str):
        return tokenizer.encode(texts)
    ids = []
    for text in texts:
        ids += tokenizer.encode(text) + [inner]
    return ids[:-1]


def encode(task, example, tokenizer, max_seq_len):
    """(ids, token types, label, truncated) of one example, as the release's convert_single_example."""
    if task == "atis_slot":
        return _encode_slots(example, tokenizer, max_seq_len)
    inner = inner_separator(tokenizer)
    a, b, c = (_ids(tokenizer, example[k], inner) for k in "abc")
    n = len(a) + len(b) + len(c)
    if b:
        b = b[:LIMIT_B[task]]
    elif len(a) > max_seq_len - 2:
        a = a[len(a) - max_seq_len + 2:]
    if not c:
        if len(a) > max_seq_len - len(b) - 3:
            a = a[len(a) - max_seq_len + len(b) + 3:]
    elif len(a) + len(b) + len(c) > max_seq_len - 4:
        left = max_seq_len - len(b) - 4  # room for the context before and after
        if len(a) > len(c):
            c = c[:left // 2]
            a = a[max(0, len(a) - (left - len(c))):]
        elif not a:
            c = c[max(0, len(c) - left):]
        else:
            a = a[max(0, len(a) - left // 2):]
            c = c[:left - len(a)]
    ids = [tokenizer.cls_id] + a + [tokenizer.sep_id]
    types = [0] * len(ids)
    if b:
        ids += b + [tokenizer.sep_id]
        types += [1] * (len(b) + 1)
    if c:
        ids += c + [tokenizer.sep_id]
        types += [0] * (len(c) + 1)
    label = example["label"]
    if task == "dstc2":
        label = np.zeros(TASKS[task][1], dtype=np.float32)
        label[example["label"]] = 1.0
    return ids, types, label, len(a) + len(b) + len(c) < n


def _encode_slots(example, tokenizer, max_seq_len):
    ids, labels = [], []
    for word, label in zip(example["a"], example["label"]):
        pieces = tokenizer.encode(word) or [tokenizer.unk_id]
        ids += pieces
        labels += [label] + [IGNORE] * (len(pieces) - 1)
    truncated = len(ids) > max_seq_len - 2
    ids, labels = ids[:max_seq_len - 2], labels[:max_seq_len - 2]
    return ([tokenizer.cls_id] + ids + [tokenizer.sep_id], [0] * (len(ids) + 2),
            [IGNORE] + labels + [IGNORE], truncated)


class DGUDataset(paddle.io.Dataset):
    """Encoded examples (ids, types, label) of one task file; `examples` keeps the parsed ones (their
    labels are what the metric compares with), `truncated` counts the examples cut to fit."""

    def __init__(self, task, path, tokenizer, max_seq_len, skip_bad_samples=False):
        records, skipped = read_records(task, path, skip_bad_samples)
        self.task, self.path = task, path
        self.examples = make_examples(task, records)
        self.encoded = []
        self.truncated = 0
        for ex in self.examples:
            ids, types, label, cut = encode(task, ex, tokenizer, max_seq_len)
            self.encoded.append((ids, types, label))
            self.truncated += cut
        if utils.is_main_process() and (skipped or self.truncated):
            print(f"{path}: skipped {skipped} bad line(s); {self.truncated} of {len(self.examples)} examples "
                  f"truncated to --max_seq_len {max_seq_len}", flush=True)

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, index):
        return self.encoded[index]


def check_candidate_groups(dataset):
    """UDC dev/test: groups of 10 candidates, the right response first (what R10@k needs)."""
    labels = [ex["label"] for ex in dataset.examples]
    if len(labels) % 10:
        raise utils.DataError(f"{dataset.path}: {len(labels)} lines, not groups of 10 candidates")
    for g in range(0, len(labels), 10):
        if labels[g] != 1 or sum(labels[g:g + 10]) != 1:
            raise utils.DataError(f"{dataset.path}:{dataset.examples[g]['line']}: a group of 10 candidates must "
                                  f"start with its one right response (label 1)")


def collate(batch, pad_id, pad_to=None):
    """ids, types [B, L]; labels [B] (class), [B, L] (slots, IGNORE-padded) or [B, C] float (dstc2 state)."""
    length = pad_to or max(len(b[0]) for b in batch)
    ids = np.full((len(batch), length), pad_id, dtype=np.int64)
    types = np.zeros((len(batch), length), dtype=np.int64)
    for row, (i, t, _) in enumerate(batch):
        ids[row, :len(i)], types[row, :len(t)] = i, t
    first = batch[0][2]
    if isinstance(first, list):
        labels = np.full((len(batch), length), IGNORE, dtype=np.int64)
        for row, (_, _, lab) in enumerate(batch):
            labels[row, :len(lab)] = lab
    elif isinstance(first, np.ndarray):
        labels = np.stack([b[2] for b in batch])
    else:
        labels = np.array([b[2] for b in batch], dtype=np.int64)
    return ids, types, labels


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
