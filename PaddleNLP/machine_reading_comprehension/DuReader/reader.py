"""The only data path of the DuReader baseline: the json-lines files, the release's paragraph
selection, the vocabulary, and padded batches.

On-disk layout (DuReader's preprocessed release, `preprocessed.zip`):
    trainset/search.train.json  trainset/zhidao.train.json     one question per line (json)
    devset/search.dev.json      devset/zhidao.dev.json
    testset/search.test.json    testset/zhidao.test.json       (the official test set has no answers)
Every `*.json` file of a split's folder is read, in name order. One line:
    {"question_id": 1, "question_type": "ENTITY", "segmented_question": ["X", "的", ...],
     "documents": [{"is_selected": true, "segmented_title": [...], "segmented_paragraphs": [[...], ...],
                    "most_related_para": 0}, ...],
     "answers": ["..."], "segmented_answers": [[...]], "answer_docs": [0], "answer_spans": [[3, 5]],
     "fake_answers": ["..."], "match_scores": [1.0]}

Paragraph selection (the release's dataset.py): each document gives ONE passage.
    train:    the document's most_related_para (answer_spans index into the answer_docs[0] document's);
    dev/test: the paragraph with the highest recall of question tokens (ties: the shorter), with the
              document's title prepended (as DuReader's paragraph extraction does).
At most max_p_num documents are used, passages are cut to max_p_len tokens and questions to max_q_len
(cuts are counted and reported). A training question without an answer span, or whose span ends at or
beyond max_p_len, or whose answer document is beyond max_p_num, is skipped as the release skips it
(counted). A span that does not lie inside its paragraph is bad data: a DataError naming file and line.
"""
import glob
import json
import os
from collections import Counter

import numpy as np
import paddle

import utils

SPLITS = {"train": "trainset", "dev": "devset", "test": "testset"}
VOCAB_FILE = "vocab.txt"
PAD, UNK = "<pad>", "<unk>"
MAX_P_NUM, MAX_P_LEN, MAX_Q_LEN, MAX_A_LEN = 5, 500, 60, 200  # the release's args.py


def split_files(data_dir, split):
    folder = os.path.join(data_dir, SPLITS[split])
    files = sorted(glob.glob(os.path.join(folder, "*.json")))
    if not files:
        raise utils.DataError(f"{folder}: no *.json files (expected the DuReader layout, see reader.py)")
    return files


def raw_lines(path):
    """(line number, bytes) of a file, undecoded, so that --skip_bad_samples can skip a bad line."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


def _tokens(value, where, what):
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise utils.DataError(f"{where}: {what} must be a list of strings")
    return value


def recall_of_question(paragraph, question):
    common = Counter(paragraph) & Counter(question)
    return sum(common.values()) / len(question) if question else 0.0


def select_paragraph(doc, question, where):
    """dev/test: the paragraph of highest question-token recall (ties: shorter, then earlier), with
    the title in front."""
    paragraphs = [_tokens(p, where, "segmented_paragraphs[]") for p in doc.get("segmented_paragraphs", [])]
    if not paragraphs:
        return _tokens(doc.get("segmented_title", []), where, "segmented_title")
    best = min(range(len(paragraphs)), key=lambda i: (-recall_of_question(paragraphs[i], question),
                                                      len(paragraphs[i]), i))
    return _tokens(doc.get("segmented_title", []), where, "segmented_title") + paragraphs[best]


class Counts:
    """What the reader cut or skipped, reported once per file."""

    def __init__(self):
        self.c = Counter()

    def report(self, path):
        if self.c and utils.is_main_process():
            print(f"{path}: " + ", ".join(f"{v} {k}" for k, v in sorted(self.c.items())), flush=True)


def parse_sample(line, where, train, cfg, counts):
    """One json line -> dict(question_id, question, passages, title_lens, answers, doc, start, end) or None when the
    release would skip it (counted). DataError for bad data."""
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise utils.DataError(f"{where}: not a json object ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise utils.DataError(f"{where}: not a json object")
    if "question_id" in obj:
        where = f"{where} (question_id {obj['question_id']})"
    for key in ("question_id", "segmented_question", "documents"):
        if key not in obj:
            raise utils.DataError(f"{where}: missing field {key!r}")
    question = _tokens(obj["segmented_question"], where, "segmented_question")
    if not question:
        raise utils.DataError(f"{where}: empty question")
    if len(question) > cfg["max_q_len"]:
        counts.c["questions cut to max_q_len"] += 1
    docs = obj["documents"]
    if not isinstance(docs, list) or not docs:
        raise utils.DataError(f"{where}: no documents")
    if len(docs) > cfg["max_p_num"]:
        counts.c[f"questions with documents beyond max_p_num={cfg['max_p_num']}"] += 1
    passages, title_lens = [], []
    for d, doc in enumerate(docs[:cfg["max_p_num"]]):
        if not isinstance(doc, dict):
            raise utils.DataError(f"{where}: documents[{d}] is not an object")
        if train:
            paragraphs = doc.get("segmented_paragraphs", [])
            k = doc.get("most_related_para", 0)
            if not isinstance(k, int) or not 0 <= k < max(len(paragraphs), 1):
                raise utils.DataError(f"{where}: documents[{d}].most_related_para {k} outside its "
                                      f"{len(paragraphs)} paragraphs")
            passage = _tokens(paragraphs[k], where, "segmented_paragraphs[]") if paragraphs else []
        else:
            passage = select_paragraph(doc, question, where)
        title_lens.append(0 if train else len(doc.get("segmented_title", [])))
        if len(passage) > cfg["max_p_len"]:
            counts.c[f"passages cut to max_p_len={cfg['max_p_len']}"] += 1
        passages.append(passage[:cfg["max_p_len"]] or [PAD])  # an empty paragraph still takes a slot
    sample = {"question_id": obj["question_id"], "question_type": obj.get("question_type", ""),
              "question": question[:cfg["max_q_len"]], "passages": passages, "title_lens": title_lens,
              "answers": [a for a in obj.get("answers", []) if isinstance(a, str)], "doc": -1, "start": 0, "end": 0}
    if train:
        spans, answer_docs = obj.get("answer_spans", []), obj.get("answer_docs", [])
        if not spans or not answer_docs:
            counts.c["training questions without an answer span skipped"] += 1
            return None
        span, d = spans[0], answer_docs[0]
        if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)) \
                or not isinstance(d, int):
            raise utils.DataError(f"{where}: answer_spans[0] must be [start, end] and answer_docs[0] an index")
        if not 0 <= d < len(docs):
            raise utils.DataError(f"{where}: answer_docs[0] = {d} but the question has {len(docs)} documents")
        if d >= cfg["max_p_num"]:  # before reading its paragraphs: only the first max_p_num were checked
            counts.c[f"training questions answered beyond max_p_num={cfg['max_p_num']} skipped"] += 1
            return None
        doc = docs[d]
        paragraphs = doc.get("segmented_paragraphs", [])
        k = doc.get("most_related_para", 0)
        length = len(paragraphs[k]) if paragraphs else 0
        if not 0 <= span[0] <= span[1] < length:
            raise utils.DataError(f"{where}: answer span {span} outside its paragraph (documents[{d}] "
                                  f"paragraph {k} has {length} tokens)")
        if span[1] >= cfg["max_p_len"]:
            counts.c[f"training questions answered beyond max_p_len={cfg['max_p_len']} skipped"] += 1
            return None
        sample.update(doc=d, start=span[0], end=span[1])
    return sample


def read_file(path, train, cfg, skip_bad_samples=False, counts=None):
    """Samples of one json-lines file (in line order), and the number of bad lines skipped."""
    counts = counts or Counts()
    samples, skipped = [], 0
    for lineno, raw in raw_lines(path):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise utils.DataError(f"{where}: not UTF-8 text (byte {e.start + 1} of the line)") from None
            sample = parse_sample(line, where, train, cfg, counts)
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
            continue
        if sample is not None:
            sample["where"] = where
            samples.append(sample)
    return samples, skipped


def load_split(data_dir, split, cfg, skip_bad_samples=False):
    """Every sample of a split (all its *.json files), reporting what was cut, skipped or bad."""
    samples = []
    for path in split_files(data_dir, split):
        counts = Counts()
        got, skipped = read_file(path, split == "train", cfg, skip_bad_samples, counts)
        if skipped:
            counts.c["bad lines skipped"] += skipped
        counts.report(path)
        samples += got
    if not samples:
        raise utils.DataError(f"{os.path.join(data_dir, SPLITS[split])}:0: no usable questions in the split")
    return samples


class Vocab:
    """Token <-> id: PAD 0, UNK 1, then the training tokens seen at least min_count times (lower-cased,
    as the release's Vocab(lower=True)), most frequent first."""

    def __init__(self, tokens):
        self.tokens = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.unk_id = 0, 1

    @classmethod
    def build(cls, samples, min_count):
        counter = Counter()
        for s in samples:
            counter.update(t.lower() for t in s["question"])
            for p in s["passages"]:
                counter.update(t.lower() for t in p)
        return cls(t for t, c in sorted(counter.items(), key=lambda x: (-x[1], x[0])) if c >= min_count)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in self.tokens[2:]))

    @classmethod
    def load(cls, path):
        return cls(line for _, line in utils.read_lines(path) if line)

    def __len__(self):
        return len(self.tokens)

    def to_ids(self, tokens):
        return [self.index.get(t.lower(), self.unk_id) for t in tokens]


class SampleDataset(paddle.io.Dataset):
    """Samples as id arrays; item = (question ids, [passage ids], doc, start, end)."""

    def __init__(self, samples, vocab):
        self.samples = samples
        self.items = [(vocab.to_ids(s["question"]), [vocab.to_ids(p) for p in s["passages"]], s["doc"],
                       s["start"], s["end"]) for s in samples]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def collate(items, pad_id=0):
    """Pad a batch: q_ids [B, Lq], q_len [B], p_ids [B, P, Lp], p_len [B, P] (0 for a missing passage),
    start/end [B]: gold positions in the concatenation of the P passage slots of Lp tokens each."""
    B = len(items)
    lq = max(len(q) for q, *_ in items)
    P = max(len(ps) for _, ps, *_ in items)
    lp = max(len(p) for _, ps, *_ in items for p in ps)
    q_ids = np.full((B, lq), pad_id, dtype=np.int64)
    q_len = np.zeros(B, dtype=np.int64)
    p_ids = np.full((B, P, lp), pad_id, dtype=np.int64)
    p_len = np.zeros((B, P), dtype=np.int64)
    start = np.zeros(B, dtype=np.int64)
    end = np.zeros(B, dtype=np.int64)
    for b, (q, ps, doc, s, e) in enumerate(items):
        q_ids[b, :len(q)], q_len[b] = q, len(q)
        for p, ids in enumerate(ps):
            p_ids[b, p, :len(ids)], p_len[b, p] = ids, len(ids)
        if doc >= 0:
            start[b], end[b] = doc * lp + s, doc * lp + e
    return q_ids, q_len, p_ids, p_len, start, end


class BatchSampler(paddle.io.BatchSampler):
    """Shuffled batches by (seed, epoch); `set_epoch(epoch, start_batch)` starts mid-epoch so that
    --resume neither repeats nor skips a question; with several ranks each takes an equal share."""

    def __init__(self, num_samples, batch_size, shuffle=True, seed=0, shard=True):
        self.num_samples, self.batch_size, self.shuffle, self.seed, self.shard = num_samples, batch_size, shuffle, seed, shard
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        world = utils.world_size()
        if self.shard and world > 1:
            per_rank = self.num_samples // world
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())


def data_config(args):
    return {"max_p_num": args.max_p_num, "max_p_len": args.max_p_len, "max_q_len": args.max_q_len}


def add_data_flags(group, default=True):
    """The flags that shape what the model reads (saved with the run; eval/infer take the run's)."""
    d = (lambda v: v) if default else (lambda v: None)
    unset = "" if default else "; unset: the run's"
    group.add_argument("--max_p_num", type=int, default=d(MAX_P_NUM), help="documents (passages) used per question" + unset)
    group.add_argument("--max_p_len", type=int, default=d(MAX_P_LEN), help="tokens kept of each passage" + unset)
    group.add_argument("--max_q_len", type=int, default=d(MAX_Q_LEN), help="tokens kept of each question" + unset)
    group.add_argument("--max_a_len", type=int, default=d(MAX_A_LEN), help="longest answer span decoded, in tokens" + unset)
    group.add_argument("--para_prior", choices=["none", "release"], default=d("none"),
                       help="multiply each passage's best span by the release's rank priors "
                            "(0.44, 0.23, 0.15, 0.09, 0.07) or not" + unset)
