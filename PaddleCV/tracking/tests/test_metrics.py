"""The metrics on hand-made trajectories, with the figures worked out by hand."""
import numpy as np
import pytest

import metrics
import reader


def test_one_pass_success_auc_and_precision():
    gt = np.array([[0, 0, 10, 10]] * 5, dtype=float)
    # frame 0 is the given box (left out); then IoU 1, 0.5 (half the width, same height), 0 (far away)
    # and 1 again; centre errors 0, 2.5, 100, 0
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 5, 10], [100, 0, 10, 10], [0, 0, 10, 10]], float)
    r = metrics.one_pass(pred, gt)
    # success(t) over t = 0, .05, ..., 1: IoU > t for 1, 1, 0.5, 0 -> 3/4 while t < .5 (10 thresholds),
    # 2/4 for t in .5 ... .95 (10 thresholds), 0 at t = 1
    assert r["auc"] == pytest.approx((10 * 0.75 + 10 * 0.5 + 0) / 21)
    assert r["precision20"] == pytest.approx(3 / 4)


class Scripted:
    """A 'tracker' whose prediction for frame f is the ground truth, except listed frames where it is
    far away (a failure), or a half-width box (IoU 0.5)."""

    def __init__(self, gt, lost=(), half=()):
        self.gt, self.lost, self.half = gt, set(lost), set(half)

    def from_frame(self, start):
        for f in range(start + 1, len(self.gt)):
            box = self.gt[f].copy()
            if f in self.lost:
                box[0] += 1000
            elif f in self.half:
                box[2] /= 2
            yield box


def test_vot_reinitialises_five_frames_after_a_failure():
    gt = np.tile([10.0, 10, 20, 20], (40, 1))
    lost = {15, 17, 22}  # fails at 15, re-init at 20 (17 is never tracked), fails at 22, re-init at 27
    overlaps, inits, failures = metrics.run_vot(Scripted(gt, lost).from_frame, 40, gt)
    assert inits == [0, 20, 27] and failures == [15, 22]
    assert np.isnan(overlaps[16:20]).all() and overlaps[15] == 0 and overlaps[22] == 0


def test_vot_accuracy_leaves_out_the_burn_in():
    gt = np.tile([10.0, 10, 20, 20], (30, 1))
    half = set(range(1, 10)) | {12}  # IoU 0.5 at frames 1-9 (burn-in: not counted) and at frame 12
    overlaps, inits, _ = metrics.run_vot(Scripted(gt, half=half).from_frame, 30, gt)
    # counted: frames 10..29 (20 frames), one of them 0.5
    assert metrics.vot_accuracy(overlaps, inits) == pytest.approx((19 + 0.5) / 20)


def test_eao_by_hand():
    # sequence A, 6 frames: fails at frame 3 (overlaps 1, .5, .5, 0), re-init at 8 > length: one fragment
    # sequence B, 4 frames: never fails, overlaps 1, 1, .5, .5
    a = (np.array([1, .5, .5, 0, np.nan, np.nan]), [0], [3])
    b = (np.array([1, 1, .5, .5]), [0], [])
    frags = metrics.eao_fragments(*a, 6) + metrics.eao_fragments(*b, 6)
    np.testing.assert_allclose(frags[0], [1, .5, .5, 0, 0, 0])
    assert np.isnan(frags[1][4:]).all()
    # Phi(2) = mean(mean(1, .5), mean(1, 1)) = .875; Phi(4) = mean(.5, .75) = .625; Phi(5) = A only = .4
    assert metrics.expected_average_overlap(frags, (2, 2)) == pytest.approx(0.875)
    assert metrics.expected_average_overlap(frags, (4, 5)) == pytest.approx((0.625 + 0.4) / 2)
    summary = metrics.vot_summary([a, b], [6, 4])
    assert summary["failures"] == 1 and summary["failures_per_100"] == pytest.approx(10.0)
    assert metrics.eao_interval([4, 6]) == (4, 6)  # 25th/75th percentile of 4 and 6: 4.5 and 5.5, rounded


def test_polygon_overlap_against_hand_computed_areas():
    diamond = [0, -1, 1, 0, 0, 1, -1, 0]  # a square of area 2 turned by 45 degrees
    assert metrics.polygon_overlap([-1, -1, 2, 2], diamond) == pytest.approx(0.5)  # inside its 2x2 bounding box
    assert metrics.polygon_overlap([0, 0, 1, 1], [0, 0, 1, 0, 1, 1, 0, 1]) == pytest.approx(1.0)
    assert metrics.polygon_overlap([5, 5, 1, 1], diamond) == 0.0
    assert metrics.polygon_overlap([0, -1, 1, 2], [0, 0, 2, 2, 2, 0, 0, 2]) == pytest.approx(0.5 / 3.5)  # a bow tie: two triangles


def test_vot_overlaps_use_the_polygons():
    """A tracker that outputs the polygon's same-centre, same-area box: overlap below 1 on a turned target."""
    c, s = np.cos(0.6), np.sin(0.6)
    corners = (np.array([[-20, -10], [20, -10], [20, 10], [-20, 10]]) @ np.array([[c, s], [-s, c]]) + [50, 40]).reshape(-1)
    polygons = np.tile(corners, (4, 1))
    boxes = np.stack([reader.polygon_to_box(p) for p in polygons])
    overlaps, inits, failures = metrics.run_vot(lambda start: iter(boxes[start + 1:]), 4, boxes, polygons=polygons)
    expected = metrics.polygon_overlap(boxes[0], corners)
    assert 0.3 < expected < 0.9 and inits == [0] and failures == []
    np.testing.assert_allclose(overlaps[1:], expected)
