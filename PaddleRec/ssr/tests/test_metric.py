"""Recall@K by one matrix product and paddle.topk: right on a hand-computed case and equal to a
brute-force loop over every item; the popularity baseline."""
import numpy as np
import pytest

import utils  # noqa: F401  (before paddle)
import paddle

import reader
from metric import Recall, popularity_recall, popularity_top, top_items


def unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def test_hand_computed_case():
    table = paddle.to_tensor(unit(np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype="float32")))
    user = paddle.to_tensor(unit(np.array([[1, 0.1], [0, -1]], dtype="float32")))
    top = top_items(user, table, k=2).numpy()
    assert top.tolist() == [[0, 2], [3, 0]]  # cosines (0.995, 0.77, ...) and (0, -1, -0.71, 0): ties break low
    recall = Recall(2)
    recall.update(top, np.array([2, 1]))
    assert recall.result() == 0.5 and recall.count == 2


def test_recall_equals_brute_force():
    rng = np.random.default_rng(0)
    table = unit(rng.normal(size=(500, 16)).astype("float32"))
    users = unit(rng.normal(size=(300, 16)).astype("float32"))
    targets = rng.integers(0, 500, 300)
    # brute force: for each user, rank every item by its cosine, one at a time
    expected = 0
    for u, t in zip(users, targets):
        scores = [float(np.dot(u, item)) for item in table]
        better = sum(s > scores[t] for s in scores)
        expected += better < 20
    recall = Recall(20)
    for i in range(0, 300, 64):  # in batches, as eval.py feeds it
        recall.update(top_items(paddle.to_tensor(users[i:i + 64]), paddle.to_tensor(table), 20), targets[i:i + 64])
    assert recall.hit == expected and 0 < expected < 300


def test_popularity_baseline():
    seqs = [np.array([3, 3, 1]), np.array([2]), np.array([4, 3])]
    samples = reader.Samples(seqs, [1, 3, 0], [], {})
    top = popularity_top(samples, vocab_size=5, k=2)
    assert top.tolist() == [3, 1]  # item 3: 4 clicks, item 1: 2 clicks (its tie with nothing)
    assert popularity_recall(top, np.array([3, 0, 1, 2])) == pytest.approx(0.5)
