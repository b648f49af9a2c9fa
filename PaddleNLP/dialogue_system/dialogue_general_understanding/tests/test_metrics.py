"""The metrics on hand-made cases, with the expected figures worked out in the comments."""
import numpy as np
import pytest

import metrics


def test_udc_recalls_on_two_groups():
    # group 1: the right response (first) scores 0.6; two wrong ones score higher (0.9, 0.7), one ties
    # at 0.6, the rest lower. Ranked: 0.9, 0.7, 0.6, 0.6, ... -> R10@1 miss (0.9 > 0.6), R10@2 miss
    # (0.7 > 0.6), R10@5 hit (5th best is <= 0.6); R2@1 compares with the second candidate (0.9): miss.
    g1 = [0.6, 0.9, 0.7, 0.6, 0.1, 0.2, 0.3, 0.1, 0.0, 0.05]
    # group 2: the right one is best -> a hit everywhere.
    g2 = [0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.1, 0.1, 0.1, 0.1]
    labels = [1] + [0] * 9
    r = metrics.udc_recalls(g1 + g2, labels * 2)
    assert r == {"r10@1": 0.5, "r10@2": 0.5, "r10@5": 1.0, "r2@1": 0.5}
    # ties count as hits, as in the release (`curr[n-1][0] <= pos_score`): all equal -> all hits
    assert metrics.udc_recalls([0.5] * 10, labels)["r10@1"] == 1.0
    with pytest.raises(ValueError):
        metrics.udc_recalls([0.5] * 9, labels[:9])


def test_accuracy():
    assert metrics.accuracy([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5


def test_slot_f1_is_the_release_micro_f1():
    # words: ref [0 1 2] / pred [0 1 1] -> tp 2, one error (fp 1 of label 1, fn 1 of label 2);
    # ref [3 0] / pred [3 0 5] (cut to 2) -> tp 2. P = 4/5, R = 4/5, F1 = 0.8
    assert metrics.slot_f1([[0, 1, 1], [3, 0, 5]], [[0, 1, 2], [3, 0]]) == pytest.approx(0.8)
    assert metrics.slot_f1([[1]], [[2]]) == 0.0


def test_dstc2_state_and_joint_accuracy():
    assert metrics.dstc2_state(np.array([0.1, 0.7, 0.5, 0.2])) == [1, 2]   # >= 0.5 kept
    assert metrics.dstc2_state(np.array([0.1, 0.3, 0.2])) == [1]           # none: the most probable
    # turn 1 equal as sets (order and duplicates do not matter), turn 2 misses one pair, turn 3 equal
    assert metrics.joint_accuracy([[2, 1], [1], [4]], [[1, 2, 2], [1, 3], [4]]) == pytest.approx(2 / 3)
