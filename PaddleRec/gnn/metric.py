"""P@20 (the share of samples whose target is among the 20 best-scored items; what the SR-GNN paper
calls P@20 and the release Recall@20) and MRR@20 (the mean of 1/rank of the target, 0 past rank 20),
scored against the full item set, summed over ranks."""
import numpy as np
import paddle

import utils

K = 20


def top_items(scores, k=K):
    """Item ids of the k best scores of each row: one paddle.topk over the [B, items_num - 1] scores
    (column j is item j + 1)."""
    scores = scores if isinstance(scores, paddle.Tensor) else paddle.to_tensor(scores)
    return paddle.topk(scores, k=min(k, scores.shape[1]), axis=1).indices.numpy() + 1


class RankingMetrics:
    """Feed it the scores of a batch (or its top items) and the target ids; a target that is unknown
    (id 0) counts as a miss. result() gives the figures over all samples of all ranks."""

    def __init__(self, k=K):
        self.k = k
        self.hits = self.reciprocal_ranks = 0.0
        self.count = self.unknown = 0

    def update(self, scores=None, labels=None, top=None):
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if labels.size == 0:
            return
        top = top_items(scores, self.k) if top is None else np.asarray(top)
        found = top == labels[:, None]
        hit = found.any(axis=1) & (labels > 0)
        rank = found.argmax(axis=1) + 1
        self.hits += float(hit.sum())
        self.reciprocal_ranks += float((hit / rank).sum())
        self.count += labels.size
        self.unknown += int((labels <= 0).sum())

    def result(self):
        hits, rr, count, unknown = utils.all_reduce_sum([self.hits, self.reciprocal_ranks, self.count, self.unknown])
        count = max(count, 1.0)
        return {f"p@{self.k}": float(hits / count), f"mrr@{self.k}": float(rr / count),
                "samples": int(count), "unknown_targets": int(unknown)}


def popularity_top(samples, indices, k=K):
    """The popularity baseline: the k items that are most often the target of the given training
    samples (ties by the smaller id), recommended to every session."""
    counts = np.bincount(samples.labels[indices], minlength=samples.items_num)
    counts[0] = 0  # unknown targets
    return np.argsort(-counts, kind="stable")[:k]
