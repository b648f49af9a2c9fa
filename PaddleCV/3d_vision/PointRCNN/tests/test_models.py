"""The networks: parameter counts at the release's configuration (built under paddle.LazyGuard),
output shapes, the bin-based box coding, and the canonical transformation."""
import math

import numpy as np
import paddle
import pytest

import pipeline
from models import CONFIGS, build_model
from models.pointrcnn import MEAN_SIZE, RELEASE, decode, encode, reg_channels


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)


def mlp(channels, bn):
    """A chain of 1x1 convolutions: weights, plus BatchNorm's scale and shift or a bias."""
    return sum(a * b + (2 * b if bn else b) for a, b in zip(channels[:-1], channels[1:]))


def expected_counts(cfg):
    """The parameter counts worked out from the configuration alone, as the release's layers are:
    SA MLPs take their input's channels + 3 (xyz), FP MLPs the coarse level's and the skip's channels,
    conv + BN in the RPN, conv + bias in the RCNN, heads with a plain last layer."""
    r = cfg["rpn"]
    channels = 3 if r.get("xyz_feature") else 0  # the lite model's input feature: each point's x, y, z
    total, skip = 0, [channels]
    for mlps in r["mlps"]:
        total += sum(mlp([channels + 3] + m, True) for m in mlps)
        channels = sum(m[-1] for m in mlps)
        skip.append(channels)
    fp = r["fp_mlps"]
    for k in range(len(fp)):
        before = fp[k + 1][-1] if k + 1 < len(fp) else channels
        total += mlp([before + skip[k]] + fp[k], True)
    c = fp[0][-1]
    rpn = total + mlp([c] + r["cls_fc"], True) + r["cls_fc"][-1] + 1 \
        + mlp([c] + r["reg_fc"], True) + (r["reg_fc"][-1] + 1) * reg_channels(r)
    q = cfg["rcnn"]
    up = q["xyz_up"]
    rcnn = mlp([5] + up, False) + mlp([up[-1] + c, up[-1]], False)
    channels = up[-1]
    for m in q["mlps"]:
        rcnn += mlp([channels + 3] + m, False)
        channels = m[-1]
    rcnn += mlp([channels] + q["cls_fc"], False) + q["cls_fc"][-1] + 1
    rcnn += mlp([channels] + q["reg_fc"], False) + (q["reg_fc"][-1] + 1) * reg_channels(q)
    return rpn, rcnn


def test_release_parameter_counts():
    """RPN 3,050,669 and RCNN 836,783 trainable parameters at cfgs/default.yml's configuration (76 RPN
    and 46 RCNN regression channels), exactly."""
    assert reg_channels(RELEASE["rpn"]) == 76 and reg_channels(RELEASE["rcnn"]) == 46
    with paddle.LazyGuard():
        model = build_model("pointrcnn")
    assert (count(model.rpn), count(model.rcnn)) == (3_050_669, 836_783) == expected_counts(RELEASE)


def test_lite_parameter_counts():
    with paddle.LazyGuard():
        model = build_model("pointrcnn_lite")
    assert (count(model.rpn), count(model.rcnn)) == (209_813, 56_655) == expected_counts(CONFIGS["pointrcnn_lite"])


def test_output_shapes():
    paddle.seed(0)
    model = build_model("pointrcnn_lite")
    model.eval()
    with paddle.no_grad():
        cls, reg, features = model.rpn(paddle.randn([2, 1024, 3]) * 10)
        rcnn_cls, rcnn_reg = model.rcnn(paddle.randn([3, 64, 5 + 64]))
    assert (cls.shape, reg.shape, features.shape) == ([2, 1024], [2, 1024, 76], [2, 1024, 64])
    assert (rcnn_cls.shape, rcnn_reg.shape) == ([3], [3, 46])
    assert abs(float(paddle.nn.functional.sigmoid(cls).mean()) - 0.01) < 0.01  # the focal-loss prior


def one_hot_prediction(t, cfg):
    """A regression output that says exactly the targets t (bins as one-hot logits)."""
    from models.pointrcnn import _layout
    s, _ = _layout(cfg)
    pred = np.zeros((len(t["x_bin"]), reg_channels(cfg)), np.float32)
    rows = np.arange(len(pred))
    for name in ("x", "z", "ry"):
        pred[rows, s[name + "_bin"][0] + t[name + "_bin"]] = 10
        pred[rows, s[name + "_res"][0] + t[name + "_bin"]] = t[name + "_res"]
    pred[:, s["y_res"][0]] = t["y_res"]
    pred[:, s["size"][0]:s["size"][1]] = t["size"]
    return pred


@pytest.mark.parametrize("stage,fine", [("rpn", False), ("rcnn", True)])
def test_bin_coding_round_trip(stage, fine):
    cfg = RELEASE[stage]
    rng = np.random.default_rng(0)
    scope = cfg["loc_scope"]
    offsets = rng.uniform(-scope + 0.01, scope - 0.01, (50, 3)).astype(np.float32)
    sizes = (MEAN_SIZE * rng.uniform(0.8, 1.2, (50, 3))).astype(np.float32)
    ry = rng.uniform(-np.pi / 4 + 0.01, np.pi / 4 - 0.01, 50) if fine else rng.uniform(-np.pi, np.pi, 50)
    t = encode(offsets, sizes, ry, cfg, fine)
    assert t["x_bin"].max() < int(scope / cfg["loc_bin_size"]) * 2 and t["ry_bin"].max() < cfg["num_head_bin"]
    assert np.abs(t["x_res"]).max() <= 0.5 + 1e-6
    got_offsets, got_sizes, got_ry = decode(one_hot_prediction(t, cfg), cfg, fine)
    assert np.allclose(got_offsets, offsets, atol=1e-5) and np.allclose(got_sizes, sizes, atol=1e-5)
    assert np.allclose(np.cos(got_ry - ry), 1, atol=1e-6)


def test_rcnn_heading_is_folded_by_180_degrees():
    t = encode(np.zeros((1, 3)), MEAN_SIZE[None], np.array([np.pi + 0.2]), RELEASE["rcnn"], True)
    _, _, ry = decode(one_hot_prediction(t, RELEASE["rcnn"]), RELEASE["rcnn"], True)
    assert ry[0] == pytest.approx(0.2, abs=1e-5)  # the same box, turned round


def test_canonical_transformation_round_trip():
    rng = np.random.default_rng(0)
    rois = np.concatenate([rng.uniform(-10, 10, (5, 3)), np.tile(MEAN_SIZE, (5, 1)), rng.uniform(-3, 3, (5, 1))], 1)
    boxes = np.concatenate([rng.normal(size=(5, 3)), np.tile(MEAN_SIZE, (5, 1)), rng.uniform(-0.5, 0.5, (5, 1))], 1)
    world = pipeline.from_canonical(boxes, rois)
    back = pipeline.canonical(world[:, None, :3], rois)[:, 0]
    assert np.allclose(back, boxes[:, :3], atol=1e-6)
    # a point ahead of a roi (along its heading) lands on the canonical +x axis
    ahead = rois[:, :3] + np.stack([np.cos(rois[:, 6]), np.zeros(5), -np.sin(rois[:, 6])], 1) * 2
    assert np.allclose(pipeline.canonical(ahead[:, None], rois)[:, 0], [[2, 0, 0]] * 5, atol=1e-6)


def test_rpn_targets_label_points_in_cars():
    points = np.array([[[0, 0.5, 10], [0, 0.5, 12.1], [5, 0.5, 10], [0, 0.5, 7.0]]], np.float32)
    boxes = np.zeros((1, 4, 7), np.float32)
    boxes[0, 0] = [0, 1, 10, 1.5, 2, 4, np.pi / 2]  # length along z: 8..12
    labels, where, (offsets, sizes, ry) = pipeline.rpn_targets(points, boxes, np.array([1]))
    assert labels.tolist() == [[1, -1, 0, 0]] and where.tolist() == [[0, 0]]
    assert np.allclose(offsets, [[0, -0.25, 0]])  # centre y 1 - 1.5 / 2 = 0.25
    assert np.allclose(sizes, [[1.5, 2, 4]]) and np.allclose(ry, [np.pi / 2])
