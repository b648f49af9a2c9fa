"""Every model builds with the right shapes and parameter counts, the CIN computes the vector-wise
interactions of the paper (with and without split-half), and a few dozen steps on one batch drive
the loss down."""
import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle

from models import MODELS, build_model
from train import ctr_loss

SIZES = [5, 1, 0, 7] + [3] * 22  # kept values per categorical field (a field may keep none)
M = 39  # fields
DNN = 390 * 10 + 10 + 2 * (10 * 10 + 10) + 10 + 1  # 39 fields x 10 -> 10 -> 10 -> 10 -> 1


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
    out = build_model(name, SIZES)(*batch())
    assert out.shape == [8, 1] and out.dtype == paddle.float32 and np.isfinite(out.numpy()).all()


def test_parameter_counts():
    rows = 1 + 13 + sum(SIZES)  # padding row, one row per dense field, one per kept value
    tables = rows * (10 + 1) + 1  # embeddings, linear weights, linear bias
    # split-half: layers see 39, 5, 5 maps; the output pools 5 + 5 + 10
    split = 10 * M * M + 10 * M * 5 + 10 * M * 5 + 20 + 1
    # release/1.7: layers see 39, 10 maps; the output pools 10 + 10
    full = 10 * M * M + 10 * M * 10 + 20 + 1
    assert num_params(build_model("xdeepfm", SIZES)) == tables + split + DNN
    assert num_params(build_model("xdeepfm_release17", SIZES)) == tables + full + DNN
    assert num_params(build_model("lr", SIZES)) == sum(SIZES) + len(SIZES) + 13 + 1


def test_release17_network_has_the_recipe_size():
    # args.py: num_feat 28651, tables of num_feat + 1 rows; CIN convolutions without bias
    recipe = 28652 * (10 + 1) + 1 + (10 * M * M + 10 * M * 10) + (20 + 1) + DNN
    sizes = [28652 - 1 - 13 - 25] + [1] * 25
    assert num_params(build_model("xdeepfm_release17", sizes)) == recipe


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


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loss_drops_on_a_fixed_batch(name):
    paddle.seed(0)
    model = build_model(name, SIZES)
    ids, dense = batch(64, seed=1)
    label = paddle.to_tensor(np.random.default_rng(2).integers(0, 2, (64, 1)).astype("float32"))
    weight = paddle.ones([64, 1])
    opt = paddle.optimizer.Adam(0.1 if name == "lr" else 0.03, parameters=model.parameters(), lazy_mode=True)
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
    model = build_model("xdeepfm", SIZES)
    ids, dense = batch(2)
    model(ids, dense).sum().backward()
    assert model.embedding.weight._grad_ivar().is_selected_rows()  # Paddle's sparse gradient type
    before = model.embedding.weight.numpy().copy()
    paddle.optimizer.Adam(0.1, parameters=model.parameters(), lazy_mode=True).step()
    changed = set(np.nonzero(np.abs(model.embedding.weight.numpy() - before).sum(1))[0].tolist())
    offsets = 1 + 13 + np.concatenate([[0], np.cumsum(SIZES)[:-1]]) - 1
    used = {1 + j for j in range(13)} | {offsets[f] + k for row in ids.numpy() for f, k in enumerate(row) if k > 0}
    assert changed <= used and len(changed) > 13
