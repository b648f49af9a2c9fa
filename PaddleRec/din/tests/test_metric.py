"""AUC and logloss: right on hand-computed cases and equal to a direct computation."""
import math

import numpy as np
import pytest

import utils  # noqa: F401  (before paddle)
from metric import ClickMetrics


def direct_auc(probs, labels):
    """The probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = probs[labels == 1], probs[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


def test_hand_computed_cases():
    m = ClickMetrics()
    m.update([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])  # 3 of the 4 positive-negative pairs are ordered
    r = m.result()
    assert r["auc"] == pytest.approx(0.75)
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert r["logloss"] == pytest.approx(expected, rel=1e-6)
    assert r["samples"] == 4 and r["ctr"] == 0.5

    perfect = ClickMetrics()
    perfect.update([0.2, 0.9], [0, 1])
    assert perfect.result()["auc"] == pytest.approx(1.0)
    reversed_ = ClickMetrics()
    reversed_.update([0.9, 0.2], [0, 1])
    assert reversed_.result()["auc"] == pytest.approx(0.0)


def test_streaming_auc_equals_direct_computation():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    probs = 1 / (1 + np.exp(-(1.2 * labels + rng.normal(0, 1, 4000))))
    m = ClickMetrics()
    for i in range(0, 4000, 300):  # in batches, as the evaluation loop feeds it
        m.update(probs[i:i + 300], labels[i:i + 300])
    expected = direct_auc(probs, labels)
    assert 0.7 < expected < 0.85
    # Paddle buckets the scores into 4095 thresholds: agreement to about 1e-4, not to the last digit.
    assert m.result()["auc"] == pytest.approx(expected, abs=5e-4)
    direct_logloss = -np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))
    assert m.result()["logloss"] == pytest.approx(direct_logloss, rel=1e-6)
