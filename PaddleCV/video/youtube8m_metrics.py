"""YouTube-8M metrics, as the challenge and the release's eval_util compute them (numpy, on all videos at once):

  gap   global average precision over the top-k (20) predictions of every video: all those (score, is a true
        label) pairs ranked together by score, AP = sum over the ranked list of precision@i at each true
        label, divided by the number of true labels of ALL videos (a true label outside a video's top 20
        counts as missed);
  hit1  share of videos whose highest-scored class is one of their labels;
  perr  precision at equal recall rate: per video with n labels, the share of true labels among its n
        highest scores (only scores > 0 count), averaged over videos.

predictions: [videos, classes] scores (sigmoid probabilities); labels: [videos, classes] 0/1.
"""
import numpy as np


def _check(predictions, labels):
    predictions, labels = np.asarray(predictions, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if predictions.shape != labels.shape or predictions.ndim != 2:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape}: want equal [videos, classes]")
    return predictions, labels


def gap(predictions, labels, top_k=20):
    predictions, labels = _check(predictions, labels)
    positives = labels.sum()
    if positives == 0:
        return 0.0
    k = min(top_k, predictions.shape[1])
    top = np.argsort(-predictions, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(predictions, top, axis=1).ravel()
    hits = np.take_along_axis(labels, top, axis=1).ravel() > 0
    order = np.argsort(-scores, kind="stable")
    hits = hits[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / positives)


def hit_at_one(predictions, labels):
    predictions, labels = _check(predictions, labels)
    top = np.argmax(predictions, axis=1)
    return float(labels[np.arange(len(labels)), top].mean())


def perr(predictions, labels):
    predictions, labels = _check(predictions, labels)
    total = 0.0
    for p, y in zip(predictions, labels):
        n = int(y.sum())
        if n == 0:
            continue  # scores 0, as in the release (whose [-0:] slice takes every class, none of them a label)
        top = np.argsort(-p, kind="stable")[:n]
        total += float(((p[top] > 0) * y[top]).sum()) / n
    return total / len(labels)


def all_metrics(predictions, labels, top_k=20):
    return {"gap": gap(predictions, labels, top_k), "hit1": hit_at_one(predictions, labels),
            "perr": perr(predictions, labels)}
