"""The BiGRU-CRF builds with the recipe's sizes, ignores padding, and learns a fixed batch."""
import math

import numpy as np
import pytest

import utils  # noqa: F401
import paddle

from model import MODELS, build_model
from make_demo_data import write_demo
from reader import Vocab, pad_batch


def gru_params(input_size, hidden):
    per_direction = 3 * hidden * input_size + 3 * hidden * hidden + 2 * 3 * hidden
    return 2 * per_direction


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def test_parameter_count_is_the_recipe_architecture():
    vocab, tags = 20940, 57
    model = build_model("bigru_crf", vocab, tags)  # small enough to build; nn.GRU fails under LazyGuard
    expected = (vocab * 128                       # char embedding 128
                + gru_params(128, 128) + gru_params(256, 128)   # 2 bidirectional GRU layers, hidden 128
                + 256 * tags + tags               # emission layer
                + tags * tags + 2 * tags)         # CRF transitions, start and stop scores
    assert count(model) == expected
    assert list(MODELS) == ["bigru_crf"]


def test_demo_model_has_exactly_the_readme_count(tmp_path):
    write_demo(str(tmp_path))  # the demo data train.sh trains on
    vocab = Vocab(str(tmp_path))
    model = build_model("bigru_crf", vocab.vocab_size, vocab.num_tags)
    assert (vocab.vocab_size, count(model)) == (304, 551_516)  # README, "Model"


def test_output_shapes_and_padding_does_not_change_predictions():
    paddle.seed(0)
    model = build_model("bigru_crf", 50, 7)
    model.eval()
    rng = np.random.default_rng(0)
    sentences = [rng.integers(0, 50, n) for n in (6, 2, 9)]
    chars, lengths = pad_batch(sentences)
    emissions = model.emissions(paddle.to_tensor(chars), paddle.to_tensor(lengths))
    paths = model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
    assert emissions.shape == [3, 9, 7] and paths.shape == (3, 9)
    for i, sentence in enumerate(sentences):
        alone_chars, alone_len = pad_batch([sentence])
        alone_em = model.emissions(paddle.to_tensor(alone_chars), paddle.to_tensor(alone_len)).numpy()[0]
        np.testing.assert_allclose(emissions.numpy()[i, :len(sentence)], alone_em, atol=1e-5)
        alone = model(paddle.to_tensor(alone_chars), paddle.to_tensor(alone_len)).numpy()[0]
        assert paths[i, :len(sentence)].tolist() == alone.tolist()
        assert not paths[i, len(sentence):].any()


def test_a_few_dozen_steps_fit_a_fixed_batch():
    paddle.seed(1)
    rng = np.random.default_rng(1)
    sentences = [rng.integers(0, 40, n) for n in rng.integers(4, 12, 16)]
    gold = [(s * 7 + 3) % 9 for s in sentences]  # a deterministic tag per character
    chars, lengths, tags = (paddle.to_tensor(a) for a in pad_batch(sentences, gold))
    model = build_model("bigru_crf", 40, 9)
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters())
    losses = []
    for _ in range(40):
        loss = model(chars, lengths, tags)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    model.eval()
    pred = model(chars, lengths).numpy()
    for p, g in zip(pred, gold):
        assert p[:len(g)].tolist() == g.tolist()
