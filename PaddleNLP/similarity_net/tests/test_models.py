"""Every model: shapes, parameter counts against the release/1.7 networks, and padding invariance."""
import numpy as np
import pytest

import paddle

from models import MODELS, build_model, num_parameters

V, E, H = 10000, 128, 128  # vocabulary, embedding and hidden size of the release configs


def release_parameter_count(name):
    """Parameters of the release/1.7 network for a config, from its layers' shapes (fluid)."""
    spec = MODELS[name]
    pointwise = spec.task_mode == "pointwise"
    if spec.net == "mmdnn":
        # embedding; per direction fc(E -> 4H, no bias) + dynamic_lstm (weight [H, 4H], bias with
        # peepholes [7H]); conv over the match matrix with the configured 3x3 window (see
        # models/mmdnn.py), 256 filters; 2x2 pooled grid -> fc 128 (tanh) -> fc out
        lstm = 2 * (E * 4 * H + H * 4 * H + 7 * H)
        conv = 3 * 3 * 256 + 256
        return V * E + lstm + conv + (4 * 256 * 128 + 128) + (128 * (2 if pointwise else 1) + (2 if pointwise else 1))
    encoder, out = {
        "bow": (0, E),                                          # sum + softsign
        "cnn": (3 * E * 256 + 256, 256),                        # sequence_conv, window 3, 256 filters
        "gru": ((E * 3 * H + 3 * H) + H * 3 * H + 3 * H, H),    # fc proj + dynamic_gru
        "lstm": ((E * 4 * H + 4 * H) + H * 4 * H + 7 * H, H),   # fc proj + dynamic_lstm (peepholes)
    }[spec.net]
    head = (2 * out * H + H) + (H * 2 + 2) if pointwise else out * H + H
    return V * E + encoder + head


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_and_parameter_count(name):
    paddle.seed(0)
    model = build_model(name, V)
    count = num_parameters(model)
    expected = release_parameter_count(name)
    assert abs(count - expected) <= 0.005 * expected, (count, expected)
    model.eval()
    width = MODELS[name].fixed_len or 9
    ids = paddle.randint(1, V, [4, width])
    lengths = paddle.to_tensor([9, 1, 5, 3], dtype="int64")
    out = model(ids, lengths, ids.flip([0]), lengths.flip([0]))
    assert out.shape == ([4] if MODELS[name].task_mode == "pairwise" else [4, 2])
    similarity = model.similarity(ids, lengths, ids.flip([0]), lengths.flip([0])).numpy()
    assert similarity.shape == (4,) and ((similarity >= 0) & (similarity <= 1)).all()
    if MODELS[name].task_mode == "pairwise":
        pos, neg = model(ids, lengths, ids, lengths, ids.flip([0]), lengths.flip([0]))
        assert pos.shape == neg.shape == [4]
        np.testing.assert_allclose(pos.numpy(), model(ids, lengths, ids, lengths).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_padding_does_not_change_scores(name):
    """A pair scored alone, at its own length, equals the same pair padded inside a batch with
    longer texts, with garbage ids in the padding."""
    paddle.seed(1)
    model = build_model(name, 50)
    model.eval()
    fixed = MODELS[name].fixed_len
    rng = np.random.default_rng(0)
    left, right = rng.integers(1, 50, 4), rng.integers(1, 50, 6)

    def batch(texts, width):
        ids = rng.integers(1, 50, (len(texts), width))  # the padding is random ids, not zeros
        for i, t in enumerate(texts):
            ids[i, :len(t)] = t
        return paddle.to_tensor(ids), paddle.to_tensor([len(t) for t in texts], dtype="int64")

    alone = model.similarity(*batch([left], fixed or 4), *batch([right], fixed or 6)).numpy()
    long_left, long_right = rng.integers(1, 50, 15), rng.integers(1, 50, 11)
    padded = model.similarity(*batch([long_left, left], fixed or 20), *batch([long_right, right], fixed or 17)).numpy()
    np.testing.assert_allclose(padded[1], alone[0], rtol=1e-5, atol=1e-6)
    # and the model does look at the words: another text scores differently
    assert abs(padded[0] - alone[0]) > 1e-4


# The README's counts with the demo vocabulary (146 words), stated exactly.
README_DEMO_COUNTS = {"bow_pairwise": 35_200, "bow_pointwise": 51_842, "cnn_pairwise": 150_144,
                      "cnn_pointwise": 183_170, "gru_pairwise": 134_272, "gru_pointwise": 150_914,
                      "lstm_pairwise": 167_296, "lstm_pointwise": 183_938, "mmdnn_pairwise": 416_769,
                      "mmdnn_pointwise": 416_898}


def test_parameter_counts_with_the_demo_vocabulary_are_exactly_the_readmes():
    """The real models, counted exactly (GRU and LSTM cannot be built under paddle.LazyGuard, and these
    are small); each further word adds one 128-wide embedding row."""
    assert sorted(README_DEMO_COUNTS) == sorted(MODELS)
    for name, expected in README_DEMO_COUNTS.items():
        assert num_parameters(build_model(name, 146)) == expected, name
        assert num_parameters(build_model(name, 147)) == expected + 128, name
