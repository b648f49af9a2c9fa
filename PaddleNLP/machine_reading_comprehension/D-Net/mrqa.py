"""MRQA 2019 shared-task data: the jsonl reader, sliding windows over long contexts, n-best span
extraction and the exact-match / F1 of the official evaluation script (mrqa_official_eval.py,
itself SQuAD v1.1's: lower case, punctuation and the articles a/an/the removed, whitespace collapsed,
the best over a question's gold answers, an unanswered question scoring 0), re-implemented here.

On-disk format (the shared task's files, plain .jsonl or gzipped .jsonl.gz), one file per dataset:
    line 1:  {"header": {"dataset": "SQuAD", "split": "train"}}
    then one context per line:
        {"id": ..., "context": "...", "context_tokens": [[token, char offset], ...],
         "qas": [{"qid": ..., "question": "...", "answers": ["...", ...],
                  "detected_answers": [{"text": "...", "char_spans": [[start, end]], "token_spans": [[s, e]]}]}]}
    char_spans and token_spans are inclusive at both ends.

Training uses the first detected answer's first character span (as the release's converter falls
back to); evaluation scores against "answers" (all of them), as the official script does. As in
BERT: the context is split on whitespace into words, each word into WordPiece tokens; the question's
tokens (at most --max_query_len) come first, then a window of the context; windows start every
--doc_stride tokens, and a token is scored in the window where it has the most context. A training
window without the answer points at [CLS]. The contexts' [TLE], [DOC] and [PAR] markers become [SEP],
as the release's reader did.
"""
import collections
import gzip
import json
import os
import re
import string

import numpy as np
import paddle

import utils


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


def mrqa_scores(predictions, answers):
    """Sums of EM and F1 (each the best over a question's gold answers) and the question count; a
    question without a prediction counts, with 0 (the official script's skip_no_answer=False)."""
    em = f1 = 0.0
    for qid, truths in answers.items():
        if qid in predictions:
            em += max(exact_match(predictions[qid], t) for t in truths)
            f1 += max(f1_score(predictions[qid], t) for t in truths)
    return em, f1, len(answers)


# ---------------------------------------------------------------------------------------------- reading

def split_words(context):
    """Whitespace-separated words and, for each character, the index of its word."""
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
    return words, char_to_word


def _raw_lines(path):
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read().split(b"\n")
    except (OSError, EOFError) as e:
        raise utils.DataError(f"{path}:1: cannot read the file ({e})") from None
    if raw and raw[-1] == b"":
        raw.pop()
    return raw


def _check_span(path, lineno, qid, context, tokens, detected):
    """(start char, end char) of a detected answer; a span outside its passage is a DataError."""
    if not detected.get("char_spans"):
        raise utils.DataError(f"{path}:{lineno}: question {qid}: a detected answer without char_spans")
    start, end = detected["char_spans"][0]
    if not 0 <= start <= end < len(context):
        raise utils.DataError(f"{path}:{lineno}: question {qid}: answer span [{start}, {end}] is outside its "
                              f"passage ({len(context)} characters)")
    for s, e in detected.get("token_spans", []):
        if not 0 <= s <= e < len(tokens):
            raise utils.DataError(f"{path}:{lineno}: question {qid}: answer token span [{s}, {e}] is outside its "
                                  f"passage ({len(tokens)} tokens)")
    return start, end


def read_mrqa(path, skip_bad_samples=False, need_answers=True):
    """(dataset name, [{id, question, words, answers, start_word, end_word}]) of one MRQA jsonl file.
    Bad input is a DataError naming the file and line (and the question id): no header line, a line
    that is not JSON or lacks a field, a non-UTF-8 byte, an answer span outside its passage.
    --skip_bad_samples skips and counts bad lines and questions instead (a missing header still stops).
    need_answers False (infer.py): questions without answers are kept with answers []."""
    raw = _raw_lines(path)

    def parse(lineno, line):
        try:
            return json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None
        except ValueError as e:
            raise utils.DataError(f"{path}:{lineno}: not a JSON line ({str(e)[:60]})") from None

    first = parse(1, raw[0]) if raw else None
    if not isinstance(first, dict) or not isinstance(first.get("header"), dict):
        raise utils.DataError(f'{path}:1: no MRQA header line ({{"header": {{"dataset": ...}}}}) first')
    name = first["header"].get("dataset") or os.path.basename(path).split(".")[0]
    examples, skipped = [], 0
    for lineno, line in enumerate(raw[1:], 2):
        if not line.strip():
            continue
        try:
            sample = parse(lineno, line)
            if not isinstance(sample, dict) or not isinstance(sample.get("context"), str) or "qas" not in sample:
                raise utils.DataError(f"{path}:{lineno}: a context line needs \"context\" and \"qas\"")
            context = sample["context"]
            if not context.strip():
                raise utils.DataError(f"{path}:{lineno}: empty context")
            words, char_to_word = split_words(context)
            tokens = sample.get("context_tokens", [])
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
            continue
        for qa in sample["qas"]:
            try:
                if not isinstance(qa, dict) or "qid" not in qa or "question" not in qa:
                    raise utils.DataError(f"{path}:{lineno}: a question needs \"qid\" and \"question\"")
                answers = [a for a in qa.get("answers", []) if isinstance(a, str)]
                detected = qa.get("detected_answers") or []
                if not detected:
                    if need_answers:
                        raise utils.DataError(f"{path}:{lineno}: question {qa['qid']}: no detected_answers")
                    examples.append({"id": qa["qid"], "question": qa["question"], "words": words,
                                     "answers": answers, "start_word": 0, "end_word": 0, "dataset": name})
                    continue
                start, end = _check_span(path, lineno, qa["qid"], context, tokens, detected[0])
                if not answers:
                    answers = [d["text"] for d in detected if isinstance(d.get("text"), str)]
                examples.append({"id": qa["qid"], "question": qa["question"], "words": words, "answers": answers,
                                 "start_word": max(char_to_word[start], 0), "end_word": char_to_word[end],
                                 "dataset": name})
            except utils.DataError:
                if not skip_bad_samples:
                    raise
                skipped += 1
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad line(s)/question(s) in {path}", flush=True)
    if not examples:
        raise utils.DataError(f"{path}:1: no questions in the file")
    return name, examples


def dataset_files(data_dir, split):
    """The MRQA files of a split, sorted by name: DATA_DIR/SPLIT/*.jsonl(.gz)."""
    folder = os.path.join(data_dir, split)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.endswith((".jsonl", ".jsonl.gz"))) if os.path.isdir(folder) else []
    if not files:
        raise utils.DataError(f"{folder}: no .jsonl or .jsonl.gz files (one per dataset)")
    return files


def read_split(data_dir, split, skip_bad_samples=False, only=None):
    """{dataset name: examples} of every file of a split (or only the named datasets)."""
    sets = {}
    for path in dataset_files(data_dir, split):
        name, examples = read_mrqa(path, skip_bad_samples)
        if name in sets:
            raise utils.DataError(f"{path}:1: dataset {name!r} appears in two files of {split}/")
        if only is None or name in only:
            sets[name] = examples
    if only is not None and set(only) - set(sets):
        raise utils.DataError(f"{data_dir}/{split}: no dataset {', '.join(sorted(set(only) - set(sets)))} "
                              f"(there are: {', '.join(sorted(sets) or ['none'])})")
    return sets


# ------------------------------------------------------------------------------------- windows, n-best

MARKERS = {"[TLE]", "[DOC]", "[PAR]"}  # MRQA's title / document / paragraph markers: read as [SEP]


def make_features(examples, tokenizer, max_seq_len, doc_stride, max_query_len, train=False, stats=None):
    """Sliding-window features of each example: ids, types, the answer's start/end token (0 = [CLS]
    when the window lacks it), the example index, and for each context token its word and whether
    this window is where it has the most context. `stats` (a dict) counts contexts longer than one
    window and the windows made."""
    features = []
    for index, ex in enumerate(examples):
        query = tokenizer.encode(ex["question"])[:max_query_len]
        doc, tok_to_word, word_start = [], [], []
        for w, word in enumerate(ex["words"]):
            word_start.append(len(doc))
            for piece in ["[SEP]"] if word in MARKERS else tokenizer.tokenize(word):
                tok_to_word.append(w)
                doc.append(tokenizer.vocab.get(piece, tokenizer.unk_id))
        word_start.append(len(doc))
        ans_start = word_start[ex["start_word"]]
        ans_end = word_start[ex["end_word"] + 1] - 1
        room = max_seq_len - len(query) - 3
        if room < 1:
            raise utils.DataError(f"question {ex['id']}: --max_seq_len {max_seq_len} leaves no room for the "
                                  f"context after {len(query)} question tokens")
        spans, offset = [], 0
        while True:
            spans.append((offset, min(room, len(doc) - offset)))
            if offset + room >= len(doc):
                break
            offset += min(doc_stride, room)
        if stats is not None:
            stats["long"] = stats.get("long", 0) + (len(spans) > 1)
            stats["windows"] = stats.get("windows", 0) + len(spans)
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
                token_word[first + i] = tok_to_word[offset + i]
                max_context[first + i] = best_span[offset + i][1] == k
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


# -------------------------------------------------------------------------------------------- baselines

def first_span_baseline(examples):
    """The context's first words, as many as the (first) detected answer has."""
    return {ex["id"]: " ".join(ex["words"][:ex["end_word"] - ex["start_word"] + 1]) for ex in examples}


def first_sentence_baseline(examples):
    """The context's first sentence (its words up to the first one ending in . ? or !)."""
    out = {}
    for ex in examples:
        end = next((i for i, w in enumerate(ex["words"]) if w[-1] in ".?!"), len(ex["words"]) - 1)
        out[ex["id"]] = " ".join(ex["words"][:end + 1])
    return out


def seen_answer_baseline(examples, train_examples, max_words=5):
    """The context's first span (at most max_words words) that is, normalised, an answer of the same
    dataset's training file: it knows what answers look like, but does not read who the question asks
    about."""
    known = {normalize_answer(a) for ex in train_examples for a in ex["answers"]} - {""}
    out = {}
    for ex in examples:
        words = ex["words"]
        out[ex["id"]] = next((" ".join(words[i:i + n]) for i in range(len(words)) for n in range(1, max_words + 1)
                              if normalize_answer(" ".join(words[i:i + n])) in known), "")
    return out
