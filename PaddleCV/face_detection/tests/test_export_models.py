"""The export round trip of FaceBoxes and PyramidBox (BlazeFace's is tests/test_run.py, from the
session's trained run), and the clipping of the boxes to the picture that eval, infer and the export
share (models/postprocess.py)."""
import math

import numpy as np
import paddle
import pytest

import anchors
import export
from models import MODELS, build_model
from models.postprocess import FaceDetector, split_per_image


class FixedOffsets(paddle.nn.Layer):
    """A stand-in network: the same offsets and logits whatever the image."""

    def __init__(self, offsets, logits):
        super().__init__()
        self.offsets, self.logits = paddle.to_tensor(offsets), paddle.to_tensor(logits)

    def forward(self, image):
        n = image.shape[0]
        return self.offsets.expand([n, -1, -1]), self.logits.expand([n, -1, -1])


def test_boxes_are_clipped_to_the_picture():
    """Offsets that push boxes past every edge of a non-square picture (60 wide, 100 high, fed at
    16 px): each box ends inside [0, 60] x [0, 100], the clipped edges lie exactly on the border, a
    box wholly outside is dropped, and a box inside the picture is left as decoded."""
    spec = MODELS["blazeface"]
    priors = spec.priors(16)  # 2x2 cells x 2 + 1 cell x 6 = 14 anchors
    rng = np.random.default_rng(0)
    offsets = rng.uniform(-30, 30, size=(1, len(priors), 4)).astype("float32")
    # the first anchor (16 px at (4, 4) of the 16 px input) moved to the centre and shrunk to 6 px: inside
    offsets[0, 0] = [2.5, 2.5, -5, -5]
    logits = np.stack([np.zeros(len(priors)), np.linspace(4, 1, len(priors))], axis=1)[None].astype("float32")
    raw = anchors.decode(paddle.to_tensor(offsets), paddle.to_tensor(priors)).numpy()[0]
    assert raw.min() < -0.5 and raw.max() > 1.5  # unclipped, boxes would reach far outside
    detector = FaceDetector(FixedOffsets(offsets, logits), spec, nms={"nms_threshold": 1.0})
    detector.eval()
    bbox, bbox_num = detector(paddle.zeros([1, 3, 16, 16]), paddle.to_tensor([[16.0, 16.0]]),
                              paddle.to_tensor([[16 / 100, 16 / 60]]))
    boxes = bbox.numpy()[:, 2:]
    outside = (raw[:, 2] <= 0) | (raw[:, 0] >= 1) | (raw[:, 3] <= 0) | (raw[:, 1] >= 1)
    assert 0 < outside.sum() < len(priors) - 1  # boxes wholly outside the picture are dropped
    assert bbox_num.numpy().tolist() == [len(priors) - outside.sum()]
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert boxes[:, [0, 2]].min() >= 0 and boxes[:, [0, 2]].max() <= 60
    assert boxes[:, [1, 3]].min() >= 0 and boxes[:, [1, 3]].max() <= 100
    assert np.isclose(boxes, 0).any()
    assert np.isclose(boxes[:, [0, 2]], 60).any() and np.isclose(boxes[:, [1, 3]], 100).any()
    first = boxes[np.argmax(bbox.numpy()[:, 1])]  # the best score is the first anchor's
    np.testing.assert_allclose(first, raw[0] * [60, 100, 60, 100], rtol=1e-5)
    assert 0 < first[0] < first[2] < 60


def spread_weights(net, seed=0):
    """He-scaled random convolutions and random biases, so that a deep untrained network (PyramidBox's
    VGG16 has no BN) gives scores and offsets of a useful spread instead of near-ties."""
    rng = np.random.default_rng(seed)
    for p in net.parameters():
        if p.stop_gradient:  # PyramidBox's fixed bilinear upsampling kernels
            continue
        if len(p.shape) == 4:
            std = math.sqrt(2.0 / math.prod(p.shape[1:]))
            p.set_value(rng.normal(0, std, size=p.shape).astype("float32"))
        elif len(p.shape) == 1 and "scale" not in p.name:
            p.set_value(rng.normal(0, 0.1, size=p.shape).astype("float32"))


@pytest.mark.slow
@pytest.mark.parametrize("name,size", [("faceboxes", 128), ("pyramidbox", 64)])
def test_export_gives_the_dygraph_boxes(name, size, tmp_path):
    """Random weights at a small input: Paddle Inference (oneDNN) gives the dynamic graph's faces
    after NMS, boxes and scores, for two pictures of different shapes; the boxes are clipped in both."""
    paddle.seed(0)
    net = build_model(name)
    spread_weights(net)
    detector = FaceDetector(net, MODELS[name])
    detector.eval()
    rng = np.random.default_rng(1)
    heights, widths = np.array([90.0, 120.0]), np.array([150.0, 70.0])
    arrays = [rng.normal(size=(2, 3, size, size)).astype("float32"),
              np.full((2, 2), size, "float32"),
              np.stack([size / heights, size / widths], axis=1).astype("float32")]
    with paddle.no_grad():
        expected = split_per_image(*[t.numpy() for t in detector(*[paddle.to_tensor(a) for a in arrays])])
    prefix = export.export(detector, size, str(tmp_path / "model"))
    got = split_per_image(*export.create_predictor(prefix)(arrays))
    assert [len(g) for g in got] == [len(e) for e in expected] and min(len(e) for e in expected) > 10
    for g, e, h, w in zip(got, expected, heights, widths):
        assert len(np.unique(e[:, 1])) > len(e) // 2  # scores spread out: the comparison can miss
        g_sorted = g[np.lexsort((g[:, 2], g[:, 1]))]
        e_sorted = e[np.lexsort((e[:, 2], e[:, 1]))]
        np.testing.assert_allclose(g_sorted, e_sorted, rtol=1e-3, atol=1e-3)
        assert g[:, 2:].min() >= 0 and g[:, [2, 4]].max() <= w + 1e-3 and g[:, [3, 5]].max() <= h + 1e-3
