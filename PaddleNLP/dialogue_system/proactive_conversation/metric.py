"""DuConv's metrics, computed as the release's tools/eval.py does (generative_paddle and
retrieval_paddle ship the same script), on `prediction TAB gold` pairs of space-separated words:

- F1: at character level over the whole corpus: the words of each reply joined without spaces, the
  clipped character overlap summed over all pairs, P = hits / predicted characters, R = hits / gold
  characters, F1 = 2PR / (P + R);
- BLEU-1/2: corpus n-gram precision with clipped counts (n-grams keyed by the words joined without
  a separator, as the script does), the brevity penalty exp(1 - r/c) when the predictions are
  shorter in words, BLEU-2 the geometric mean of the 1- and 2-gram precisions; no smoothing
  (0 when a precision is 0);
- DISTINCT-1/2: distinct n-grams / all n-grams over all predictions.

Where the script would fail (log(0): bigrams match but no unigram does, possible because n-grams are
joined without a separator), BLEU-2 is 0 here.

The script prints F1 as a percentage and BLEU and DISTINCT as fractions (its "%" sign after them is
a quirk); `score` returns F1 in percent and the others as fractions, as it prints them. Where the
script would divide by zero (no predicted characters), this returns 0.
"""
import math
from collections import Counter


def _ngrams(words, n):
    return Counter("".join(words[i:i + n]) for i in range(len(words) - n + 1))


def char_counts(pairs):
    """(character hits, predicted characters, gold characters) summed over pairs: what F1 is made of
    (summed over ranks, they give the single-process F1)."""
    hits = pred_total = gold_total = 0
    for pred, gold in pairs:
        p, g = "".join(pred), "".join(gold)
        hits += sum((Counter(p) & Counter(g)).values())
        pred_total += len(p)
        gold_total += len(g)
    return hits, pred_total, gold_total


def f1_from_counts(hits, pred_total, gold_total):
    if hits == 0:
        return 0.0
    precision, recall = hits / pred_total, hits / gold_total
    return 2 * precision * recall / (precision + recall)


def char_f1(pairs):
    return f1_from_counts(*char_counts(pairs))


def bleu(pairs):
    """[BLEU-1, BLEU-2]."""
    c = sum(len(p) for p, _ in pairs)
    r = sum(len(g) for _, g in pairs)
    bp = math.exp(1 - r / c) if 0 < c < r else 1.0
    rates = []
    for n in (1, 2):
        cover = total = 0
        for pred, gold in pairs:
            p, g = _ngrams(pred, n), _ngrams(gold, n)
            cover += sum(min(f, g[k]) for k, f in p.items() if k in g)
            total += sum(p.values())
        rates.append(cover / total if total else 0.0)
    b1 = bp * rates[0] if rates[0] > 0 else 0.0
    b2 = bp * math.exp((math.log(rates[0]) + math.log(rates[1])) / 2) if rates[0] > 0 and rates[1] > 0 else 0.0
    return [b1, b2]


def distinct(pairs):
    """[DISTINCT-1, DISTINCT-2]."""
    out = []
    for n in (1, 2):
        counts = Counter()
        for pred, _ in pairs:
            counts.update(_ngrams(pred, n))
        total = sum(counts.values())
        out.append(len(counts) / total if total else 0.0)
    return out


def to_pairs(predictions, golds):
    """The script's reading of `pred TAB gold` lines: each side stripped and split on single spaces.
    Its `line.strip()` eats the tab next to an empty side, so a pair with an empty prediction or gold
    has one field and is skipped; so it is here."""
    return [(p.strip().split(" "), g.strip().split(" ")) for p, g in zip(predictions, golds)
            if p.strip() and g.strip()]


def score(predictions, golds):
    """{"f1": percent, "bleu1", "bleu2", "distinct1", "distinct2": fractions} of reply texts."""
    pairs = to_pairs(predictions, golds)
    b1, b2 = bleu(pairs)
    d1, d2 = distinct(pairs)
    return {"f1": 100 * char_f1(pairs), "bleu1": b1, "bleu2": b2, "distinct1": d1, "distinct2": d2}


def format_scores(s):
    return (f"F1 {s['f1']:.2f}%  BLEU-1 {s['bleu1']:.3f}  BLEU-2 {s['bleu2']:.3f}  "
            f"DISTINCT-1 {s['distinct1']:.3f}  DISTINCT-2 {s['distinct2']:.3f}")
