"""The only data path: DuConv's json lines, the release's preprocessing, the vocabulary, and batches.

The layout (DuConv, ACL 2019; the release's data/): one JSON object a line, text already segmented
into words separated by spaces.
    train.txt dev.txt   sessions: {"goal": [["START", topic_a, topic_b], [s, p, o], ...],
                                   "knowledge": [[s, p, o], ...], "conversation": [turn, ...]}
    test_1.txt          samples:  {"goal", "knowledge", "history": [turn, ...], "response": turn}
A session becomes one sample per bot turn (turns 0, 2, 4, ...: the bot opens), its history the turns
before it, as the release's convert_session_to_sample did; a sample line is used as it is.

The release's preprocessing (convert_conversation_corpus_to_model_text, with topic generalization):
topic_a and topic_b are replaced everywhere by `video_topic_a` / `person_topic_a` (and _b), by the
domain their (topic, 领域, domain) triple gives (电影: video, anything else: person), longer name
first; the model reads and writes the placeholders and they are put back after decoding. The encoder
reads `goal triples + knowledge triples + " : " + history`; the knowledge attention reads each
triple "s p o" on its own.

Bad input stops with `file:line: what` (exit 2) before the first step, or with --skip_bad_samples is
skipped and counted: a line that is not a JSON object, a missing field, a triple without exactly 3
fields, an empty conversation or turn, no 领域 triple for a topic, a byte that is not UTF-8. A source
longer than --max_src_len loses its oldest history words (the goal and knowledge are kept), a response
longer than --max_dec_len and a triple longer than --max_triple_len are cut; each is counted.
"""
import json
import os

import numpy as np

import utils

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3  # the release's ids (network.py: unk 1, bos 2, eos 3)
DOMAIN, VIDEO = "领域", "电影"
PLACEHOLDERS = ("video_topic_a", "person_topic_a", "video_topic_b", "person_topic_b")


class Vocabulary:
    def __init__(self, tokens, where="vocabulary"):
        self.tokens = list(tokens)
        if self.tokens[:4] != [PAD, UNK, BOS, EOS]:
            raise utils.DataError(f"{where}:1: the vocabulary must start with {PAD} {UNK} {BOS} {EOS}")
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def build(cls, samples, max_size=30004):
        """The training words by frequency (ties alphabetical), after the four special tokens."""
        counts = {}
        for s in samples:
            for text in [s["src"], s["response"]] + s["triples"]:
                for w in text.split():
                    counts[w] = counts.get(w, 0) + 1
        words = sorted(counts, key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, BOS, EOS] + words[:max_size - 4])

    @classmethod
    def load(cls, path):
        if not os.path.isfile(path):
            raise utils.CheckpointError(f"no vocabulary at {path}; it is written by train.py")
        return cls([text.strip() for _, text in utils.read_lines(path)], path)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in self.tokens)

    def encode(self, text):
        return [self.ids.get(w, UNK_ID) for w in text.split()]

    def decode(self, ids):
        return " ".join(self.tokens[i] for i in ids)


def _triples(where, record, key):
    value = record.get(key)
    if not isinstance(value, list):
        raise utils.DataError(f"{where}: field {key!r} missing or not a list of [subject, predicate, object]")
    for i, triple in enumerate(value):
        if not isinstance(triple, list) or len(triple) != 3 or not all(isinstance(x, str) for x in triple):
            size = len(triple) if isinstance(triple, list) else "not a list"
            raise utils.DataError(f"{where}: {key} triple {i + 1} has {size} fields, expected 3 strings "
                                  f"(subject, predicate, object): {json.dumps(triple, ensure_ascii=False)}")
    return value


def _turns(where, value, key):
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise utils.DataError(f"{where}: field {key!r} missing or not a list of strings")
    for i, turn in enumerate(value):
        if not turn.strip():
            raise utils.DataError(f"{where}: {key} turn {i + 1} is empty")
    return value


def topic_dict(where, goal, knowledge):
    """{placeholder: topic name} of the release's topic generalization."""
    if not goal or len(goal[0]) != 3:
        raise utils.DataError(f"{where}: empty goal: expected [[\"START\", topic_a, topic_b], ...]")
    topics = {}
    for side, name in (("a", goal[0][1]), ("b", goal[0][2])):
        domains = [o for s, p, o in knowledge if s == name and p == DOMAIN]
        if not domains:
            raise utils.DataError(f"{where}: no ({name}, {DOMAIN}, domain) triple for topic_{side}: the release "
                                  "needs it to pick the placeholder")
        topics[("video" if domains[0] == VIDEO else "person") + f"_topic_{side}"] = name
    return topics


def generalize(text, topics):
    for key, name in sorted(topics.items(), key=lambda kv: len(kv[1]), reverse=True):
        text = text.replace(name, key)
    return text


def restore(text, topics):
    for key, name in topics.items():
        text = text.replace(key, name)
    return text


def parse_record(where, text, need_response=True):
    """The samples of one line: [{where, src, triples, response, gold, topics, num_history}]."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise utils.DataError(f"{where}: not a JSON object ({e.msg} at column {e.colno})") from None
    if not isinstance(record, dict):
        raise utils.DataError(f"{where}: not a JSON object")
    goal, knowledge = _triples(where, record, "goal"), _triples(where, record, "knowledge")
    if not knowledge:
        raise utils.DataError(f"{where}: empty knowledge: the model attends over the triples")
    topics = topic_dict(where, goal, knowledge)
    if "conversation" in record:
        conv = _turns(where, record["conversation"], "conversation")
        if not conv:
            raise utils.DataError(f"{where}: empty conversation")
        pairs = [(conv[:j], conv[j]) for j in range(0, len(conv), 2)]
    else:
        history = _turns(where, record.get("history"), "history")
        response = record.get("response")
        if need_response and (not isinstance(response, str) or not response.strip()):
            raise utils.DataError(f"{where}: field 'response' missing or empty")
        pairs = [(history, response if isinstance(response, str) else "")]
    head = " ".join(" ".join(t) for t in goal) + " " + " ".join(" ".join(t) for t in knowledge) + " :"
    out = []
    for history, response in pairs:
        out.append({"where": where, "src": generalize(head, topics), "history": generalize(" ".join(history), topics),
                    "triples": [generalize(" ".join(t), topics) for t in knowledge],
                    "response": generalize(response, topics), "gold": response, "topics": topics,
                    "num_history": len(history), "goal": goal, "knowledge": knowledge,
                    "history_turns": [generalize(t, topics) for t in history]})
    return out


def read_file(path, skip_bad=False, counter=None, need_response=True):
    """Every sample of a file, checked line by line."""
    counter = counter if counter is not None else {"bad": 0}
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    samples = []
    for number, line in enumerate(raw, 1):
        where = f"{path}:{number}"
        try:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise utils.DataError(f"{where}: not UTF-8 text (byte {e.start + 1} of the line)") from None
            if not text.strip():
                continue
            samples += parse_record(where, text, need_response)
        except utils.DataError as e:
            if not skip_bad:
                raise
            counter["bad"] += 1
            print(f"skipped bad sample: {e}", flush=True)
    if not samples:
        raise utils.DataError(f"{path}:1: no samples in the file")
    return samples


class Encoded:
    """A split as id arrays, with counts of what was cut to the length limits."""

    def __init__(self, samples, vocab, max_src_len=500, max_dec_len=30, max_triple_len=30):
        self.samples = samples
        self.src, self.triples, self.trg = [], [], []
        self.cut = {"src": 0, "response": 0, "triple": 0}
        for s in samples:
            head, history = vocab.encode(s["src"]), vocab.encode(s["history"])
            if len(head) + len(history) > max_src_len:
                self.cut["src"] += 1
                history = history[len(history) - max(0, max_src_len - len(head)):] if len(head) < max_src_len else []
                head = head[:max_src_len]
            self.src.append(np.asarray(head + history, dtype=np.int64))
            triples = []
            for t in s["triples"]:
                ids = vocab.encode(t)
                if len(ids) > max_triple_len:
                    self.cut["triple"] += 1
                    ids = ids[:max_triple_len]
                triples.append(ids)
            self.triples.append(triples)
            trg = vocab.encode(s["response"])
            if len(trg) > max_dec_len - 1:
                self.cut["response"] += 1
                trg = trg[:max_dec_len - 1]  # room for <eos>
            self.trg.append(np.asarray(trg, dtype=np.int64))
        self.lengths = np.array([len(s) for s in self.src], dtype=np.int64)

    def __len__(self):
        return len(self.src)

    def cut_note(self):
        parts = [f"{n} {what}s" for what, n in self.cut.items() if n]
        return ("cut to the length limits: " + ", ".join(parts)) if parts else ""

    def source(self, indices):
        """src [B, S], src_len [B], kn [B, K, T], kn_len [B, K] (0: a padded triple)."""
        src_len = np.array([max(1, len(self.src[i])) for i in indices], dtype=np.int64)
        src = np.full((len(indices), src_len.max()), PAD_ID, dtype=np.int64)
        num_k = max(len(self.triples[i]) for i in indices)
        max_t = max(len(t) for i in indices for t in self.triples[i])
        kn = np.full((len(indices), num_k, max(1, max_t)), PAD_ID, dtype=np.int64)
        kn_len = np.zeros((len(indices), num_k), dtype=np.int64)
        for row, i in enumerate(indices):
            src[row, :len(self.src[i])] = self.src[i]
            for k, t in enumerate(self.triples[i]):
                kn[row, k, :len(t)], kn_len[row, k] = t, len(t)
        return src, src_len, kn, kn_len

    def batch(self, indices):
        """source(...) + trg_in <bos> y [B, T], labels y <eos> [B, T], trg_len [B] (with <eos>)."""
        trgs = [self.trg[i] for i in indices]
        trg_len = np.array([len(t) + 1 for t in trgs], dtype=np.int64)
        trg_in = np.full((len(indices), trg_len.max()), PAD_ID, dtype=np.int64)
        labels = np.full((len(indices), trg_len.max()), PAD_ID, dtype=np.int64)
        for row, t in enumerate(trgs):
            trg_in[row, 0], trg_in[row, 1:len(t) + 1] = BOS_ID, t
            labels[row, :len(t)], labels[row, len(t)] = t, EOS_ID
        return self.source(indices) + (trg_in, labels, trg_len)


def batches(lengths, batch_size, seed, shuffle=True, pool_batches=20):
    """Index lists: shuffled, sorted by source length in pools of pool_batches batches, shuffled."""
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    out, pool = [], batch_size * pool_batches
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    if shuffle:
        rng.shuffle(out)
    return out


def split_path(args, split):
    return os.path.join(args.data_dir, {"train": args.train_file, "dev": args.dev_file, "test": args.test_file}[split])


def add_data_flags(parser):
    g = parser.add_argument_group("data (README, Data)")
    g.add_argument("--train_file", default="train.txt", help="training sessions or samples in DATA_DIR")
    g.add_argument("--dev_file", default="dev.txt", help="dev split in DATA_DIR (selects best.pdparams)")
    g.add_argument("--test_file", default="test_1.txt", help="test split in DATA_DIR (eval.py)")
    g.add_argument("--max_src_len", type=int, default=500,
                   help="longest encoder input in words (longer: oldest history words dropped, counted)")
    g.add_argument("--max_dec_len", type=int, default=30, help="longest response in words with <eos> (cut, counted)")
    g.add_argument("--max_triple_len", type=int, default=30, help="longest knowledge triple in words (cut, counted)")
    g.add_argument("--vocab_size", type=int, default=30004, help="largest vocabulary built from the training split")
    return parser
