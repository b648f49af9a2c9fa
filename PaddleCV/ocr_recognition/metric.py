"""Sequence error rate (the release's metric: a line is wrong unless every character is right) and
character error rate (edit distance / reference length), from counts that sum over batches and ranks."""
import numpy as np


def edit_distance(a, b):
    """Levenshtein distance between two sequences (insertions, deletions, substitutions cost 1)."""
    a, b = list(a), list(b)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


def error_counts(references, hypotheses):
    """[wrong lines, lines, character edits, reference characters]."""
    counts = np.zeros(4, dtype=np.float64)
    for ref, hyp in zip(references, hypotheses):
        ref, hyp = list(ref), list(hyp)
        counts += (ref != hyp, 1, edit_distance(ref, hyp), len(ref))
    return counts


def rates(counts):
    return {"seq_err": counts[0] / max(counts[1], 1), "cer": counts[2] / max(counts[3], 1)}
