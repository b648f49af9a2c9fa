"""Recall@K of the next item: the share of samples whose target is among the K items scored highest
against the whole catalogue; and the popularity baseline.

Scoring is one matrix product per batch, [B, H] x [H, V], and paddle.topk; tests/test_metric.py
checks it against a brute-force loop."""
import numpy as np
import paddle

K = 20


def top_items(user, table, k=K):
    """Indices [B, k] of the k items whose unit vectors have the highest cosine with each user
    vector (both unit vectors: the dot product is the cosine)."""
    scores = paddle.matmul(user, table, transpose_y=True)
    return paddle.topk(scores, k=min(k, table.shape[0]), axis=-1)[1]


def hits(top, targets):
    """How many rows have their target among their top items."""
    top = top if isinstance(top, paddle.Tensor) else paddle.to_tensor(top)
    targets = targets if isinstance(targets, paddle.Tensor) else paddle.to_tensor(targets)
    return int((top == targets.unsqueeze(1)).any(axis=1).astype("int64").sum().item())


class Recall:
    """Hits and samples summed over batches (and over ranks, by the caller)."""

    def __init__(self, k=K):
        self.k, self.hit, self.count = k, 0, 0

    def update(self, top, targets):
        self.hit += hits(top, targets)
        self.count += len(targets)

    def result(self):
        return self.hit / max(self.count, 1)


def popularity_top(samples, vocab_size, k=K):
    """The k items clicked most often in a split's sessions (sequences and targets; unknown ids
    left out): the recommendation of the popularity baseline, the same for everybody."""
    counts = np.bincount(samples.flat, minlength=vocab_size + 1)[:vocab_size]
    counts += np.bincount(samples.targets, minlength=vocab_size)[:vocab_size]
    return np.argsort(-counts, kind="stable")[:k]


def popularity_recall(top, targets):
    return float(np.isin(targets, top).mean()) if len(targets) else 0.0
