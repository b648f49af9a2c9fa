"""The network, its priors, matching, the loss and decoding.

The parameter count is checked against PaddleDetection's ssd_mobilenet_v1_300_120e_voc at VOC's 21
classes, counted here layer by layer from that config's architecture (MobileNetV1 backbone with
feature maps 11 and 13, extra blocks [[256, 512], [128, 256], [128, 256], [64, 128]], an SSDHead of
1x1 convolutions with 3/6/6/6/6/6 priors per cell), independently of models/."""
import math

import numpy as np
import paddle
import pytest

import prior_box
from models import MODELS, build_model
from models.mobilenet_ssd import feature_shapes
from models.postprocess import SSDDetector
from ssd_loss import ssd_loss


def conv(cin, cout, k, groups=1, bias=False):
    return cout * (cin // groups) * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c  # scale and shift; the running statistics are not trained


def reference_count(num_classes=20):
    total = conv(3, 32, 3) + bn(32)  # stem
    cin = 32
    for cout, _ in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]:
        total += conv(cin, cin, 3, groups=cin) + bn(cin) + conv(cin, cout, 1) + bn(cout)
        cin = cout
    for mid, out in [(256, 512), (128, 256), (128, 256), (64, 128)]:
        total += conv(cin, mid, 1) + bn(mid) + conv(mid, out, 3) + bn(out)
        cin = out
    for c, priors in zip([512, 1024, 512, 256, 256, 128], [3, 6, 6, 6, 6, 6]):
        total += conv(c, priors * 4, 1, bias=True) + conv(c, priors * (num_classes + 1), 1, bias=True)
    return total


def trainable(net):
    return sum(math.prod(p.shape) for p in net.parameters() if not p.stop_gradient)


PUBLISHED = ["SSD_MobileNetV1", "SSD_MobileNetV1_v17"]  # SSD_MobileNetV1_demo is not published


def test_registry():
    assert sorted(MODELS) == sorted(PUBLISHED + ["SSD_MobileNetV1_demo"])


@pytest.mark.parametrize("name", PUBLISHED)
def test_parameter_count_matches_paddledetection(name):
    with paddle.LazyGuard():
        net = build_model(name, num_classes=20)
    assert reference_count(20) == 5_796_089
    assert trainable(net) == 5_796_089  # exact (the issue asks for 0.5%)


def test_priors_as_the_config_defines_them():
    assert prior_box.priors_per_cell() == [3, 6, 6, 6, 6, 6]
    shapes = feature_shapes(300, 300)
    assert shapes == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    priors = prior_box.priors_for(shapes, 300, 300)
    assert priors.shape == (19 * 19 * 3 + (100 + 25 + 9 + 4 + 1) * 6, 4) == (1917, 4)
    step = 300 / 19
    # the first cell: a 60 px square, then 2:1 and 1:2 boxes of the same area, centred at step / 2
    c = step / 2 / 300
    np.testing.assert_allclose(priors[0], [c - 0.1, c - 0.1, c + 0.1, c + 0.1], atol=1e-6)
    w, h = 60 * math.sqrt(2) / 300, 60 / math.sqrt(2) / 300
    np.testing.assert_allclose(priors[1], [c - w / 2, c - h / 2, c + w / 2, c + h / 2], atol=1e-6)
    np.testing.assert_allclose(priors[2], [c - h / 2, c - w / 2, c + h / 2, c + w / 2], atol=1e-6)
    # the last map (1x1): [1, 2, 1/2, 3, 1/3] at 285 px, then sqrt(285 * 300)
    side = math.sqrt(285 * 300) / 300
    np.testing.assert_allclose(priors[-1], [0.5 - side / 2] * 2 + [0.5 + side / 2] * 2, atol=1e-6)
    # at another input size the pixel sizes scale with it: the same fractions of the picture
    small = prior_box.priors_for(feature_shapes(128, 128), 128, 128, image_size=128)
    np.testing.assert_allclose(small[-1], priors[-1], atol=1e-6)


def test_forward_at_a_non_square_input():
    net = build_model("SSD_MobileNetV1", num_classes=20, image_size=96)
    net.eval()
    x = paddle.randn([2, 3, 96, 160])
    with paddle.no_grad():
        offsets, logits = net(x)
        bbox, bbox_num = SSDDetector(net)(x, paddle.to_tensor([[96.0, 160.0]] * 2),
                                          paddle.to_tensor([[0.5, 0.8], [1.0, 1.0]]))
    num_priors = len(prior_box.priors_for(feature_shapes(96, 160), 96, 160, 96))
    assert feature_shapes(96, 160)[0] == (6, 10)
    assert offsets.shape == [2, num_priors, 4] and logits.shape == [2, num_priors, 21]
    assert bbox.shape[1] == 6 and bbox_num.numpy().sum() == bbox.shape[0]
    # boxes of image 0 are in its original 192x200 pixels, image 1's in 96x160
    first = bbox.numpy()[:bbox_num.numpy()[0]]
    assert first[:, 2:].max() > 170 and np.isin(first[:, 0], np.arange(1, 21)).all()


def test_matching_at_iou_one_half():
    priors = np.array([[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.4], [0, 0, 0.5, 0.2], [0.5, 0.5, 1, 1], [0.6, 0.6, 1, 1]],
                      dtype=np.float32)
    gt = np.array([[0, 0, 0.5, 0.5], [0.7, 0.7, 0.95, 0.95]], dtype=np.float32)
    # IoU with gt 0: 1, 0.8, 0.4 ; gt 1 overlaps prior 3 by 0.25 and prior 4 by 0.390625: below 0.5,
    # but it still takes its best prior (4) in the bipartite step
    loc, labels = prior_box.match(gt, np.array([3, 5]), priors)
    assert labels.tolist() == [3, 3, 0, 0, 5]
    np.testing.assert_allclose(loc[0], 0, atol=1e-5)  # a prior equal to its box encodes to zeros
    assert (loc[2] == 0).all() and (loc[3] == 0).all()
    empty_loc, empty = prior_box.match(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), priors)
    assert (empty == 0).all() and (empty_loc == 0).all()


def test_encode_decode_round_trip():
    priors = np.array([[0.1, 0.1, 0.4, 0.5], [0.3, 0.2, 0.9, 0.6]], dtype=np.float32)
    boxes = np.array([[0.15, 0.05, 0.5, 0.45], [0.2, 0.3, 0.8, 0.9]], dtype=np.float32)
    code = prior_box.encode(boxes, priors)
    back = prior_box.decode(paddle.to_tensor(code[None]), paddle.to_tensor(priors)).numpy()[0]
    np.testing.assert_allclose(back, boxes, atol=1e-5)


def test_hard_negative_mining_keeps_three_negatives_per_positive():
    # one image, 1 positive (prior 0, label 1) and 6 background priors whose losses rise with the index:
    # the loss counts the positive and the 3 hardest negatives (priors 4, 5, 6), over 1 positive
    logits = np.zeros((1, 7, 3), dtype=np.float32)
    logits[0, 1:, 1] = np.arange(1, 7)  # background priors lean wrongly towards class 1, more and more
    labels = np.array([[1, 0, 0, 0, 0, 0, 0]])
    offsets = np.zeros((1, 7, 4), dtype=np.float32)
    targets = np.zeros((1, 7, 4), dtype=np.float32)
    targets[0, 0] = [0.5, -0.5, 2.0, 0.0]  # smooth L1: 0.125 + 0.125 + 1.5 + 0
    loss = ssd_loss(paddle.to_tensor(offsets), paddle.to_tensor(logits), paddle.to_tensor(targets),
                    paddle.to_tensor(labels)).item()

    def ce(row, label):
        return float(np.log(np.exp(row).sum()) - row[label])
    expected = ce(logits[0, 0], 1) + sum(ce(logits[0, i], 0) for i in (4, 5, 6)) + 1.75
    assert loss == pytest.approx(expected, rel=1e-5)


def test_loss_drops_on_a_fixed_batch(demo):
    import reader
    paddle.seed(0)
    names = reader.class_names(demo)
    ds = reader.VOCDetection(demo, "VOC2007/train", 64, names, train=True, augment=False)
    batch = [ds[i] for i in range(4)]
    images, loc, labels = (paddle.to_tensor(np.stack(x)) for x in zip(*batch))
    net = build_model("SSD_MobileNetV1", num_classes=len(names), image_size=64)
    opt = paddle.optimizer.RMSProp(0.001, parameters=net.parameters())
    history = []
    for _ in range(15):
        loss = ssd_loss(*net(images), loc, labels)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history


def test_demo_model_has_a_stride_8_first_map_and_its_own_priors():
    net = build_model("SSD_MobileNetV1_demo", num_classes=6, image_size=96)
    assert net.feature_shapes(96, 96) == [(12, 12), (6, 6), (3, 3), (2, 2), (1, 1), (1, 1)]
    assert net.priors_per_cell == [4, 6, 6, 6, 6, 6]
    priors = net.priors(96, 96)
    assert priors.shape == (144 * 4 + (36 + 9 + 4 + 1 + 1) * 6, 4) == (882, 4)
    # the first cell: a 60/300 * 96 = 19.2 px square centred at 4 px
    np.testing.assert_allclose(priors[0] * 96, [4 - 9.6, 4 - 9.6, 4 + 9.6, 4 + 9.6], atol=1e-4)
    offsets, logits = net(paddle.zeros([2, 3, 96, 96]))
    assert offsets.shape == [2, 882, 4] and logits.shape == [2, 882, 7]
    # width 0.5 everywhere: 1,443,094 trainable parameters with 6 classes (counted, not published)
    assert trainable(net) == 1_443_094
    # the published model's priors are untouched
    assert len(build_model("SSD_MobileNetV1", num_classes=6, image_size=96).priors(96, 96)) == 204
