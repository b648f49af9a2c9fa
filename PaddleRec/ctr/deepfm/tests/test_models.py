"""Every model builds with the right shapes and parameter counts, DeepFM's FM term is the pairwise
interaction it claims to be, and a few dozen steps on one batch drive the loss down."""
import itertools

import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle

from models import MODELS, build_model
from train import ctr_loss

SIZES = [5, 1, 0, 7] + [3] * 22  # kept values per categorical field (a field may keep none)
DNN = 390 * 400 + 400 + 2 * (400 * 400 + 400) + 400 + 1  # 39 fields x 10 -> 400 -> 400 -> 400 -> 1


def batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.integers(0, s + 1, n) for s in SIZES], axis=1)
    dense = rng.random((n, 13)).astype("float32") * (rng.random((n, 13)) < 0.8)
    return paddle.to_tensor(ids), paddle.to_tensor(dense)


def num_params(model):
    """Trainable parameters (BatchNorm's running statistics are parameters too in Paddle, frozen)."""
    return sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_builds_with_logit_per_sample(name):
    model = build_model(name, SIZES)
    ids, dense = batch()
    out = model(ids, dense)
    assert out.shape == [8, 1] and out.dtype == paddle.float32 and np.isfinite(out.numpy()).all()


def test_parameter_counts():
    rows = 1 + 13 + sum(SIZES)  # padding row, one row per dense field, one per kept value
    assert num_params(build_model("deepfm", SIZES)) == rows * (1 + 10) + DNN
    assert num_params(build_model("lr", SIZES)) == sum(SIZES) + len(SIZES) + 13 + 1


def test_deepfm_matches_the_recipe_on_criteo():
    # release/1.7: tables of num_feat + 1 = 1086461 rows (num_feat counts the 13 dense features and
    # the kept categorical values, plus one) of 1 and 10 columns, and the 400-400-400 DNN.
    recipe = 1086461 * (1 + 10) + DNN
    sizes = [1086460 - 1 - 13 - 25] + [1] * 25
    assert num_params(build_model("deepfm", sizes)) == pytest.approx(recipe, rel=0.005)


def test_fm_term_is_the_sum_of_pairwise_interactions():
    model = build_model("deepfm", SIZES)
    with paddle.no_grad():  # leave only the second-order term in the logit
        model.first_order.weight.set_value(paddle.zeros_like(model.first_order.weight))
        model.dnn[-1].weight.set_value(paddle.zeros_like(model.dnn[-1].weight))
        model.dnn[-1].bias.set_value(paddle.zeros_like(model.dnn[-1].bias))
    ids, dense = batch(4)
    got = model(ids, dense).numpy()[:, 0]
    table = model.embedding.weight.numpy()
    offsets = 1 + 13 + np.concatenate([[0], np.cumsum(SIZES)[:-1]]) - 1
    for b in range(4):
        vectors = [table[1 + j] * dense.numpy()[b, j] for j in range(13)]
        vectors += [table[offsets[f] + k] if k > 0 else np.zeros(10) for f, k in enumerate(ids.numpy()[b])]
        expected = sum(np.dot(u, v) for u, v in itertools.combinations(vectors, 2))
        assert got[b] == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_missing_values_contribute_nothing():
    model = build_model("deepfm", SIZES)
    ids, dense = batch(1)
    blank = model(paddle.zeros_like(ids), paddle.zeros_like(dense)).numpy()
    # with every field missing only the DNN's biases are left: the same output for any table content
    with paddle.no_grad():
        model.embedding.weight.set_value(model.embedding.weight * 3.0)
        model.first_order.weight.set_value(model.first_order.weight + 1.0)
    np.testing.assert_allclose(model(paddle.zeros_like(ids), paddle.zeros_like(dense)).numpy(), blank, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loss_drops_on_a_fixed_batch(name):
    paddle.seed(0)
    model = build_model(name, SIZES)
    ids, dense = batch(64, seed=1)
    label = paddle.to_tensor(np.random.default_rng(2).integers(0, 2, (64, 1)).astype("float32"))
    weight = paddle.ones([64, 1])
    lr = 0.1 if name == "lr" else 0.01  # one weight per value learns slower per step than a DNN
    opt = paddle.optimizer.Adam(lr, parameters=model.parameters(), lazy_mode=True)
    history = []
    for _ in range(40):
        loss = ctr_loss(model(ids, dense), label, weight)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    # random labels: only memorising the batch brings the loss down this far (log 2 = 0.69 at start)
    assert history[-1] < 0.25, history


def test_sparse_gradients_touch_only_the_batch_rows():
    model = build_model("deepfm", SIZES)
    ids, dense = batch(2)
    model(ids, dense).sum().backward()
    assert model.embedding.weight._grad_ivar().is_selected_rows()  # Paddle's sparse gradient type
    before = model.embedding.weight.numpy().copy()
    paddle.optimizer.Adam(0.1, parameters=model.parameters(), lazy_mode=True).step()
    changed = set(np.nonzero(np.abs(model.embedding.weight.numpy() - before).sum(1))[0].tolist())
    offsets = 1 + 13 + np.concatenate([[0], np.cumsum(SIZES)[:-1]]) - 1
    used = {1 + j for j in range(13)} | {offsets[f] + k for row in ids.numpy() for f, k in enumerate(row) if k > 0}
    assert changed <= used and len(changed) > 13
