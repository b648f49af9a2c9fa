"""mIoU, per-class IoU and pixel accuracy on hand-computed cases, including ignore pixels, and against
a plain per-pixel count written independently of the confusion matrix."""
import numpy as np
import pytest

from metric import ConfusionMatrix


def test_hand_computed_with_ignore():
    label = np.array([[0, 0, 1, 1],
                      [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1],
                     [2, 0, 2, 0]])  # the two ignored pixels must not count, whatever is predicted
    cm = ConfusionMatrix(3)
    cm.update(pred, label)
    r = cm.compute()
    # class 0: tp 1, label 2, pred 2 -> 1/3 ; class 1: tp 2, label 2, pred 3 -> 2/3 ; class 2: tp 1, label 2, pred 1 -> 1/2
    np.testing.assert_allclose(r["class_iou"], [1 / 3, 2 / 3, 1 / 2])
    assert r["miou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert r["pixel_acc"] == pytest.approx(4 / 6)
    np.testing.assert_array_equal(cm.matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])  # rows: label, cols: pred


def test_absent_class_is_left_out_of_the_mean():
    cm = ConfusionMatrix(4)
    cm.update(np.array([0, 0, 1]), np.array([0, 1, 1]))
    r = cm.compute()
    assert np.isnan(r["class_iou"][2]) and np.isnan(r["class_iou"][3])
    assert r["miou"] == pytest.approx((1 / 2 + 1 / 2) / 2)


def reference_iou(pred, label, num_classes, ignore=255):
    """IoU per class by counting pixels one by one: |pred=c and label=c| / |pred=c or label=c|."""
    inter, union = [0] * num_classes, [0] * num_classes
    for p, l in zip(pred.ravel().tolist(), label.ravel().tolist()):
        if l == ignore:
            continue
        if p == l:
            inter[l] += 1
            union[l] += 1
        else:
            union[l] += 1
            union[p] += 1
    return np.array([i / u if u else np.nan for i, u in zip(inter, union)])


def test_accumulates_over_batches_like_one_batch_and_agrees_with_a_pixel_count():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 5, size=(6, 20, 30))
    label[rng.random(label.shape) < 0.1] = 255
    pred = np.where(rng.random(label.shape) < 0.6, label % 5, rng.integers(0, 5, size=label.shape))
    batched = ConfusionMatrix(5)
    for p, l in zip(pred, label):
        batched.update(p, l)
    whole = ConfusionMatrix(5)
    whole.update(pred, label)
    np.testing.assert_array_equal(batched.matrix, whole.matrix)
    keep = label != 255
    assert batched.matrix.sum() == keep.sum()
    ref = reference_iou(pred, label, 5)
    np.testing.assert_allclose(batched.compute()["class_iou"], ref)
    assert batched.compute()["miou"] == pytest.approx(ref.mean())
    assert batched.compute()["pixel_acc"] == pytest.approx((pred[keep] == label[keep]).mean())
