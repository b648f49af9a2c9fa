"""Recall@20 and MRR@20: hand-computed cases, and the model's one-matmul top-k against brute force."""
import numpy as np
import paddle
import pytest

from metric import RankingMetrics, popular_items, popularity_topk
from models import build_model


def test_hand_computed_case():
    m = RankingMetrics(3)
    top = np.array([[[5, 1, 2], [7, 8, 9], [0, 0, 0]], [[4, 3, 2], [1, 2, 3], [9, 9, 9]]])
    targets = np.array([[1, 6, 0], [2, 1, 9]])
    m.update(top, targets, np.array([2, 2]))  # the third position of each row is padding
    # hits: row 0 pos 0 (rank 2); row 1 pos 0 (rank 3), pos 1 (rank 1); misses: row 0 pos 1
    assert m.result() == {"recall@3": 3 / 4, "mrr@3": pytest.approx((1 / 2 + 1 / 3 + 1) / 4), "predictions": 4}


def test_popularity_baseline():
    counts = np.array([5, 9, 9, 1, 20])  # item 4 is the unknown item here
    assert popular_items(counts, 3, exclude=4).tolist() == [1, 2, 0]  # ties by lower index
    top = popularity_topk([1, 2, 0], np.zeros((2, 3)))
    assert top.shape == (2, 3, 3) and (top[1, 2] == [1, 2, 0]).all()


def test_model_topk_against_brute_force():
    """One matrix product and paddle.topk per batch give the ranks a loop over every item gives."""
    paddle.seed(5)
    vocab = 700
    model = build_model("gru4rec", vocab, init_scale=0.5)
    model.eval()
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 9, 12)
    items = rng.integers(0, vocab, (12, 8))
    targets = rng.integers(0, vocab, (12, 8))
    targets[:, 0] = np.argsort(-model.out_bias.weight.numpy()[:vocab, 0])[:12]  # some likely hits
    _, top = model(paddle.to_tensor(items), paddle.to_tensor(lengths))
    fast = RankingMetrics(20)
    fast.update(top.numpy(), targets, lengths)

    h = model.hidden(paddle.to_tensor(items), paddle.to_tensor(lengths)).numpy().astype(np.float64)
    weights = model.out_weight.weight.numpy().astype(np.float64)
    bias = model.out_bias.weight.numpy()[:, 0].astype(np.float64)
    hits = rr = n = 0
    for b in range(12):
        for t in range(lengths[b]):
            scores = [h[b, t] @ weights[i] + bias[i] for i in range(vocab)]  # the unknown row left out
            rank = 1 + sum(s > scores[targets[b, t]] for s in scores)
            n += 1
            if rank <= 20:
                hits += 1
                rr += 1 / rank
    assert hits > 0 and fast.result() == {"recall@20": hits / n, "mrr@20": pytest.approx(rr / n), "predictions": n}
