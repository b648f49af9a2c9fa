"""The skip-gram network: the release's tensors and their parameter count at text8's vocabulary,
the loss it computes, sparse gradients, learning a fixed batch, and the export round trip (equal
embeddings, equal answers)."""
import math

import numpy as np
import pytest

import paddle

import utils
from export import export
from models import AnalogyModel, build_model

# text8 (17,005,207 words) at min_count 5: 71,290 words occur 5 times or more, and the rarer ones
# (286,363 occurrences) are <UNK>: 71,291 rows (the counts of a published gensim log on text8). The
# release's preprocess.py dropped words seen <= min_count times: its text8 dictionary (<UNK> 324,608 in
# its README) also drops the (324,608 - 286,363) / 5 = 7,649 words seen exactly 5 times: 63,641 + <UNK>.
TEXT8_ROWS, RELEASE_TEXT8_ROWS = 71291, 63642


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def test_release_tensors_and_parameter_count_at_text8_vocabulary():
    with paddle.LazyGuard():
        model = build_model("skipgram", TEXT8_ROWS)  # dim 300, the release's configuration
    shapes = sorted(tuple(p.shape) for p in model.parameters())
    assert shapes == [(TEXT8_ROWS, 1), (TEXT8_ROWS, 300), (TEXT8_ROWS, 300)]  # emb_b, emb, emb_w
    assert count(model) == TEXT8_ROWS * 601 == 42845891
    assert (324608 - 286363) % 5 == 0 and 71290 - (324608 - 286363) // 5 + 1 == RELEASE_TEXT8_ROWS
    with paddle.LazyGuard():
        release = build_model("skipgram", RELEASE_TEXT8_ROWS)
    assert count(release) == 38248842


def test_loss_is_sigmoid_cross_entropy_of_positive_and_negatives():
    paddle.seed(0)
    model = build_model("skipgram", 20, dim=4, neg_num=3)
    rng = np.random.default_rng(0)
    for table in (model.emb, model.emb_w, model.emb_b):
        table.weight.set_value(rng.normal(size=table.weight.shape).astype("float32"))
    center, context, negatives = np.array([1, 5]), np.array([2, 6]), np.array([[3, 4, 7], [8, 9, 1]])
    loss = model(*(paddle.to_tensor(a) for a in (center, context, negatives))).numpy()
    emb, w, b = (t.weight.numpy() for t in (model.emb, model.emb_w, model.emb_b))
    for i in range(2):
        pos = emb[center[i]] @ w[context[i]] + b[context[i], 0]
        neg = w[negatives[i]] @ emb[center[i]] + b[negatives[i], 0]
        expected = np.log1p(np.exp(-pos)) + np.log1p(np.exp(neg)).sum()
        assert loss[i] == pytest.approx(expected, rel=1e-5)


def test_tables_start_as_the_release_and_get_sparse_gradients():
    model = build_model("skipgram", 50, dim=8)
    assert np.abs(model.emb.weight.numpy()).max() <= 0.5 / 8 and np.abs(model.emb.weight.numpy()).max() > 0.03
    assert not model.emb_w.weight.numpy().any() and not model.emb_b.weight.numpy().any()
    loss = model(paddle.to_tensor([1, 2]), paddle.to_tensor([3, 4]), paddle.to_tensor([[5] * 5, [6] * 5])).mean()
    loss.backward()
    assert all(p.grad.is_selected_rows() for p in model.parameters())
    dense = build_model("skipgram", 50, dim=8, sparse=False)
    dense(paddle.to_tensor([1]), paddle.to_tensor([3]), paddle.to_tensor([[5] * 5])).sum().backward()
    assert not any(p.grad.is_selected_rows() for p in dense.parameters())


def test_learns_a_fixed_batch():
    paddle.seed(0)
    model = build_model("skipgram", 60, dim=16)
    rng = np.random.default_rng(3)
    batch = [paddle.to_tensor(a) for a in (rng.integers(0, 30, 64), rng.integers(0, 30, 64), rng.integers(30, 60, (64, 5)))]
    opt = paddle.optimizer.SGD(5.0, parameters=model.parameters())
    losses = []
    for _ in range(40):
        loss = model(*batch).mean()
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(6 * math.log(2), rel=1e-3) and losses[-1] < 0.3 * losses[0], losses[::8]


def test_export_round_trip_gives_equal_embeddings_and_answers(tmp_path):
    paddle.seed(1)
    model = build_model("skipgram", 500, dim=24)
    model.emb.weight.set_value(paddle.randn([500, 24]))
    analogy = AnalogyModel(model, top_k=5, unk_id=3)
    analogy.eval()
    rng = np.random.default_rng(2)
    a, b, c = (rng.integers(0, 500, 40).astype("int64") for _ in range(3))
    expected = [t.numpy() for t in analogy(*(paddle.to_tensor(x) for x in (a, b, c)))]
    with paddle.utils.unique_name.guard():
        prefix = export(analogy, str(tmp_path / "inference" / "model"))
    got = utils.create_predictor(prefix)([a, b, c])
    np.testing.assert_array_equal(got[2], expected[2])                 # the embeddings, bit for bit
    np.testing.assert_array_equal(got[2], model.emb.weight.numpy()[c])
    np.testing.assert_array_equal(got[0], expected[0])                 # the same top-5 words
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)
