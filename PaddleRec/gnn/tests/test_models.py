"""SR-GNN builds with the release's tensors (hence its parameter count on DIGINETICA), its message
passing equals the release's dense in/out adjacency formulation, a session's scores do not depend on
the rest of its batch, and it learns a fixed batch."""
import math

import numpy as np
import pytest

import paddle
import paddle.nn.functional as F

import reader
from models import build_model

DIGINETICA_ITEMS = 43098  # config.txt of the release's preprocessed DIGINETICA


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def release_1_7_shapes(items_num, h=100):
    """The parameters of release/1.7 PaddleRec/gnn network.py with step 1, layer by layer."""
    return sorted([(items_num, h),                # emb (shared by the inputs and the all_vocab scores)
                   (h, h), (h,), (h, h), (h,),    # state_in, state_out: fc with bias
                   (2 * h, 3 * h),                # gru_fc, no bias
                   (h, 3 * h), (3 * h,),          # gru_unit: hidden weight and bias ([1, 3h] there)
                   (h, h), (h, h),                # seq_fc, last_fc, no bias
                   (h,),                          # b, added before the sigmoid
                   (h, 1),                        # weight_fc, no bias
                   (2 * h, h)])                   # fina_attention_fc, no bias


def test_the_release_network_on_diginetica():
    """Built at DIGINETICA's items_num (lazily: no memory), the model has exactly the release's
    tensors: 4,460,500 parameters, the figure the README quotes."""
    with paddle.LazyGuard():
        model = build_model("srgnn", DIGINETICA_ITEMS)
    assert sorted(tuple(p.shape) for p in model.parameters()) == release_1_7_shapes(DIGINETICA_ITEMS)
    assert count(model) == sum(math.prod(s) for s in release_1_7_shapes(DIGINETICA_ITEMS)) == 4460500
    with paddle.LazyGuard():  # more steps share the layer (the paper's code), so the count stays
        assert count(build_model("srgnn", DIGINETICA_ITEMS, step=3)) == 4460500


class _Samples:
    """Just enough of reader.Samples for make_batch."""

    def __init__(self, seqs, labels):
        self.offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
        self.items = np.concatenate([np.asarray(s) for s in seqs]).astype(np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)

    def seq(self, k):
        return self.items[self.offsets[k]:self.offsets[k + 1]]


SEQS = [[5, 3, 5, 7, 3, 3], [2], [4, 8, 4, 8, 9], [1, 1, 1]]


def batch_of(seqs, rows=None):
    samples = _Samples(seqs, [1] * len(seqs))
    return [paddle.to_tensor(a) for a in reader.make_batch(samples, list(range(len(seqs))) if rows is None else rows)[:6]]


def release_gnn_step(layer, emb, seq):
    """One propagation step of one session as release/1.7 builds it: np.unique nodes, a 0/1
    adjacency of consecutive clicks, adj_in = (A / in-degree)^T, adj_out = (A^T / out-degree)^T,
    then gru_fc and fluid's gru_unit (update, reset, candidate; h = (1 - u) h + u c)."""
    w = {k: v.numpy().astype(np.float64) for k, v in layer.state_dict().items()}
    node = np.unique(seq)
    adj = np.zeros((len(node), len(node)))
    for a, b in zip(seq[:-1], seq[1:]):
        adj[np.searchsorted(node, a), np.searchsorted(node, b)] = 1
    deg_in = adj.sum(0)
    deg_in[deg_in == 0] = 1
    deg_out = adj.sum(1)
    deg_out[deg_out == 0] = 1
    adj_in, adj_out = (adj / deg_in).T, (adj.T / deg_out).T
    h = emb[node]
    state_in = h @ w["state_in.weight"] + w["state_in.bias"]
    state_out = h @ w["state_out.weight"] + w["state_out.bias"]
    x = np.concatenate([adj_in @ state_in, adj_out @ state_out], 1) @ w["gru_fc.weight"] + w["gru_bias"]
    d = h.shape[1]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    u = sig(x[:, :d] + h @ w["gru_weight"][:, :d])
    r = sig(x[:, d:2 * d] + h @ w["gru_weight"][:, d:2 * d])
    c = np.tanh(x[:, 2 * d:] + (r * h) @ w["gru_weight"][:, 2 * d:])
    return (1 - u) * h + u * c


def test_message_passing_equals_the_release_dense_adjacency():
    paddle.seed(0)
    model = build_model("srgnn", 12, hidden_size=8)
    node_items, src, dst = batch_of(SEQS)[:3]
    got = model.gnn(model.embedding(node_items), src, dst).numpy()
    emb = model.embedding.weight.numpy().astype(np.float64)
    expected = np.concatenate([release_gnn_step(model.gnn, emb, np.array(s)) for s in SEQS])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_scores_shape_and_independent_of_the_rest_of_the_batch():
    paddle.seed(1)
    model = build_model("srgnn", 12, hidden_size=8, step=2)
    model.eval()
    scores = model(*batch_of(SEQS)).numpy()
    assert scores.shape == (4, 11)
    for k, seq in enumerate(SEQS):
        np.testing.assert_allclose(model(*batch_of([seq])).numpy()[0], scores[k], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(*batch_of(SEQS, [2, 0])).numpy(), scores[[2, 0]], rtol=1e-5, atol=1e-6)


def test_learns_a_fixed_batch():
    paddle.seed(0)
    rng = np.random.default_rng(3)
    seqs = [list(rng.integers(1, 30, rng.integers(1, 6))) for _ in range(32)]
    labels = paddle.to_tensor(rng.integers(1, 30, 32) - 1)
    model = build_model("srgnn", 30, hidden_size=16)
    inputs = batch_of(seqs)
    opt = paddle.optimizer.Adam(1e-2, parameters=model.parameters())
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(*inputs), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[0] > 3.0 and losses[-1] < 0.25 * losses[0], losses[::8]


def test_a_sparse_table_would_get_a_dense_gradient_anyway():
    """Why the table is not sparse=True: the scores multiply by every row of the shared table, so
    Paddle merges the lookup's SelectedRows into a dense gradient of the whole table."""
    model = build_model("srgnn", 40, hidden_size=8)
    sparse = paddle.nn.Embedding(40, 8, sparse=True)
    sparse.weight.set_value(model.embedding.weight)
    model.embedding = sparse
    model(*batch_of(SEQS)).sum().backward()
    grad = model.embedding.weight.grad
    assert not grad.is_selected_rows() and grad.shape == [40, 8]
    assert int((grad.abs().sum(axis=1) > 0).sum()) >= 39  # every scored row (1..39), not just the clicked ones
