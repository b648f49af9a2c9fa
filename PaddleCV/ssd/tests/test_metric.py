"""voc_eval.py on hand-made cases whose AP is worked out by hand in the comments."""
import numpy as np
import pytest

from voc_eval import average_precision, evaluate_detections, pixel_iou


def gt(boxes, labels, difficult=None):
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    return {"boxes": boxes, "labels": np.array(labels, dtype=np.int64),
            "difficult": np.array(difficult if difficult is not None else [False] * len(labels), dtype=bool)}


def dets(*rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


A, B = [10, 10, 49, 49], [60, 60, 99, 99]


def test_tp_fp_tp_gives_the_hand_computed_ap():
    # two images, one object each; ranked: 0.9 hits image 0 (TP), 0.8 misses (FP), 0.7 hits image 1 (TP)
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    # 11-point: t = 0 ... 0.5 -> 1 (6 points), t = 0.6 ... 1 -> 2/3 (5 points): (6 + 10/3) / 11
    # area: recall 0 -> 1/2 at precision 1, 1/2 -> 1 at 2/3: 1/2 + 1/3
    result = evaluate_detections([gt([A], [1]), gt([B], [1])],
                                 [dets([1, 0.9, *A], [1, 0.8, *B]), dets([1, 0.7, *B])], num_classes=1)
    assert result["map_11point"] == pytest.approx((6 + 10 / 3) / 11)
    assert result["map_area"] == pytest.approx(0.5 + 1 / 3)


def test_duplicates_are_false_positives_and_difficult_is_ignored():
    # image 0: an easy A and a difficult B. Detections: A 0.9 (TP), A again 0.8 (FP, duplicate),
    # B 0.95 (matches the difficult box: neither TP nor FP). npos = 1.
    # ranked: [ignored, TP, FP] -> precision 1, 1/2 at recall 1, 1 -> both APs 1
    truth = [gt([A, B], [1, 1], [False, True])]
    result = evaluate_detections(truth, [dets([1, 0.9, *A], [1, 0.8, *A], [1, 0.95, *B])], num_classes=1)
    assert result["map_11point"] == pytest.approx(1.0) and result["map_area"] == pytest.approx(1.0)
    # the same with B not difficult: TP (B), TP (A), FP -> recall 1/2, 1, 1 with precision 1, 1, 2/3
    truth = [gt([A, B], [1, 1])]
    result = evaluate_detections(truth, [dets([1, 0.9, *A], [1, 0.8, *A], [1, 0.95, *B])], num_classes=1)
    assert result["map_area"] == pytest.approx(1.0)
    result = evaluate_detections(truth, [dets([1, 0.99, *A], [1, 0.98, *A], [1, 0.97, *B])], num_classes=1)
    # ranked: A (TP), A (FP), B (TP): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> as the first test
    assert result["map_area"] == pytest.approx(0.5 + 1 / 3)
    # a false positive ranked first: precision 0, 1/2, 2/3 at recall 0, 1/2, 1; the envelope is 2/3
    # everywhere -> area 2/3, and 2/3 at every 11-point t
    result = evaluate_detections(truth, [dets([1, 0.99, 100, 100, 120, 120], [1, 0.98, *A], [1, 0.97, *B])],
                                 num_classes=1)
    assert result["map_area"] == pytest.approx(2 / 3) and result["map_11point"] == pytest.approx(2 / 3)


def test_iou_must_exceed_one_half_in_voc_pixels():
    # [0, 0, 9, 9] is 10x10 = 100 pixels; [0, 0, 4, 9] is 5x10 = 50 inside it: IoU exactly 0.5 -> a miss
    assert pixel_iou(np.array([0, 0, 4, 9.0]), np.array([[0, 0, 9, 9.0]]))[0] == pytest.approx(0.5)
    miss = evaluate_detections([gt([[0, 0, 9, 9]], [1])], [dets([1, 0.9, 0, 0, 4, 9])], num_classes=1)
    hit = evaluate_detections([gt([[0, 0, 9, 9]], [1])], [dets([1, 0.9, 0, 0, 5, 9])], num_classes=1)
    assert miss["map_area"] == 0.0 and hit["map_area"] == pytest.approx(1.0)


def test_classes_are_averaged_and_absent_classes_left_out():
    # class 1 perfect (AP 1); class 2: its only detection is on the wrong image (AP 0); class 3 has no
    # ground truth at all (left out, though it has a detection) -> mAP 0.5
    truth = [gt([A], [1]), gt([B], [2])]
    result = evaluate_detections(truth, [dets([1, 0.9, *A], [2, 0.8, *B]), dets([3, 0.5, *B])], num_classes=3)
    assert result["ap_area"] == {1: pytest.approx(1.0), 2: 0.0}
    assert result["map_area"] == pytest.approx(0.5) and result["map_11point"] == pytest.approx(0.5)


def test_11point_and_area_differ_as_expected():
    # one detection list: recall 1/4 at precision 1, then nothing: 11-point counts t = 0, 0.1, 0.2 -> 3/11;
    # area: 1/4
    recall, precision = np.array([0.25]), np.array([1.0])
    assert average_precision(recall, precision, "11point") == pytest.approx(3 / 11)
    assert average_precision(recall, precision, "area") == pytest.approx(0.25)


def test_the_trivial_detector_boxes_the_whole_picture_with_the_commonest_class():
    from eval import trivial_detections
    records = [dict(gt([[1, 1, 100, 80]], [2]), width=100, height=80), dict(gt([[5, 5, 20, 20]], [2]), width=50, height=50)]
    train_records = [gt([A, B, A], [2, 2, 1]), gt([A], [3])]
    detections, label = trivial_detections(records, train_records)
    assert label == 2 and detections[0].tolist() == [[2, 1.0, 1, 1, 100, 80]]
    # it finds the object that fills picture 0 and misses the small one: precision 1, recall 1/2
    result = evaluate_detections(records, detections, num_classes=3)
    assert result["map_area"] == pytest.approx(0.5) and result["map_11point"] == pytest.approx(6 / 11)
