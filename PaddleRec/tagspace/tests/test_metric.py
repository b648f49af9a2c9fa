"""Precision@1 over tags, accuracy and macro F1 on hand-made scores; topk against brute force; the
majority-tag baseline; counts summed over rank shards."""
import numpy as np
import pytest

from metric import TagMetric, majority_baseline


def test_hand_made_scores():
    """Three tags, five texts. Top tags: 2, 0, 1, 1, 0 (a tie at text 4 between tags 1 and 2 goes
    to the first); true tags 2, 1, 1, 1, 0 -> 4 of 5 right."""
    scores = np.array([[0.1, 0.2, 0.9],
                       [0.8, 0.7, -0.3],
                       [-0.5, 0.4, 0.3],
                       [0.0, 0.6, 0.6],
                       [0.95, -0.9, 0.94]], dtype=np.float32)
    m = TagMetric(3)
    m.update(scores[:2], np.array([2, 1]))
    m.update(scores[2:], np.array([1, 1, 0]))
    assert m.confusion.tolist() == [[1, 0, 0], [1, 2, 0], [0, 0, 1]]
    result = m.summary()
    assert result["p_at_1"] == result["acc"] == pytest.approx(4 / 5)
    # per tag (P, R): 0 (1/2, 1), 1 (1, 2/3), 2 (1, 1) -> F1 2/3, 4/5, 1
    assert result["macro_f1"] == pytest.approx((2 / 3 + 4 / 5 + 1) / 3)
    assert result["samples"] == 5


def test_topk_precision_at_1_matches_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(500, 7)).astype(np.float32)
    tags = rng.integers(0, 7, 500)
    m = TagMetric(7)
    for start in range(0, 500, 64):
        m.update(scores[start:start + 64], tags[start:start + 64])
    brute = sum(int(max(range(7), key=lambda t: scores[i, t]) == tags[i]) for i in range(500))
    assert m.hits_at_1 == brute and m.summary()["p_at_1"] == pytest.approx(brute / 500)
    assert m.summary()["acc"] == pytest.approx(brute / 500)


def test_majority_baseline():
    tag, result = majority_baseline([5, 30, 10], np.array([1, 1, 0, 2, 1]))
    assert tag == 1 and result["acc"] == pytest.approx(3 / 5)
    assert result["macro_f1"] == pytest.approx((0 + 2 * (3 / 5) / (1 + 3 / 5) + 0) / 3)


def test_shards_sum_to_the_whole():
    rng = np.random.default_rng(1)
    scores, tags = rng.normal(size=(90, 4)), rng.integers(0, 4, 90)
    whole = TagMetric(4)
    whole.update(scores, tags)
    parts = []
    for r in range(3):
        part = TagMetric(4)
        part.update(scores[r::3], tags[r::3])
        parts.append(part)
    assert sum(p.hits_at_1 for p in parts) == whole.hits_at_1
    assert (sum(p.confusion for p in parts) == whole.confusion).all()
