"""The published ERNIE 1.0 configuration builds with its exact parameter count; shapes of every head;
padding never changes a prediction; scaled_dot_product_attention equals the plain path; a fixed batch
is learned."""
import math

import numpy as np
import paddle
import pytest

from model import CONFIGS, build_model, make_config, set_attention
from train import task_loss


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters())


def test_ernie_1_0_parameter_count_is_exact():
    """ERNIE 1.0 (12 layers, 768, 12 heads, ReLU, vocabulary 18,000, 513 positions, 2 token types):
    embeddings 18000*768 + 513*768 + 2*768 + LN 2*768 = 14,221,056; per layer 4*(768*768+768) +
    (768*3072+3072) + (3072*768+768) + 2 LNs * 2*768 = 7,087,872, times 12; pooler 768*768+768."""
    config = make_config("ernie-1.0")
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"],
            config["max_position_embeddings"], config["type_vocab_size"], config["hidden_act"]) == (
        18000, 768, 12, 12, 513, 2, "relu")
    with paddle.LazyGuard():
        classifier = build_model("classify", config, 2)
        pretrain = build_model("pretrain", config)
    assert count(classifier.ernie) == 14_221_056 + 12 * 7_087_872 + 590_592 == 99_866_112
    assert count(classifier) - count(classifier.ernie) == 768 * 2 + 2
    # the masked-LM head shares the word embedding: transform, norm and an 18,000 bias only
    assert count(pretrain) - count(pretrain.ernie) == 768 * 768 + 768 + 2 * 768 + 18000


def test_parameter_names_follow_the_usual_layout():
    model = build_model("classify", make_config("ernie-demo", 50), 2)
    names = set(model.state_dict())
    for name in ("ernie.embeddings.word_embeddings.weight", "ernie.embeddings.position_embeddings.weight",
                 "ernie.embeddings.token_type_embeddings.weight", "ernie.embeddings.layer_norm.weight",
                 "ernie.encoder.layers.1.self_attn.q_proj.weight", "ernie.encoder.layers.0.linear1.weight",
                 "ernie.encoder.layers.0.norm2.bias", "ernie.pooler.dense.weight", "classifier.weight"):
        assert name in names, name


@pytest.mark.parametrize("task,shape", [("pretrain", [3, 7, 50]), ("classify", [3, 2]), ("ner", [3, 7, 7])])
def test_shapes_and_padding_is_invisible(task, shape):
    paddle.seed(0)
    model = build_model(task, make_config("ernie-demo", 50), {"pretrain": None, "classify": 2, "ner": 7}[task])
    model.eval()
    ids = np.random.default_rng(0).integers(5, 50, size=(3, 7))
    ids[:, 0], ids[:, -1] = 1, 2
    out = model(paddle.to_tensor(ids))
    assert list(out.shape) == shape
    padded = np.concatenate([ids, np.zeros((3, 4), dtype=ids.dtype)], axis=1)  # [PAD] is id 0
    again = model(paddle.to_tensor(padded)).numpy()
    np.testing.assert_allclose(again if task == "classify" else again[:, :7], out.numpy(), atol=1e-5)


def test_sdpa_equals_the_plain_path_forward_and_backward():
    """Same weights, a padded batch, eval mode: F.scaled_dot_product_attention and matmul + softmax give
    the same outputs (max abs diff <= 1e-5) and the same gradients of every parameter."""
    paddle.seed(4)
    model = build_model("ner", make_config("ernie-demo", 50), 7)
    model.eval()
    rng = np.random.default_rng(4)
    ids = rng.integers(5, 50, size=(4, 16))
    ids[:, 0], ids[1, 9:], ids[3, 5:] = 1, 0, 0  # two padded rows
    ids, weight = paddle.to_tensor(ids), paddle.to_tensor(rng.standard_normal([4, 16, 7]).astype("float32"))
    outputs, grads = [], []
    for kind in ("sdpa", "plain"):
        set_attention(model, kind)
        logits = model(ids)
        (logits * weight).sum().backward()
        outputs.append(logits.numpy())
        grads.append({n: p.grad.numpy().copy() for n, p in model.named_parameters() if p.grad is not None})
        model.clear_gradients()
    assert np.abs(outputs[0] - outputs[1]).max() <= 1e-5
    assert len(grads[0]) == len(grads[1]) >= 37 and "ernie.encoder.layers.0.self_attn.q_proj.weight" in grads[0]
    for name, g in grads[0].items():
        np.testing.assert_allclose(g, grads[1][name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_fixed_batch_is_learned():
    paddle.seed(1)
    model = build_model("ner", make_config("ernie-demo", 30), 7)
    rng = np.random.default_rng(1)
    ids = paddle.to_tensor(rng.integers(5, 30, size=(8, 10)))
    tags = paddle.to_tensor(rng.integers(0, 7, size=(8, 10)))
    optimizer = paddle.optimizer.AdamW(1e-3, parameters=model.parameters())
    losses = []
    for _ in range(40):
        loss = task_loss(model(ids), tags)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::10]
