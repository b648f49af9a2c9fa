"""widerface_eval.py on hand-made cases whose AP is worked out by hand in the comments, and the .mat
files read back in the official structure."""
import numpy as np
import pytest

import widerface_eval as we


def ap(dets, gts, counted=None):
    dets = [np.array(d, dtype=np.float64).reshape(-1, 5) for d in dets]
    gts = [np.array(g, dtype=np.float64).reshape(-1, 4) for g in gts]
    counted = counted or [np.ones(len(g), dtype=bool) for g in gts]
    return we.average_precision(dets, gts, [np.asarray(c, dtype=bool) for c in counted])


A, B = [10, 10, 30, 40], [60, 60, 20, 20]  # x, y, w, h


def test_one_perfect_detection_is_ap_1_and_a_miss_is_0():
    assert ap([[A + [0.9]]], [[A]]) == pytest.approx(1.0)
    assert ap([[B + [0.9]]], [[A]]) == pytest.approx(0.0)


def test_tp_fp_tp_over_two_images():
    # scores 0.9 (image 0, on A: TP), 0.8 (image 0, nowhere: FP), 0.7 (image 1, on B: TP) normalise to
    # 1, 0.5, 0. Thresholds above 0.5: 1 proposal, 1 face: precision 1 at recall 1/2. From 0.5 down to
    # just above 0: 2 proposals, 1 face: 1/2 at 1/2. At 0: 3 proposals, 2 faces: 2/3 at recall 1.
    # Envelope: 1 up to recall 1/2, then 2/3: AP = 1/2 + 1/2 * 2/3.
    result = ap([[A + [0.9], [100, 100, 10, 10, 0.8]], [B + [0.7]]], [[A], [B]])
    assert result == pytest.approx(0.5 + 1 / 3)


def test_a_detection_on_an_ignored_face_is_neither_true_nor_false():
    # A counts, B is ignored (not in gt_list). Detections on both: the one on B is not a proposal, so
    # precision stays 1 and every counted face is found: AP 1. With B counted, only half the faces
    # are found: the curve stops at recall 1/2, AP 1/2.
    dets = [[B + [0.95], A + [0.9]]]
    assert ap(dets, [[A, B]], [[True, False]]) == pytest.approx(1.0)
    assert ap([[A + [0.9]]], [[A, B]], [[True, True]]) == pytest.approx(0.5)


def test_a_second_detection_of_the_same_face_is_a_false_positive():
    # A found twice (scores 1 and 0 after normalisation), B never: precision 1 at recall 1/2 above 0,
    # 1/2 at 0. AP = 1/2 (the envelope is 1 up to recall 1/2).
    assert ap([[A + [0.9], A + [0.5]]], [[A, B]]) == pytest.approx(0.5)
    # a duplicate ranked above a second face's detection: TP, FP, TP -> 1, 1/2, 2/3: as above
    assert ap([[A + [0.9], A + [0.8], B + [0.7]]], [[A, B]]) == pytest.approx(0.5 + 1 / 3)


def test_iou_one_half_counts_with_the_plus_one_pixel_convention():
    # face (0, 0, w 9, h 9) is x2 = 9: 10 x 10 = 100 pixels with +1. A detection of w 4 covers 5 x 10
    # = 50 of them: IoU exactly 0.5, a hit (>= 0.5); w 3 covers 40: IoU 0.4, a miss.
    assert we.overlaps(np.array([[0, 0, 4, 9.0]]), np.array([[0, 0, 9, 9.0]]))[0, 0] == pytest.approx(0.5)
    assert ap([[[0, 0, 4, 9, 0.9]]], [[[0, 0, 9, 9]]]) == pytest.approx(1.0)
    assert ap([[[0, 0, 3, 9, 0.9]]], [[[0, 0, 9, 9]]]) == pytest.approx(0.0)


def test_images_without_faces_add_no_false_positives():
    # the official code skips an image with no face (or no detection) altogether
    assert ap([[A + [0.9]], [B + [0.99]]], [[A], []]) == pytest.approx(1.0)
    # but a missed face still counts in the recall: one of two faces found
    assert ap([[A + [0.9]], []], [[A], [B]]) == pytest.approx(0.5)


def test_equal_scores_are_one_point_of_the_curve():
    # every score equal: one threshold set, precision 1/2 (one of two proposals hits) at recall 1
    assert ap([[A + [0.3], B + [0.3]]], [[A]]) == pytest.approx(0.5)


def test_mat_files_round_trip_in_the_official_structure(tmp_path):
    import scipy.io
    from make_demo_data import subsets, write_mats
    faces = [[10, 10, 40, 50, 0, 0, 0, 0, 0, 0],    # large, clear: easy, medium, hard
             [60, 10, 10, 12, 0, 0, 0, 0, 0, 0],    # small: hard only
             [80, 10, 20, 24, 0, 0, 0, 0, 1, 0],    # medium size, partly occluded: medium, hard
             [5, 70, 30, 30, 0, 0, 0, 1, 2, 0]]     # invalid: in no subset
    assert subsets(faces) == {"easy": [1], "medium": [1, 3], "hard": [1, 2, 3]}
    write_mats(str(tmp_path), [("1--Handshaking", "1_a_1", faces), ("0--Parade", "0_b_2", [])])
    raw = scipy.io.loadmat(str(tmp_path / "wider_medium_val.mat"))
    assert str(raw["event_list"][0][0][0]) == "0--Parade" and str(raw["file_list"][1][0][0][0][0]) == "1_a_1"
    np.testing.assert_array_equal(raw["gt_list"][1][0][0][0].ravel(), [1, 3])
    mats = we.read_mats(str(tmp_path))
    boxes, counted = mats["medium"][("1--Handshaking", "1_a_1")]
    np.testing.assert_array_equal(boxes, np.array(faces, dtype=float)[:, :4])
    assert counted.tolist() == [True, False, True, False]
    assert mats["easy"][("0--Parade", "0_b_2")][0].shape == (0, 4)
    dets = {("1--Handshaking", "1_a_1"): np.array([f[:4] + [0.9] for f in faces[:3]], dtype=float),
            ("0--Parade", "0_b_2"): np.zeros((0, 5))}
    result = we.evaluate_subsets(dets, mats)
    # every counted face found, no false positive: 1 on each subset (the third detection is on a face
    # that easy ignores, so it is not a proposal there)
    assert (result["easy"], result["medium"], result["hard"], result["images"]) == (1.0, 1.0, 1.0, 2)
