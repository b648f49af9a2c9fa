"""BiDAF: the release configuration's parameter count (worked out by hand), output shapes and
probabilities, padding that changes nothing, learning on a fixed batch, and the export round trip."""
import math

import numpy as np
import paddle
import pytest

import reader
import utils
from export import export
from models import build_model, span_loss
from train import train_step


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def test_parameter_count_of_the_release_configuration():
    """Embedding 300, hidden 150 (H), vocabulary V = 50,000 stated here (the release builds it from its
    training files with min count 2). By hand, the release's rc_model.py:
      encoders p_enc and q_enc, per direction: input projection 300x600 + recurrent 150x600 + bias 600
        = 270,600; x2 directions x2 encoders = 1,082,400
      fusion over 8H = 1200 inputs: (1200x600 + 150x600 + 600) x2 = 1,621,200
      decoder: random_attn 150, its fc 150x150+150, q_vec fc 300x150, logits 150+1, init_state 300x150+150
        = 150 + 22,650 + 45,000 + 151 + 45,150 = 113,101
      2 pointer readers: context 300x150+150, m_prev 150x150+150, logits 151, LSTM step 4 x (450x150+150)
        = 45,150 + 22,650 + 151 + 270,600 = 338,551 each: 677,102
      total without the embedding 3,493,803; with it 15,000,000 + 3,493,803 = 18,493,803.
    Paddle's nn.LSTM has two bias vectors per direction (the release's dynamic_lstm one): 3 BiLSTMs x 2
    directions x 4H = 3,600 more."""
    paddle.seed(0)
    model = build_model("bidaf", 50000, 300, 150)  # RNNs cannot be built under paddle.LazyGuard
    assert count(model) == 18_493_803 + 3_600
    assert count(model) - count(model.embedding) == 3_493_803 + 3_600


def batch(seed=0, B=3, P=2, Lp=7, Lq=4, vocab=30):
    rng = np.random.default_rng(seed)
    q_len = rng.integers(2, Lq + 1, B)
    p_len = rng.integers(1, Lp + 1, (B, P))
    p_len[0, 1] = 0  # a question with one passage
    q = np.where(np.arange(Lq) < q_len[:, None], rng.integers(2, vocab, (B, Lq)), 0)
    p = np.where(np.arange(Lp) < p_len[..., None], rng.integers(2, vocab, (B, P, Lp)), 0)
    start = np.array([min(i, l - 1) for i, l in zip(rng.integers(0, Lp, B), p_len[:, 0])])
    return [q, q_len, p, p_len, start, start.copy()]


def test_shapes_probabilities_and_masking():
    paddle.seed(1)
    model = build_model("bidaf", 30, 8, 6)
    model.eval()
    q, q_len, p, p_len, _, _ = batch()
    s, e = model(*map(paddle.to_tensor, (q, q_len, p, p_len)))
    assert s.shape == [3, 14] and e.shape == [3, 14]
    np.testing.assert_allclose(s.numpy().sum(-1), 1, rtol=1e-5)
    mask = (np.arange(7) < p_len[..., None]).reshape(3, 14)
    assert s.numpy()[~mask].max() < 1e-6 and e.numpy()[~mask].max() < 1e-6
    # more padding (a longer slot, a longer question) changes no real position's probability
    p2 = np.pad(p, ((0, 0), (0, 0), (0, 3)))
    q2 = np.pad(q, ((0, 0), (0, 2)))
    s2, _ = model(*map(paddle.to_tensor, (q2, q_len, p2, p_len)))
    np.testing.assert_allclose(s2.numpy().reshape(3, 2, 10)[..., :7], s.numpy().reshape(3, 2, 7), atol=1e-6)


def test_loss_drops_on_a_fixed_batch():
    paddle.seed(0)
    model = build_model("bidaf", 30, 16, 12)
    optimizer = paddle.optimizer.Adam(learning_rate=0.02, parameters=model.parameters())
    data = [paddle.to_tensor(a) for a in batch()]
    losses = [train_step(model, optimizer, data).item() for _ in range(30)]
    assert losses[-1] < 0.1 * losses[0], losses


def test_span_loss_is_the_start_and_end_nll():
    s = paddle.to_tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    loss = span_loss(s, s, paddle.to_tensor([0, 2]), paddle.to_tensor([1, 2]))
    # (-ln .5 - ln .25 - ln .8 - ln .8) / 2
    assert loss.item() == pytest.approx((math.log(2) + math.log(4) + 2 * math.log(1.25)) / 2, rel=1e-5)


def test_export_round_trip_equals_dygraph(tmp_path):
    paddle.seed(3)
    model = build_model("bidaf", 30, 8, 6)
    model.eval()
    predictor = utils.create_predictor(export(model, str(tmp_path / "inference" / "model")))
    for seed, shape in ((0, {}), (1, {"B": 2, "P": 3, "Lp": 5, "Lq": 3})):
        q, q_len, p, p_len, _, _ = batch(seed, **shape)
        expected = [t.numpy() for t in model(*map(paddle.to_tensor, (q, q_len, p, p_len)))]
        got = predictor([q, q_len, p, p_len])
        for g, x in zip(got, expected):
            np.testing.assert_allclose(g, x, atol=1e-5)
