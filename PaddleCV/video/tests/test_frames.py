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


def test_release_count_stnet():
    model, args = release("StNet")
    trunk = RESNET50_TRUNK + 7 * 7 * 64 * (15 - 3)                       # conv1 on 5 stacked frames
    temporal = sum(c * c * 3 + c + 2 * c for c in (512, 1024))           # 3x1x1 conv (bias) + BN
    xception = (2 * 2048 + 2048 * 3 + 2048 + 2048 * 1024 + 1024 + 2 * 1024 + 1024 * 3 + 1024
                + 1024 * 1024 + 1024 + 2048 * 1024 + 1024 + 2 * 1024)
    assert count(model) == trunk + temporal + xception + 1024 * 400 + 400 == 33_158_864
    assert (args.seg_num, args.seglen, args.test_seg_num, args.test_crop_size) == (7, 5, 25, 256)


def test_release_count_nonlocal():
    model, args = release("NonLocal", video_arc="c2d")
    nonlocal_block = lambda c: 3 * (c * c // 2 + c // 2) + (c // 2 * c + c) + 2 * c  # noqa: E731
    assert count(model) == (RESNET50_TRUNK + 2 * nonlocal_block(512) + 3 * nonlocal_block(1024)
                            + 2048 * 400 + 400) == 31_686_096
    assert (args.seglen, args.sample_rate, args.test_clips, args.test_crops) == (8, 8, 10, 3)
    i3d, _ = release("NonLocal", video_arc="i3d")
    inflated = (4 * 7 * 7 * 3 * 64 + 2 * (64 * 64 + 2 * 256 * 64) + 2 * (256 * 128 + 512 * 128)
                + 2 * (512 * 256 + 2 * 1024 * 256) + 2 * 2048 * 512)  # conv1 5-deep, 3-deep first 1x1s
    assert count(i3d) == 31_686_096 + inflated == 35_401_936


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


def test_only_tsn_ignores_the_order():
    """Reversing the frames changes the output of TSM, StNet and NonLocal-i3d, but not TSN's (average
    consensus) nor the release's C2D NonLocal's (no kernel spans two frames; attention ignores the order)."""
    import argparse
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((1, 4, 3, 32, 32)).astype("float32"))
    for name, arc, changes in (("TSN", "c2d", False), ("TSM", "c2d", True), ("StNet", "c2d", True),
                               ("NonLocal", "c2d", False), ("NonLocal", "i3d", True)):
        args = argparse.Namespace(model=name, size="demo", data_dir="nowhere", num_classes=4, layers=50, seg_num=4,
                                  seglen=2 if name == "StNet" else 4 if name == "NonLocal" else None, sample_rate=None,
                                  test_seg_num=None, test_clips=None, test_crops=None, short_size=None,
                                  crop_size=None, test_crop_size=None, dropout=None, flip="auto", video_arc=arc)
        model = frames.build_model(args)
        model.eval()
        if name == "NonLocal":  # its BatchNorms after the non-local blocks start at 0: give them weight
            for layer in model.sublayers():
                if isinstance(layer, paddle.nn.BatchNorm3D):
                    layer.weight.set_value(paddle.ones_like(layer.weight))
        a, b = model(x).numpy(), model(x[:, ::-1]).numpy()
        assert a.shape == (1, 4)
        assert (not np.allclose(a, b, atol=1e-5)) == changes, (name, arc)


def test_tsm_learns_one_fixed_batch():
    """The contract's learning check: 30 steps on one fixed batch of demo-size TSM drive the loss down."""
    import argparse
    paddle.seed(0)
    args = argparse.Namespace(model="TSM", size="demo", data_dir="nowhere", num_classes=4, layers=50, seg_num=4,
                              seglen=None, sample_rate=None, test_seg_num=None, test_clips=None, test_crops=None,
                              short_size=None, crop_size=None, test_crop_size=None, dropout=0.0, flip="auto")
    model = frames.build_model(args)
    rng = np.random.default_rng(0)
    clips = paddle.to_tensor(rng.standard_normal((8, 4, 3, 28, 28)).astype("float32"))
    labels = paddle.to_tensor(np.arange(8) % 4)
    optimizer = paddle.optimizer.Adam(1e-2, parameters=model.parameters())
    losses = []
    for _ in range(30):
        loss = paddle.nn.functional.cross_entropy(model(clips), labels)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.1 * losses[0], losses
