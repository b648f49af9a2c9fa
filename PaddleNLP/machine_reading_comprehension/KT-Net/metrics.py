"""Exact match and F1 as the official SQuAD v1.1 script (evaluate-v1.1.py) and the ReCoRD script
(the same normalisation: lower case, punctuation and the articles a/an/the removed, whitespace
collapsed; each question scores its best over the gold answers; a question without a prediction
scores 0), the n-best answer extraction over windows, and the trivial baselines.
"""
import collections
import re
import string

import numpy as np

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


def scores(predictions, answers):
    """Sums of EM and F1 (each the max over a question's gold answers) and the question count."""
    em = f1 = 0.0
    for qid, truths in answers.items():
        if qid in predictions:
            em += max(exact_match(predictions[qid], t) for t in truths)
            f1 += max(f1_score(predictions[qid], t) for t in truths)
    return em, f1, len(answers)


def predict_answers(examples, features, start_logits, end_logits, n_best=20, max_answer_len=30):
    """{question id: answer text}: the best valid span (in the passage, end >= start, at most
    max_answer_len pieces, start where it has the most context) over each example's windows."""
    best = {}
    for f, s_log, e_log in zip(features, start_logits, end_logits):
        for s in np.argsort(-s_log)[:n_best]:
            if s not in f["token_word"] or not f["max_context"][s]:
                continue
            for e in np.argsort(-e_log)[:n_best]:
                if e not in f["token_word"] or e < s or e - s + 1 > max_answer_len:
                    continue
                score = s_log[s] + e_log[e]
                if f["example"] not in best or score > best[f["example"]][0]:
                    best[f["example"]] = (score, f["token_word"][s], f["token_word"][e])
    return {examples[i]["id"]: " ".join(examples[i]["words"][a:b + 1]) for i, (_, a, b) in best.items()}


def first_span_baseline(examples):
    """The passage's first words, as many as the (first) gold answer has."""
    return {ex["id"]: " ".join(ex["words"][:ex["end_word"] - ex["start_word"] + 1]) for ex in examples}


def first_sentence_baseline(examples):
    """The passage's first sentence (its words up to and including the first '.')."""
    out = {}
    for ex in examples:
        words = ex["words"]
        end = next((i for i, w in enumerate(words) if w.endswith(".")), len(words) - 1)
        out[ex["id"]] = " ".join(words[:end + 1])
    return out
