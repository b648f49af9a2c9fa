"""Every model builds with the right output and exactly the parameter count its configuration gives,
DeepFM's FM term, DCN's cross layers and xDeepFM's CIN compute what the papers say, and a few dozen
steps on one batch drive the loss down."""
import itertools
import math

import numpy as np
import pytest

import paddle

from models import CONFIGS, MODELS, build_model
from models.dcn import embedding_dim
from train import ctr_loss

SIZES = [5, 1, 0, 7] + [3] * 22  # kept values per categorical field (a field may keep none)
# Criteo-scale kept values per field (about 0.95M in all; DeepFM's recipe kept 1.09M at threshold 10):
# the models are built lazily (no memory), so the count is checked at the size the recipes train.
CRITEO_SIZES = [1445, 553, 175781, 128509, 305, 19, 11930, 634, 3, 39060, 5595, 147117, 3194, 27, 11254, 165206,
                10, 4640, 2031, 4, 157478, 18, 15, 52559, 86, 43356]
NUM_DENSE, NUM_FIELDS = 13, 39


def batch(n=8, seed=0, sizes=SIZES):
    rng = np.random.default_rng(seed)
    ids = np.stack([rng.integers(0, s + 1, n) for s in sizes], axis=1)
    dense = rng.random((n, 13)).astype("float32") * (rng.random((n, 13)) < 0.8)
    return paddle.to_tensor(ids), paddle.to_tensor(dense)


def num_params(model):
    """Trainable parameters (BatchNorm's running statistics are parameters too in Paddle, frozen);
    math.prod of the shape works on lazily built parameters too."""
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


def mlp(sizes):
    """Weights and biases of a chain of Linear layers through these widths."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def expected_params(name, sizes):
    """The count from the configuration (models.CONFIGS) and the papers' structure, not from the code."""
    cfg, rows = CONFIGS[name], 1 + NUM_DENSE + sum(sizes)  # padding row, a row per dense field and kept value
    if name == "deepfm":  # first-order table (1 wide) and embedding table, DNN over all fields' embeddings
        return rows * (1 + cfg["embedding_dim"]) + mlp([NUM_FIELDS * cfg["embedding_dim"], *cfg["dnn_sizes"], 1])
    if name.startswith("xdeepfm"):  # tables + linear bias, CIN (no bias) + its output, DNN
        maps, pooled, cin = NUM_FIELDS, 0, 0
        for k, size in enumerate(cfg["cin_sizes"]):
            cin += size * NUM_FIELDS * maps
            half = cfg["split_half"] and k < len(cfg["cin_sizes"]) - 1
            maps, pooled = (size // 2 if half else size), pooled + (size // 2 if half else size)
        return (rows * (cfg["embedding_dim"] + 1) + 1 + cin + pooled + 1
                + mlp([NUM_FIELDS * cfg["embedding_dim"], *cfg["dnn_sizes"], 1]))
    if name == "dcn":  # a table per field of 6 * n^(1/4) wide, cross weight + bias per layer, DNN with BN, output
        dims = [6 * max(1, int(n ** 0.25)) for n in sizes]
        width = NUM_DENSE + sum(dims)
        dnn = mlp([width, *cfg["dnn_sizes"]]) + 2 * sum(cfg["dnn_sizes"])  # BN scale and shift
        return (sum((n + 1) * d for n, d in zip(sizes, dims)) + 2 * cfg["cross_layers"] * width + dnn
                + (cfg["dnn_sizes"][-1] + width) + 1)
    assert name == "lr"  # a weight per kept value and per field's missing id, per dense field, a bias
    return sum(sizes) + len(sizes) + NUM_DENSE + 1


@pytest.mark.parametrize("name", MODELS)
def test_builds_with_logit_per_sample(name):
    model = build_model(name, SIZES)
    model.eval()
    out = model(*batch())
    assert out.shape == [8, 1] and out.dtype == paddle.float32 and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("sizes", [SIZES, CRITEO_SIZES], ids=["small", "criteo"])
def test_parameter_count_is_exactly_the_configurations(name, sizes):
    with paddle.LazyGuard():
        model = build_model(name, sizes)
    assert num_params(model) == expected_params(name, sizes)


def test_dcn_embedding_width_rule():
    assert [embedding_dim(n) for n in (0, 1, 15, 16, 80, 81, 1_000_000)] == [6, 6, 6, 12, 12, 18, 186]


# ------------------------------------------------------------------------------------------- DeepFM

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


# ---------------------------------------------------------------------------------------------- DCN

def test_dcn_input_width_follows_the_embedding_rule():
    # x0 = 13 dense values + 6 x int(n^(1/4)) per field: 30 + 12 + 138 for these three fields
    with paddle.LazyGuard():
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


# ------------------------------------------------------------------------------------------ xDeepFM

def cin_by_loops(x0, weights, split_half):
    """The paper's equation, X^k_{h,*} = sum_{i,j} W^{k,h}_{ij} (X^{k-1}_{j,*} o X^0_{i,*}), by loops."""
    hidden, pooled = x0, []
    for k, w in enumerate(weights):
        m, big_h = x0.shape[0], hidden.shape[0]
        maps = np.zeros((w.shape[0], x0.shape[1]))
        for h in range(w.shape[0]):
            for i in range(m):
                for j in range(big_h):
                    maps[h] += w[h, i * big_h + j] * x0[i] * hidden[j]
        if split_half and k < len(weights) - 1:
            hidden, direct = maps[:len(maps) // 2], maps[len(maps) // 2:]
        else:
            hidden = direct = maps
        pooled.append(direct.sum(axis=1))
    return np.concatenate(pooled)


@pytest.mark.parametrize("name, split_half", [("xdeepfm", True), ("xdeepfm_release17", False)])
def test_cin_is_the_papers_vector_wise_interaction(name, split_half):
    model = build_model(name, SIZES)
    ids, dense = batch(2)
    captured = {}

    def keep(name, value):  # a hook that returns None leaves the layer's inputs and output alone
        captured[name] = value.numpy()

    model.cin_out.register_forward_pre_hook(lambda layer, inputs: keep("pooled", inputs[0]))
    model.embedding.register_forward_post_hook(lambda layer, inputs, out: keep("emb", out))
    model(ids, dense)
    values = np.concatenate([dense.numpy(), (ids.numpy() > 0).astype("float32")], axis=1)
    weights = [w.numpy().astype(np.float64) for w in model.cin_weights]
    for b in range(2):
        x0 = captured["emb"][b].astype(np.float64) * values[b][:, None]
        np.testing.assert_allclose(captured["pooled"][b], cin_by_loops(x0, weights, split_half), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------------ training

@pytest.mark.parametrize("name", MODELS)
def test_loss_drops_on_a_fixed_batch(name):
    paddle.seed(0)
    model = build_model(name, SIZES)
    ids, dense = batch(64, seed=1)
    label = paddle.to_tensor(np.random.default_rng(2).integers(0, 2, (64, 1)).astype("float32"))
    weight = paddle.ones([64, 1])
    # one weight per value learns slower per step than a DNN; xDeepFM's narrow layers need a bit more
    lr = {"lr": 0.1, "xdeepfm": 0.03, "xdeepfm_release17": 0.03}.get(name, 0.01)
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


@pytest.mark.parametrize("name, table", [("deepfm", "embedding"), ("dcn", "embeddings.0"), ("xdeepfm", "embedding")])
def test_sparse_gradients_touch_only_the_batch_rows(name, table):
    model = build_model(name, SIZES)
    ids, dense = batch(2)
    model.train()
    model(ids, dense).sum().backward()
    weight = dict(model.named_parameters())[table + ".weight"]
    assert weight._grad_ivar().is_selected_rows()  # Paddle's sparse gradient type
    before = weight.numpy().copy()
    paddle.optimizer.Adam(0.1, parameters=model.parameters(), lazy_mode=True).step()
    changed = set(np.nonzero(np.abs(weight.numpy() - before).sum(1))[0].tolist())
    if name == "dcn":  # field 0's own table: row = id
        used = set(ids.numpy()[:, 0].tolist())
    else:  # one table: dense rows 1..13, then each field's kept values
        offsets = 1 + 13 + np.concatenate([[0], np.cumsum(SIZES)[:-1]]) - 1
        used = {1 + j for j in range(13)} | {offsets[f] + k for row in ids.numpy() for f, k in enumerate(row) if k > 0}
    assert changed and changed <= used
