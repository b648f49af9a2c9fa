"""SQuAD v1.1: the json reader, sliding windows over long contexts, n-best span extraction and the
exact-match / F1 of the official evaluation script (evaluate-v1.1.py), re-implemented with the same
normalisation (lower case, punctuation and the articles a/an/the removed, whitespace collapsed).

On-disk format (the official files): DATA_DIR/squad/train-v1.1.json, dev-v1.1.json:
    {"version": "1.1", "data": [{"title": ..., "paragraphs": [{"context": ...,
        "qas": [{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": CHAR}]}]}]}]}

As in BERT: the context is split on whitespace into words, each word into WordPiece tokens; a
question's tokens (at most --max_query_len) come first, then a window of the context; windows start
every --doc_stride tokens, and a token is scored in the window where it has the most context on both
sides. A training window that does not hold the answer points at [CLS]. The predicted answer is the
best-scoring valid span (start and end within the context, end >= start, at most --max_answer_len
tokens) among the n best starts and ends, mapped back to the original words.
"""
import collections
import json
import os
import re
import string

import numpy as np
import paddle

import utils

FILES = {"train": "train-v1.1.json", "dev": "dev-v1.1.json"}


# ------------------------------------------------------------------------------------ the official metric

PUNCTUATION = set(string.punctuation)


def normalize_answer(text):
    text = "".join(ch for ch in text.lower() if ch not in PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def f1_score(prediction, truth):
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction, truth):
    return float(normalize_answer(prediction) == normalize_answer(truth))


def squad_scores(predictions, answers):
    """Sums of EM and F1 (each the best over a question's gold answers) and the question count;
    a question without a prediction scores 0, as in the official script."""
    em = f1 = 0.0
    for qid, truths in answers.items():
        if qid in predictions:
            em += max(exact_match(predictions[qid], t) for t in truths)
            f1 += max(f1_score(predictions[qid], t) for t in truths)
    return em, f1, len(answers)


# ---------------------------------------------------------------------------------------------- reading

def read_examples(path, skip_bad_samples=False, need_answers=True):
    """[{id, question, words, answers (texts), start_word, end_word}] of a SQuAD json file. An answer
    whose text is not at its answer_start in the context is a DataError naming the question id.
    need_answers False (infer.py): a question without answers is kept, with answers [] and word 0."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))["data"]
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise utils.DataError(f"{path}:{line}: not UTF-8 text") from None
    except (ValueError, KeyError) as e:
        raise utils.DataError(f"{path}:1: not a SQuAD json file ({str(e)[:80]})") from None
    examples, skipped = [], 0
    for article in data:
        for para in article["paragraphs"]:
            context = para["context"]
            words, char_to_word, prev_space = [], [], True
            for ch in context:
                if ch.isspace():
                    prev_space = True
                else:
                    if prev_space:
                        words.append(ch)
                    else:
                        words[-1] += ch
                    prev_space = False
                char_to_word.append(len(words) - 1)
            for qa in para["qas"]:
                answer = qa["answers"][0] if qa.get("answers") else None
                if answer is None and not need_answers:
                    examples.append({"id": qa["id"], "question": qa["question"], "words": words, "answers": [],
                                     "start_word": 0, "end_word": 0})
                    continue
                if answer is None:
                    raise utils.DataError(f"{path}: question {qa['id']}: no answer (SQuAD v1.1 has one for every question)")
                start, text = answer["answer_start"], answer["text"]
                if context[start:start + len(text)] != text or not text.strip():
                    if skip_bad_samples:
                        skipped += 1
                        continue
                    raise utils.DataError(f"{path}: question {qa['id']}: answer {text!r} is not in the context at "
                                          f"character {start}")
                examples.append({"id": qa["id"], "question": qa["question"], "words": words,
                                 "answers": [a["text"] for a in qa["answers"]],
                                 "start_word": char_to_word[start], "end_word": char_to_word[start + len(text) - 1]})
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad question(s) in {path}", flush=True)
    if not examples:
        raise utils.DataError(f"{path}:1: no questions in the file")
    return examples


def make_features(examples, tokenizer, max_seq_len, doc_stride=128, max_query_len=64, train=True):
    """Windows of (ids, types, start, end) plus, for prediction, the example index, the window's map
    from token position to context word and which tokens have their most context here."""
    features = []
    for index, ex in enumerate(examples):
        query = tokenizer.encode(ex["question"])[:max_query_len]
        tok_to_word, doc = [], []
        word_start = []
        for w, word in enumerate(ex["words"]):
            word_start.append(len(doc))
            for piece in tokenizer.tokenize(word):
                tok_to_word.append(w)
                doc.append(tokenizer.vocab.get(piece, tokenizer.unk_id))
        word_start.append(len(doc))
        ans_start = word_start[ex["start_word"]]
        ans_end = word_start[ex["end_word"] + 1] - 1
        room = max_seq_len - len(query) - 3
        spans, offset = [], 0
        while True:
            spans.append((offset, min(room, len(doc) - offset)))
            if offset + room >= len(doc):
                break
            offset += min(doc_stride, room)
        best_span = {}  # token -> the window where it has the most context (the first one on a tie)
        for k, (o, l) in enumerate(spans):
            for pos in range(o, o + l):
                score = min(pos - o, o + l - 1 - pos) + 0.01 * l
                if pos not in best_span or score > best_span[pos][0]:
                    best_span[pos] = (score, k)
        for k, (offset, length) in enumerate(spans):
            ids = [tokenizer.cls_id] + query + [tokenizer.sep_id] + doc[offset:offset + length] + [tokenizer.sep_id]
            types = [0] * (len(query) + 2) + [1] * (length + 1)
            first = len(query) + 2
            token_word, max_context = {}, {}
            for i in range(length):
                pos = offset + i
                token_word[first + i] = tok_to_word[pos]
                max_context[first + i] = best_span[pos][1] == k
            if offset <= ans_start and ans_end < offset + length:
                start, end = first + ans_start - offset, first + ans_end - offset
            else:
                start = end = 0
            features.append({"ids": ids, "types": types, "start": start, "end": end, "example": index,
                             "token_word": token_word, "max_context": max_context})
    return features


class FeatureDataset(paddle.io.Dataset):
    def __init__(self, features):
        self.features = features

    def __len__(self):
        return len(self.features)

    def __getitem__(self, index):
        f = self.features[index]
        return f["ids"], f["types"], f["start"], f["end"], index


def collate(batch, pad_id, pad_to=None):
    length = pad_to or max(len(b[0]) for b in batch)
    ids = np.full((len(batch), length), pad_id, dtype=np.int64)
    types = np.zeros((len(batch), length), dtype=np.int64)
    for row, b in enumerate(batch):
        ids[row, :len(b[0])], types[row, :len(b[1])] = b[0], b[1]
    return ids, types, *(np.array([b[k] for b in batch], dtype=np.int64) for k in (2, 3, 4))


def predict_answers(examples, features, start_logits, end_logits, n_best=20, max_answer_len=30):
    """{question id: answer text}: the best valid span over each example's windows."""
    best = {}
    for f, s_log, e_log in zip(features, start_logits, end_logits):
        starts = np.argsort(-s_log)[:n_best]
        ends = np.argsort(-e_log)[:n_best]
        for s in starts:
            if s not in f["token_word"] or not f["max_context"][s]:
                continue
            for e in ends:
                if e not in f["token_word"] or e < s or e - s + 1 > max_answer_len:
                    continue
                score = s_log[s] + e_log[e]
                if f["example"] not in best or score > best[f["example"]][0]:
                    best[f["example"]] = (score, f["token_word"][s], f["token_word"][e])
    return {examples[i]["id"]: " ".join(examples[i]["words"][a:b + 1]) for i, (_, a, b) in best.items()}


def first_span_baseline(examples):
    """The trivial baseline: the context's first words, as many as the (first) gold answer has."""
    return {ex["id"]: " ".join(ex["words"][:ex["end_word"] - ex["start_word"] + 1]) for ex in examples}
