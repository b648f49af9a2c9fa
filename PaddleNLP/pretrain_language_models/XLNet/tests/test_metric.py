"""The metrics on hand-computed cases: Pearson, Spearman (via scipy) and accuracy."""
import numpy as np
import pytest

from eval import regression_metrics, task_metrics


def test_pearson_and_spearman_by_hand():
    pred, gold = [1.0, 2.0, 3.0, 5.0], [2.0, 1.0, 4.0, 3.0]
    # means 2.75, 2.5; deviations (-1.75,-.75,.25,2.25), (-.5,-1.5,1.5,.5): products sum to 3.5; squares 8.75, 5
    m = regression_metrics(pred, gold)
    assert m["pearson"] == pytest.approx(3.5 / np.sqrt(8.75 * 5.0))
    assert m["spearman"] == pytest.approx(1 - 6 * (1 + 1 + 1 + 1) / (4 * 15))  # ranks 1234 vs 2143: 0.6
    assert m["mse"] == pytest.approx((1 + 1 + 1 + 4) / 4)


def test_constant_prediction_scores_zero_and_accuracy():
    m = regression_metrics([2.0] * 4, [1.0, 2.0, 3.0, 4.0])
    assert (m["pearson"], m["spearman"], m["mse"]) == (0.0, 0.0, pytest.approx(1.5))
    assert task_metrics("imdb", np.array([[0.1, 0.9], [2.0, 1.0], [0.0, 3.0]]), np.array([1, 1, 1]))["acc"] == pytest.approx(2 / 3)
