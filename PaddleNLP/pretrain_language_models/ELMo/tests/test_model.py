"""The network: the published parameter count (by hand, exact), the fused LSTMP against a step-by-step
LSTMP, the backward direction, padding that changes nothing, the layer mixture, and learning."""
import math

import numpy as np
import pytest

import utils  # noqa: F401  (quiets Paddle before it is imported)
import paddle
import paddle.nn.functional as F

import reader
from model import CONFIGS, LSTMP, BiGruCrf, ScalarMix, build_elmo, num_parameters, published_num_parameters, \
    reverse_padded


def test_published_elmo_parameter_count_exact():
    """bilm-tf's "original" ELMo: 93,600,864 parameters without the softmax (the 93.6M AllenNLP lists), by
    hand; ours has one more gate bias per LSTMP (the fused kernel's second bias): 8 x 4 x 4096 more."""
    assert published_num_parameters(**CONFIGS["elmo"]) == 93_600_864
    vocab = 793_471  # the 1B Word Benchmark vocabulary
    with paddle.LazyGuard():
        model = build_elmo("elmo", vocab)
    softmax = vocab * 512 + vocab
    assert num_parameters(model) == 93_600_864 + 4 * 4 * 4096 + softmax == 500_717_023
    assert num_parameters(model.token_encoder) == 18_037_856


def test_small_configuration_count_matches_the_formula():
    model = build_elmo("elmo_small", 300)
    cfg = CONFIGS["elmo_small"]
    extra = 2 * cfg["num_layers"] * 4 * cfg["cell_dim"]
    assert num_parameters(model) == published_num_parameters(**cfg, vocab_size=300) + extra


def step_by_step(layer, x):
    """The LSTMP recurrence one time step at a time: gates from x and the previous projection r."""
    r = paddle.zeros([x.shape[0], layer.proj_dim])
    c = paddle.zeros([x.shape[0], layer.cell_dim])
    outs = []
    for t in range(x.shape[1]):
        gates = (paddle.matmul(x[:, t], layer.weight_ih, transpose_y=True) + layer.bias_ih
                 + paddle.matmul(r, layer.weight_rh, transpose_y=True) + layer.bias_hh)
        i, f, g, o = paddle.chunk(gates, 4, axis=1)
        c = F.sigmoid(f) * c + F.sigmoid(i) * paddle.tanh(g)
        r = paddle.matmul(F.sigmoid(o) * paddle.tanh(c), layer.weight_proj, transpose_y=True)
        outs.append(r)
    return paddle.stack(outs, axis=1)


def test_fused_lstmp_equals_step_by_step_and_trains_both_factors():
    paddle.seed(0)
    layer = LSTMP(10, 16, 6)
    x = paddle.randn([3, 7, 10])
    fused = layer(x, paddle.to_tensor([7, 7, 7]))
    np.testing.assert_allclose(fused.numpy(), step_by_step(layer, x).numpy(), atol=1e-5)
    fused.sum().backward()
    assert float(layer.weight_rh.grad.abs().sum()) > 0 and float(layer.weight_proj.grad.abs().sum()) > 0


def test_reverse_padded_keeps_padding_in_place():
    x = paddle.to_tensor(np.arange(8, dtype="float32").reshape(2, 4, 1))
    out = reverse_padded(x, paddle.to_tensor([4, 2])).numpy()[..., 0]
    assert out.tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]


def test_padding_changes_nothing_and_shapes():
    paddle.seed(1)
    model = build_elmo("elmo_small", 50, proj_dim=8, cell_dim=12)
    model.eval()
    short = reader.sentence_chars(list("今天下雨"), 12)
    long = reader.sentence_chars(list("我们明天去北京看电影"), 12)
    chars, _, lengths = reader.lm_collate([(short, np.zeros(6, "int64")), (long, np.zeros(12, "int64"))])
    layers = model(paddle.to_tensor(chars), paddle.to_tensor(lengths))
    assert [list(layer.shape) for layer in layers] == [[2, 12, 16]] * 3
    alone = model(paddle.to_tensor(short[None]), paddle.to_tensor([6]))
    for batched, single in zip(layers, alone):
        np.testing.assert_allclose(batched.numpy()[0, :6], single.numpy()[0], atol=1e-5)


def test_scalar_mix_is_softmax_weighted_and_scaled():
    mix = ScalarMix(3)
    mix.scalars.set_value(paddle.to_tensor([0.0, math.log(2.0), math.log(5.0)]))
    mix.gamma.set_value(paddle.to_tensor([2.0]))
    layers = [paddle.full([1, 2], v) for v in (1.0, 2.0, 3.0)]
    assert mix(layers).numpy().ravel().tolist() == pytest.approx([2 * (1 + 2 * 2 + 5 * 3) / 8] * 2)


def test_tagger_freezes_elmo():
    elmo = build_elmo("elmo_small", 40, proj_dim=8, cell_dim=8)
    tagger = BiGruCrf(30, 5, 8, 8, elmo=elmo)
    tagger.train()
    assert not elmo.training and all(p.stop_gradient for p in elmo.parameters())
    assert not tagger.mix.scalars.stop_gradient


def test_learns_a_fixed_batch():
    paddle.seed(2)
    model = build_elmo("elmo_small", 20, dropout=0.0, proj_dim=16, cell_dim=32)
    rng = np.random.default_rng(0)
    # counting sentences from a random start: each next (and previous) token follows from the last one
    samples = [(reader.sentence_chars([str(t) for t in s], 12), np.array([0, *s, 1])) for s in
               (3 + (rng.integers(0, 17) + np.arange(9)) % 17 for _ in range(8))]
    chars, words, lengths = (paddle.to_tensor(a) for a in reader.lm_collate(samples))
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters())
    losses = []
    for _ in range(40):
        nll_f, nll_b, count = model(chars, lengths, words)
        loss = (nll_f + nll_b) / (2 * count)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::10]
