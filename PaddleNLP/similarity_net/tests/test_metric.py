"""The metrics and the losses on hand-computed cases, and AUC against the Mann-Whitney U statistic."""
import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

import paddle

import metric
import train


def exact_auc(scores, labels):
    """ROC AUC = U / (n_pos * n_neg), U the Mann-Whitney statistic of the positives' scores (ties 1/2)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    pos, neg = scores[labels == 1], scores[labels == 0]
    return mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg))


def test_auc_agrees_with_the_mann_whitney_statistic():
    assert exact_auc([0.1, 0.6, 0.3, 0.7], [0, 0, 1, 1]) == pytest.approx(0.75)  # the reference itself
    rng = np.random.default_rng(0)
    for n, noise in ((50, 0.2), (2000, 0.5), (5000, 1.0)):
        labels = rng.integers(0, 2, n)
        scores = 1 / (1 + np.exp(-(labels - 0.5 + rng.normal(0, noise, n))))
        assert metric.auc(scores, labels) == pytest.approx(exact_auc(scores, labels), abs=2e-3)


def test_auc_on_hand_made_cases():
    labels = [0, 0, 1, 1]
    assert metric.auc([0.1, 0.2, 0.8, 0.9], labels) == pytest.approx(1.0)
    assert metric.auc([0.9, 0.8, 0.2, 0.1], labels) == pytest.approx(0.0)
    # positives at 0.3 and 0.7, negatives at 0.1 and 0.6: 3 of the 4 (pos, neg) pairs in order
    assert metric.auc([0.1, 0.6, 0.3, 0.7], labels) == pytest.approx(0.75)


def test_pos_neg_ratio_on_hand_made_cases():
    # query a: similar 0.9 and 0.4, dissimilar 0.5 -> (0.9 > 0.5) in order, (0.4 < 0.5) out of order
    # query b: similar 0.8, dissimilar 0.2 and 0.8 -> one in order, one tie (counts as neither)
    # query c: only similar candidates -> no pair
    groups = ["a", "a", "a", "b", "b", "b", "c", "c"]
    scores = [0.9, 0.4, 0.5, 0.8, 0.2, 0.8, 0.1, 0.2]
    labels = [1, 1, 0, 1, 0, 0, 1, 1]
    assert metric.pos_neg_ratio(groups, scores, labels) == pytest.approx(2 / 1)
    assert metric.pos_neg_ratio(["a", "a"], [0.9, 0.1], [1, 0]) == math.inf
    # pairs are only formed within a query: across groups the order would be wrong
    assert metric.pos_neg_ratio(["a", "a", "b", "b"], [0.3, 0.2, 0.9, 0.8], [1, 0, 1, 0]) == math.inf


def test_accuracy_and_word_overlap():
    # right, right, right, wrong (0.97 is above the threshold but the pair is dissimilar)
    assert metric.accuracy([0.9, 0.96, 0.2, 0.97], [0, 1, 0, 0], threshold=0.958) == 0.75
    assert metric.word_overlap("a b c", "b c d e") == pytest.approx(2 / 5)
    assert metric.word_overlap("a a", "a") == 1.0


class FixedScores(paddle.nn.Layer):
    """Returns preset outputs whatever the input: a model whose loss we can compute by hand."""

    def __init__(self, *outputs):
        super().__init__()
        self.outputs = [paddle.to_tensor(o, dtype="float32") for o in outputs]

    def forward(self, *inputs):
        return self.outputs[0] if len(self.outputs) == 1 else tuple(self.outputs)


def loss_of(model, batch, model_name="bow_pairwise", *flags):
    args = train.get_args(["--model", model_name, *flags])
    return train.compute_loss(model, batch, args).item()


def test_losses_on_hand_made_cases():
    pos, neg = [0.9, 0.2, 0.5], [0.1, 0.3, 0.45]
    # hinge, margin 0.1: max(0, 0.1 - 0.8) = 0, max(0, 0.1 + 0.1) = 0.2, max(0, 0.1 - 0.05) = 0.05
    assert loss_of(FixedScores(pos, neg), [None] * 6) == pytest.approx((0 + 0.2 + 0.05) / 3)
    assert loss_of(FixedScores(pos, neg), [None] * 6, "bow_pairwise", "--margin", "0.5") == pytest.approx((0 + 0.6 + 0.45) / 3)
    expected = np.mean(1 / (1 + np.exp(-(np.array(neg) - np.array(pos)))))
    assert loss_of(FixedScores(pos, neg), [None] * 6, "bow_pairwise", "--loss", "log") == pytest.approx(expected, rel=1e-6)
    # pointwise softmax cross-entropy: -log softmax(logits)[label]
    logits, labels = np.array([[2.0, 0.0], [0.0, 1.0]]), [0, 0]
    expected = np.mean([np.log(1 + np.exp(-2.0)), np.log(1 + np.exp(1.0))])
    batch = [None] * 4 + [paddle.to_tensor(labels)]
    assert loss_of(FixedScores(logits), batch, "bow_pointwise") == pytest.approx(expected, rel=1e-6)


def test_loss_must_fit_the_task_mode():
    with pytest.raises(SystemExit):
        train.get_args(["--model", "bow_pairwise", "--loss", "softmax"])
