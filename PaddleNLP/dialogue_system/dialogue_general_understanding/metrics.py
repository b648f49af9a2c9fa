"""The metrics of the six tasks, computed as the release's evaluation script (dgu/evaluation.py) does,
and the step from the model's probabilities to each task's prediction (dgu/define_predict_pack.py).

- udc: the score of a candidate is its probability of label 1; over each group of 10 candidates (the
  right one first) R10@k counts a hit when the k-th best score is <= the right one's (ties count as
  hits, as in the release); R2@1 ranks the right response against the group's second candidate.
- atis_intent, swda, mrda: accuracy of the arg-max label.
- atis_slot: the release's "f1_micro" over the reference labels of every word, the prediction cut to the
  reference's length. Each wrong word adds one false positive (of the predicted label) and one false
  negative (of the reference label), so precision = recall = F1 = the share of words labelled right;
  the all-"O" baseline therefore scores high on it.
- dstc2: the predicted state is every slot-value pair with probability >= 0.5 (the most probable one if
  none is); joint accuracy is the share of turns whose predicted state equals the reference exactly.
"""
import numpy as np


def udc_recalls(scores, labels):
    """{r10@1, r10@2, r10@5, r2@1} over consecutive groups of 10 (score, label), the right one first."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if len(scores) % 10:
        raise ValueError(f"{len(scores)} candidates are not groups of 10")
    hits = {"r10@1": 0, "r10@2": 0, "r10@5": 0, "r2@1": 0}
    groups = len(scores) // 10
    for g in range(groups):
        s = scores[g * 10:(g + 1) * 10]
        if labels[g * 10] != 1:
            raise ValueError(f"group {g}: the first candidate is not the right response")
        ranked = np.sort(s)[::-1]
        for k in (1, 2, 5):
            hits[f"r10@{k}"] += ranked[k - 1] <= s[0]
        hits["r2@1"] += np.sort(s[:2])[::-1][0] <= s[0]
    return {k: v / groups for k, v in hits.items()}


def accuracy(predictions, labels):
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def slot_f1(predictions, references):
    """The release's micro F1 over word labels (precision and recall summed over every label)."""
    tp = fp = fn = 0
    for pred, ref in zip(predictions, references):
        for p, r in zip(list(pred)[:len(ref)], ref):
            if p == r:
                tp += 1
            else:
                fp += 1
                fn += 1
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def dstc2_state(probs):
    """The predicted state (sorted label ids) of one turn's probabilities."""
    labels = [int(i) for i in np.flatnonzero(np.asarray(probs) >= 0.5)]
    return labels or [int(np.argmax(probs))]


def joint_accuracy(predicted_states, reference_states):
    return float(np.mean([sorted(set(p)) == sorted(set(r)) for p, r in zip(predicted_states, reference_states)]))
