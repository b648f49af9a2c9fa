"""frames.py and its networks: parameter counts of the release configurations, the temporal shift,
demo-size forward shapes."""
import math

import numpy as np
import paddle
import pytest

import frames
from models.tsm import temporal_shift

RESNET50_TRUNK = 23_508_032  # ResNet50 without its classifier (torchvision: 25,557,032 - 2048*1000 - 1000)


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


def release(name, **kw):
    import argparse
    args = argparse.Namespace(model=name, size="release", data_dir="nowhere", num_classes=400, layers=50, seg_num=None,
                              seglen=None, sample_rate=None, test_seg_num=None, test_clips=None, test_crops=None,
                              short_size=None, crop_size=None, test_crop_size=None, dropout=None, flip="auto", **kw)
    with paddle.LazyGuard():
        return frames.build_model(args), args


@pytest.mark.parametrize("name", ["TSN", "TSM"])
def test_release_counts_tsn_tsm(name):
    model, args = release(name)
    assert count(model) == RESNET50_TRUNK + 2048 * 400 + 400 == 24_327_632
    assert (args.seg_num, args.crop_size) == ({"TSN": 3, "TSM": 8}[name], 224)
    assert args.test_seg_num == {"TSN": 25, "TSM": 8}[name]


def test_temporal_shift_moves_exactly_one_eighth_each_way():
    n, t, c = 2, 4, 16
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((n * t, c, 3, 3)).astype("float32"))
    y = temporal_shift(x, t).numpy().reshape(n, t, c, 3, 3)
    x = x.numpy().reshape(n, t, c, 3, 3)
    np.testing.assert_array_equal(y[:, :-1, :2], x[:, 1:, :2])      # channels 0-1 from the next segment
    np.testing.assert_array_equal(y[:, -1, :2], 0)
    np.testing.assert_array_equal(y[:, 1:, 2:4], x[:, :-1, 2:4])    # channels 2-3 from the previous segment
    np.testing.assert_array_equal(y[:, 0, 2:4], 0)
    np.testing.assert_array_equal(y[:, :, 4:], x[:, :, 4:])         # the other 3/4 stay


def test_tsm_sees_order_tsn_does_not():
    """Reversing the frames changes TSM's output, never TSN's (average consensus)."""
    import argparse
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((1, 4, 3, 32, 32)).astype("float32"))
    for name, changes in (("TSN", False), ("TSM", True)):
        args = argparse.Namespace(model=name, size="demo", data_dir="nowhere", num_classes=4, layers=50, seg_num=4,
                                  seglen=None, sample_rate=None, test_seg_num=None, test_clips=None,
                                  test_crops=None, short_size=None, crop_size=None, test_crop_size=None,
                                  dropout=None, flip="auto")
        model = frames.build_model(args)
        model.eval()
        a, b = model(x).numpy(), model(x[:, ::-1]).numpy()
        assert a.shape == (1, 4)
        assert (not np.allclose(a, b, atol=1e-5)) == changes, name
