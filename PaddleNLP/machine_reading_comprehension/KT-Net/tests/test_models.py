"""The published configuration's exact parameter count, output shapes, the knowledge layer's sentinel
and masking, padding invariance, and learning on a fixed batch."""
import math

import numpy as np
import paddle

from models import build_model, config_for
from train import build_optimizer, train_step


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)


def test_base_configuration_parameter_count():
    """BERT-base (vocab 30522) + KB layers with the release's 100-dimensional concept embeddings:
    encoder without pooler 109,482,240 - 768*768 - 768 = 108,891,648 (the BERT folder's exact count
    with pooler is 109,482,240); memory projection 768*100 = 76,800 (no bias) + sentinel 100;
    self-matching over M = 868: 3*868 weights + 1 bias = 2,605; output layer over 6M = 5,208:
    5,208*2 + 2 = 10,418. Total 108,891,648 + 76,800 + 100 + 2,605 + 10,418 = 108,981,571.
    The concept table (here 40,944 WordNet concepts x 100) is fixed and not counted."""
    with paddle.LazyGuard():
        model = build_model(config_for("bert-base", 30522), 40944, 100)
    assert count(model.bert) == 108_891_648
    assert count(model.memory) == 76_900 and count(model.self_matching) == 2_605 and count(model.classifier) == 10_418
    assert count(model) == 108_981_571
    assert list(model.concept_embeddings.shape) == [40944, 100] and model.concept_embeddings.stop_gradient
    names = set(model.state_dict())
    for key in ["bert.embeddings.word_embeddings.weight", "bert.encoder.layers.11.self_attn.q_proj.weight",
                "memory.projection.weight", "memory.sentinel", "self_matching.weight_mul", "concept_embeddings"]:
        assert key in names, key
    assert not any(k.startswith("bert.pooler") for k in names)
    # BERT-large, the release's encoder: 335,141,888 with the pooler - 1024*1024 - 1024 = 334,092,288;
    # KB 1024*100 + 100; self-matching over 1,124: 3,373; output 6,744*2 + 2 = 13,490
    with paddle.LazyGuard():
        assert count(build_model(config_for("bert-large", 30522), 40944, 100)) == 334_211_651


def tiny(seed=0, concepts=12, dim=8):
    paddle.seed(seed)
    model = build_model(config_for("bert-tiny", 50, dropout=0.0), concepts, dim)
    rng = np.random.default_rng(seed)
    model.set_concept_embeddings(np.concatenate([np.zeros((1, dim)), rng.standard_normal((concepts - 1, dim))]))
    return model


def inputs(rng, b=3, length=12, c=3, concepts=12):
    ids = rng.integers(5, 50, (b, length))
    ids[:, 0] = 2
    concept_ids = rng.integers(0, concepts, (b, length, c))
    return paddle.to_tensor(ids), paddle.zeros([b, length], "int64"), paddle.to_tensor(concept_ids)


def test_shapes_and_padding_invariance():
    """Padding tokens (id 0) and padding concepts (id 0) change nothing on the real tokens."""
    model = tiny()
    model.eval()
    ids, types, concepts = inputs(np.random.default_rng(1))
    start, end = model(ids, types, concepts)
    assert start.shape == end.shape == [3, 12]
    padded = paddle.concat([ids, paddle.zeros([3, 5], "int64")], axis=1)
    more = paddle.concat([concepts, paddle.zeros([3, 12, 4], "int64")], axis=2)
    more = paddle.concat([more, paddle.ones([3, 5, 7], "int64")], axis=1)  # concepts on padding: ignored
    s2, e2 = model(padded, paddle.zeros_like(padded), more)
    np.testing.assert_allclose(s2.numpy()[:, :12], start.numpy(), atol=1e-4)
    np.testing.assert_allclose(e2.numpy()[:, :12], end.numpy(), atol=1e-4)


def test_knowledge_state_sentinel_and_masking():
    model = tiny()
    hidden = paddle.randn([1, 3, 128])
    ids = paddle.to_tensor([[[0, 0], [3, 0], [3, 5]]])
    memory = paddle.nn.functional.embedding(ids, model.concept_embeddings)
    fused = model.memory(hidden, memory, ids)
    assert fused.shape == [1, 3, 128 + 8]
    state = fused[0, :, 128:].numpy()
    assert not state[0].any()  # no concepts: no knowledge
    # one concept: softmax over (sentinel, concept 3); the sentinel is zero at the start, so the state
    # is weight(concept 3) * its embedding
    np.testing.assert_allclose(state[1] / model.concept_embeddings.numpy()[3], state[1][0] /
                               model.concept_embeddings.numpy()[3][0], rtol=1e-4)
    with paddle.no_grad():
        model.memory.sentinel.set_value(paddle.full([8], 1.0))
        model.memory.projection.weight.set_value(paddle.zeros([128, 8]))  # all scores 0: uniform weights
    fused = model.memory(hidden, memory, ids).numpy()[0, :, 128:]
    table = model.concept_embeddings.numpy()
    np.testing.assert_allclose(fused[1], (1.0 + table[3]) / 2, atol=1e-5)           # padding concept masked
    np.testing.assert_allclose(fused[2], (1.0 + table[3] + table[5]) / 3, atol=1e-5)


def test_loss_drops_on_a_fixed_batch():
    rng = np.random.default_rng(2)
    model = tiny(2)
    args = type("A", (), {"lr": 2e-3, "warmup_proportion": 0.0, "weight_decay": 0.01})()
    optimizer, scheduler = build_optimizer(args, model, 1000)
    ids, types, concepts = inputs(rng, b=8)
    batch = (ids, types, concepts, paddle.to_tensor(rng.integers(1, 12, 8)), paddle.to_tensor(rng.integers(1, 12, 8)),
             paddle.arange(8))
    scaler = paddle.amp.GradScaler(enable=False)
    losses = [train_step(model, optimizer, scheduler, scaler, batch, False, "O1").item() for _ in range(30)]
    assert losses[-1] < 0.1 * losses[0], losses
    assert model.concept_embeddings.grad is None  # the KB table is not trained
