"""The networks: the release's parameter counts (by hand, from crnn_ctc_model.py and
attention_model.py), output shapes and lengths, padding that changes nothing, and the teacher-forcing
targets."""
import math

import numpy as np
import paddle
import pytest

from model import attention_targets, build_model, trainable_parameters

STAGES = [(1, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]


def count(model):
    return sum(math.prod(p.shape) for p in trainable_parameters(model))


def release_ctc(classes, h=200):
    """crnn_ctc_model.py: 3x3 convs with bias + batch norm (scale, shift); per direction an input fc
    768 -> 3H with bias and a GRU ([H, 3H] + 3H); the output fc over both directions to classes + 1."""
    convs = sum(9 * i * o + o + 2 * o for i, o in STAGES)
    gru = 2 * (768 * 3 * h + 3 * h + h * 3 * h + 3 * h)
    return convs + gru + 2 * h * (classes + 1) + classes + 1


def release_attention(classes, h=200, d=128, emb=128):
    """attention_model.py: convs without bias; input fcs without bias; encoder projection, decoder boot,
    embedding over classes + 2, attention (state projection, score), decoder GRU unit over
    [context, embedding], output fc with bias over classes + 2."""
    convs = sum(9 * i * o + 2 * o for i, o in STAGES)
    gru = 2 * (768 * 3 * h + h * 3 * h + 3 * h)
    decoder = 2 * h * d + h * d + (classes + 2) * emb + d * d + d + (2 * h + emb) * 3 * d + d * 3 * d + 3 * d
    return convs + gru + decoder + d * (classes + 2) + classes + 2


def test_crnn_ctc_has_the_release_parameter_count_exactly():
    """95 classes (the release's NUM_CLASSES): 1,496,688 parameters, as the release's network."""
    model = build_model("crnn_ctc", 95)  # for real: LazyGuard fails on the fused GRU in Paddle 3.3.1
    assert count(model) == release_ctc(95) == 1_496_688


def test_attention_parameter_count_is_the_release_plus_the_fused_gru_biases():
    """Paddle's GRUs keep an input and a hidden bias: the encoder's two directions get 600 more each
    and the decoder cell 384 more than the release's layers (0.1% in all)."""
    model = build_model("attention", 95)
    assert release_attention(95) == 1_827_041
    assert count(model) == release_attention(95) + 2 * 600 + 384


def test_shapes_and_lengths():
    model = build_model("crnn_ctc", 10, conv_channels=16, rnn_hidden_size=8)
    logits, lengths = model(paddle.randn([3, 1, 48, 70]), paddle.to_tensor([70, 33, 16], dtype="int64"))
    assert logits.shape == [3, 9, 11] and lengths.numpy().tolist() == [9, 5, 2]
    model = build_model("attention", 10, conv_channels=16, rnn_hidden_size=8)
    out = model(paddle.randn([2, 1, 48, 40]), paddle.to_tensor([40, 17], dtype="int64"),
                paddle.to_tensor([[10, 1, 2], [10, 3, 0]]))
    assert out.shape == [2, 3, 12]


@pytest.mark.parametrize("name", ["crnn_ctc", "attention"])
def test_padding_changes_nothing(name):
    """An image padded in a batch gives what it gives alone (eval mode)."""
    paddle.seed(0)
    model = build_model(name, 10, conv_channels=16, rnn_hidden_size=8)
    x = paddle.randn([3, 1, 48, 57])
    widths = [57, 30, 17]
    model.train()
    for _ in range(2):  # move the batch-norm statistics
        model.encoder(x, paddle.to_tensor(widths, dtype="int64"))
    model.eval()
    padded = x * (paddle.arange(57).reshape([1, 1, 1, 57]) < paddle.to_tensor(widths).reshape([3, 1, 1, 1])).astype("float32")
    batch, lengths = model.encoder(padded, paddle.to_tensor(widths, dtype="int64"))
    for i, w in enumerate(widths):
        alone, n = model.encoder(x[i:i + 1, :, :, :w], paddle.to_tensor([w], dtype="int64"))
        np.testing.assert_allclose(batch[i, :n.item()].numpy(), alone[0].numpy(), atol=2e-5)


def test_attention_targets():
    labels = paddle.to_tensor([[4, 5, 6], [7, 0, 0]])
    label_in, target, mask = attention_targets(labels, paddle.to_tensor([3, 1]), 10, 11)
    assert label_in.numpy().tolist() == [[10, 4, 5, 6], [10, 7, 0, 0]]
    assert target.numpy().tolist() == [[4, 5, 6, 11], [7, 11, 0, 0]]
    assert mask.numpy().tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
