"""The network: the release's parameter count and tensor shapes, the window convolution against a
brute-force sequence_conv, padding invariance, sparse gradients, the loss on a hand-made case, the
negative sampler."""
import math

import numpy as np
import paddle
import pytest

from models import RELEASE, MarginRankingLoss, build_model, sample_negatives

# The release's sample data: vocab_text.txt says 11447 words, vocab_tag.txt 4 tags.
RELEASE_WORDS, RELEASE_TAGS = 11447, 4


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def test_release_parameter_count_and_shapes():
    """net.py of release/1.7 with its defaults (emb 10, 1000 filters, window 5) on its sample vocabulary:
    text_emb 11447x10, tag_emb 4x10, the sequence_conv filter (5*10)x1000 and its bias 1000, the fc
    text_hid 1000x10 + 10: 114470 + 40 + 51000 + 10010 = 175,520 parameters."""
    with paddle.LazyGuard():
        model = build_model("tagspace", RELEASE_WORDS, RELEASE_TAGS, None, **{k: RELEASE[k] for k in ("emb_dim", "hid_dim", "win_size")})
    assert count(model) == 175_520
    assert sorted(tuple(p.shape) for p in model.parameters()) == sorted(
        [(11447, 10), (4, 10), (50, 1000), (1000,), (1000, 10), (10,)])


def brute_force_text_vectors(model, texts):
    """fluid's sequence_conv_pool + fc, text by text in numpy: window t holds words
    t - win//2 ... t - win//2 + win - 1 (zeros outside the text), filter [win*D, H] + bias, tanh, max."""
    emb = model.text_emb.weight.numpy()
    weight, bias = model.cnn.weight.numpy(), model.cnn.bias.numpy()
    fc_w, fc_b = model.text_hid.weight.numpy(), model.text_hid.bias.numpy()
    win, dim = model.cnn.win_size, emb.shape[1]
    out = []
    for ids in texts:
        x = emb[ids]
        rows = []
        for t in range(len(ids)):
            window = np.zeros(win * dim, dtype=np.float32)
            for k in range(win):
                s = t - win // 2 + k
                if 0 <= s < len(ids):
                    window[k * dim:(k + 1) * dim] = x[s]
            rows.append(np.tanh(window @ weight + bias))
        out.append(np.max(rows, axis=0) @ fc_w + fc_b)
    return np.array(out)


@pytest.mark.parametrize("win", [5, 3, 4, 1])
def test_window_convolution_equals_brute_force_and_ignores_padding(win):
    paddle.seed(win)
    model = build_model("tagspace", 30, 4, 29, hid_dim=16, win_size=win)
    rng = np.random.default_rng(win)
    texts = [rng.integers(0, 28, n).tolist() for n in (7, 1, 3, 12)]
    expected = brute_force_text_vectors(model, texts)
    for extra in (0, 5):  # tight, then 5 more padding positions filled with the PAD id
        width = max(map(len, texts)) + extra
        ids = np.full((len(texts), width), 29, dtype=np.int64)
        for row, t in enumerate(texts):
            ids[row, :len(t)] = t
        got = model.encode(paddle.to_tensor(ids), paddle.to_tensor([len(t) for t in texts])).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # garbage (real word ids) in the padding changes nothing either
    ids[:, -5:] = 3
    got = model.encode(paddle.to_tensor(ids), paddle.to_tensor([len(t) for t in texts])).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_scores_are_cosines_with_every_tag():
    paddle.seed(1)
    model = build_model("tagspace", 30, 5, 29, hid_dim=16)
    ids, lengths = paddle.to_tensor([[1, 2, 3], [4, 5, 29]]), paddle.to_tensor([3, 2])
    scores = model(ids, lengths).numpy()
    text, tags = model.encode(ids, lengths).numpy(), model.tag_emb.weight.numpy()
    cos = (text @ tags.T) / np.linalg.norm(text, axis=1, keepdims=True) / np.linalg.norm(tags, axis=1)
    assert scores.shape == (2, 5)
    np.testing.assert_allclose(scores, cos, rtol=1e-5, atol=1e-6)


def test_loss_on_a_hand_made_case():
    """max(0, margin - cos(text, pos) + max_k cos(text, neg_k)), averaged."""
    paddle.seed(2)
    model = build_model("tagspace", 30, 4, 29, hid_dim=16)
    ids, lengths = paddle.to_tensor([[1, 2, 3], [4, 5, 29]]), paddle.to_tensor([3, 2])
    pos, neg = paddle.to_tensor([0, 3]), paddle.to_tensor([[1, 2, 1], [0, 0, 2]])
    cos = model(ids, lengths).numpy()
    expected = np.mean([max(0.0, 0.3 - cos[0, 0] + max(cos[0, 1], cos[0, 2])),
                        max(0.0, 0.3 - cos[1, 3] + max(cos[1, 0], cos[1, 2]))])
    loss = MarginRankingLoss(model, margin=0.3)(ids, lengths, pos, neg).item()
    assert loss == pytest.approx(expected, rel=1e-5)


def test_sparse_gradients_and_sparse_equals_dense_adagrad():
    """The tables get SelectedRows gradients; one Adagrad step gives the same weights as dense
    gradients (Adagrad leaves rows without gradient as they are either way)."""
    batch = [paddle.to_tensor(a) for a in ([[1, 2, 3], [4, 5, 29]], [3, 2], [0, 3], [[1, 2, 1], [0, 0, 2]])]
    weights = []
    for sparse in (True, False):
        paddle.seed(3)
        model = build_model("tagspace", 30, 4, 29, hid_dim=16, sparse=sparse)
        MarginRankingLoss(model, margin=0.5)(*batch).backward()
        assert model.text_emb.weight.grad.is_selected_rows() == sparse
        assert model.tag_emb.weight.grad.is_selected_rows() == sparse
        paddle.optimizer.Adagrad(0.1, parameters=model.parameters()).step()
        weights.append({k: v.numpy() for k, v in model.state_dict().items()})
    for k in weights[0]:
        np.testing.assert_allclose(weights[0][k], weights[1][k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert not np.allclose(weights[0]["text_emb.weight"][1], build_model("tagspace", 30, 4, 29, hid_dim=16).text_emb.weight.numpy()[1])


def test_negative_sampler_draws_every_other_tag_never_the_true_one():
    paddle.seed(4)
    pos = paddle.to_tensor(np.arange(2000) % 5)
    neg = sample_negatives(pos, 5, 3).numpy()
    assert neg.shape == (2000, 3) and (neg != pos.numpy()[:, None]).all()
    for tag in range(5):
        drawn = np.bincount(neg[pos.numpy() == tag].ravel(), minlength=5)
        others = np.delete(drawn, tag)
        assert drawn[tag] == 0 and others.min() > 0.8 * others.mean()  # uniform over the other tags


def test_learns_a_fixed_batch():
    paddle.seed(5)
    model = build_model("tagspace", 40, 4, 39, hid_dim=32)
    objective = MarginRankingLoss(model, margin=0.1)
    optimizer = paddle.optimizer.Adagrad(0.05, parameters=model.parameters())
    rng = np.random.default_rng(0)
    ids = paddle.to_tensor(rng.integers(0, 38, (16, 8)))
    lengths, tags = paddle.to_tensor(rng.integers(2, 9, 16)), paddle.to_tensor(rng.integers(0, 4, 16))
    losses = []
    for _ in range(40):
        loss = objective(ids, lengths, tags, sample_negatives(tags, 4, 3))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.2 * np.mean(losses[:3]), losses
    assert (model(ids, lengths).numpy().argmax(1) == tags.numpy()).mean() == 1.0
