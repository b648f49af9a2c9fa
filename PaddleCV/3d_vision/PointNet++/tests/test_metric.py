"""The metrics on hand-computed cases."""
import numpy as np
import pytest

from metric import ConfusionMatrix, majority_baseline


def test_accuracy_and_mean_class_accuracy_by_hand():
    # class 0: 3 of 4 right; class 1: 1 of 2 right; class 2: 0 of 1 right; class 3 never labelled
    labels = [0, 0, 0, 0, 1, 1, 2]
    preds = [0, 0, 0, 1, 1, 3, 0]
    r = ConfusionMatrix(4).update(preds, labels).compute()
    assert r["acc"] == pytest.approx(4 / 7)
    assert r["mean_class_acc"] == pytest.approx((3 / 4 + 1 / 2 + 0) / 3)
    # IoU: c0 3/(4+4-3)=3/5, c1 1/(2+2-1)=1/3, c2 0/(1+0)=0, c3 0/(0+1)=0
    assert r["miou"] == pytest.approx((3 / 5 + 1 / 3 + 0 + 0) / 4)
    assert r["samples"] == 7


def test_miou_skips_classes_absent_from_labels_and_predictions():
    r = ConfusionMatrix(5).update(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [1, 0]])).compute()
    assert r["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(r["class_iou"][2:]).all()


def test_majority_baseline():
    majority, r = majority_baseline([2, 2, 1, 0, 2], [0, 1, 2, 2], 3)
    assert majority == 2
    assert r["acc"] == 0.5 and r["mean_class_acc"] == pytest.approx(1 / 3)
