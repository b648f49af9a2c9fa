"""The network: the release's parameter count on the RSC15 vocabulary, shapes, padding, learning on one
batch with both losses, sparse gradients, and the export round trip."""
import math

import numpy as np
import paddle
import pytest

import utils
from export import export
from models import build_model

RSC15_ITEMS = 37483  # items of the preprocessed RSC15 training data (Hidasi et al. 2016, Table 1)
# The release's all_vocab_network for V items: embedding V x 100; fc0 100 x 300 + 300; dynamic_gru
# 100 x 300 + 300; fc V x 100... as 100 x V + V.
RELEASE_PARAMS = RSC15_ITEMS * 100 + (100 * 300 + 300) + (100 * 300 + 300) + (100 * RSC15_ITEMS + RSC15_ITEMS)


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def test_parameter_count_is_the_releases_on_rsc15():
    """Exactly the release's count plus the unknown item's row in the two tables (100 + 100 + 1)."""
    assert RELEASE_PARAMS == 7_594_683
    model = build_model("gru4rec", RSC15_ITEMS)  # 30 MB: built for real (nn.GRU cannot be built under LazyGuard)
    assert count(model) == RELEASE_PARAMS + 201
    shapes = {name: list(p.shape) for name, p in model.named_parameters()}
    assert shapes["item_emb.weight"] == [RSC15_ITEMS + 1, 100] and shapes["out_weight.weight"] == [RSC15_ITEMS + 1, 100]
    gru = sorted(v for k, v in shapes.items() if k.startswith("gru."))
    assert gru == [[300], [300], [300, 100], [300, 100]]  # fc0 weight + bias, dynamic_gru weight + bias


def batch(seed=0, vocab=50, rows=6, length=7):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, length + 1, rows)
    lengths[0] = length
    items = rng.integers(0, vocab, (rows, length))
    targets = rng.integers(0, vocab, (rows, length))
    return [paddle.to_tensor(a) for a in (items, targets, lengths)]


def test_shapes_padding_and_unknown_item():
    paddle.seed(0)
    model = build_model("gru4rec", 50)
    model.eval()
    items, _, lengths = batch()
    scores, top = model(items, lengths)
    assert scores.shape == [6, 7, 20] and top.shape == [6, 7, 20] and top.dtype == paddle.int64
    assert (top.numpy() != 50).all()  # the unknown item (row 50) is never recommended
    assert (np.diff(scores.numpy(), axis=-1) <= 0).all()
    # what lies past a row's length changes nothing before it
    other = items.numpy().copy()
    other[np.arange(7)[None, :] >= lengths.numpy()[:, None]] = 3
    scores2, top2 = model(paddle.to_tensor(other), lengths)
    valid = np.arange(7)[None, :] < lengths.numpy()[:, None]
    np.testing.assert_allclose(scores2.numpy()[valid], scores.numpy()[valid], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["ce", "bpr"])
def test_learns_one_fixed_batch(loss):
    paddle.seed(1)
    model = build_model("gru4rec", 50, sparse_output=loss == "bpr")
    optimizer = paddle.optimizer.Adagrad(0.05, parameters=model.parameters())
    items, targets, lengths = batch(seed=2, rows=16)
    losses = []
    for _ in range(40):
        value = model(items, lengths, targets, loss=loss)
        value.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(value.item())
    assert losses[-1] < 0.3 * losses[0], losses


def test_sparse_tables_update_only_the_rows_of_the_batch():
    """sparse=True gives SelectedRows gradients, and Adagrad then leaves the other rows alone."""
    paddle.seed(3)
    model = build_model("gru4rec", 500, sparse_output=True)
    optimizer = paddle.optimizer.Adagrad(0.05, parameters=model.parameters())
    items, targets, lengths = batch(vocab=40)
    before = {n: p.numpy().copy() for n, p in model.named_parameters() if n.endswith(("emb.weight", "out_weight.weight"))}
    model(items, lengths, targets, loss="bpr").backward()
    assert model.item_emb.weight.grad.is_selected_rows() and model.out_weight.weight.grad.is_selected_rows()
    optimizer.step()
    for name, old in before.items():
        changed = np.flatnonzero(np.abs(dict(model.named_parameters())[name].numpy() - old).sum(1))
        assert len(changed) > 0 and changed.max() < 40, (name, changed)


def test_export_round_trip_gives_equal_scores(tmp_path):
    paddle.seed(4)
    model = build_model("gru4rec", 300)
    items, _, lengths = batch(vocab=300, rows=9, length=11)
    model.eval()
    scores, top = model(items, lengths)
    with paddle.utils.unique_name.guard():
        prefix = export(model, str(tmp_path / "inference" / "model"))
    outputs = utils.create_predictor(prefix)([items.numpy(), lengths.numpy()])
    got_scores = next(o for o in outputs if o.dtype.kind == "f")
    got_items = next(o for o in outputs if o.dtype.kind in "iu")
    valid = np.arange(11)[None, :] < lengths.numpy()[:, None]
    np.testing.assert_allclose(got_scores[valid], scores.numpy()[valid], rtol=1e-5, atol=1e-5)
    assert (got_items[valid] == top.numpy()[valid]).mean() > 0.999
