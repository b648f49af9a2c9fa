"""The PaddleDetection recipe a suite file switches on (pretrained.SUITE_RECIPE, use_suite_recipe),
piece by piece and without PaddleDetection (tools/check_pretrained.py compares the whole against it in
the slow tier): its eval resize and normalisation, the FPN proposals' top-k over all levels, the boxes
clipped to the original picture, and its mask pasting."""
import numpy as np
import paddle
import pytest
from paddle.vision.ops import generate_proposals

import eval as evaluate
import pretrained
import reader
from models import build_model
from models.boxes import to_original_pixels
from models.rcnn import RPN


def test_suite_preprocessing_is_its_resize_and_normalisation():
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(0).integers(0, 256, (30, 50, 3), np.uint8)
    recipe = pretrained.SUITE_RECIPE["faster_rcnn_r50_fpn"]
    chw, im_shape, scale = reader.preprocess(image, 64, 100, recipe)
    factor = min(64 / 30, 100 / 50)  # the short side's factor 2.133, capped by the long side's 2.0
    assert chw.shape == (3, 60, 100) and chw.dtype == np.float32
    np.testing.assert_array_equal(im_shape, np.float32([30 * factor, 50 * factor]))
    np.testing.assert_array_equal(scale, np.float32([factor, factor]))
    resized = cv2.resize(image, None, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    expect = (resized.astype(np.float32) / np.float32(255) - np.array([0.485, 0.456, 0.406])) / np.array(
        [0.229, 0.224, 0.225])
    np.testing.assert_allclose(chw, expect.transpose(2, 0, 1), atol=1e-6)
    # an odd factor: im_shape is the unrounded size, as PaddleDetection's Resize sets it
    chw, im_shape, _ = reader.preprocess(image[:, :40], 64, 100, recipe)
    factor = 64 / 30
    assert chw.shape == (3, 64, 85) and im_shape[1] == np.float32(40 * factor) != 85
    assert reader.pad_batch([chw], 1).shape == (1, 3, 64, 85)  # C4's reader: no padding
    assert pretrained.SUITE_RECIPE["retinanet_r50_fpn"]["resize"] == "cv2_linear"


def test_fpn_proposals_keep_each_pictures_best_over_all_levels():
    rng = np.random.default_rng(1)
    feats = [paddle.zeros([2, 8, s, s]) for s in (16, 8, 4, 2, 1)]
    rpn = RPN(8, [4, 8, 16, 32, 64], [32, 64, 128, 256, 512])
    scores = [paddle.to_tensor(rng.normal(0, 2, (2, 3, s, s)).astype("float32")) for s in (16, 8, 4, 2, 1)]
    deltas = [paddle.to_tensor(rng.normal(0, 0.1, (2, 12, s, s)).astype("float32")) for s in (16, 8, 4, 2, 1)]
    anchors = rpn(feats)[2]
    im_shape = paddle.to_tensor([[64, 64], [48, 64]], "float32")
    every, every_num = rpn.proposals(scores, deltas, anchors, im_shape, False, 1000)
    best, best_num = rpn.proposals(scores, deltas, anchors, im_shape, False, 1000, collect_top_n=20)
    assert best_num.numpy().tolist() == [20, 20] and every_num.numpy().min() > 20
    # the same boxes as each picture's 20 highest-scoring of every level's proposals
    for i in range(2):
        rois, probs = [], []
        for s, d, a in zip(scores, deltas, anchors):
            r, p, n = generate_proposals(s[i:i + 1], d[i:i + 1], im_shape[i:i + 1], a, paddle.ones_like(a), 1000, 1000,
                                         0.7, 0.0, pixel_offset=False, return_rois_num=True)
            rois.append(r.numpy())
            probs.append(p.numpy().ravel())
        rois, probs = np.concatenate(rois), np.concatenate(probs)
        expect = rois[np.argsort(-probs, kind="stable")[:20]]
        np.testing.assert_array_equal(best.numpy()[20 * i:20 * (i + 1)], expect)


def test_boxes_are_clipped_to_the_original_picture_after_rescaling():
    rows = paddle.to_tensor([[0, 0.9, -4, 2, 70, 50], [1, 0.8, 10, 10, 20, 20]], "float32")
    counts = paddle.to_tensor([1, 1], "int32")
    scale = paddle.to_tensor([[2.0, 2.0], [0.5, 0.5]], "float32")
    im_shape = paddle.to_tensor([[40.6, 60.2], [20, 20]], "float32")
    plain = to_original_pixels(rows, counts, scale).numpy()
    clipped = to_original_pixels(rows, counts, scale, im_shape).numpy()
    np.testing.assert_allclose(plain[0, 2:], [-2, 1, 35, 25])
    np.testing.assert_allclose(clipped[0, 2:], [0, 1, 30, 20])  # floor(60.2 / 2 + 0.5), floor(40.6 / 2 + 0.5)
    np.testing.assert_allclose(clipped[1, 2:], [20, 20, 40, 40])


def test_suite_mask_paste_fills_the_pixel_centres_inside_the_box():
    ones = np.ones((28, 28), np.float32)
    got = evaluate.paste_mask_suite(ones, np.float32([2.4, 1.0, 7.6, 4.6]), 8, 10)
    expect = np.zeros((8, 10), np.uint8)
    expect[1:5, 2:8] = 1  # the pixels whose centres (x + 0.5, y + 0.5) lie in the box
    np.testing.assert_array_equal(got, expect)
    half = np.zeros((28, 28), np.float32)
    half[:, 14:] = 1  # the right half of the box: bilinear >= 0.5 from the centre x >= 10 on
    right = evaluate.paste_mask_suite(half, np.float32([0, 0, 20, 10]), 10, 20)
    assert right[:, :10].sum() == 0 and right[:, 10:].all()
    assert evaluate.paste_mask_suite(ones, np.float32([3, 3, 3, 5]), 8, 10).sum() == 0  # an empty box


@pytest.mark.parametrize("name", ["faster_rcnn_r50", "retinanet_r50_fpn"])
def test_use_suite_recipe_switches_the_test_settings(name):
    with paddle.LazyGuard():
        model = build_model(name)
    pretrained.use_suite_recipe(model)
    if name == "retinanet_r50_fpn":
        assert model.suite_post
    else:
        assert (model.test_pre_nms, model.test_proposals, model.collect_top_n) == (6000, 1000, None)
        assert model.nms_normalized and model.clip_original


def test_suite_retinanet_keeps_a_small_levels_anchor_order():
    """Its RetinaHead top-k's only a level of more than 1000 anchors; a smaller one reaches NMS in
    anchor order, which decides between equal scores: two overlapping anchors whose logits differ
    (17, 18) but whose float32 sigmoid scores are both 1.0 keep the first anchor, not the higher logit."""
    with paddle.LazyGuard():
        model = build_model("retinanet_r50_fpn", num_classes=1)
    pretrained.use_suite_recipe(model)
    anchors = paddle.to_tensor([[0, 0, 40, 40], [2, 2, 42, 42]], "float32")
    logits = paddle.to_tensor([[[17.0], [18.0]]])
    rows, counts = model.detect_suite([logits], [paddle.zeros([1, 2, 4])], [anchors],
                                      paddle.to_tensor([[64.0, 64.0]]), paddle.ones([1, 2]))
    assert counts.numpy().tolist() == [1] and rows.numpy()[0, 1] == 1.0
    assert abs(rows.numpy()[0, 2]) < 1 and abs(rows.numpy()[0, 4] - 40) < 1  # the first anchor's box
