"""Response-selection metrics, computed as the release's evaluation.py does, over groups of 10
consecutive candidates (score, label) per context.

Ubuntu (evaluate_ubuntu): the true response is the FIRST line of each group. R_m@n ("n_in_m"):
among the first m candidates of the group, sorted by score, the n-th best scores no higher than
the true one (so ties count for the true response, as in the script). Reported: R2@1 (the true
response and the first false one), R10@1, R10@2, R10@5.

Douban (evaluate_douban): a group may hold several true responses, anywhere. Candidates are sorted
by score (a stable sort: ties keep file order); MAP (mean over groups of the average precision at
each true response), MRR (1 / rank of the first true one), P@1 (is the top one true), R10@k (the
share of the group's true responses in the top k). Groups with no true response are skipped, as
the original DAM douban evaluation does (the release's script would divide by zero on them); the
count of groups scored is returned too.
"""
import numpy as np

GROUP = 10


def _groups(scores, labels):
    scores, labels = np.asarray(scores, dtype="float64"), np.asarray(labels, dtype="int64")
    if len(scores) != len(labels) or len(scores) % GROUP:
        raise ValueError(f"{len(scores)} scores for {len(labels)} labels; need groups of {GROUP}")
    return scores.reshape(-1, GROUP), labels.reshape(-1, GROUP)


def recall_n_in_m(group_scores, n, m):
    """1 when the n-th best of the first m candidates scores <= the first (true) candidate."""
    top = sorted(group_scores[:m], reverse=True)
    return 1.0 if top[n - 1] <= group_scores[0] else 0.0


def ubuntu_metrics(scores, labels):
    s, y = _groups(scores, labels)
    if not (y[:, 0] == 1).all():
        bad = int(np.argmin(y[:, 0] == 1))
        raise ValueError(f"group {bad + 1}: the Ubuntu evaluation needs the true response first in each group")
    result = {name: float(np.mean([recall_n_in_m(g, n, m) for g in s]))
              for name, n, m in (("R2@1", 1, 2), ("R10@1", 1, 10), ("R10@2", 2, 10), ("R10@5", 5, 10))}
    return {**result, "groups": len(s)}


def douban_group(group_scores, group_labels):
    """(MAP, MRR, P@1, R10@1, R10@2, R10@5) of one group with at least one true response."""
    order = sorted(range(len(group_scores)), key=lambda i: group_scores[i], reverse=True)
    ranked = [int(group_labels[i]) for i in order]
    hits, precision_sum = 0, 0.0
    for rank, label in enumerate(ranked, 1):
        if label == 1:
            hits += 1
            precision_sum += hits / rank
    positives = ranked.count(1)
    return (precision_sum / positives, 1.0 / (ranked.index(1) + 1), float(ranked[0] == 1),
            *(ranked[:k].count(1) / positives for k in (1, 2, 5)))


def douban_metrics(scores, labels):
    s, y = _groups(scores, labels)
    rows = [douban_group(gs, gl) for gs, gl in zip(s, y) if gl.sum() > 0]
    if not rows:
        raise ValueError("no group has a true response")
    means = np.mean(rows, axis=0)
    return {**dict(zip(("MAP", "MRR", "P@1", "R10@1", "R10@2", "R10@5"), map(float, means))),
            "groups": len(rows), "skipped_groups": len(s) - len(rows)}


METRICS = {"ubuntu": ubuntu_metrics, "douban": douban_metrics}
MAIN = {"ubuntu": "R10@1", "douban": "MAP"}  # selects best.pdparams on dev


def compute(dataset, scores, labels):
    return METRICS[dataset](scores, labels)


def format_metrics(result):
    return " ".join(f"{k}={v:.4f}" for k, v in result.items() if isinstance(v, float))


def word_overlap(context_last, response):
    """The baseline: words shared by the last utterance and the response, over the response's words."""
    last, words = set(context_last.split()), response.split()
    return sum(w in last for w in words) / max(1, len(words))
