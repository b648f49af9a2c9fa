"""Accuracy and F1 on hand-computed cases."""
import numpy as np
import pytest

from metric import ClassificationMetric


def test_hand_computed_case():
    m = ClassificationMetric(3)
    m.update(np.array([0, 0, 1, 2, 2, 1]), np.array([0, 1, 1, 2, 0, 1]))
    m.update(np.array([2]), np.array([2]))
    # gold 0: predicted 0, 2; gold 1: 0, 1, 1; gold 2: 2, 2
    assert m.confusion.tolist() == [[1, 0, 1], [1, 2, 0], [0, 0, 2]]
    assert m.accuracy() == pytest.approx(5 / 7)
    precision, recall, f1 = m.per_class()
    assert precision.tolist() == pytest.approx([1 / 2, 1.0, 2 / 3])
    assert recall.tolist() == pytest.approx([1 / 2, 2 / 3, 1.0])
    assert f1.tolist() == pytest.approx([0.5, 0.8, 0.8])
    assert m.summary()["macro_f1"] == pytest.approx(0.7)


def test_binary_case_in_chunks():
    """10 texts, updated in three chunks (as batches arrive): gold 1 1 1 1 0 0 0 0 0 0, predicted
    1 1 1 0 1 1 0 0 0 0. Class 1: tp 3, fp 2, fn 1 -> P 3/5, R 3/4, F1 2/3. Class 0: tp 4, fp 1,
    fn 2 -> P 4/5, R 4/6, F1 8/11. Accuracy 7/10, macro F1 (2/3 + 8/11) / 2."""
    gold = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    predicted = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    m = ClassificationMetric(2)
    for chunk in (slice(0, 3), slice(3, 4), slice(4, 10)):
        m.update(predicted[chunk], gold[chunk])
    assert m.confusion.tolist() == [[4, 2], [1, 3]]
    precision, recall, f1 = m.per_class()
    assert precision.tolist() == pytest.approx([4 / 5, 3 / 5])
    assert recall.tolist() == pytest.approx([4 / 6, 3 / 4])
    assert f1.tolist() == pytest.approx([8 / 11, 2 / 3])
    assert m.summary() == pytest.approx({"acc": 0.7, "macro_f1": (2 / 3 + 8 / 11) / 2})


def test_class_never_predicted_scores_zero():
    m = ClassificationMetric(2)
    m.update(np.array([0, 0]), np.array([0, 1]))
    precision, recall, f1 = m.per_class()
    assert precision.tolist() == [0.5, 0.0] and recall.tolist() == [1.0, 0.0] and f1[1] == 0.0
