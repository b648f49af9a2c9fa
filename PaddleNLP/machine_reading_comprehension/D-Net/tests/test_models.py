"""The published configurations' exact parameter counts with D-Net's span head, output shapes,
padding invariance, the parameter names --pretrained loads by, and learning on a fixed batch."""
import math

import numpy as np
import paddle
import pytest

from models import build_model, config_for
from train import build_optimizer, train_step


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters())


@pytest.mark.parametrize("name, encoder", [
    ("bert-base", 109_482_240),    # google-research/bert uncased_L-12_H-768_A-12 (encoder + pooler)
    ("bert-large", 335_141_888),   # uncased_L-24_H-1024_A-16
])
def test_published_parameter_counts_at_vocab_30522(name, encoder):
    with paddle.LazyGuard():
        model = build_model(config_for(name, 30522))
    hidden = 768 if name == "bert-base" else 1024
    assert count(model.bert) == encoder
    assert count(model) == encoder + 2 * hidden + 2  # the span head: one Linear(hidden, 2) for start and end


def test_parameter_names_follow_the_paddle_bert_layout():
    names = set(build_model(config_for("bert-tiny", 50)).state_dict())
    for key in ["bert.embeddings.word_embeddings.weight", "bert.encoder.layers.1.self_attn.q_proj.weight",
                "bert.encoder.layers.1.linear2.bias", "bert.pooler.dense.weight", "classifier.weight"]:
        assert key in names, key


def batch(rng, vocab=50, b=8, length=12):
    ids = rng.integers(5, vocab, (b, length))
    ids[:, 0], ids[:, -1] = 2, 3
    return ids


def test_shapes_and_padding():
    rng = np.random.default_rng(0)
    paddle.seed(0)
    model = build_model(config_for("bert-tiny", 50))
    model.eval()
    ids = paddle.to_tensor(batch(rng, b=4))
    start, end = model(ids, paddle.zeros_like(ids))
    assert start.shape == end.shape == [4, 12]
    padded = paddle.concat([ids, paddle.zeros([4, 6], "int64")], axis=1)  # what --to_static does
    s2, e2 = model(padded, paddle.zeros_like(padded))
    np.testing.assert_allclose(start.numpy(), s2.numpy()[:, :12], atol=1e-5)


def test_loss_drops_on_a_fixed_batch():
    rng = np.random.default_rng(1)
    paddle.seed(1)
    model = build_model(config_for("bert-tiny", 50, dropout=0.0))
    args = type("A", (), {"lr": 2e-3, "warmup_proportion": 0.0, "weight_decay": 0.01})()
    optimizer, scheduler = build_optimizer(args, model, 1000)
    ids = paddle.to_tensor(batch(rng))
    start = paddle.to_tensor(rng.integers(1, 6, 8))
    data = (ids, paddle.zeros_like(ids), start, start + 3, paddle.arange(8))
    scaler = paddle.amp.GradScaler(enable=False)
    losses = [train_step(model, optimizer, scheduler, scaler, data, False, "O1").item() for _ in range(40)]
    assert losses[-1] < 0.1 * losses[0], losses
