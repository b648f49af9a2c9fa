"""Recall@K on hand-made embeddings, and the blocked computation equal to a plain one."""
import numpy as np
import pytest

from eval import recall_at_k


def test_recall_on_hand_made_embeddings():
    # 2-d directions; labels A A B B C. Nearest other (cosine) of each:
    # 0 (0 deg) -> 1 (10 deg, A: hit); 1 (10) -> 0 (hit); 2 (90) -> 3 (100, hit);
    # 3 (100) -> 2 (hit); 4 (45 deg, C, no other C) -> never a hit.
    angles = np.deg2rad([0, 10, 90, 100, 45])
    x = np.stack([np.cos(angles), np.sin(angles)], 1) * np.array([[1], [3], [0.5], [2], [1]])  # norms do not matter
    labels = np.array([0, 0, 1, 1, 2])
    assert recall_at_k(x, labels, ks=(1, 2, 10)) == {"recall@1": 0.8, "recall@2": 0.8, "recall@10": 0.8}


def test_recall_counts_the_rank_of_the_first_hit():
    # query 0's same-class item is its 3rd nearest: a hit at k=3, not at k=2
    angles = np.deg2rad([0, 5, 10, 20, 180])
    x = np.stack([np.cos(angles), np.sin(angles)], 1)
    labels = np.array([0, 1, 2, 0, 3])
    r = recall_at_k(x, labels, ks=(1, 2, 3))
    # query 0: neighbours 1, 2, 3 -> first hit at rank 3; query 3: 2, 1, 0 -> rank 3; others: none
    assert r == {"recall@1": 0.0, "recall@2": 0.0, "recall@3": pytest.approx(2 / 5)}


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_blocked_equals_brute_force(block):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, 150)
    x = rng.normal(size=(150, 8)) + 1.5 * np.eye(8)[labels % 8]  # some structure, so recall is not 0 or 1
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind="stable")
    expected = {f"recall@{k}": float(np.mean([(labels[order[i, :k]] == labels[i]).any() for i in range(150)]))
                for k in (1, 10, 100)}
    got = recall_at_k(x, labels, block=block)
    assert got == pytest.approx(expected)
    assert 0.1 < got["recall@1"] < 0.9
