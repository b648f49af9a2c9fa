"""anet_metrics.py on hand-made cases whose values are worked out in the comments (the official ActivityNet
kit's AR-AN / AUC and interpolated-AP computations, the release's soft-NMS)."""
import math

import numpy as np
import pytest

import anet_metrics as M


def test_segment_iou():
    # [0, 10] vs [5, 15]: intersection 5, union 15; vs [20, 30]: 0; vs [2, 4]: 2 / 10
    np.testing.assert_allclose(M.segment_iou((0, 10), [[5, 15], [20, 30], [2, 4]]), [1 / 3, 0, 0.2])


# Two videos, two proposals each (4 in all): the kit's AN scale is then AN = k for k = 1..100, each video
# keeping min(k, 2) of its proposals (ratio = 100 x 2 videos / 4 = 50, fractions k / 2, kept int(2 k / 2)).
#   video a, gt [0, 10]:  (0, 10) score .9 -> tIoU 1;   (0, 5) score .8 -> tIoU .5
#   video b, gt [20, 30]: (25, 30) score .9 -> tIoU .5; (20, 27.8) score .3 -> tIoU .78
# AN = 1: a hits at all 10 thresholds, b only at 0.5 -> recall 1 at 0.5 and 1/2 at the 9 others: AR = 0.55
# AN >= 2: a hits all; b's best is .78 -> hits at 0.5 .. 0.75 (6 thresholds): AR = (6 x 1 + 4 x 1/2) / 10 = 0.8
# AUC = 100 x trapezoid over AN 1..100 / 100 = (0.675 + 98 x 0.8) = 79.075
GT = {"a": [(0, 10, "x")], "b": [(20, 30, "x")]}
PROPOSALS = {"a": [(0, 5, 0.8), (0, 10, 0.9)], "b": [(20, 27.8, 0.3), (25, 30, 0.9)]}


def test_proposal_metrics_hand_case():
    res = M.proposal_metrics(GT, PROPOSALS)
    assert res["an"][0] == pytest.approx(1) and res["an"][-1] == pytest.approx(100)
    assert res["ar@1"] == pytest.approx(0.55)
    assert res["ar_curve"][1] == pytest.approx(0.8) and res["ar@100"] == pytest.approx(0.8)
    assert res["auc"] == pytest.approx(79.075)


def test_proposal_metrics_video_without_proposals_counts_as_missed():
    # a third video with ground truth but no proposal: 3 videos, 4 proposals: ratio 75, fractions 0.75 k,
    # kept int(1.5 k) capped at 2 (1 for k = 1, 2 after), AN = 0.75 k x 4 / 3 = k; positives 3:
    # AR@1 = (2/3 + 9 x 1/3) / 10 = 11/30; AR@100 = (6 x 2/3 + 4 x 1/3) / 10 = 16/30
    res = M.proposal_metrics({**GT, "c": [(0, 4, "x")]}, PROPOSALS)
    assert res["ar@1"] == pytest.approx(11 / 30)
    assert res["ar@100"] == pytest.approx(16 / 30)


def test_interpolated_ap():
    # precision 1, .5, 2/3 at recall .5, .5, 1 -> monotone precision 1, 2/3, 2/3: AP = .5 x 1 + .5 x 2/3
    assert M.interpolated_ap(np.array([1, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])) == pytest.approx(0.5 + 1 / 3)


def test_detection_map_hand_case():
    # class 1: gt v1 [0, 10], v2 [0, 10]; detections v1 (0, 10) .9 (tIoU 1), v1 (0, 10) .8 (the same gt again:
    # a false positive), v2 (0, 6.2) .7 (tIoU .62).
    #   thresholds 0.5, 0.55, 0.6: TP FP TP -> AP = .5 + .5 x 2/3 = 5/6
    #   thresholds 0.65 .. 0.95 (7): TP FP FP -> AP = .5
    #   class 1 mAP over thresholds = (3 x 5/6 + 7 x .5) / 10 = 0.6
    # class 2: gt v1 [20, 30], no detection -> AP 0. A detection of class 3 (no ground truth) counts nowhere.
    gt = {"v1": [(0, 10, 1), (20, 30, 2)], "v2": [(0, 10, 1)]}
    dets = {"v1": [(0, 10, 1, 0.9), (0, 10, 1, 0.8), (20, 30, 3, 0.99)], "v2": [(0, 6.2, 1, 0.7)],
            "v9": [(0, 10, 1, 1.0)]}  # a video outside the ground truth is ignored
    res = M.detection_map(gt, dets)
    np.testing.assert_allclose(res["ap"][1], [5 / 6] * 3 + [0.5] * 7)
    assert res["ap"][2] == [0.0] * 10
    assert res["map"] == pytest.approx(0.3)
    assert res["map@0.5"] == pytest.approx(5 / 12)
    assert res["map@0.95"] == pytest.approx(0.25)


def test_detection_in_a_video_without_that_ground_truth_is_false_positive():
    # v1 has class 1; the best detection sits in v2 (no ground truth there): FP then TP ->
    # precision 0, 1/2 at recall 0, 1 -> AP = 1 x 1/2
    res = M.detection_map({"v1": [(0, 10, 1)], "v2": [(0, 5, 2)]},
                          {"v2": [(0, 10, 1, 0.9)], "v1": [(0, 10, 1, 0.5)]})
    assert res["ap"][1] == pytest.approx([0.5] * 10)


def test_soft_nms_release_rule():
    # A (0, .5) .9 is kept first. B (0, .4): tIoU with A .4 / .5 = .8 > t1 + (t2 - t1) x width(A) = .7 ->
    # .8 x exp(-.64 / .4). C (.6, 1): no overlap, keeps .7 and comes before B.
    out = M.soft_nms([(0, 0.4, 0.8), (0.6, 1.0, 0.7), (0, 0.5, 0.9)], alpha=0.4, t1=0.5, t2=0.9)
    assert [o[:2] for o in out] == [(0, 0.5), (0.6, 1.0), (0, 0.4)]
    assert out[2][2] == pytest.approx(0.8 * math.exp(-1.6))
    # with a wider A the threshold rises above .8 and B is left alone: A (0, 1), B (0, .8): tIoU .8 < .9
    out = M.soft_nms([(0, 1.0, 0.9), (0, 0.8, 0.8)], alpha=0.4, t1=0.5, t2=0.9)
    assert out[1][2] == pytest.approx(0.8)
    assert len(M.soft_nms([(i / 200, i / 200 + 0.1, 1 - i / 200) for i in range(150)], top_k=100)) == 100


def test_nms_and_gaussian_soft_nms():
    segs = [[0, 10], [1, 10], [20, 30]]  # tIoU of the second with the first .9
    assert M.nms(segs, [0.9, 0.8, 0.5], 0.5) == [0, 2]
    # the second decays to .8 x exp(-.81) = .356, below the third's .5, which is kept before it
    kept, scores = M.gaussian_soft_nms(segs, [0.9, 0.8, 0.5], sigma=1.0, threshold=0.001)
    assert kept.tolist() == [[0, 10], [20, 30], [1, 10]]
    np.testing.assert_allclose(scores, [0.9, 0.5, 0.8 * math.exp(-0.81)])
    # a threshold above the decayed score drops it
    kept, scores = M.gaussian_soft_nms(segs, [0.9, 0.8, 0.5], sigma=1.0, threshold=0.4)
    assert kept.tolist() == [[0, 10], [20, 30]]
