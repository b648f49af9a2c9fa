"""ADE's metrics, as the release's evaluation.py computes them.

- Matching (stage 1), over groups of 10 candidates whose first is the true response: R1@2, R1@10,
  R2@10 and R5@10. Rn@m of a group is 1 when the n-th highest score among its first m candidates is
  <= the true response's score, so a tie with the true response counts as found (the release's rule).
  Also the accuracy of `P(match) > 0.5` over every line.
- Scored data (stage 2): the Spearman rank correlation of predicted and human scores. The release
  computes it with pandas `DataFrame.corr('spearman')`, i.e. Pearson's r of the average ranks, which is
  exactly scipy.stats.spearmanr; Pearson's r (scipy.stats.pearsonr) is printed beside it.
- The trivial baselines: the response's length, its word overlap with the context (distinct response
  ids that also occur in the context), and random scores. For Recall@k their ties are broken at random:
  under the release's rule a tie with the true response counts as found, so a constant score would
  reach 1.0 everywhere (a trained model's float scores practically never tie).
"""
import numpy as np
from scipy import stats

RECALLS = ((1, 2), (1, 10), (2, 10), (5, 10))


def recall_at(scores, group=10):
    """{'R1@2': .., 'R1@10': .., 'R2@10': .., 'R5@10': ..} over consecutive groups of `group` scores,
    the true response first in each."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1, group)
    out = {}
    for n, m in RECALLS:
        nth_best = -np.sort(-scores[:, :m], axis=1)[:, n - 1]
        out[f"R{n}@{m}"] = float(np.mean(nth_best <= scores[:, 0]))
    return out


def accuracy(probabilities, labels, threshold=0.5):
    return float(np.mean((np.asarray(probabilities) > threshold) == (np.asarray(labels) > 0.5)))


def correlations(predicted, human):
    """{'spearman': .., 'pearson': ..}; nan when either side is constant."""
    predicted, human = np.asarray(predicted, dtype=np.float64), np.asarray(human, dtype=np.float64)
    if np.ptp(predicted) == 0 or np.ptp(human) == 0:
        return {"spearman": float("nan"), "pearson": float("nan")}
    return {"spearman": float(stats.spearmanr(predicted, human)[0]),
            "pearson": float(stats.pearsonr(predicted, human)[0])}


def match_metrics(probabilities, labels):
    return {**recall_at(probabilities), "acc": accuracy(probabilities, labels)}


def baseline_scores(examples, break_ties=False, seed=0):
    """{'length': .., 'overlap': .., 'random': ..}: one score per (context, response, label) example;
    with break_ties, length and overlap get a random fraction below their integer step."""
    rng = np.random.default_rng(seed)
    jitter = (lambda: 0.5 * rng.random(len(examples))) if break_ties else (lambda: 0.0)
    return {"length": np.array([len(r) for _, r, _ in examples], dtype=np.float64) + jitter(),
            "overlap": np.array([len(set(r) & set(c)) for c, r, _ in examples], dtype=np.float64) + jitter(),
            "random": rng.random(len(examples))}
