"""Accuracy and F1 on hand-computed cases, and agreement with scikit-learn."""
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


def test_agrees_with_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    predictions[:5] = 1  # class 1 always predicted at least once
    m = ClassificationMetric(3)
    for chunk in np.array_split(np.arange(500), 7):
        m.update(predictions[chunk], labels[chunk])
    assert m.accuracy() == pytest.approx(sklearn_metrics.accuracy_score(labels, predictions))
    assert m.summary()["macro_f1"] == pytest.approx(sklearn_metrics.f1_score(labels, predictions, average="macro"))


def test_class_never_predicted_scores_zero():
    m = ClassificationMetric(2)
    m.update(np.array([0, 0]), np.array([0, 1]))
    precision, recall, f1 = m.per_class()
    assert precision.tolist() == [0.5, 0.0] and recall.tolist() == [1.0, 0.0] and f1[1] == 0.0
