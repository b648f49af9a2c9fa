"""Quick tests: the hinge loss by hand, and a short run that beats the word-overlap baseline."""
import math

import numpy as np
import paddle
import pytest

import train


def test_hinge_loss_by_hand():
    # q = (1, 0); pos = (1, 1) -> cos 1/sqrt(2); neg1 = (0, 1) -> cos 0; neg2 = (1, 0) -> cos 1
    q = paddle.to_tensor([[1.0, 0.0], [1.0, 0.0]])
    pos = paddle.to_tensor([[1.0, 1.0], [1.0, 1.0]])
    neg = paddle.to_tensor([[0.0, 1.0], [1.0, 0.0]])
    cos = paddle.nn.functional.cosine_similarity
    s_pos, s_neg = cos(q, pos, axis=-1), cos(q, neg, axis=-1)
    # pair 1: margin 0.1 - 0.7071 + 0 < 0 -> 0 (already ranked well enough, no gradient)
    # pair 2: 0.1 - 0.7071 + 1 = 0.3929 (the dissimilar text scores higher: penalised)
    expected = (0.0 + (0.1 - 1 / math.sqrt(2) + 1.0)) / 2
    loss = train.pairwise_hinge_loss(s_pos, s_neg, 0.1)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # a pair inside the margin still counts: s_pos = 0.55, s_neg = 0.5 -> 0.1 - 0.05 = 0.05
    inside = train.pairwise_hinge_loss(paddle.to_tensor([0.55]), paddle.to_tensor([0.5]), 0.1)
    assert inside.item() == pytest.approx(0.05, abs=1e-6)


def test_auc_by_hand():
    assert train.auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert train.auc([0.1, 0.9, 0.5, 0.5], [1, 0, 1, 0]) == pytest.approx(0.5 / 4)  # only the 0.5-0.5 tie counts, as half


def test_padding_adds_nothing():
    enc = train.BOWEncoder(vocab_size=5, emb_dim=4, hidden=3)
    a = enc(paddle.to_tensor([[1, 2]]))
    b = enc(paddle.to_tensor([[1, 2, 5, 5]]))  # 5 = the padding row
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_learns_on_demo_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = train.main(["--max_steps", "60", "--log_interval", "20", "--output_dir", str(tmp_path / "out")])
    assert m["auc"] > 0.85 and m["auc"] > m["baseline_auc"] + 0.15, m
    assert (tmp_path / "out" / "model.pdparams").is_file()
