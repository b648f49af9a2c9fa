"""The metrics on hand-made groups, worked out by hand in the comments (as the release's
evaluation.py computes them)."""
import numpy as np
import pytest

import metric


def test_ubuntu_metrics_by_hand():
    scores = [
        # A: the true response (first) scores highest: a hit everywhere
        0.9, 0.1, 0.5, 0.3, 0.2, 0.0, 0.4, 0.6, 0.7, 0.8,
        # B: true 0.5; of the first two, 0.6 beats it (R2@1 miss); 0.9, 0.8, 0.7, 0.6 beat it: rank 5,
        # so R10@1 and R10@2 miss and R10@5 hits (the 5th best, 0.5, is <= 0.5)
        0.5, 0.6, 0.9, 0.8, 0.1, 0.2, 0.3, 0.0, 0.4, 0.7,
        # C: all tied: the script counts a tie for the true response, so every figure hits
        *[0.5] * 10,
    ]
    labels = [1] + [0] * 9
    result = metric.ubuntu_metrics(scores, labels * 3)
    # R2@1 = (1 + 0 + 1) / 3, R10@1 = (1 + 0 + 1) / 3, R10@2 = (1 + 0 + 1) / 3, R10@5 = 3 / 3
    assert result == pytest.approx({"R2@1": 2 / 3, "R10@1": 2 / 3, "R10@2": 2 / 3, "R10@5": 1.0, "groups": 3})


def test_ubuntu_needs_the_true_response_first():
    with pytest.raises(ValueError, match="group 2: .* true response first"):
        metric.ubuntu_metrics(np.arange(20.0), [1] + [0] * 9 + [0, 1] + [0] * 8)
    with pytest.raises(ValueError, match="groups of 10"):
        metric.ubuntu_metrics(np.arange(9.0), [1] + [0] * 8)


def test_douban_metrics_by_hand():
    scores = [0.9, 0.8, 0.1, 0.2, 0.7, 0.3, 0.0, 0.4, 0.5, 0.6,
              0.1, 0.2, 0.3, 0.9, 0.0, 0.4, 0.5, 0.6, 0.7, 0.8,
              *np.linspace(0, 1, 10)]
    labels = [0, 1, 0, 0, 1, 0, 0, 0, 0, 0,   # ranked labels 0 1 1 0 ...: AP (1/2 + 2/3) / 2 = 7/12,
              0, 0, 0, 1, 0, 0, 0, 0, 0, 0,   # RR 1/2, P@1 0, R10@1 0/2, R10@2 1/2, R10@5 2/2.
              *[0] * 10]                       # group 2: its one true response on top: all 1.
    result = metric.douban_metrics(scores, labels)  # group 3 has no true response: skipped
    assert result == pytest.approx({"MAP": (7 / 12 + 1) / 2, "MRR": 0.75, "P@1": 0.5, "R10@1": 0.5,
                                    "R10@2": 0.75, "R10@5": 1.0, "groups": 2, "skipped_groups": 1})


def test_douban_ties_keep_file_order():
    # all scores equal: the stable sort keeps file order, the true response at position 3: RR 1/3, AP 1/3
    result = metric.douban_metrics([0.5] * 10, [0, 0, 1] + [0] * 7)
    assert result["MRR"] == pytest.approx(1 / 3) and result["MAP"] == pytest.approx(1 / 3)
    assert result["R10@2"] == 0 and result["R10@5"] == 1


def test_word_overlap_baseline():
    assert metric.word_overlap("how do i fix it ?", "how do i fix vlc") == pytest.approx(4 / 5)
    assert metric.word_overlap("hi", "try vlc") == 0
