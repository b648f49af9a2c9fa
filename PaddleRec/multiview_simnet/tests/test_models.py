"""The model: the release/1.7 parameter counts, output shapes, sparse gradients of the shared table,
padding that never changes a score, one encoder shared by both sides, and learning a fixed batch."""
import math

import numpy as np
import pytest

import paddle

from models.multiview_simnet import MultiviewSimnet, hinge_loss

RELEASE_IDS, EMB, H = 1000001, 128, 128  # release/1.7 train.py defaults (one query and one title slot)


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def release_parameters(encoder, query_slots=1, title_slots=1, ids=RELEASE_IDS, emb=EMB, dim=128, hidden=H):
    """release/1.7 nets.py, layer by layer: the table "emb" (shared by every slot), the encoder
    weights (one set, shared by all slots: every CNN is named "cnn", every GRU "grnn"), q_fc, t_fc."""
    table = ids * emb
    if encoder == "bow":
        encoders, width = 0, emb
    elif encoder == "cnn":  # sequence_conv filter [3 * emb, dim] and bias [dim]
        encoders, width = 3 * emb * dim + dim, dim
    else:  # fc [emb, 3 dim] without bias, dynamic_gru weight [dim, 3 dim] and bias [1, 3 dim]
        encoders, width = emb * 3 * dim + dim * 3 * dim + 3 * dim, dim
    fcs = (query_slots * width * hidden + hidden) + (title_slots * width * hidden + hidden)
    return table + encoders + fcs


@pytest.mark.parametrize("encoder, expected", [("bow", 128033152), ("cnn", 128082432)])
def test_release_parameter_counts(encoder, expected):
    """The real model at the release's defaults, built lazily (no memory), counts exactly the release's."""
    with paddle.LazyGuard():
        model = MultiviewSimnet(query_encoder=encoder, title_encoder=encoder)
    assert count(model) == release_parameters(encoder) == expected


def test_gru_parameter_count():
    """Paddle's fused GRU has an input bias the release's dynamic_gru has not (3 x 128 = 384 more of
    128,131,840). nn.GRU cannot be built under LazyGuard, so the table is added from its shape."""
    model = MultiviewSimnet(1, query_encoder="gru", title_encoder="gru")
    assert count(model) + (RELEASE_IDS - 1) * EMB == release_parameters("gru") + 384 == 128132224
    assert release_parameters("gru") == 128131840


def test_several_slots_and_different_encoders():
    with paddle.LazyGuard():
        model = MultiviewSimnet(3001, 2, 3, 32, "cnn", "bow", 24, 24, 16)
    expected = 3001 * 32 + (3 * 32 * 24 + 24) + (2 * 24 * 16 + 16) + (3 * 32 * 16 + 16)
    assert count(model) == expected and not model.shared_encoder


def batch(rng, size=8, ids=50, width=5):
    def side(slots):
        lengths = rng.integers(1, width + 1, (size, slots))
        values = rng.integers(1, ids, (size, slots, width)) * (np.arange(width) < lengths[..., None])
        return [paddle.to_tensor(values), paddle.to_tensor(lengths)]
    return side(2) + side(3) + side(3)


@pytest.mark.parametrize("encoder", ["bow", "cnn", "gru"])
def test_shapes_sparse_gradient_and_shared_encoder(encoder):
    model = MultiviewSimnet(50, 2, 3, 16, encoder, encoder, 12, 12, 8)
    pos, neg = model(*batch(np.random.default_rng(0)))
    assert pos.shape == neg.shape == [8] and float(pos.abs().max()) <= 1 + 1e-6
    hinge_loss(pos, neg).backward()
    assert model.embedding.weight.grad.is_selected_rows()
    assert model.shared_encoder and not hasattr(model, "title_encoder")  # one set of weights, as the release


@pytest.mark.parametrize("encoder", ["bow", "cnn", "gru"])
def test_padding_never_changes_a_score(encoder):
    model = MultiviewSimnet(50, 2, 3, 16, encoder, encoder, 12, 12, 8)
    model.eval()
    q, ql, t, tl, _, _ = batch(np.random.default_rng(1))
    base = model(q, ql, t, tl).numpy()
    noisy_q = paddle.where(paddle.arange(5).reshape([1, 1, 5]) < ql.unsqueeze(-1), q, paddle.full_like(q, 7))
    wider_t = paddle.concat([t, paddle.full([8, 3, 4], 9, dtype=t.dtype)], axis=2)
    np.testing.assert_allclose(model(noisy_q, ql, wider_t, tl).numpy(), base, atol=1e-5)


@pytest.mark.parametrize("encoder", ["bow", "cnn", "gru"])
def test_learns_a_fixed_batch(encoder):
    paddle.seed(0)
    model = MultiviewSimnet(50, 2, 3, 16, encoder, encoder, 16, 16, 16)
    inputs = batch(np.random.default_rng(2), size=32)
    opt = paddle.optimizer.Adam(0.01, parameters=model.parameters(), lazy_mode=True)
    losses = []
    for _ in range(40):
        loss = hinge_loss(*model(*inputs))
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[0] > 0.05 and losses[-1] < 0.1 * losses[0], losses[::8]


def test_hinge_loss_formula():
    pos, neg = paddle.to_tensor([0.9, 0.2, 0.5]), paddle.to_tensor([0.1, 0.4, 0.45])
    # max(0, 0.1 - 0.9 + 0.1) = 0, max(0, 0.1 - 0.2 + 0.4) = 0.3, max(0, 0.1 - 0.5 + 0.45) = 0.05
    assert hinge_loss(pos, neg).item() == pytest.approx((0 + 0.3 + 0.05) / 3, rel=1e-6)
