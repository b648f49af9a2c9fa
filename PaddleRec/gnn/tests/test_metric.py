"""P@20 and MRR@20 from one paddle.topk per batch: right on a hand-computed case and equal to a
brute-force ranking of every item; the popularity baseline's list."""
import numpy as np
import pytest

import paddle

from metric import RankingMetrics, popularity_top


def brute_force(scores, labels, k=20):
    """Rank of each target among all items by sorting every row (column j is item j + 1)."""
    hits = rr = 0.0
    for row, label in zip(scores, labels):
        order = np.argsort(-row, kind="stable") + 1
        rank = int(np.flatnonzero(order == label)[0]) + 1 if label > 0 else k + 1
        hits += rank <= k
        rr += 1.0 / rank if rank <= k else 0.0
    return hits / len(labels), rr / len(labels)


def test_hand_computed_case():
    scores = np.array([[0.1, 0.9, 0.5, 0.3],    # items 1..4: order 2, 3, 4, 1
                       [0.8, 0.1, 0.2, 0.3]], dtype="float32")  # order 1, 4, 3, 2
    m = RankingMetrics(k=2)
    m.update(paddle.to_tensor(scores), [3, 2])  # rank 2 (hit, 1/2); rank 4 (miss)
    r = m.result()
    assert r["p@2"] == pytest.approx(0.5) and r["mrr@2"] == pytest.approx(0.25) and r["samples"] == 2
    m.update(paddle.to_tensor(scores[:1]), [0])  # an unknown target is a miss
    assert m.result()["p@2"] == pytest.approx(1 / 3) and m.result()["unknown_targets"] == 1


def test_equals_brute_force_over_all_items():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(700, 300)).astype("float32")
    labels = rng.integers(1, 301, 700)
    planted = rng.random(700) < 0.4  # make about 40% of the targets score high, so both figures matter
    scores[planted, labels[planted] - 1] += rng.uniform(1.5, 4.0, planted.sum()).astype("float32")
    m = RankingMetrics()
    for i in range(0, 700, 128):  # in batches, as evaluate() feeds it
        m.update(paddle.to_tensor(scores[i:i + 128]), labels[i:i + 128])
    p, mrr = brute_force(scores, labels)
    assert 0.3 < p < 0.7 and mrr > 0.1
    assert m.result()["p@20"] == pytest.approx(p, abs=1e-12)
    assert m.result()["mrr@20"] == pytest.approx(mrr, rel=1e-9)


def test_popularity_top():
    class S:
        items_num = 6
        labels = np.array([3, 3, 5, 1, 5, 3, 0, 2])
    assert list(popularity_top(S, np.arange(8), k=3)) == [3, 5, 1]
    assert list(popularity_top(S, np.array([2, 3]), k=2)) == [1, 5]
