"""The model: published parameter counts, the relative shift, two-stream attention (the query stream
never sees its own token), the permutation masks, padding, memory, and learning on a fixed batch."""
import math

import numpy as np
import paddle
import pytest

import reader
from model import CONFIGS, SEG_A, SEG_PAD, XLNetForSequence, XLNetModel, XLNetPretrain, model_config, rel_shift
from train import pretrain_loss


def by_hand(n_layer, d_model, n_head, d_head, d_inner, vocab_size):
    """XLNet's tensors: the embedding and mask_emb; per layer q, k, v, o, r [d_model, n_head*d_head],
    r_w/r_r/r_s biases [n_head, d_head] and seg_embed [2, n_head, d_head] (untied, one set per layer),
    two LayerNorms, and the feed-forward layer_1/layer_2 with biases."""
    hd = n_head * d_head
    layer = 5 * d_model * hd + 3 * hd + 2 * hd + 2 * 2 * d_model + (d_model * d_inner + d_inner) + (d_inner * d_model + d_model)
    return vocab_size * d_model + d_model + n_layer * layer


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


@pytest.mark.parametrize("name, published", [("xlnet-base", 116_718_336), ("xlnet-large", 360_268_800)])
def test_published_parameter_counts(name, published):
    """The released checkpoints at vocabulary 32000: base 116,718,336 tensors' elements (the "117M"; the
    paper's "110M" is its same-size-as-BERT-Base label), large 360,268,800; exact, and by hand."""
    with paddle.LazyGuard():
        model = XLNetModel(**model_config(name, 32000))
    assert count(model) == published == by_hand(**CONFIGS[name], vocab_size=32000)
    with paddle.LazyGuard():  # the LM head adds only its bias: the output embedding is the input one
        assert count(XLNetPretrain(model_config(name, 32000))) == published + 32000


def test_rel_shift_is_the_relative_gather():
    """Score [i, p] against relative position klen - p becomes score [i, j] against key j: distance
    (mlen + i) - j, i.e. column qlen - i + j."""
    q, k = 4, 7
    x = paddle.randn([2, 3, q, q + k])
    expected = np.stack([np.stack([x.numpy()[:, :, i, q - i + j] for j in range(k)], -1) for i in range(q)], 2)
    np.testing.assert_array_equal(rel_shift(x, k).numpy(), expected)


def test_permutation_masks_by_hand():
    class Fixed:  # order 2, 0, 3, 1, 4, 5; the last 2 of it (4, 5) are predicted
        def permutation(self, n):
            return np.array([2, 0, 3, 1, 4, 5])
    content, query, target = reader.permutation_masks(6, 2, Fixed())
    assert target.tolist() == [False, False, False, False, True, True]
    context = [[True] * 4 + [False] * 2] * 4  # the context reads the whole context, no target
    assert content.tolist() == context + [[True] * 5 + [False], [True] * 6]
    assert query.tolist() == [[j != i and j < 4 for j in range(6)] for i in range(4)] + [
        [True] * 4 + [False, False], [True] * 5 + [False]]


def test_random_masks_predict_the_last_sixth_of_the_order():
    content, query, target = reader.permutation_masks(60, 10, np.random.default_rng(0))
    assert target.sum() == 10 and not query.diagonal().any() and content.diagonal().all()
    t = np.flatnonzero(target)
    seen = content[t][:, t]  # among the targets: a strict order (one sees 0, the next 1, ... others)
    assert sorted(seen.sum(1).tolist()) == list(range(1, 11))
    assert not content[~target][:, target].any()


def tiny_model(vocab=30, seed=0):
    paddle.seed(seed)
    model = XLNetPretrain(model_config("xlnet-tiny", vocab, dropout=0.0, dropatt=0.0))
    model.eval()
    return model


def test_query_stream_never_sees_its_own_token():
    """At a predicted position the query stream (the LM logits) is the same whatever the token there
    is, and changes with a token earlier in the order; the content stream does see the token."""
    model = tiny_model()
    content, query, target = reader.permutation_masks(8, 3, np.random.default_rng(1))
    order_rank = content.sum(1)  # a target sees more the later it comes
    t = np.flatnonzero(target)[np.argmax(order_rank[target])]  # the last target: it reads every other token
    ids = np.random.default_rng(2).integers(9, 30, (1, 8))
    other = ids.copy()
    other[0, t] = (ids[0, t] + 1 - 9) % 21 + 9
    c, q = paddle.to_tensor(content[None]), paddle.to_tensor(query[None])
    seg = paddle.zeros([1, 8], "int64")

    def run(x):
        logits, _ = model(paddle.to_tensor(x), seg, c, q)
        h, _, _ = model.transformer(paddle.to_tensor(x), seg, c, q)
        return logits.numpy()[0], h.numpy()[0]

    (g1, h1), (g2, h2) = run(ids), run(other)
    np.testing.assert_allclose(g1[t], g2[t], atol=1e-6)  # the query stream at t: blind to x_t
    assert np.abs(h1[t] - h2[t]).max() > 1e-3  # the content stream at t reads x_t
    first = np.flatnonzero(target)[np.argmin(order_rank[target])]
    assert np.abs(g1[first] - g2[first]).max() < 1e-6  # an earlier target cannot see the later one
    ctx = np.flatnonzero(~target)[0]
    earlier = ids.copy()
    earlier[0, ctx] = (ids[0, ctx] + 1 - 9) % 21 + 9
    assert np.abs(run(earlier)[0][t] - g1[t]).max() > 1e-4  # but it reads the context


def test_memory_is_read_and_left_padding_changes_nothing():
    model = tiny_model()
    seg = paddle.zeros([1, 5], "int64")
    ones = paddle.ones([1, 5, 5], "bool")
    x = paddle.to_tensor([[9, 10, 11, 12, 13]])
    _, mems = model(x, seg, ones, ones)
    _, other = model(paddle.to_tensor([[14, 15, 16, 17, 18]]), seg, ones, ones)
    both = paddle.ones([1, 5, 10], "bool")
    a, _ = model(x, seg, both, both, mems)
    b, _ = model(x, seg, both, both, other)
    assert np.abs(a.numpy() - b.numpy()).max() > 1e-4  # the memory matters
    paddle.seed(0)
    clf = XLNetForSequence(model_config("xlnet-tiny", 30, dropout=0.0, dropatt=0.0), 2)
    clf.eval()
    ids, segs = [9, 10, 4, 11, 4, 3], [0, 0, 0, 1, 1, 2]
    tight = clf(paddle.to_tensor([ids]), paddle.to_tensor([segs])).numpy()
    padded = clf(paddle.to_tensor([[5, 5, 5] + ids]), paddle.to_tensor([[SEG_PAD] * 3 + segs])).numpy()
    garbage = clf(paddle.to_tensor([[20, 21, 22] + ids]), paddle.to_tensor([[SEG_PAD] * 3 + segs])).numpy()
    np.testing.assert_allclose(padded, tight, atol=1e-5)
    np.testing.assert_allclose(garbage, tight, atol=1e-5)
    swapped = clf(paddle.to_tensor([ids]), paddle.to_tensor([[0, 0, 0, SEG_A + 1, 0, 2]])).numpy()
    assert np.abs(swapped - tight).max() > 1e-5  # the segments matter


def test_pretraining_loss_drops_on_a_fixed_batch():
    paddle.seed(0)
    model = XLNetPretrain(model_config("xlnet-tiny", 30, dropout=0.0, dropatt=0.0))
    rng = np.random.default_rng(0)
    ids = np.tile(np.arange(9, 25), (4, 2, 1)).astype("int64")  # a fixed sequence: learnable from the order
    masks = [[reader.permutation_masks(16, 4, rng) for _ in range(2)] for _ in range(4)]
    batch = [paddle.to_tensor(ids)] + [paddle.to_tensor(np.stack([np.stack([m[s][k] for s in range(2)]) for m in masks]))
                                       for k in range(3)]
    opt = paddle.optimizer.AdamW(learning_rate=0.01, parameters=model.parameters())
    losses = []
    for _ in range(30):
        loss = pretrain_loss(model, batch)[0]
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses
