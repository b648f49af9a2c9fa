"""Every model builds, has the right output shape and parameter count, and is blind to padding."""
import contextlib
import math

import numpy as np
import paddle
import pytest

import reader
from models import MODELS, build_model
from models.masking import masked_max, masked_sum, sequence_mask

E, H, F = 128, 128, 96  # embedding, hidden and fc sizes of the original nets


def ours(name, V, C):
    """Parameter count of this folder's models, by hand from the architecture."""
    head = lambda n_in: (n_in * F + F) + (F * C + C)  # noqa: E731
    return V * E + {
        "bow": (E * H + H) + head(H),
        "cnn": (3 * E * 128 + 128) + head(128),
        "textcnn": sum(k * E * 128 + 128 for k in (1, 2, 3)) + head(3 * 128),
        "lstm": 4 * H * (E + H) + 8 * H + head(H),
        "bilstm": 2 * (4 * H * (E + H) + 8 * H) + head(2 * H),
        "gru": 3 * H * (E + H) + 6 * H + head(H),
        "bilstm_taskflow": 2 * (4 * 198 * (E + 198) + 8 * 198) + head(2 * 198),
    }[name]


def reference(name, V, C):
    """The original fluid nets' count: an fc projection in front of dynamic_lstm/gru (whose LSTM has
    peephole weights, 7H biases), sequence_conv with bias."""
    head = lambda n_in: (n_in * F + F) + (F * C + C)  # noqa: E731
    lstm = (E * 4 * H + 4 * H) + H * 4 * H + 7 * H
    return V * E + {
        "bow": (E * H + H) + head(H),
        "cnn": (3 * E * 128 + 128) + head(128),
        "textcnn": sum(k * E * 128 + 128 for k in (1, 2, 3)) + head(3 * 128),
        "lstm": lstm + head(H),
        "bilstm": 2 * lstm + head(2 * H),
        "gru": (E * 3 * H + 3 * H) + H * 3 * H + 3 * H + head(H),
        # PaddleNLP's Taskflow net is built from the same nn.LSTM: the same count
        "bilstm_taskflow": 2 * (4 * 198 * (E + 198) + 8 * 198) + head(2 * 198),
    }[name]


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_counts(name):
    """The real model at the original Senta vocab_size, exactly the count by hand, and within 0.5% of
    the original nets (which differ only as reference() says)."""
    V, C = 33256, len(reader.LABELS)
    # Counted without allocating the weights; nn.LSTM/GRU flatten theirs at construction, which a
    # lazy parameter cannot do, so those are built for real (4 M floats, quick).
    with paddle.LazyGuard() if name not in ("lstm", "bilstm", "gru", "bilstm_taskflow") else contextlib.nullcontext():
        model = build_model(name, V, C, padding_idx=V - 1)
    assert count(model) == ours(name, V, C)
    assert abs(count(model) - reference(name, V, C)) / reference(name, V, C) < 0.005


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_shapes(name):
    V, C = 50, len(reader.LABELS)
    model = build_model(name, V, C, padding_idx=V - 1)
    logits = model(paddle.randint(0, V - 1, [4, 9]), paddle.to_tensor([9, 3, 1, 5], dtype="int64"))
    assert logits.shape == [4, C]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padding_never_changes_a_prediction(name):
    paddle.seed(1)
    V, pad = 40, 39
    model = build_model(name, V, 3, padding_idx=pad)
    model.eval()
    rng = np.random.default_rng(0)
    lengths = np.array([8, 5, 1, 3])
    seqs = [rng.integers(0, pad, n) for n in lengths]

    def batch(width, filler):
        ids = np.stack([np.concatenate([s, filler(width - len(s))]) for s in seqs]).astype("int64")
        return model(paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()

    tight = batch(8, lambda n: np.full(n, pad))
    wide = batch(20, lambda n: np.full(n, pad))
    garbage = batch(20, lambda n: rng.integers(0, V, n))  # even real words in the padding change nothing
    alone = np.concatenate([model(paddle.to_tensor(s[None].astype("int64")), paddle.to_tensor([len(s)])).numpy()
                            for s in seqs])
    np.testing.assert_allclose(wide, tight, atol=1e-5)
    np.testing.assert_allclose(garbage, tight, atol=1e-5)
    np.testing.assert_allclose(alone, tight, atol=1e-5)
    assert np.abs(tight[0] - tight[1]).max() > 1e-4  # and the outputs do depend on the input


def test_conv_windows_match_the_original_alignment():
    """A window of k words at t covers t - k//2 ... t - k//2 + k - 1, zeros beyond the sentence."""
    paddle.seed(2)
    model = build_model("textcnn", 10, 2, padding_idx=9, emb_dim=4, num_filters=3)
    ids = paddle.to_tensor([[1, 2, 3, 4, 9, 9]])
    emb = model.embedding(ids).numpy()[0, :4]
    for k, conv in zip(model.windows, model.convs):
        w, b = conv.weight.numpy(), conv.bias.numpy()  # w: [filters, in, k]
        padded = np.concatenate([np.zeros((k // 2, 4)), emb, np.zeros((k - 1 - k // 2, 4))])
        expected = np.stack([np.einsum("fik,ki->f", w, padded[t:t + k]) + b for t in range(4)])
        np.testing.assert_allclose(conv(paddle.to_tensor(emb.T[None].astype("float32"))).numpy()[0].T, expected,
                                   atol=1e-5)


def test_masked_pooling_by_hand():
    x = paddle.to_tensor([[[1.0, -5.0], [3.0, -2.0], [100.0, 100.0]]])
    mask = sequence_mask(paddle.to_tensor([2], dtype="int64"), 3)
    assert mask.numpy().tolist() == [[True, True, False]]
    assert masked_sum(x, mask).numpy().tolist() == [[4.0, -7.0]]
    assert masked_max(x, mask).numpy().tolist() == [[3.0, -2.0]]


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", 10, 2, padding_idx=9)
