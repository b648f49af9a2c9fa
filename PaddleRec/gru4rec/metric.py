"""Recall@K and MRR@K over next-item predictions, from the top-K lists the model computes (one matrix
product against the whole item table and paddle.topk per batch), summed over ranks; and the
popularity baseline.

Every valid position of every session is one prediction (as in the release's evaluation and the
paper's). A hit: the next item is among the K recommended; its reciprocal rank 1/r counts towards
MRR (0 when it is not in the top K).
"""
import numpy as np

import utils


class RankingMetrics:
    def __init__(self, k):
        self.k = k
        self.hits, self.reciprocal_ranks, self.count = 0, 0.0, 0

    def update(self, topk_items, targets, lengths):
        """topk_items [B, T, K] (best first), targets [B, T], lengths [B] (numpy or Tensors)."""
        topk_items, targets, lengths = (np.asarray(a) for a in (topk_items, targets, lengths))
        valid = np.arange(targets.shape[1])[None, :] < lengths[:, None]
        match = topk_items[..., :self.k] == targets[..., None]
        found = match.any(-1) & valid
        rank = match.argmax(-1) + 1
        self.hits += int(found.sum())
        self.reciprocal_ranks += float((1.0 / rank)[found].sum())
        self.count += int(valid.sum())

    def result(self):
        hits, rr, count = utils.all_reduce_sum([self.hits, self.reciprocal_ranks, self.count])
        count = max(count, 1.0)
        return {f"recall@{self.k}": float(hits / count), f"mrr@{self.k}": float(rr / count),
                "predictions": int(count)}


def popular_items(counts, k, exclude=None):
    """The k most clicked items (ties by lower index), best first; `exclude` (the unknown item) never."""
    counts = np.asarray(counts, dtype=np.float64).copy()
    if exclude is not None:
        counts[exclude] = -1
    return np.lexsort((np.arange(len(counts)), -counts))[:k]


def popularity_topk(popular, targets):
    """The popularity baseline's top-k lists: the same popular items at every position [B, T, K]."""
    return np.broadcast_to(np.asarray(popular), tuple(np.shape(targets)) + (len(popular),))
