"""Parameter counts of BERT-base with each task's head (the published uncased configuration, vocab
30522), the heads' output shapes and parameter names, and learning on a fixed batch for each head."""
import math

import numpy as np
import paddle
import pytest

from models import build_model, compute_loss
from models.bert import config_for
from reader import TASKS
from train import build_optimizer, train_step

BERT_BASE = 109_482_240  # google-research/bert uncased_L-12_H-768_A-12 without its pre-training heads


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters())


@pytest.mark.parametrize("task, head_params", [
    ("udc", 768 * 2 + 2),            # 1,538
    ("atis_intent", 768 * 26 + 26),  # 19,994
    ("atis_slot", 768 * 130 + 130),  # 99,970: one linear layer over every token
    ("dstc2", 768 * 217 + 217),      # 166,873: one sigmoid per slot-value pair
    ("swda", 768 * 42 + 42),         # 32,298
    ("mrda", 768 * 42 + 42),
])
def test_bert_base_with_each_head(task, head_params):
    head, labels, _ = TASKS[task]
    with paddle.LazyGuard():
        model = build_model(head, config_for("bert-base", 30522), labels)
    assert count(model.bert) == BERT_BASE
    assert count(model) == BERT_BASE + head_params
    assert sorted(n for n, _ in model.named_parameters() if not n.startswith("bert.")) == \
        ["classifier.bias", "classifier.weight"]


def batch(rng, head, b=8, length=12, labels=5):
    ids = rng.integers(6, 50, (b, length))
    ids[:, 0], ids[:, -1] = 3, 4
    ids[1, 8:] = 0  # a padded row
    if head == "tag":
        y = rng.integers(0, labels, (b, length))
        y[:, 0] = y[:, -1] = y[1, 8:] = -100
    elif head == "multi":
        y = (rng.random((b, labels)) < 0.3).astype("float32")
    else:
        y = rng.integers(0, labels, b)
    return paddle.to_tensor(ids), paddle.zeros([b, length], "int64"), paddle.to_tensor(y)


@pytest.mark.parametrize("head", ["cls", "multi", "tag"])
def test_shapes_and_loss_drops_on_a_fixed_batch(head):
    rng = np.random.default_rng(1)
    paddle.seed(1)
    model = build_model(head, config_for("bert-tiny", 50, dropout=0.0), 5)
    data = batch(rng, head)
    out = model(*data[:2])
    assert out.shape == ([8, 12, 5] if head == "tag" else [8, 5])
    args = type("A", (), {"lr": 3e-3, "warmup_proportion": 0.0, "weight_decay": 0.01})()
    optimizer, scheduler = build_optimizer(args, model, 1000)
    scaler = paddle.amp.GradScaler(enable=False)
    losses = [train_step(head, model, optimizer, scheduler, scaler, data, False, "O1").item() for _ in range(30)]
    assert losses[-1] < 0.1 * losses[0], losses


def test_tag_loss_averages_over_labelled_tokens_only():
    """The ignored positions (-100) are left out of the mean's count."""
    paddle.seed(2)
    model = build_model("tag", config_for("bert-tiny", 50, dropout=0.0), 5)
    model.eval()
    ids, types, y = batch(np.random.default_rng(2), "tag")
    logits = model(ids, types).numpy()
    yv = y.numpy()
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    mask = yv != -100
    expected = -logp[mask, yv[mask]].mean()
    assert compute_loss(model, (ids, types, y), "tag").item() == pytest.approx(expected, rel=1e-5)
