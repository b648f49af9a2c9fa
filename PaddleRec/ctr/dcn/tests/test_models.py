"""Every model builds with the right shapes and parameter counts, the cross layers compute
x_{l+1} = x0 * (x_l . w_l) + b_l + x_l, and a few dozen steps on one batch drive the loss down."""
import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle

from models import MODELS, build_model
from models.dcn import embedding_dim
from train import ctr_loss

SIZES = [5, 1, 0, 7] + [3] * 22  # kept values per categorical field (a field may keep none)


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
    model.eval()
    out = model(*batch())
    assert out.shape == [8, 1] and out.dtype == paddle.float32 and np.isfinite(out.numpy()).all()


def dcn_params(sizes):
    dims = [embedding_dim(n) for n in sizes]
    width = 13 + sum(dims)
    tables = sum((n + 1) * d for n, d in zip(sizes, dims))
    cross = 2 * 6 * width  # a weight and a bias vector per cross layer
    dnn = (width * 1024 + 1024 + 2 * 1024) + (1024 * 1024 + 1024 + 2 * 1024)  # Linear + BN scale/shift
    return tables + cross + dnn + (1024 + width) + 1


def test_parameter_counts():
    assert [embedding_dim(n) for n in (0, 1, 15, 16, 80, 81, 1_000_000)] == [6, 6, 6, 12, 12, 18, 186]
    assert num_params(build_model("dcn", SIZES)) == dcn_params(SIZES)
    assert num_params(build_model("lr", SIZES)) == sum(SIZES) + len(SIZES) + 13 + 1


def test_input_width_follows_the_embedding_rule():
    # x0 = 13 dense values + 6 x int(n^(1/4)) per field: 30 + 12 + 138 for these three fields
    model = build_model("dcn", [1000, 20, 300000])
    assert model.cross_weight.shape == [6, 13 + 30 + 12 + 138]


def test_cross_layers_follow_the_formula():
    model = build_model("dcn", SIZES)
    model.eval()
    ids, dense = batch(3)
    fields = [table(ids[:, f]) for f, table in enumerate(model.embeddings)]
    x0 = paddle.concat([dense] + fields, axis=1).numpy().astype(np.float64)
    x = x0
    for w, b in zip(model.cross_weight.numpy(), model.cross_bias.numpy()):
        x = x0 * (x @ w)[:, None] + b + x
    deep = model.dnn(paddle.to_tensor(x0.astype("float32"))).numpy()
    expected = np.concatenate([deep, x], axis=1) @ model.out.weight.numpy() + model.out.bias.numpy()
    np.testing.assert_allclose(model(ids, dense).numpy(), expected, rtol=1e-4, atol=1e-5)
    reg = model.regularization().item()
    assert reg == pytest.approx(1e-5 * (model.cross_weight.numpy() ** 2).sum(), rel=1e-5)


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
    model = build_model("dcn", SIZES)
    ids, dense = batch(2)
    model(ids, dense).sum().backward()
    table = model.embeddings[0]
    assert table.weight._grad_ivar().is_selected_rows()  # Paddle's sparse gradient type
    before = table.weight.numpy().copy()
    paddle.optimizer.Adam(0.1, parameters=model.parameters(), lazy_mode=True).step()
    changed = set(np.nonzero(np.abs(table.weight.numpy() - before).sum(1))[0].tolist())
    assert changed and changed <= set(ids.numpy()[:, 0].tolist())
