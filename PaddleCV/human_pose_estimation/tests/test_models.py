"""The networks: parameter counts of the real models (built under paddle.LazyGuard, nothing
allocated), output shapes at both published input sizes, and learning on a fixed batch."""
import math

import numpy as np
import paddle
import pytest

from models import MODELS, build_model
from train import heatmap_loss


def count(layer):
    """Trainable parameters (BatchNorm's running statistics are not parameters)."""
    return sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)


# ResNet-50/101/152 less their 2048 x 1000 + 1000 classifier (25,557,032 / 44,549,160 / 60,192,808 in
# PaddleClas and torchvision), plus three 4x4 deconvolutions without bias (2048->256, 256->256, 256->256)
# with their BatchNorms, plus the 1x1 head to 17 joints: the paper's table gives 34.0M, 53.0M and 68.6M.
EXACT = {"pose_resnet50": 33_999_697, "pose_resnet101": 52_991_825, "pose_resnet152": 68_635_473}
PAPER = {"pose_resnet50": 34.0e6, "pose_resnet101": 53.0e6, "pose_resnet152": 68.6e6}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_parameter_count_matches_the_paper(name):
    with paddle.LazyGuard():
        model = build_model(name, num_joints=17)
    assert count(model) == EXACT[name]
    assert abs(count(model) - PAPER[name]) / PAPER[name] < 0.005


def test_deconv_head_counts():
    with paddle.LazyGuard():
        model = build_model("pose_resnet50", num_joints=17)
        mpii = build_model("pose_resnet50", num_joints=16)
    assert count(model.deconv) == 2048 * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 2 * 256
    assert count(model.backbone) + count(model.stem) == 25_557_032 - 2048 * 1000 - 1000
    assert count(model) - count(mpii) == 257  # one 1x1 filter of 256 weights + bias per joint


@pytest.mark.parametrize("size", [(256, 192), (384, 288)])
def test_heatmaps_are_a_quarter_of_the_input(size):
    model = build_model("pose_resnet18_x0_25", num_joints=17)
    model.eval()
    with paddle.no_grad():
        out = model(paddle.randn([1, 3, *size]))
    assert out.shape == [1, 17, size[0] // 4, size[1] // 4]


@pytest.mark.slow
def test_pose_resnet50_runs_at_256x192():
    model = build_model("pose_resnet50", num_joints=17)
    model.eval()
    with paddle.no_grad():
        assert model(paddle.randn([1, 3, 256, 192])).shape == [1, 17, 64, 48]


def test_loss_weighs_out_unlabelled_joints():
    paddle.seed(0)
    heat, target = paddle.rand([2, 3, 4, 4]), paddle.rand([2, 3, 4, 4])
    weight = paddle.to_tensor([[[1.0], [0.0], [1.0]], [[1.0], [1.0], [0.0]]])
    expected = 0.5 * (((heat - target).numpy() ** 2) * weight.numpy()[..., None]).mean()
    assert heatmap_loss(heat, target, weight).item() == pytest.approx(expected, rel=1e-5)
    changed = target.numpy().copy()
    changed[0, 1] += 5  # an unlabelled joint's target does not matter
    assert heatmap_loss(heat, paddle.to_tensor(changed), weight).item() == pytest.approx(expected, rel=1e-5)


def test_loss_drops_on_a_fixed_batch(demo):
    import reader
    paddle.seed(0)
    ds = reader.TrainDataset(reader.CocoKeypoints(demo, "train", 1.0), (64, 64), augment=False)
    batch = [paddle.to_tensor(np.stack(x)) for x in zip(*[ds[i] for i in range(8)])]
    model = build_model("pose_resnet18_x0_25", num_joints=17)
    opt = paddle.optimizer.Adam(0.005, parameters=model.parameters())
    history = []
    for _ in range(30):
        loss = heatmap_loss(model(batch[0]), *batch[1:])
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.5 * history[0], history


def test_every_registered_model_builds():
    for name in MODELS:
        with paddle.LazyGuard():
            model = build_model(name, num_joints=17)
        assert count(model) > 900_000
