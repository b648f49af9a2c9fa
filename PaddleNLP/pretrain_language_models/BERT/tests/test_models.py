"""The published configurations' exact parameter counts, output shapes, padding invariance, the tied
MLM decoder, the parameter names later issues load PaddleNLP weights by, scaled_dot_product_attention
against the plain path, and learning on a fixed batch."""
import math

import numpy as np
import paddle
import pytest

from models import build_model
from models.bert import config_for, set_attention
from train import build_optimizer, train_step


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters())


@pytest.mark.parametrize("name, encoder, with_heads", [
    ("bert-base", 109_482_240, 110_106_428),    # google-research/bert uncased_L-12_H-768_A-12
    ("bert-large", 335_141_888, 336_226_108),   # uncased_L-24_H-1024_A-16
])
def test_published_parameter_counts_at_vocab_30522(name, encoder, with_heads):
    with paddle.LazyGuard():
        model = build_model("pretrain", config_for(name, 30522))
    assert count(model.bert) == encoder
    assert count(model) == with_heads  # + MLM transform, LayerNorm, output bias (decoder tied), NSP


def test_parameter_names_follow_the_paddle_bert_layout():
    model = build_model("classify", config_for("bert-tiny", 50), 3)
    names = set(model.state_dict())
    for key in ["bert.embeddings.word_embeddings.weight", "bert.embeddings.layer_norm.weight",
                "bert.encoder.layers.1.self_attn.q_proj.weight", "bert.encoder.layers.1.linear2.bias",
                "bert.encoder.layers.1.norm2.weight", "bert.pooler.dense.weight", "classifier.weight"]:
        assert key in names, key


def test_sdpa_equals_the_plain_path_forward_and_backward():
    """Same weights, a padded batch, eval mode: F.scaled_dot_product_attention and matmul + softmax give
    the same outputs (max abs diff <= 1e-5) and the same gradients of every parameter."""
    rng = np.random.default_rng(4)
    paddle.seed(4)
    model = build_model("classify", config_for("bert-tiny", 50), 2)
    model.eval()
    ids = batch(rng, b=4, length=16)
    ids[1, 9:], ids[3, 5:] = 0, 0  # two padded rows
    ids, types = paddle.to_tensor(ids), paddle.to_tensor((np.arange(16) > 7).astype("int64")[None].repeat(4, 0))
    weight = paddle.to_tensor(rng.standard_normal([4, 16, 128]).astype("float32"))
    outputs, grads = [], []
    for kind in ("sdpa", "plain"):
        set_attention(model, kind)
        hidden, pooled = model.bert(ids, types)
        loss = (hidden * weight).sum() + pooled.sum()
        loss.backward()
        outputs.append(hidden.numpy())
        grads.append({n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None})
        model.clear_gradients()
    assert np.abs(outputs[0] - outputs[1]).max() <= 1e-5
    assert len(grads[0]) == len(grads[1]) >= 39 and "bert.encoder.layers.0.self_attn.q_proj.weight" in grads[0]
    for name, g in grads[0].items():
        np.testing.assert_allclose(g, grads[1][name], rtol=1e-4, atol=1e-5, err_msg=name)


def batch(rng, vocab=50, b=4, length=12):
    ids = rng.integers(5, vocab, (b, length))
    ids[:, 0], ids[:, -1] = 2, 3
    return ids


def test_shapes_padding_and_tied_decoder():
    rng = np.random.default_rng(0)
    paddle.seed(0)
    model = build_model("pretrain", config_for("bert-tiny", 50))
    model.eval()
    ids = paddle.to_tensor(batch(rng))
    mlm, nsp = model(ids, paddle.zeros_like(ids), paddle.to_tensor([1, 13, 30]))
    assert mlm.shape == [3, 50] and nsp.shape == [4, 2]
    assert model.cls.decoder_weight is model.bert.embeddings.word_embeddings.weight
    # Padding to a fixed length (what --to_static does) changes nothing on the real tokens.
    padded = paddle.concat([ids, paddle.zeros([4, 6], "int64")], axis=1)
    h1, p1 = model.bert(ids, paddle.zeros_like(ids))
    h2, p2 = model.bert(padded, paddle.zeros_like(padded))
    np.testing.assert_allclose(h1.numpy(), h2.numpy()[:, :12], atol=1e-5)
    np.testing.assert_allclose(p1.numpy(), p2.numpy(), atol=1e-5)
    qa = build_model("squad", config_for("bert-tiny", 50))
    start, end = qa(ids, paddle.zeros_like(ids))
    assert start.shape == end.shape == [4, 12]


@pytest.mark.parametrize("task", ["pretrain", "classify"])
def test_loss_drops_on_a_fixed_batch(task):
    rng = np.random.default_rng(1)
    paddle.seed(1)
    model = build_model(task, config_for("bert-tiny", 50, dropout=0.0), 2)
    args = type("A", (), {"lr": 2e-3, "warmup_proportion": 0.0, "weight_decay": 0.01})()
    optimizer, scheduler = build_optimizer(args, model, 1000)
    ids = paddle.to_tensor(batch(rng, b=8))
    types = paddle.zeros_like(ids)
    labels = paddle.to_tensor(rng.integers(0, 2, 8))
    if task == "pretrain":
        positions = paddle.to_tensor(np.arange(8) * 12 + rng.integers(1, 11, 8))
        data = (ids, types, positions, paddle.to_tensor(rng.integers(5, 50, 8)), labels)
    else:
        data = (ids, types, labels)
    scaler = paddle.amp.GradScaler(enable=False)
    losses = [train_step(task, model, optimizer, scheduler, scaler, [data], False, "O1").item() for _ in range(40)]
    assert losses[-1] < 0.1 * losses[0], losses


def test_gradient_accumulation_equals_the_whole_batch():
    """Two half batches accumulated make the same step as the whole batch (dropout off)."""
    rng = np.random.default_rng(2)
    ids = batch(rng, b=8)
    labels = rng.integers(0, 2, 8)
    args = type("A", (), {"lr": 1e-3, "warmup_proportion": 0.0, "weight_decay": 0.01})()
    results = []
    for parts in (1, 2):
        paddle.seed(3)
        model = build_model("classify", config_for("bert-tiny", 50, dropout=0.0), 2)
        optimizer, scheduler = build_optimizer(args, model, 10)
        chunks = [tuple(paddle.to_tensor(a[i::parts]) for a in (ids, np.zeros_like(ids), labels)) for i in range(parts)]
        train_step("classify", model, optimizer, scheduler, paddle.amp.GradScaler(enable=False), chunks, False, "O1")
        results.append(model.classifier.weight.numpy())
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
