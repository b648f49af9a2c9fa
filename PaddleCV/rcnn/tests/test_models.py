"""The networks: parameter counts of the real models (built under paddle.LazyGuard, nothing
allocated), the parts each model is made of (anchors, box coding, sampling, FPN level assignment,
mask targets), and one training step plus one detection of every light model."""
import math

import numpy as np
import paddle
import pytest

from models import MODELS, build_model
from models.boxes import base_anchors, decode, encode, grid_anchors, iou, match, subsample
from models.rcnn import RPN


def count(layer):
    """Every weight of the state dict but BatchNorm's running statistics: the frozen stem, first
    stage and BatchNorm affine parameters count, as PaddleDetection's own models count them."""
    return sum(math.prod(v.shape) for k, v in layer.state_dict().items() if not k.endswith(("_mean", "_variance")))


# At 80 classes, counted the same way on PaddleDetection 2.6.0's own classes (pip install
# paddledet==2.6.0 in a scratch venv; built under paddle.LazyGuard with each config's settings:
# ResNet depth 50 with freeze_at 0 and the config's return_idx / num_stages; FPN 256 (RetinaNet:
# has_extra_convs, use_c5 False, 2 extra stages); RPNHead anchor sizes 32-512, ratios 0.5/1/2;
# BBoxHead with TwoFCHead 1024 or Res5Head with pooling; CascadeHead with 3 stages; MaskHead with
# MaskFeat 4 convs of 256; RetinaHead with RetinaFeat 4 convs). paddledet is not a requirement, so
# no test imports it; the numbers are also worked out part by part in README.md.
PADDLEDETECTION = {"faster_rcnn_r50_fpn": 41_753_056, "faster_rcnn_r50": 33_844_764, "mask_rcnn_r50_fpn": 44_396_336,
                   "cascade_rcnn_r50_fpn": 69_394_766, "retinanet_r50_fpn": 33_839_924}


@pytest.mark.parametrize("name", sorted(PADDLEDETECTION))
def test_parameter_count_matches_paddledetection(name):
    with paddle.LazyGuard():
        model = build_model(name, num_classes=80)
    assert count(model) == PADDLEDETECTION[name]  # exact; the issue asks for 0.5%


def test_resnet50_backbone_is_the_classifier_without_its_head_and_frozen_as_the_recipe():
    with paddle.LazyGuard():
        model = build_model("faster_rcnn_r50_fpn")
    assert count(model.backbone) == 25_557_032 - 2_049_000  # ResNet-50 at 1000 classes less its FC
    frozen = {n.split(".")[1] for n, p in model.backbone.named_parameters() if p.stop_gradient and "bn" not in n}
    assert frozen == {"conv", "0"}  # the stem's conv and stage 0 (res2); nothing of res3-res5
    assert all(p.stop_gradient for n, p in model.backbone.named_parameters() if ".bn." in n or n.startswith("stem.bn"))
    lite = build_model("faster_rcnn_lite_fpn", num_classes=4)
    assert not any(p.stop_gradient for n, p in lite.named_parameters() if not n.endswith(("_mean", "_variance")))


def test_anchors_have_the_asked_area_and_aspect():
    a = base_anchors([32, 64], [0.5, 1.0, 2.0])
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    np.testing.assert_allclose(w * h, [32 ** 2] * 3 + [64 ** 2] * 3, rtol=1e-5)
    np.testing.assert_allclose(h / w, [0.5, 1, 2] * 2, rtol=1e-5)
    rpn = RPN(8, [4, 8], [32, 64])
    feats = [paddle.zeros([1, 8, 3, 5]), paddle.zeros([1, 8, 2, 3])]
    _, _, anchors = rpn(feats)
    assert anchors[0].shape == [3, 5, 3, 4]
    centre = (anchors[0][2, 4, 1, :2] + anchors[0][2, 4, 1, 2:]) / 2  # row 2, column 4 at stride 4
    np.testing.assert_allclose(centre.numpy(), [16, 8], atol=1e-5)


@pytest.mark.parametrize("name", ["faster_rcnn_lite_fpn", "faster_rcnn_lite", "retinanet_lite_fpn"])
def test_the_losses_host_anchors_are_the_device_anchors(name):
    """The training loss takes its anchors from the host (made from the maps' shapes, cached), not
    copied from the device each step: the very values of the device's grid anchors, in their order."""
    model = build_model(name, num_classes=4)
    host = model.rpn.host_anchors if hasattr(model, "rpn") else model.host_anchors
    strides = host.strides
    shapes = [(max(64 // s, 1), max(96 // s, 1)) for s in strides]  # a 64 x 96 input
    feats = [paddle.zeros([1, 1, h, w]) for h, w in shapes]
    device = np.concatenate([grid_anchors(f, s, paddle.to_tensor(b)).reshape([-1, 4]).numpy()
                             for f, s, b in zip(feats, strides, host.bases)])
    got = host(shapes)
    np.testing.assert_array_equal(got, device)
    assert host(shapes) is got  # cached


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0), (30.0, 30.0, 15.0, 15.0)])
def test_box_coding_round_trip(weights):
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(0, 50, (20, 2)), rng.uniform(60, 120, (20, 2))], 1).astype(np.float32)
    gt = boxes + rng.uniform(-8, 8, (20, 4)).astype(np.float32)
    deltas = encode(gt, boxes, weights)
    np.testing.assert_allclose(decode(paddle.to_tensor(deltas), paddle.to_tensor(boxes), weights).numpy(), gt, atol=1e-3)
    # the hand-made case: a box of 10 x 20 moved by half its width, twice its height
    d = encode(np.array([[5, 0, 15, 40]], np.float32), np.array([[0, 0, 10, 20]], np.float32), weights)
    np.testing.assert_allclose(d[0], [0.5 * weights[0], 0.5 * weights[1], 0, math.log(2) * weights[3]], rtol=1e-6)


def test_matching_and_sampling():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 8], [20, 20, 30, 30], [0, 0, 10, 5], [50, 50, 60, 60]], np.float32)
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 31]], np.float32)
    assert iou(boxes[:1], gt)[0, 0] == 1.0 and iou(boxes[3:4], gt)[0, 0] == pytest.approx(0.5)
    best, labels, _ = match(boxes, gt, 0.7, 0.3, low_quality=False)
    assert labels.tolist() == [1, 1, 1, -1, 0] and best[:3].tolist() == [0, 0, 1]
    best, labels, _ = match(boxes, np.array([[40, 40, 58, 58]], np.float32), 0.7, 0.3, low_quality=True)
    assert labels[4] == 1  # the gt's best anchor is positive below 0.7
    flags = np.array([1] * 300 + [0] * 1000)
    fg, bg = subsample(flags, 512, 0.25, np.random.default_rng(0))
    assert (len(fg), len(bg)) == (128, 384) and (flags[fg] == 1).all() and (flags[bg] == 0).all()
    fg, bg = subsample(np.array([1] * 5 + [0] * 1000), 256, 0.5, np.random.default_rng(0))
    assert (len(fg), len(bg)) == (5, 251)


def test_rois_go_to_the_fpn_level_of_their_size():
    """k = floor(4 + log2(sqrt(area) / 224)), clipped to 2-5: the 224 px box to P4, 112 to P3, 56 and
    smaller to P2, 448 and larger to P5."""
    from paddle.vision.ops import distribute_fpn_proposals
    sides = [20, 56, 112, 224, 448, 900]
    rois = paddle.to_tensor([[0, 0, s, s] for s in sides], "float32")
    _, restore, nums = distribute_fpn_proposals(rois, 2, 5, 4, 224, pixel_offset=False,
                                                rois_num=paddle.to_tensor([6], "int32"))
    assert [int(n.numpy()[0]) for n in nums] == [2, 1, 1, 2]


def test_mask_targets_are_the_mask_inside_each_roi(demo):
    import reader
    split = reader.CocoSplit(demo, "train")
    i = next(k for k, r in enumerate(split.records) if len(r["boxes"]))
    record = split.records[i]
    full = reader.decode_mask(record["segms"][0], int(record["height"]), int(record["width"]))
    scale = np.array([2.0, 2.0], np.float32)
    box = record["boxes"][0] * 2
    target = reader.mask_targets(split, i, False, scale, [0], box[None], 28)[0]
    assert target.shape == (28, 28) and 0.2 < target.mean() <= 1.0
    # the whole picture as a RoI: the target is the mask itself, resampled
    whole = np.array([0, 0, record["width"], record["height"]], np.float32)
    target = reader.mask_targets(split, i, False, np.ones(2, np.float32), [0], whole[None], 28)[0]
    assert abs(target.mean() - full.mean()) < 0.05
    flipped = reader.mask_targets(split, i, True, np.ones(2, np.float32), [0], whole[None], 28)[0]
    np.testing.assert_array_equal(flipped, target[:, ::-1])


LIGHT = ["faster_rcnn_lite", "mask_rcnn_lite_fpn", "cascade_rcnn_lite_fpn", "retinanet_lite_fpn"]


@pytest.mark.parametrize("name", LIGHT)
def test_light_model_trains_one_step_and_detects(name):
    """One tiny training step (every loss finite and positive, a gradient on the heads) and one
    detection in the original picture's pixels, at a non-square input. Fewer RoIs and test proposals
    than the models' own (the same code, at a fifth of the CPU: C4's res5 head runs once per RoI)."""
    paddle.seed(0)
    model = build_model(name, num_classes=4)
    if hasattr(model, "rois_per_image"):
        model.rois_per_image, model.test_proposals = (32 if name == "faster_rcnn_lite" else 64), 64
    model.train()
    image, im_shape = paddle.randn([2, 3, 64, 96]), paddle.to_tensor([[64, 96], [60, 80]], "float32")
    scale = paddle.to_tensor([[0.5, 0.5], [1.0, 1.0]], "float32")
    gt = [np.array([[4, 6, 40, 50], [30, 10, 90, 60]], np.float32), np.zeros((0, 4), np.float32)]
    labels = [np.array([1, 3]), np.zeros(0, np.int64)]
    targets = {"gt_boxes": gt, "gt_labels": labels, "rng": np.random.default_rng(0),
               "mask_targets": lambda i, g, rois, size: np.ones((len(rois), size, size), np.float32)}
    losses = model(image, im_shape, scale, targets)
    expected = {"retinanet_lite_fpn": {"loss_cls", "loss_reg"}}.get(name, {"loss_rpn_cls", "loss_rpn_reg",
                                                                           "loss_cls_0", "loss_reg_0"})
    if name.startswith("cascade"):
        expected |= {"loss_cls_1", "loss_reg_1", "loss_cls_2", "loss_reg_2"}
    if name.startswith("mask"):
        expected |= {"loss_mask"}
    assert set(losses) == expected
    assert all(np.isfinite(v.item()) and v.item() > 0 for v in losses.values()), losses
    paddle.add_n(list(losses.values())).backward()
    head = model.cls if name.startswith("retina") else model.predictor[-1].score
    assert float(head.weight.grad.abs().sum()) > 0
    model.eval()
    with paddle.no_grad():
        out = model(image, im_shape, scale)
    rows, counts = out[0].numpy(), out[1].numpy()
    assert rows.shape[1] == 6 and counts.shape == (2,) and int(counts.sum()) == rows.shape[0] <= 200
    real = rows[rows[:, 0] >= 0]
    assert (real[:, 2] >= 0).all() and (real[:, 4] <= 96 / 0.5 + 1e-3).all() and (real[:, 5] <= 64 / 0.5 + 1e-3).all()
    if name.startswith("mask"):
        assert out[2].shape == [rows.shape[0], 28, 28] and 0 <= float(out[2].min()) <= float(out[2].max()) <= 1


def test_every_model_is_registered_with_a_light_twin():
    assert {n.replace("_lite", "_r50") for n in MODELS if "lite" in n} == set(PADDLEDETECTION)
