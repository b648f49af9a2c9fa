"""The only data path: SQuAD v1.1 and ReCoRD json, sliding windows over long passages, and each
token's retrieved KB concepts (kb.py), batched for the model.

On-disk formats (the official files, unchanged):
    DATA_DIR/squad/{train,dev}-v1.1.json   {"data": [{"title", "paragraphs": [{"context",
                                           "qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}
    DATA_DIR/record/{train,dev}.json       {"data": [{"id", "passage": {"text", "entities": [{"start", "end"}]},
                                           "qas": [{"id", "query" (with @placeholder), "answers":
                                           [{"start", "end", "text"}]}]}]}   (ReCoRD: `end` inclusive)
    DATA_DIR/kb/                           the KB files (kb.py)
A test split (test-v1.1.json / test.json, with answers) is read when present (the demo writes one).

As in BERT and the KT-NET release: the passage is split on whitespace into words, each word into
basic tokens (whose retrieved concepts it takes) and each basic token into WordPiece pieces (each piece
carries its token's concepts). The question's pieces (at most --max_query_len) come first, then a
window of the passage; windows start every --doc_stride pieces and a piece is scored in the window
where it has the most context. A training window without the answer points at [CLS].
"""
import json
import os

import numpy as np
import paddle

import tokenizer as wordpiece_tokenizer
import utils

DATASETS = ("record", "squad")
FILES = {"squad": {"train": "train-v1.1.json", "dev": "dev-v1.1.json", "test": "test-v1.1.json"},
         "record": {"train": "train.json", "dev": "dev.json", "test": "test.json"}}


def data_path(data_dir, dataset, split):
    return os.path.join(data_dir, dataset, FILES[dataset][split])


def _load_json(path):
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8"))["data"]
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise utils.DataError(f"{path}:{line}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise utils.DataError(f"{path}:{e.lineno}: malformed json ({e.msg})") from None
    except (KeyError, TypeError):
        raise utils.DataError(f"{path}:1: no top-level \"data\" list") from None


def split_words(text):
    """(whitespace-separated words, the word index of every character)."""
    words, char_to_word, prev_space = [], [], True
    for ch in text:
        if ch.isspace():
            prev_space = True
        else:
            if prev_space:
                words.append(ch)
            else:
                words[-1] += ch
            prev_space = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word


def read_examples(path, dataset, skip_bad_samples=False, need_answers=True):
    """[{id, question, words, answers (texts), start_word, end_word}] of a SQuAD or ReCoRD file. An
    answer span outside its passage (or whose text is not there) is a DataError naming the question
    id; need_answers False (infer.py): questions without answers are kept with answers []."""
    data = _load_json(path)
    examples, skipped = [], 0
    try:
        for article in data:
            if dataset == "squad":
                paragraphs = [(p["context"], p["qas"]) for p in article["paragraphs"]]
            else:
                paragraphs = [(article["passage"]["text"], article["qas"])]
            for context, qas in paragraphs:
                words, char_to_word = split_words(context)
                for qa in qas:
                    question = qa["question"] if dataset == "squad" else qa["query"]
                    answers = qa.get("answers") or []
                    if not answers:
                        if need_answers:
                            raise utils.DataError(f"{path}: question {qa['id']}: no answer")
                        examples.append({"id": qa["id"], "question": question, "words": words, "answers": [],
                                         "start_word": 0, "end_word": 0})
                        continue
                    first = answers[0]
                    start = first["answer_start"] if dataset == "squad" else first["start"]
                    end = start + len(first["text"]) if dataset == "squad" else first["end"] + 1  # exclusive
                    if not (0 <= start < end <= len(context)) or context[start:end] != first["text"] \
                            or not first["text"].strip():
                        if skip_bad_samples:
                            skipped += 1
                            continue
                        where = "outside the passage" if not 0 <= start < end <= len(context) else "not in the passage"
                        raise utils.DataError(f"{path}: question {qa['id']}: answer {first['text']!r} at characters "
                                              f"{start}..{end - 1} is {where} ({len(context)} characters)")
                    examples.append({"id": qa["id"], "question": question, "words": words,
                                     "answers": [a["text"] for a in answers],
                                     "start_word": char_to_word[start], "end_word": char_to_word[end - 1]})
    except (KeyError, TypeError) as e:
        raise utils.DataError(f"{path}: not a {dataset} json file (missing field {e})") from None
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad question(s) in {path}", flush=True)
    if not examples:
        raise utils.DataError(f"{path}:1: no questions in the file")
    return examples


def encode(text, tok, kb):
    """(piece ids, concept ids per piece, word index per piece) of a whitespace-split text."""
    ids, concepts, word_of = [], [], []
    for w, word in enumerate(text if isinstance(text, list) else text.split()):
        for token in wordpiece_tokenizer.basic_tokenize(word, tok.lower_case):
            found = kb.concepts(token) if kb is not None else []
            for piece in wordpiece_tokenizer.wordpiece(token, tok.vocab):
                ids.append(tok.vocab.get(piece, tok.unk_id))
                concepts.append(found)
                word_of.append(w)
    return ids, concepts, word_of


def make_features(examples, tok, kb, max_seq_len, doc_stride=128, max_query_len=64):
    """(windows, number of passages longer than one window): each window holds ids, types, concepts,
    start, end (the answer's positions, or 0 = [CLS]), the example's index, and for prediction its map
    from position to passage word and which positions have their most context here."""
    features, long_passages = [], 0
    for index, ex in enumerate(examples):
        query, query_concepts, _ = encode(ex["question"], tok, kb)
        query, query_concepts = query[:max_query_len], query_concepts[:max_query_len]
        doc, doc_concepts, tok_to_word = encode(ex["words"], tok, kb)
        word_start = {}
        for pos, w in enumerate(tok_to_word):
            word_start.setdefault(w, pos)
        ans_start = word_start.get(ex["start_word"], 0)
        ans_end = max((p for p, w in enumerate(tok_to_word) if w == ex["end_word"]), default=0)
        room = max_seq_len - len(query) - 3
        if room <= 0:
            raise utils.DataError(f"question {ex['id']}: --max_seq_len {max_seq_len} leaves no room for the passage")
        spans, offset = [], 0
        while True:
            spans.append((offset, min(room, len(doc) - offset)))
            if offset + room >= len(doc):
                break
            offset += min(doc_stride, room)
        long_passages += len(spans) > 1
        best_span = {}
        for k, (o, l) in enumerate(spans):
            for pos in range(o, o + l):
                score = min(pos - o, o + l - 1 - pos) + 0.01 * l
                if pos not in best_span or score > best_span[pos][0]:
                    best_span[pos] = (score, k)
        for k, (offset, length) in enumerate(spans):
            ids = [tok.cls_id] + query + [tok.sep_id] + doc[offset:offset + length] + [tok.sep_id]
            concepts = [[]] + query_concepts + [[]] + doc_concepts[offset:offset + length] + [[]]
            types = [0] * (len(query) + 2) + [1] * (length + 1)
            first = len(query) + 2
            token_word = {first + i: tok_to_word[offset + i] for i in range(length)}
            max_context = {first + i: best_span[offset + i][1] == k for i in range(length)}
            if ex["answers"] and offset <= ans_start and ans_end < offset + length:
                start, end = first + ans_start - offset, first + ans_end - offset
            else:
                start = end = 0
            features.append({"ids": ids, "types": types, "concepts": concepts, "start": start, "end": end,
                             "example": index, "token_word": token_word, "max_context": max_context})
    return features, long_passages


class FeatureDataset(paddle.io.Dataset):
    def __init__(self, features, examples):
        self.features, self.examples = features, examples

    def __len__(self):
        return len(self.features)

    def __getitem__(self, index):
        f = self.features[index]
        return f["ids"], f["types"], f["concepts"], f["start"], f["end"], index


def collate(batch, pad_id, pad_to=None, max_concepts=None):
    """ids, token types [B, L]; concept ids [B, L, C] (0 = none); start, end, feature index [B]."""
    length = pad_to or max(len(b[0]) for b in batch)
    width = max_concepts or max([1] + [len(c) for b in batch for c in b[2]])
    ids = np.full((len(batch), length), pad_id, dtype=np.int64)
    types = np.zeros((len(batch), length), dtype=np.int64)
    concepts = np.zeros((len(batch), length, width), dtype=np.int64)
    for row, b in enumerate(batch):
        ids[row, :len(b[0])], types[row, :len(b[1])] = b[0], b[1]
        for pos, found in enumerate(b[2]):
            concepts[row, pos, :len(found)] = found[:width]
    return ids, types, concepts, *(np.array([b[k] for b in batch], dtype=np.int64) for k in (3, 4, 5))


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
        if self.shuffle:  # training: equal batches
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())
