"""Both models build, give cosines of the right shapes, have the parameter count of the release's
network on the RSC15 vocabulary, use sparse gradients for the table, ignore padding, and learn a
fixed batch."""
import math

import numpy as np
import pytest

import paddle

from models import MODELS, build_model
from models.ssr import hinge_loss

VOCAB = 60
# vocab.txt of the release's RSC15 data (GRU4Rec's preprocessing of the full clicks, train_tr + test
# items): 37,483 items in the GRU4Rec paper's train set; the count here is the formula's input.
RSC15_VOCAB = 37483


def batch(rng, size=16, longest=7, num_neg=3):
    lengths = rng.integers(1, longest + 1, size)
    lengths[0] = longest
    items = rng.integers(0, VOCAB, (size, longest)) * (np.arange(longest) < lengths[:, None])
    return [paddle.to_tensor(a) for a in (items, lengths, rng.integers(0, VOCAB, size),
                                          rng.integers(0, VOCAB, (size, num_neg)))]


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def release_1_7_shapes(vocab, emb=128, hidden=128):
    """The tensors of release/1.7 PaddleRec/ssr nets.py: emb.item, grnn_fc.w (the GRU's input
    projection, no bias), grnn.param and grnn.bias (dynamic_gru), user.w/.b, item.w/.b."""
    return [(vocab, emb), (emb, 3 * hidden), (hidden, 3 * hidden), (1, 3 * hidden),
            (hidden, hidden), (hidden,), (emb, hidden), (hidden,)]


def test_ssr_has_the_release_parameters_plus_the_unknown_row_and_the_second_gru_bias():
    """Built on the RSC15 vocabulary (for real: 19 MB; nn.GRU cannot be built under paddle.LazyGuard in
    Paddle 3.3.1, its flatten_parameters fails on the lazy weights). Ours = the release's 128 V + 131,712 parameters, plus
    the unknown item's row (128) and nn.GRU's second bias vector (384; dynamic_gru has one)."""
    model = build_model("ssr", RSC15_VOCAB)
    release = sum(math.prod(s) for s in release_1_7_shapes(RSC15_VOCAB))
    assert release == 128 * RSC15_VOCAB + 131712 == 4929536
    assert count(model) == release + 128 + 384 == 4930048
    shapes = sorted(tuple(p.shape) for p in model.parameters())
    assert shapes == sorted([(RSC15_VOCAB + 1, 128), (384, 128), (384, 128), (384,), (384,),
                             (128, 128), (128,), (128, 128), (128,)])


def test_ssr_bow_parameters():
    with paddle.LazyGuard():
        model = build_model("ssr_bow", RSC15_VOCAB)
    assert count(model) == (RSC15_VOCAB + 1) * 128 + 2 * (128 * 128 + 128)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_range_and_sparse_gradients(name):
    model = build_model(name, VOCAB, emb_dim=16, hidden=8)
    pos, neg = model(*batch(np.random.default_rng(0)))
    assert pos.shape == [16] and neg.shape == [16, 3]
    assert float(pos.abs().max()) <= 1 + 1e-5 and float(neg.abs().max()) <= 1 + 1e-5  # cosines
    hinge_loss(pos, neg).backward()
    assert model.emb.weight.grad.is_selected_rows()
    assert model.item_table().shape == [VOCAB, 8]  # the unknown row is never a candidate


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padding_is_ignored(name):
    """Whatever sits in the padded positions, and however far the batch is padded, the user vector is the same."""
    model = build_model(name, VOCAB, emb_dim=16, hidden=8)
    items, lengths, _, _ = batch(np.random.default_rng(1))
    noisy = paddle.where(paddle.arange(7).unsqueeze(0) < lengths.unsqueeze(1), items, paddle.full_like(items, 9))
    wider = paddle.concat([items, paddle.full([16, 4], 11, dtype=items.dtype)], axis=1)
    base = model.user_vector(items, lengths).numpy()
    np.testing.assert_allclose(model.user_vector(noisy, lengths).numpy(), base, atol=1e-5)
    np.testing.assert_allclose(model.user_vector(wider, lengths).numpy(), base, atol=1e-5)
    one = model.user_vector(items[3:4, :int(lengths[3])], lengths[3:4]).numpy()  # alone, unpadded
    np.testing.assert_allclose(one, base[3:4], atol=1e-5)


def test_gru_tower_sees_the_order_and_bow_does_not():
    items = paddle.to_tensor([[1, 2, 3], [3, 2, 1]])
    lengths = paddle.to_tensor([3, 3])
    gru, bow = build_model("ssr", VOCAB, emb_dim=16, hidden=8), build_model("ssr_bow", VOCAB, emb_dim=16, hidden=8)
    a, b = gru.user_vector(items, lengths).numpy()
    assert np.abs(a - b).max() > 1e-3
    a, b = bow.user_vector(items, lengths).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_hinge_loss_formula():
    pos = paddle.to_tensor([0.9, 0.1])
    neg = paddle.to_tensor([[0.0, 0.5], [0.2, -0.9]])
    # max(0, 0.8 - pos + neg): [[0, 0.4], [0.9, 0]] -> mean 0.325
    assert hinge_loss(pos, neg).item() == pytest.approx(0.325)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_learns_a_fixed_batch(name):
    paddle.seed(0)
    model = build_model(name, VOCAB, emb_dim=32, hidden=32)
    inputs = batch(np.random.default_rng(3), size=32)
    opt = paddle.optimizer.Adagrad(0.1, parameters=model.parameters())
    losses = []
    for _ in range(40):
        loss = hinge_loss(*model(*inputs))
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[0] > 0.5 and losses[-1] < 0.2 * losses[0], losses[::8]
