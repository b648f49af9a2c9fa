"""AUC and the order ratio: right on hand-computed cases and equal to brute force; the overlap baseline."""
import numpy as np
import pytest

import utils  # noqa: F401  (before paddle)
import metric


def brute_force_auc(scores, labels):
    """The share of (positive, negative) pairs where the positive scores higher (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))


def test_hand_computed_cases():
    assert metric.auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)  # 3 of 4 pairs in order
    assert metric.auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)  # a tie counts half
    assert metric.auc([0.9, 0.2], [0, 1]) == 0.0 and metric.auc([0.2, 0.9], [0, 1]) == 1.0
    assert np.isnan(metric.auc([0.2, 0.3], [1, 1]))
    r = metric.pairwise_metrics([0.9, 0.1, 0.5, 0.7], [0.2, 0.3, 0.5, 0.1])  # in, out, tie, in
    assert r["pos_neg"] == 2.0 and r["order_acc"] == 0.5 and r["samples"] == 4
    # AUC pools all triples: 0.9, 0.7, 0.5 beat most negatives; 0.1 beats none
    assert r["auc"] == pytest.approx(brute_force_auc(np.r_[[0.9, 0.1, 0.5, 0.7], [0.2, 0.3, 0.5, 0.1]],
                                                     np.r_[np.ones(4), np.zeros(4)]))
    assert metric.pairwise_metrics([0.3], [0.1])["pos_neg"] == float("inf")


def test_auc_equals_brute_force_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 3000)
    scores = np.round(labels * 0.8 + rng.normal(0, 1, 3000), 1)  # rounded: many ties
    expected = brute_force_auc(scores, labels)
    assert 0.65 < expected < 0.8
    assert metric.auc(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_word_overlap():
    assert metric.word_overlap([1, 2, 3], [3, 4]) == pytest.approx(1 / 4)
    assert metric.word_overlap([0, 5], [0, 6]) == 0.0  # the unknown id is not a shared word
    assert metric.word_overlap([7, 7], [7]) == 1.0
