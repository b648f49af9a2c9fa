"""The metrics on hand-worked cases, and Recall@k against a line-by-line port of the release's
evaluation.py loop (get_p_at_n_in_m / evaluate_Recall)."""
import math

import numpy as np
import pytest

import metric


def test_recall_by_hand():
    # Group 1: the true response scores 0.5. First 2 = [0.5, 0.9]: best 0.9 > 0.5 -> R1@2 = 0; R1@10 = 0;
    # the 2nd best of 10 is 0.7 > 0.5 -> R2@10 = 0; the 5th best is 0.2 <= 0.5 -> R5@10 = 1.
    # Group 2: the true response ties the best (0.8): a tie counts as found -> 1 everywhere.
    scores = [0.5, 0.9, 0.1, 0.7, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2,
              0.8, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert metric.recall_at(scores) == {"R1@2": 0.5, "R1@10": 0.5, "R2@10": 0.5, "R5@10": 1.0}


def release_recall(scores):
    """The release's loop, transcribed: rows (score, label); per group of 10, sort the first m by score
    descending and count a hit when the n-th one's score <= the true response's."""
    data = [(s, 1 if i % 10 == 0 else 0) for i, s in enumerate(scores)]

    def p_at_n_in_m(n, m, ind):
        curr = sorted(data[ind:ind + m], key=lambda x: x[0], reverse=True)
        return 1 if curr[n - 1][0] <= data[ind][0] else 0
    groups = len(data) // 10
    return {f"R{n}@{m}": sum(p_at_n_in_m(n, m, g * 10) for g in range(groups)) / groups
            for n, m in metric.RECALLS}


def test_recall_equals_the_release_loop():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(500), 1)  # rounded: many ties
    assert metric.recall_at(scores) == release_recall(scores.tolist())


def test_spearman_and_pearson_by_hand():
    # human [5, 6, 7, 8, 7] ranks (ties averaged) [1, 2, 3.5, 5, 3.5]; predicted ranks [1, 2, 3, 4, 5].
    # Deviations from 3: [-2, -1, 0, 1, 2] and [-2, -1, .5, 2, .5]: sum of products 8, squares 10 and 9.5,
    # so Spearman = 8 / sqrt(95) = 0.82078. Pearson on the raw values: human mean 6.6, deviations
    # [-1.6, -.6, .4, 1.4, .4]: products 6.0, squares 10 and 5.2 -> 6 / sqrt(52) = 0.83205.
    result = metric.correlations([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])
    assert result["spearman"] == pytest.approx(8 / math.sqrt(95), abs=1e-12)
    assert result["pearson"] == pytest.approx(6 / math.sqrt(52), abs=1e-12)
    assert metric.correlations([3, 2, 1], [1, 2, 3]) == pytest.approx({"spearman": -1.0, "pearson": -1.0})


def test_a_constant_prediction_has_no_correlation():
    assert all(math.isnan(v) for v in metric.correlations([1, 1, 1], [0, 1, 2]).values())


def test_accuracy_by_hand():
    # predicted match at > 0.5: [yes, no, yes, no] against [1, 1, 0, 0]: right, wrong, wrong, right
    assert metric.accuracy([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0]) == 0.5


def test_baselines_by_hand():
    examples = [([1, 2, 3], [3, 3, 4], 2), ([5], [6, 7], 0)]
    b = metric.baseline_scores(examples)
    assert b["length"].tolist() == [3, 2]
    assert b["overlap"].tolist() == [1, 0]  # distinct response ids in the context: {3}; none
    assert len(b["random"]) == 2
    tied = metric.baseline_scores(examples, break_ties=True)  # a random fraction below the integer step
    assert (np.floor(tied["length"]) == [3, 2]).all() and (np.floor(tied["overlap"]) == [1, 0]).all()


def test_a_constant_score_finds_everything_under_the_release_rule():
    """Why the baselines break ties: every candidate ties with the true response, and a tie counts."""
    assert set(metric.recall_at(np.zeros(20)).values()) == {1.0}
