"""The network: the release's parameter counts (exact, by hand), output shapes and lengths, padding
that changes nothing, and the fused kernel's fixed input weights that never move."""
import math

import numpy as np
import paddle
import pytest

from model import CONFIGS, build_model, ctc_loss


def count(params):
    return sum(math.prod(p.shape) for p in params)


def by_hand(feat_dim, chars, conv_channels, num_rnn_layers, rnn_size, rnn_type, share_rnn_weights):
    """The release's network (model_utils/network.py): convs without bias + batch norm (scale, shift),
    per layer an input projection without bias + batch norm, then per direction the recurrent weight
    and bias (GRU: [H, 3H] and 3H), and the output fc with bias over the characters and the blank."""
    c, h = conv_channels, rnn_size
    height = ((feat_dim - 1) // 2 + 1 - 1) // 2 + 1
    total = c * 41 * 11 + 2 * c + c * c * 21 * 11 + 2 * c
    gates = 3 if rnn_type == "gru" else 1
    projections = 1 if share_rnn_weights and rnn_type == "rnn" else 2
    size_in = c * height
    for _ in range(num_rnn_layers):
        total += projections * (size_in * gates * h + 2 * gates * h) + 2 * (h * gates * h + gates * h)
        size_in = 2 * h
    return total + 2 * h * (chars + 1) + chars + 1


def test_release_librispeech_parameter_count():
    """161 linear bins (16 kHz, 20 ms), 28 characters (space, apostrophe, a-z), simple RNN 2048 with
    shared input weights: 45,024,509 parameters. Built for real: paddle.LazyGuard fails on the fused
    nn.SimpleRNN/nn.GRU in Paddle 3.3.1 (it flattens its weights at construction)."""
    model = build_model("deepspeech2", 161, 28)
    assert count(model.trainable_parameters()) == by_hand(161, 28, **CONFIGS["deepspeech2"]) == 45_024_509
    # what else the layers hold: the fixed input weights of the fused kernel and the conv BN statistics
    assert count(model.parameters()) - count(model.trainable_parameters()) == 6 * (2048 * 2048 + 2048) + 4 * 32


@pytest.mark.slow
def test_release_aishell_parameter_count():
    """Aishell: GRU 1024, one projection per direction; 4,300 characters is about Aishell's vocabulary.
    Slow: the unshared GRU's fixed input weights are [3072, 6144] per direction (450 MB in all)."""
    with paddle.utils.unique_name.guard():
        model = build_model("deepspeech2_aishell", 161, 4300)
    assert count(model.trainable_parameters()) == by_hand(161, 4300, **CONFIGS["deepspeech2_aishell"])


def test_output_shapes_and_lengths():
    model = build_model("deepspeech2_tiny", 161, 11, rnn_size=16)
    logits, lengths = model(paddle.randn([3, 50, 161]), paddle.to_tensor([50, 31, 1], dtype="int64"))
    assert logits.shape == [3, 17, 12] and lengths.numpy().tolist() == [17, 11, 1]


def test_padding_changes_nothing():
    """A batch padded to its longest utterance gives each utterance what it gives alone (eval mode)."""
    paddle.seed(0)
    model = build_model("deepspeech2_tiny", 161, 11, rnn_size=16, rnn_type="gru")
    x = paddle.randn([3, 40, 161])
    lengths = [40, 25, 9]
    model.train()
    for _ in range(3):  # move the batch-norm statistics off their initial values
        model(x, paddle.to_tensor(lengths, dtype="int64"))
    model.eval()
    batch = model(x * (paddle.arange(40).reshape([1, 40, 1]) < paddle.to_tensor(lengths).reshape([3, 1, 1])
                       ).astype("float32"), paddle.to_tensor(lengths, dtype="int64"))[0].numpy()
    for i, n in enumerate(lengths):
        alone, m = model(x[i:i + 1, :n], paddle.to_tensor([n], dtype="int64"))
        np.testing.assert_allclose(batch[i, :m.item()], alone.numpy()[0], atol=2e-5)


def test_sequence_batch_norm_ignores_padding():
    """Training-mode statistics over the real frames only: garbage in the padding changes nothing."""
    paddle.seed(1)
    model = build_model("deepspeech2_tiny", 161, 11, rnn_size=16)
    layer = model.rnns[0]
    x = paddle.randn([2, 6, layer.proj.weight.shape[0]])
    lengths = paddle.to_tensor([6, 3], dtype="int64")
    mask = paddle.arange(6).unsqueeze(0) < lengths.unsqueeze(1)
    garbage = paddle.where(mask.unsqueeze(-1), x, paddle.full_like(x, 1e3))
    np.testing.assert_allclose(layer(x, lengths, mask).numpy()[1, :3], layer(garbage, lengths, mask).numpy()[1, :3],
                               atol=1e-5)


def test_fixed_input_weights_never_move():
    paddle.seed(2)
    model = build_model("deepspeech2_tiny", 161, 11, rnn_size=16)
    optimizer = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.trainable_parameters())
    before = [p.numpy().copy() for p in model.frozen_parameters()]
    logits, lengths = model(paddle.randn([2, 30, 161]), paddle.to_tensor([30, 20], dtype="int64"))
    ctc_loss(logits, lengths, paddle.to_tensor([[1, 2], [3, 0]], dtype="int32"),
             paddle.to_tensor([2, 1], dtype="int64"), 11).backward()
    optimizer.step()
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, model.frozen_parameters()))
    assert np.array_equal(before[0], np.eye(16, dtype="float32"))


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", 161, 11)
