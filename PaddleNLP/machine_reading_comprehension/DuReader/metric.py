"""DuReader's metrics, computed as the official evaluation (utils/dureader_eval.py of the DuReader
release, with its coco-caption style bleu_scorer.py and rouge.py) computes them:

* every answer is normalised to its characters joined by spaces (whitespace dropped), so scores are
  character-level whatever the segmentation;
* one predicted answer per question against all its reference answers; questions without a
  reference answer are left out;
* ROUGE-L per question: LCS over the characters, precision and recall against each reference, the
  best precision and the best recall (each maximised on its own), F with beta = 1.2; then the mean
  over questions;
* BLEU-4 over the whole corpus: clipped n-gram matches against the per-n-gram maximum count over
  the references, summed over all questions; the effective reference length of a question is the
  reference length closest to the prediction's (the shorter one on a tie); the brevity penalty and
  the tiny/small constants (1e-15, 1e-9) are the scorer's.

Neither sacrebleu nor the `rouge` package computes these (sacrebleu has no 'closest' reference
length with these smoothing constants; `rouge` uses beta 1 and no best-of-references), so they are
written here and tested on hand-computed cases (tests/test_metric.py).

The sums a corpus needs are kept in one array (`DuReaderMetric.stats`), so that ranks can sum them
(utils.all_reduce_sum) and compute the metric once over every rank's questions.
"""
import math
from collections import Counter

import numpy as np

BLEU_N = 4
BETA = 1.2
TINY, SMALL = 1e-15, 1e-9


def normalize(answer):
    """'北京 是 首都' -> '北 京 是 首 都': the characters of an answer, spaces removed, joined by spaces."""
    return " ".join(c for c in answer if c.strip())


def lcs_length(a, b):
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            cur = row[j]
            row[j] = prev + 1 if x == y else max(row[j], row[j - 1])
            prev = cur
    return row[-1]


def rouge_l(candidate, references):
    """ROUGE-L of one normalised candidate against its normalised references (the scorer's calc_score:
    tokens are split on single spaces, so an empty candidate is one empty token)."""
    cand = candidate.split(" ")
    precisions, recalls = [], []
    for ref in references:
        ref_tokens = ref.split(" ")
        lcs = lcs_length(ref_tokens, cand)
        precisions.append(lcs / len(cand))
        recalls.append(lcs / len(ref_tokens))
    p, r = max(precisions), max(recalls)
    if p == 0 or r == 0:
        return 0.0
    return (1 + BETA ** 2) * p * r / (r + BETA ** 2 * p)


def ngram_counts(text, n=BLEU_N):
    words = text.split()
    return len(words), Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def bleu_stats(candidate, references, n=BLEU_N):
    """[correct_1..n, guess_1..n, test length, effective reference length] of one question."""
    ref_lens, max_counts = [], Counter()
    for ref in references:
        length, counts = ngram_counts(ref, n)
        ref_lens.append(length)
        for gram, c in counts.items():
            max_counts[gram] = max(max_counts[gram], c)
    test_len, counts = ngram_counts(candidate, n)
    correct = [0] * n
    for gram, c in counts.items():
        correct[len(gram) - 1] += min(max_counts.get(gram, 0), c)
    guess = [max(0, test_len - k + 1) for k in range(1, n + 1)]
    reflen = min((abs(l - test_len), l) for l in ref_lens)[1]  # 'closest', ties to the shorter
    return correct + guess + [test_len, reflen]


def bleu_from_stats(stats, n=BLEU_N):
    """BLEU-1..n of a corpus from its summed bleu_stats."""
    correct, guess, test_len, ref_len = stats[:n], stats[n:2 * n], stats[2 * n], stats[2 * n + 1]
    bleus, product = [], 1.0
    for k in range(n):
        product *= (correct[k] + TINY) / (guess[k] + SMALL)
        bleus.append(product ** (1.0 / (k + 1)))
    ratio = (test_len + TINY) / (ref_len + SMALL)
    if ratio < 1:
        bleus = [b * math.exp(1 - 1 / ratio) for b in bleus]
    return bleus


class DuReaderMetric:
    """Accumulates questions; `stats` = [BLEU sums (2n + 2), ROUGE-L sum, questions]."""

    def __init__(self):
        self.stats = np.zeros(2 * BLEU_N + 4, dtype=np.float64)

    def update(self, prediction, references):
        """One question: the predicted answer text and its reference answers (skipped if none)."""
        references = [normalize(r) for r in references]
        if not references or references == [""]:
            return False  # the official script drops questions without a reference answer
        candidate = normalize(prediction)
        self.stats[:2 * BLEU_N + 2] += bleu_stats(candidate, references)
        self.stats[-2] += rouge_l(candidate, references)
        self.stats[-1] += 1
        return True

    def summary(self):
        count = self.stats[-1]
        if count == 0:
            return {"bleu4": 0.0, "rouge_l": 0.0, "questions": 0}
        return {"bleu4": bleu_from_stats(self.stats)[-1], "rouge_l": self.stats[-2] / count,
                "questions": int(count)}


def compute_bleu_rouge(predictions, references):
    """{qid: answer}, {qid: [answers]} -> {'bleu4', 'rouge_l', 'questions'} (scores in [0, 1])."""
    metric = DuReaderMetric()
    for qid, refs in references.items():
        metric.update(predictions.get(qid, ""), refs)
    return metric.summary()


def best_span(start_probs, end_probs, max_a_len):
    """(start, end, probability) maximising start_probs[s] * end_probs[e] with s <= e < s + max_a_len
    (the release's find_best_answer_for_passage; (-1, -1, 0) when every product is 0)."""
    n = len(start_probs)
    if n == 0:
        return -1, -1, 0.0
    scores = np.outer(start_probs, end_probs)
    s, e = np.indices((n, n))
    scores = np.where((e >= s) & (e < s + max_a_len), scores, 0.0)
    flat = int(scores.argmax())
    if scores.flat[flat] <= 0:
        return -1, -1, 0.0
    return flat // n, flat % n, float(scores.flat[flat])


RELEASE_PRIORS = (0.44, 0.23, 0.15, 0.09, 0.07)  # the release's per-rank paragraph priors


def best_answer(passages, start_probs, end_probs, max_a_len, passage_slot, priors=None):
    """The answer text of one question: the best span of each passage (positions p*slot .. of the
    concatenated probabilities), times the passage's prior if given, the best passage's span joined
    without spaces as the release does. Returns (answer, passage index, start, end)."""
    best = ("", -1, -1, -1)
    best_score = 0.0
    for p, tokens in enumerate(passages):
        off = p * passage_slot
        s, e, score = best_span(start_probs[off:off + len(tokens)], end_probs[off:off + len(tokens)], max_a_len)
        if priors is not None:
            score *= priors[p] if p < len(priors) else 0.0
        if score > best_score:
            best_score, best = score, ("".join(tokens[s:e + 1]), p, s, e)
    return best
