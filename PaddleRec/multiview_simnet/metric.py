"""The metrics of a pairwise ranker over (query, positive title, negative title) triples, and the
word-overlap baseline.

- Positive/negative order ratio: a triple is in order when the positive title scores above the
  negative one, out of order when below (ties are neither); the ratio is in-order / out-of-order
  (what the release logged per batch as `acc` is the in-order share, also reported).
- AUC: every positive score against every negative score of the split (labels 1 and 0), exact:
  the Mann-Whitney statistic from the ranks, ties counted half; equal to the share of all
  (positive, negative) pairs ranked right.
"""
import numpy as np


def auc(scores, labels):
    """Exact ROC AUC of scores against 0/1 labels (ties count half); nan without both labels."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average rank of each run of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pairwise_metrics(pos_scores, neg_scores):
    """auc, pos_neg (in-order / out-of-order triples), order_acc (in-order share) and the count."""
    pos, neg = np.asarray(pos_scores, dtype=np.float64), np.asarray(neg_scores, dtype=np.float64)
    in_order, out_of_order = int((pos > neg).sum()), int((pos < neg).sum())
    if out_of_order:
        ratio = in_order / out_of_order
    else:
        ratio = float("inf") if in_order else float("nan")
    return {"auc": auc(np.r_[pos, neg], np.r_[np.ones(len(pos)), np.zeros(len(neg))]),
            "pos_neg": ratio, "order_acc": in_order / max(1, len(pos)), "samples": len(pos)}


def word_overlap(query_ids, title_ids):
    """Jaccard overlap of the id sets of a query (all its slots) and a title (all its slots); the
    unknown id 0 is not counted."""
    q, t = set(int(i) for i in query_ids) - {0}, set(int(i) for i in title_ids) - {0}
    return len(q & t) / max(1, len(q | t))


def format_metrics(result):
    return f"auc={result['auc']:.4f} pos_neg={result['pos_neg']:.4f} order_acc={result['order_acc']:.4f}"
