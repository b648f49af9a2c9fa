"""MobileNet introduction: a depthwise-separable conv's weights and multiply-adds against the dense
conv, counted by hand; and learning on demo data."""
import math

import numpy as np
import paddle
import paddle.nn as nn
import pytest

import train

C, M, K, H = 8, 16, 3, 10  # in channels, out channels, kernel, feature map side


def n_params(layer):
    return sum(math.prod(p.shape) for p in layer.parameters())


def test_depthwise_separable_costs_by_hand():
    dense = nn.Conv2D(C, M, K, padding=1, bias_attr=False)
    depthwise = nn.Conv2D(C, C, K, padding=1, groups=C, bias_attr=False)
    pointwise = nn.Conv2D(C, M, 1, bias_attr=False)
    # Weights: dense K*K*C*M = 9*8*16; depthwise one KxK filter per channel, 9*8; pointwise C*M.
    assert n_params(dense) == 1152
    assert n_params(depthwise) == 72 and list(depthwise.weight.shape) == [C, 1, K, K]
    assert n_params(pointwise) == 128
    # Multiply-adds on a 10x10 map (stride 1, same padding): every output pixel pays the weights once.
    assert train.count_macs(dense, H, C) == 100 * 1152 == 115200
    assert train.count_macs(depthwise, H, C) == 100 * 72 == 7200
    assert train.count_macs(pointwise, H, C) == 100 * 128 == 12800
    ratio = (7200 + 12800) / 115200
    assert ratio == pytest.approx(1 / M + 1 / K ** 2)  # the MobileNet paper's reduction factor


def test_depthwise_filters_each_channel_alone():
    depthwise = nn.Conv2D(C, C, K, padding=1, groups=C, bias_attr=False)
    x = np.zeros((1, C, 5, 5), "float32")
    x[0, 3, 2, 2] = 1.0  # one impulse in channel 3
    y = depthwise(paddle.to_tensor(x)).numpy()
    assert np.abs(np.delete(y, 3, axis=1)).max() == 0  # no other channel sees it
    # The impulse response is channel 3's filter, flipped (conv2d is a cross-correlation).
    np.testing.assert_allclose(y[0, 3, 1:4, 1:4], depthwise.weight.numpy()[3, 0, ::-1, ::-1], rtol=1e-6)


def test_v1_block_costs_and_model_counts():
    block = train.separable(C, M, stride=1)
    convs = [l for l in block.sublayers() if isinstance(l, nn.Conv2D)]
    assert [n_params(c) for c in convs] == [72, 128]
    assert train.count_macs(block, H, C) == 7200 + 12800
    # Full-width MobileNetV1 for 1000 classes: the paper's 4.2 M weights plus BN's scale and shift,
    # 4,253,864 trained parameters.
    with paddle.LazyGuard():
        v1 = train.build_model("v1", 1000, 1.0)
    trained = sum(math.prod(p.shape) for p in v1.parameters())
    assert trained == 4253864


def test_learns_on_demo_data(tmp_path):
    # A quarter-width net learns in 40 steps what the default half-width one needs 30 for, in less time.
    m = train.main(["--scale", "0.25", "--max_steps", "40", "--output_dir", str(tmp_path), "--log_interval", "10"])
    assert m["val_acc"] > m["baseline_acc"] + 0.1, m  # 0.40 vs 0.17 here
    assert (tmp_path / "model.pdparams").exists() and (tmp_path / "inference" / "model.json").exists()


def test_bad_list_is_one_line_error(tmp_path):
    (tmp_path / "train_list.txt").write_text("a.JPEG 0\nb.JPEG\n")
    (tmp_path / "a.JPEG").write_bytes(b"x")
    with pytest.raises(train.DataError, match=r"train_list.txt:2: expected 'relative/path label'"):
        train.read_list(str(tmp_path), "train_list.txt")
    with pytest.raises(train.DataError, match=r"val_list.txt: no such file"):
        train.read_list(str(tmp_path), "val_list.txt")
