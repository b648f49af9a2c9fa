"""Whole-image prediction: sliding window, multi-scale and flip agree with plain inference where
they must."""
import numpy as np
import paddle
import paddle.nn as nn

from predict import predict_probs


class Pointwise(nn.Layer):
    """A per-pixel classifier (1x1 conv): any window or flip sees the same pixels the same way."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 5, 1)

    def forward(self, x):
        return [self.conv(x)]


def test_sliding_window_and_flip_equal_plain_inference_for_a_pointwise_model():
    paddle.seed(0)
    model = Pointwise()
    x = paddle.randn([2, 3, 37, 53])
    plain = predict_probs(model, x).numpy()
    np.testing.assert_allclose(plain.sum(1), 1.0, rtol=1e-5)  # probabilities
    windowed = predict_probs(model, x, window=(16, 20), stride=(10, 13)).numpy()
    np.testing.assert_allclose(windowed, plain, rtol=1e-5, atol=1e-6)
    flipped = predict_probs(model, x, flip=True).numpy()
    np.testing.assert_allclose(flipped, 2 * plain, rtol=1e-5, atol=1e-6)  # two views, summed


def test_multi_scale_returns_the_input_resolution():
    model = Pointwise()
    x = paddle.randn([1, 3, 30, 44])
    probs = predict_probs(model, x, scales=(0.5, 1.0, 1.5), flip=True)
    assert list(probs.shape) == [1, 5, 30, 44]
    np.testing.assert_allclose(probs.numpy().sum(1), 6.0, rtol=1e-4)  # 3 scales x 2 flips
