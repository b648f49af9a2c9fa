"""Every model builds, gives one logit per sample, has the parameter count of its configuration
(din_sigmoid: the release/1.7 network), uses sparse gradients for its tables, ignores padding, and
learns a fixed batch."""
import math

import numpy as np
import pytest

import paddle
import paddle.nn.functional as F

from models import MODELS, build_model

ITEMS, CATS = 50, 7
AMAZON_ITEMS, AMAZON_CATS = 63001, 801  # config.txt of the release's Amazon Electronics data


def batch(rng, size=16, longest=6):
    lengths = rng.integers(0, longest + 1, size)
    lengths[0] = longest
    items = rng.integers(0, ITEMS, (size, longest)) * (np.arange(longest) < lengths[:, None])
    cats = items % CATS
    target = rng.integers(0, ITEMS, size)
    return [paddle.to_tensor(a) for a in (items, cats, lengths, target, target % CATS)]


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def shapes(model):
    return sorted(tuple(p.shape) for p in model.parameters())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_shape_and_sparse_gradients(name):
    model = build_model(name, ITEMS, CATS)
    logit = model(*batch(np.random.default_rng(0)))
    assert logit.shape == [16] and logit.dtype == paddle.float32
    logit.sum().backward()
    tables = [p for n, p in model.named_parameters() if p.shape[0] in (ITEMS, CATS) and len(p.shape) == 2]
    assert tables and all(p.grad is not None and p.grad.is_selected_rows() for p in tables)


def release_1_7_parameters(items, cats, item_dim=64, cat_dim=64):
    """The parameters of release/1.7 PaddleRec/din network.py, layer by layer (fc = weight + bias)."""
    d = item_dim + cat_dim
    fc = [(4 * d, 80), (80, 40), (40, 1),  # atten_fc1..3 over [hist, target, hist - target, hist * target]
          (d, d),                          # out_fc
          (2 * d, 80), (80, 40), (40, 1)]  # fc1..3 over [out_fc, target]
    tables = [(items, item_dim), (cats, cat_dim), (items, 1)]  # item_emb, cat_emb, item_b
    return sorted(tables + [w for w in fc] + [(n,) for _, n in fc])


def test_din_sigmoid_is_the_release_network_on_the_amazon_vocabulary():
    """The real model, built at the Amazon vocabulary (lazily: no memory), has exactly the release's
    tensors, hence its parameter count (4,231,003, the figure the README quotes)."""
    with paddle.LazyGuard():
        model = build_model("din_sigmoid", AMAZON_ITEMS, AMAZON_CATS)
    reference = release_1_7_parameters(AMAZON_ITEMS, AMAZON_CATS)
    assert shapes(model) == reference
    assert count(model) == sum(math.prod(s) for s in reference) == 4231003


def test_din_has_the_parameters_of_its_configuration():
    """din: the paper's 80-40-1 activation unit and 200-80-2 MLP with Dice (one alpha per unit), the
    release's tables and interest projection."""
    with paddle.LazyGuard():
        model = build_model("din", AMAZON_ITEMS, AMAZON_CATS)
    d = 128
    linears = [(4 * d, 80), (80, 40), (40, 1), (d, d), (2 * d, 200), (200, 80), (80, 2)]
    expected = (AMAZON_ITEMS * 64 + AMAZON_CATS * 64 + AMAZON_ITEMS
                + sum(i * o + o for i, o in linears) + (80 + 40) + (200 + 80))  # Dice alphas
    assert count(model) == expected == 4275204


@pytest.mark.parametrize("name", ["din", "din_sigmoid", "lr"])
def test_padding_is_ignored(name):
    """Whatever sits in the padded positions, and however far the batch is padded, the output is the same."""
    model = build_model(name, ITEMS, CATS)
    model.eval()
    items, cats, lengths, target, target_cat = batch(np.random.default_rng(1))
    noisy = paddle.where(paddle.arange(6).unsqueeze(0) < lengths.unsqueeze(1), items, paddle.full_like(items, 9))
    wider_items = paddle.concat([items, paddle.full([16, 3], 11, dtype=items.dtype)], axis=1)
    wider_cats = paddle.concat([cats, paddle.full([16, 3], 3, dtype=cats.dtype)], axis=1)
    base = model(items, cats, lengths, target, target_cat).numpy()
    np.testing.assert_allclose(model(noisy, cats, lengths, target, target_cat).numpy(), base, atol=1e-5)
    np.testing.assert_allclose(model(wider_items, wider_cats, lengths, target, target_cat).numpy(), base, atol=1e-5)


def test_empty_history_is_finite():
    model = build_model("din", ITEMS, CATS)
    items, cats, lengths, target, target_cat = batch(np.random.default_rng(2))
    out = model(items, cats, paddle.zeros_like(lengths), target, target_cat)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name", ["din", "din_prelu", "din_sigmoid"])
def test_learns_a_fixed_batch(name):
    paddle.seed(0)
    model = build_model(name, ITEMS, CATS)
    inputs = batch(np.random.default_rng(3), size=32)
    labels = paddle.to_tensor(np.random.default_rng(4).integers(0, 2, 32).astype("float32"))
    opt = paddle.optimizer.Adam(3e-3, parameters=model.parameters())
    losses = []
    for _ in range(40):
        loss = F.binary_cross_entropy_with_logits(model(*inputs), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[0] > 0.6 and losses[-1] < 0.25 * losses[0], losses[::8]


def test_dice_matches_its_formula():
    from models.din import Dice
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 2.0, (4, 3, 6)).astype("float32")  # [batch, positions, channels]
    dice = Dice(6)
    dice.alpha.set_value(np.full(6, 0.3, dtype="float32"))
    out = dice(paddle.to_tensor(x)).numpy()
    flat = x.reshape(-1, 6)
    mean, var = flat.mean(0), flat.var(0)
    p = 1 / (1 + np.exp(-(x - mean) / np.sqrt(var + 1e-8)))
    np.testing.assert_allclose(out, p * x + (1 - p) * 0.3 * x, rtol=1e-4, atol=1e-5)
    # the running statistics moved 10% of the way, and evaluation uses them
    np.testing.assert_allclose(dice.running_mean.numpy(), 0.1 * mean, rtol=1e-4, atol=1e-6)
    dice.eval()
    running_var = dice.running_var.numpy()
    p = 1 / (1 + np.exp(-(x - 0.1 * mean) / np.sqrt(running_var + 1e-8)))
    np.testing.assert_allclose(dice(paddle.to_tensor(x)).numpy(), p * x + (1 - p) * 0.3 * x, rtol=1e-4, atol=1e-5)
