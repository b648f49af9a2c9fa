"""The four networks: the release's layer configuration (exact parameter counts), output shapes,
and learning on a fixed batch."""
import math

import numpy as np
import paddle
import pytest

import train
from models import MODELS, build_model

# Trainable parameters at the release configuration (40 ModelNet classes; 13 S3DIS classes with the
# 6 colour/room-position features), counted under paddle.LazyGuard; the README lists the same.
COUNTS = {"pointnet2_cls_ssg": 1_472_360, "pointnet2_cls_msg": 1_742_856,
          "pointnet2_seg_ssg": 965_101, "pointnet2_seg_msg": 3_026_829}

# The release's models/pointnet2_cls.py and pointnet2_seg.py, written out again as plain lists:
# (mlps of each set abstraction), feature propagation mlps.
RELEASE = {
    "pointnet2_cls_ssg": ([[[64, 64, 128]], [[128, 128, 256]], [[256, 512, 1024]]], None),
    "pointnet2_cls_msg": ([[[32, 32, 64], [64, 64, 128], [64, 96, 128]],
                           [[64, 64, 128], [128, 128, 256], [128, 128, 256]], [[256, 512, 1024]]], None),
    "pointnet2_seg_ssg": ([[[32, 32, 64]], [[64, 64, 128]], [[128, 128, 256]], [[256, 256, 512]]],
                          [[128, 128, 128], [256, 128], [256, 256], [256, 256]]),
    "pointnet2_seg_msg": ([[[16, 16, 32], [32, 32, 64]], [[64, 64, 128], [64, 96, 128]],
                           [[128, 196, 256], [128, 196, 256]], [[256, 256, 512], [256, 384, 512]]],
                          [[128, 128], [256, 256], [512, 512], [512, 512]]),
}


def mlp_params(c_in, channels):
    """1x1 conv without bias + BatchNorm scale and offset, per layer."""
    total = 0
    for c in channels:
        total += c_in * c + 2 * c
        c_in = c
    return total


def release_count(name):
    """The parameter count the release's configuration implies, computed from the layer lists."""
    sa, fp = RELEASE[name]
    classes, features = (40, 0) if fp is None else (13, 6)
    levels, c, total = [features], features, 0
    for scales in sa:
        total += sum(mlp_params(c + 3, mlp) for mlp in scales)
        c = sum(mlp[-1] for mlp in scales)
        levels.append(c)
    if fp is None:  # fc 512 + bn, fc 256 + bn (no biases), fc classes with bias
        return total + mlp_params(c, [512, 256]) + 256 * classes + classes
    coarse = levels[-1]
    for i in reversed(range(len(fp))):
        total += mlp_params(coarse + levels[i], fp[i])
        coarse = fp[i][-1]
    return total + mlp_params(coarse, [128]) + 128 * classes + classes


def count(name):
    seg = "seg" in name
    with paddle.LazyGuard():
        model = build_model(name, num_classes=13 if seg else 40, in_channels=6 if seg else 0)
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_count_is_the_release_configuration(name):
    assert count(name) == COUNTS[name] == release_count(name)


def test_normals_add_three_input_channels_to_the_first_layer():
    with paddle.LazyGuard():
        model = build_model("pointnet2_cls_ssg", num_classes=40, in_channels=3)
    assert sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient) == COUNTS["pointnet2_cls_ssg"] + 3 * 64


@pytest.mark.parametrize("name", sorted(MODELS))
def test_small_variants_give_the_right_shapes(name):
    seg = "seg" in name
    model = build_model(name, num_classes=5, in_channels=6 if seg else 0, width=0.125, npoint_scale=1 / 32)
    model.eval()
    out = model(paddle.rand([2, 64, 9 if seg else 3]))
    assert list(out.shape) == ([2, 64, 5] if seg else [2, 5])


def test_loss_drops_on_a_fixed_batch():
    paddle.seed(0)
    rng = np.random.default_rng(0)
    from make_demo_data import make_shape_cloud
    shapes = ["sphere", "box", "cone", "torus"]
    points = np.stack([make_shape_cloud(shapes[i % 4], 64, rng)[0] for i in range(8)]).astype(np.float32)
    labels = paddle.to_tensor(np.arange(8) % 4)
    model = build_model("pointnet2_cls_ssg", num_classes=4, width=0.25, npoint_scale=1 / 16, bn_momentum=0.9)
    opt = paddle.optimizer.Adam(0.01, parameters=model.parameters())
    history = []
    for _ in range(25):
        loss = train.loss_fn(model(paddle.to_tensor(points)), labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history
