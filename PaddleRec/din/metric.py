"""Click-through metrics: AUC (Paddle's streaming, bucketed AUC) and logloss, summed over ranks."""
import numpy as np
import paddle

import utils

LOG_EPS = 1e-7  # probabilities are clipped to [eps, 1 - eps] for the logloss


class ClickMetrics:
    """Feed it batches of click probabilities and 0/1 labels; result() gives the figures over all the
    samples seen on all ranks (the counts are summed, so no rank's sample is counted twice)."""

    def __init__(self, num_thresholds=4095):
        self.auc = paddle.metric.Auc(num_thresholds=num_thresholds)
        self.log_loss_sum, self.count, self.positives = 0.0, 0, 0

    def update(self, probs, labels):
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        labels = np.asarray(labels).reshape(-1).astype(np.int64)
        if probs.size == 0:
            return
        self.auc.update(np.stack([1.0 - probs, probs], axis=1), labels.reshape(-1, 1))
        p = np.clip(probs, LOG_EPS, 1.0 - LOG_EPS)
        self.log_loss_sum += float(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)).sum())
        self.count += probs.size
        self.positives += int(labels.sum())

    def result(self):
        # Paddle's Auc keeps a histogram of positives and negatives per threshold bucket: summing
        # the histograms over ranks gives exactly the AUC of all the samples together.
        stat_pos = utils.all_reduce_sum(self.auc._stat_pos)
        stat_neg = utils.all_reduce_sum(self.auc._stat_neg)
        totals = utils.all_reduce_sum([self.log_loss_sum, self.count, self.positives])
        merged = paddle.metric.Auc(num_thresholds=self.auc._num_thresholds)
        merged._stat_pos, merged._stat_neg = stat_pos, stat_neg
        count = max(totals[1], 1.0)
        return {"auc": float(merged.accumulate()), "logloss": float(totals[0] / count),
                "ctr": float(totals[2] / count), "samples": int(totals[1])}
