"""Every model builds, gives one logit per sample, has the reference parameter count, uses sparse
gradients for its tables, ignores padding, and learns a fixed batch."""
import numpy as np
import pytest

import utils  # noqa: F401  (before paddle)
import paddle
import paddle.nn.functional as F

from models import MODELS, build_model

ITEMS, CATS = 50, 7


def batch(rng, size=16, longest=6):
    lengths = rng.integers(0, longest + 1, size)
    lengths[0] = longest
    items = rng.integers(0, ITEMS, (size, longest)) * (np.arange(longest) < lengths[:, None])
    cats = items % CATS
    target = rng.integers(0, ITEMS, size)
    return [paddle.to_tensor(a) for a in (items, cats, lengths, target, target % CATS)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_shape_and_sparse_gradients(name):
    model = build_model(name, ITEMS, CATS)
    logit = model(*batch(np.random.default_rng(0)))
    assert logit.shape == [16] and logit.dtype == paddle.float32
    logit.sum().backward()
    tables = [p for n, p in model.named_parameters() if p.shape[0] in (ITEMS, CATS) and len(p.shape) == 2]
    assert tables and all(p.grad is not None and p.grad.is_selected_rows() for p in tables)


def test_parameter_count_matches_the_paddle_1_7_network():
    """din_sigmoid is the network of PaddlePaddle/models release/1.7 PaddleRec/din; its parameter
    count on the Amazon Electronics vocabulary (63001 items, 801 categories), layer by layer:"""
    items, cats, d = 63001, 801, 128
    reference = (items * 64 + cats * 64 + items * 1            # item_emb, cat_emb, item_b
                 + (4 * d * 80 + 80) + (80 * 40 + 40) + (40 + 1)  # atten_fc1..3
                 + (d * d + d)                                  # out_fc
                 + (2 * d * 80 + 80) + (80 * 40 + 40) + (40 + 1))  # fc1..3
    model = build_model("din_sigmoid", items, cats)
    count = sum(int(np.prod(p.shape)) for p in model.parameters())
    assert abs(count - reference) / reference < 0.005
    assert reference == 4231003


def test_paper_sizes():
    model = build_model("din", ITEMS, CATS)
    linears = [tuple(p.shape) for n, p in model.named_parameters() if n.endswith("weight") and "emb" not in n]
    assert (512, 80) in linears and (80, 40) in linears and (40, 1) in linears  # activation unit
    assert (256, 200) in linears and (200, 80) in linears and (80, 2) in linears  # MLP 200-80-2


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
