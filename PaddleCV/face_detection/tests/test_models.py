"""The networks, their anchors, matching, the loss and decoding.

Parameter counts are worked out here layer by layer, independently of models/, from each reference
definition: BlazeFace from PaddleDetection's blazeface_1000e config (BlazeNet blaze_filters and
double_blaze_filters, FaceHead with 3x3 convs and 2 + 6 anchors per cell, one class), FaceBoxes from
the paper's Fig. 1-2 (RDCL with CReLU, three Inception blocks, conv3_x and conv4_x, 21/1/1 anchors
per cell), PyramidBox from the models release/1.7 pyramidbox.py. Counted: the trained parameters
(conv weights and biases, BN scale and shift, L2-norm scales); not counted: BN running statistics
and PyramidBox's three fixed bilinear upsampling kernels (learning rate 0 in the release)."""
import math

import numpy as np
import paddle
import pytest

import anchors
from face_loss import detection_loss
from models import MODELS, build_model
from models.postprocess import FaceDetector


def conv(cin, cout, k, groups=1, bias=False):
    return cout * (cin // groups) * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c


def blazeface_reference():
    total = conv(3, 24, 3) + bn(24)
    cin = 24
    for mid, out, stride in [(24, 24, 1), (24, 24, 1), (24, 48, 2), (48, 48, 1), (48, 48, 1)]:
        total += conv(cin, mid, 5, groups=mid) + bn(mid) + conv(mid, out, 1) + bn(out)
        if stride == 2:
            total += conv(cin, out, 1) + bn(out)
        cin = out
    for mid, neck, out, stride in [(48, 24, 96, 2), (96, 24, 96, 1), (96, 24, 96, 1), (96, 24, 96, 2),
                                   (96, 24, 96, 1), (96, 24, 96, 1)]:
        total += conv(cin, mid, 5, groups=mid) + bn(mid) + conv(mid, neck, 1) + bn(neck)
        total += conv(neck, neck, 5, groups=neck) + bn(neck) + conv(neck, out, 1) + bn(out)
        if stride == 2:
            total += conv(cin, out, 1) + bn(out)
        cin = out
    for a in (2, 6):
        total += conv(96, a * 4, 3, bias=True) + conv(96, a * 2, 3, bias=True)
    return total


def faceboxes_reference():
    total = conv(3, 24, 7) + bn(24) + conv(48, 64, 5) + bn(64)
    inception = (conv(128, 32, 1) + bn(32)) * 2 + conv(128, 24, 1) + bn(24) + conv(24, 32, 3) + bn(32) \
        + conv(128, 24, 1) + bn(24) + conv(24, 32, 3) + bn(32) + conv(32, 32, 3) + bn(32)
    total += 3 * inception
    total += conv(128, 128, 1) + bn(128) + conv(128, 256, 3) + bn(256) + conv(256, 128, 1) + bn(128) \
        + conv(128, 256, 3) + bn(256)
    for c, a in ((128, 21), (256, 1), (256, 1)):
        total += conv(c, a * 4, 3, bias=True) + conv(c, a * 2, 3, bias=True)
    return total


def pyramidbox_reference():
    total, cin = 0, 3
    for widths in [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3]:
        for w in widths:
            total += conv(cin, w, 3, bias=True)
            cin = w
    total += conv(512, 1024, 3, bias=True) + conv(1024, 1024, 1, bias=True)
    total += conv(1024, 256, 1, bias=True) + conv(256, 512, 3, bias=True)
    total += conv(512, 128, 1, bias=True) + conv(128, 256, 3, bias=True)
    for above, ch in ((1024, 512), (512, 512), (512, 256)):  # LFPN: two 1x1 convs per level
        total += conv(above, ch, 1, bias=True) + conv(ch, ch, 1, bias=True)
    for cin in (256, 512, 512, 1024, 512, 256):  # CPM
        total += conv(cin, 1024, 1) + bn(1024) + conv(cin, 256, 1) + bn(256) + conv(256, 256, 3) + bn(256) \
            + conv(256, 1024, 1) + bn(1024)
        total += conv(1024, 256, 3, bias=True) + conv(1024, 128, 3, bias=True) + 3 * conv(128, 128, 3, bias=True)
    total += 3 * 512  # L2-norm scales
    for i in range(6):
        total += conv(512, 8, 3, bias=True) + conv(512, 8 if i == 0 else 6, 3, bias=True)
    return total


def trainable(net):
    return sum(math.prod(p.shape) for p in net.parameters() if not p.stop_gradient)


REFERENCE = {"blazeface": (blazeface_reference, 115_584), "faceboxes": (faceboxes_reference, 1_007_330),
             "pyramidbox": (pyramidbox_reference, 57_162_262)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_count_matches_the_reference_definition(name):
    count, expected = REFERENCE[name]
    assert count() == expected
    with paddle.LazyGuard():
        net = build_model(name)
    assert trainable(net) == expected  # exact (the issue asks for 0.5%)


@pytest.mark.parametrize("name,size", [("blazeface", 64), ("faceboxes", 128)])
def test_outputs_line_up_with_the_anchors(name, size):
    net = build_model(name)
    net.eval()
    offsets, logits = net(paddle.rand([2, 3, size, size]))
    priors = MODELS[name].priors(size)
    assert offsets.shape == [2, len(priors), 4] and logits.shape == [2, len(priors), 2]


def test_anchor_layouts():
    # BlazeFace at 640: 80x80 cells x 2 + 40x40 x 6
    assert len(MODELS["blazeface"].priors(640)) == 80 * 80 * 2 + 40 * 40 * 6
    # FaceBoxes densification: the 32-px anchors of a stride-32 cell are a 4x4 grid, 8 px apart,
    # centred in the cell; then 2x2 of 64 px 16 px apart; then one of 128 px
    cell = anchors.anchors_for([(32, [(32, 4), (64, 2), (128, 1)])], 32, 32) * 32
    assert cell.shape == (21, 4)
    centres = (cell[:, :2] + cell[:, 2:]) / 2
    np.testing.assert_allclose(centres[:4], [[4, 4], [12, 4], [20, 4], [28, 4]])
    np.testing.assert_allclose(centres[16:20], [[8, 8], [24, 8], [8, 24], [24, 24]])
    np.testing.assert_allclose(cell[20], [-48, -48, 80, 80])
    assert anchors.anchors_per_cell(MODELS["faceboxes"].layout) == [21, 1, 1]
    assert len(MODELS["pyramidbox"].priors(640)) == sum((640 // s) ** 2 for s in (4, 8, 16, 32, 64, 128))


def test_match_encode_decode_round_trip():
    priors = MODELS["blazeface"].priors(128)
    faces = np.array([[0.1, 0.1, 0.3, 0.35], [0.5, 0.55, 0.9, 0.95]], dtype=np.float32)
    loc, labels = anchors.match(faces, np.array([1, 1]), priors)
    assert labels.sum() >= 2 and set(np.unique(labels)) == {0, 1}
    decoded = anchors.decode(paddle.to_tensor(loc[None]), paddle.to_tensor(priors)).numpy()[0]
    iou = anchors.iou_matrix(decoded[labels > 0], faces).max(1)
    np.testing.assert_allclose(iou, 1.0, atol=1e-4)
    # a face too small for any anchor still gets its best one (the bipartite step)
    tiny = np.array([[0.5, 0.5, 0.52, 0.52]], dtype=np.float32)
    assert anchors.match(tiny, np.array([1]), priors)[1].sum() == 1


def test_blazeface_learns_a_fixed_batch():
    paddle.seed(0)
    net = build_model("blazeface")
    spec = MODELS["blazeface"]
    priors = spec.priors(48)
    rng = np.random.default_rng(0)
    images = paddle.to_tensor(rng.normal(size=(2, 3, 48, 48)).astype("float32"))
    targets = [anchors.match(np.array([[0.2, 0.2, 0.5, 0.55]], np.float32), np.array([1]), priors),
               anchors.match(np.array([[0.5, 0.4, 0.7, 0.7]], np.float32), np.array([1]), priors)]
    loc, labels = (paddle.to_tensor(np.stack(x)) for x in zip(*targets))
    opt = paddle.optimizer.Adam(0.01, parameters=net.parameters())
    losses = []
    for _ in range(12):
        loss = detection_loss(net(images), (loc, labels))
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses


@pytest.mark.parametrize("name,size", [("faceboxes", 128), ("pyramidbox", 64)])
def test_one_training_step_of_the_heavier_models(name, size):
    """A step of the real network on a tiny input: finite loss, gradients reach the first layer, and
    PyramidBox trains face and head (PyramidAnchors) while its eval mode gives faces only, with the
    max-in-out scores."""
    paddle.seed(0)
    net = build_model(name)
    spec = MODELS[name]
    priors = spec.priors(size)
    face = np.array([[0.3, 0.3, 0.6, 0.65]], np.float32)
    loc, labels = anchors.match(face, np.array([1]), priors)
    targets = [paddle.to_tensor(loc[None]), paddle.to_tensor(labels[None])]
    if spec.head_boxes:
        import reader
        hloc, hlabels = anchors.match(reader.expand_head_boxes(face), np.array([1]), priors)
        targets += [paddle.to_tensor(hloc[None]), paddle.to_tensor(hlabels[None])]
    outputs = net(paddle.rand([1, 3, size, size]))
    assert len(outputs) == len(targets)
    loss = detection_loss(outputs, targets)
    loss.backward()
    assert np.isfinite(loss.item())
    first = next(p for p in net.parameters() if not p.stop_gradient)
    assert float(first.grad.abs().sum()) > 0
    net.eval()
    with paddle.no_grad():
        boxes, scores = FaceDetector(net, spec)(paddle.rand([1, 3, size, size]),
                                                paddle.to_tensor([[size, size]], "float32"),
                                                paddle.to_tensor([[1.0, 1.0]], "float32"))
    assert boxes.shape[-1] == 6
    if name == "pyramidbox":  # max-in-out, with the first map's score conv set by hand
        conv = net.conf_convs[0]
        with paddle.no_grad():
            conv.weight.set_value(paddle.zeros_like(conv.weight))
            conv.bias.set_value(paddle.to_tensor([1.0, 5.0, 2.0, 3.0, 0, 0, 0, 0]))
            logits = net(paddle.rand([1, 3, size, size]))[1]
        # the first map's face logits are (max of 3 background, 1 face); the first anchor is its
        np.testing.assert_allclose(logits.numpy()[0, 0], [5.0, 3.0])
