"""SimNet's metrics over similarity scores in [0, 1] and 0/1 labels.

- AUC: paddle.metric.Auc (a 4095-bin histogram, as the release's fluid.metrics.Auc), which agrees
  with the exact ROC AUC to about 1e-3.
- Positive/negative order ratio (the release's UNICOM figure, 正逆序比): among the candidates of one
  query (lines sharing their first text), every pair with different labels is in order when the
  similar one scores higher and out of order when it scores lower (ties count as neither); the
  ratio is in-order / out-of-order pairs over all queries.
- Accuracy at a threshold on the score (the release used 0.958 on (cosine + 1) / 2 for pairwise BOW
  on LCQMC).
- The literal-match baseline: the Jaccard overlap of the two texts' word sets.
"""
import collections

import numpy as np
import paddle


def auc(scores, labels):
    metric = paddle.metric.Auc()
    scores = np.asarray(scores, dtype="float64").reshape(-1, 1)
    metric.update(np.hstack([1 - scores, scores]), np.asarray(labels).reshape(-1, 1))
    return float(metric.accumulate())


def pos_neg_ratio(groups, scores, labels):
    """In-order / out-of-order candidate pairs within each group (inf when nothing is out of order)."""
    by_group = collections.defaultdict(list)
    for group, score, label in zip(groups, scores, labels):
        by_group[group].append((float(score), int(label)))
    in_order = out_of_order = 0
    for items in by_group.values():
        s = np.array([x[0] for x in items])
        y = np.array([x[1] for x in items])
        score_diff = s[y == 1][:, None] - s[y == 0][None, :]  # similar minus dissimilar
        in_order += int((score_diff > 0).sum())
        out_of_order += int((score_diff < 0).sum())
    if out_of_order == 0:
        return float("inf") if in_order else float("nan")
    return in_order / out_of_order


def accuracy(scores, labels, threshold=0.5):
    return float(np.mean((np.asarray(scores) >= threshold) == (np.asarray(labels) == 1)))


def all_metrics(groups, scores, labels, threshold=0.5):
    return {"auc": auc(scores, labels), "pos_neg": pos_neg_ratio(groups, scores, labels),
            "accuracy": accuracy(scores, labels, threshold)}


def word_overlap(left_text, right_text):
    """Jaccard overlap of the two texts' word sets: the literal-similarity baseline."""
    left, right = set(left_text.split()), set(right_text.split())
    return len(left & right) / max(1, len(left | right))
