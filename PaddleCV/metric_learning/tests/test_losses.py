"""Each loss against a direct numpy computation on hand-made embeddings (and a hand-computed value where
the case is small enough), and learning: a pair loss drives a fixed batch's loss down."""
import math

import numpy as np
import paddle
import pytest

import losses
import reader
from conftest import MODEL
from models import build_model

# 3 classes x 2 images, consecutive per class (the P x K order), 4-d embeddings
X = np.array([[1.0, 0.2, 0.0, 0.1], [0.9, 0.1, 0.3, 0.0],
              [0.0, 1.0, 0.2, 0.2], [0.3, 0.8, 0.0, 0.1],
              [0.1, 0.0, 1.0, 0.4], [0.8, 0.3, 0.2, 0.0]], dtype=np.float32)
LABELS = np.array([0, 0, 1, 1, 2, 2])


def t(a):
    return paddle.to_tensor(a)


def unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def sqdist(a):
    return ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)


def test_triplet_by_hand():
    """Batch-hard triplet against a loop over the anchors of the normalised embeddings."""
    x = unit(X)
    d = sqdist(x)
    expected = []
    for i in range(6):
        pos = [d[i, j] for j in range(6) if LABELS[j] == LABELS[i] and j != i]
        neg = [d[i, j] for j in range(6) if LABELS[j] != LABELS[i]]
        expected.append(max(0.0, max(pos) - min(neg) + 0.1))
    got = losses.triplet_loss(t(X), t(LABELS), margin=0.1).item()
    assert got == pytest.approx(np.mean(expected), rel=1e-5)
    assert got > 0  # sample 5 sits among class 0: the case is not trivially zero


def test_triplet_two_points_per_side_exact_value():
    # unit vectors at 0 and 90 degrees (class 0), 180 degrees (class 1): squared distances 2 and 4
    x = np.array([[1, 0], [0, 1], [-1, 0], [-1, 0.0001]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    # anchor 0: pos 2, neg 4 -> 0; anchor 1: pos 2, neg ~2 -> 0.1; anchors 2, 3: pos ~0, neg >= 2 -> 0
    assert losses.triplet_loss(t(x), t(labels), 0.1).item() == pytest.approx(0.1 / 4, abs=1e-4)


def test_quadruplet_is_the_release_formula():
    d = sqdist(unit(X))
    same = LABELS[:, None] == LABELS[None, :]
    pos_max = d[same & ~np.eye(6, dtype=bool)].max()
    neg_min = d[~same].min()
    expected = max(0.0, pos_max - neg_min + 0.1)
    assert losses.quadruplet_loss(t(X), t(LABELS), 0.1).item() == pytest.approx(expected, rel=1e-5)
    assert expected > 0


@pytest.mark.parametrize("scale", [1.0, 8.0])  # 8: bias above the threshold 20 -> the large-argument branch
def test_eml_is_the_release_formula(scale):
    x = X * scale
    d = sqdist(x)
    beta, thresh = 100000.0, 20.0
    out, biases = [], []
    for i in range(6):
        pos = np.array([d[i, j] for j in range(6) if LABELS[j] == LABELS[i] and j != i])
        neg = np.array([d[i, j] for j in range(6) if LABELS[j] != LABELS[i]])
        theta = np.exp(pos - pos.max()).mean() * np.exp(neg.min() - neg).mean()
        bias = pos.max() - neg.min()
        biases.append(bias)

        def f(b):
            return math.log(1 + beta * theta * math.exp(b)) / math.log(1 + beta)
        if bias <= thresh:
            out.append(f(bias))
        else:  # f(thresh) + the large-argument form's growth beyond it
            out.append(f(thresh) + (math.log(theta) + bias + math.log(beta)) / math.log(1 + beta)
                       - (math.log(theta) + thresh + math.log(beta)) / math.log(1 + beta))
    assert losses.eml_loss(t(x), t(LABELS)).item() == pytest.approx(np.mean(out), rel=1e-4)
    if scale == 8.0:  # both branches are in the case
        assert min(biases) <= thresh < max(biases)


def test_npairs_is_the_release_formula():
    anchors, positives = X[0::2], X[1::2]
    sim = anchors @ positives.T
    logp = sim - np.log(np.exp(sim).sum(1, keepdims=True))
    expected = -np.diag(logp).mean() + 0.5 * 0.01 * (X ** 2).sum(1).mean()
    assert losses.npairs_loss(t(X), t(LABELS), 0.01).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("easy", [False, True])
def test_arcmargin_logits_are_arcface(easy):
    head = losses.ArcMarginHead(4, 3, scale=10.0, margin=0.5, easy_margin=easy)
    w = np.array([[1, 0, 0, 0], [-1, 0.1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    head.weight.set_value(w)
    labels = np.array([0, 1, 1, 2, 0, 2])
    cos = unit(X) @ unit(w).T
    theta = np.arccos(np.clip(cos, -1, 1))
    true = np.cos(theta + 0.5)  # cos(theta + m)
    if easy:
        true = np.where(cos > 0, true, cos)
    else:
        true = np.where(cos > math.cos(math.pi - 0.5), true, cos - math.sin(math.pi - 0.5) * 0.5)
    expected = cos.copy()
    expected[np.arange(6), labels] = true[np.arange(6), labels]
    got = head.logits(t(X), t(labels)).numpy()
    np.testing.assert_allclose(got, 10.0 * expected, atol=2e-3)  # the release's sqrt(1 - c^2 + 1e-6)
    assert (cos[np.arange(6), labels] < 0).any()  # a sample with theta > 90 degrees is in the case


def test_a_pair_loss_learns_a_fixed_batch(demo):
    paddle.seed(0)
    ds = reader.SOPDataset(demo, "train", 16, train=False)  # 16 px: the cheapest input ResNet18 takes
    order = [i for c in range(4) for i in np.flatnonzero(ds.labels == c)[:2]]  # 4 classes x 2
    images = paddle.to_tensor(np.stack([ds[i][0] for i in order]))
    labels = paddle.to_tensor(ds.labels[order])
    model = build_model(MODEL, embedding_size=16)
    opt = paddle.optimizer.Momentum(0.05, momentum=0.9, parameters=model.parameters())
    history = []
    for _ in range(10):
        loss = losses.triplet_loss(model(images), labels, margin=0.5)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history
