"""Rotated IoU and NMS on hand-made boxes and against a brute-force raster, and the KITTI AP on
hand-made cases."""
import numpy as np
import pytest

import geometry
import kitti_eval


def box(x=0.0, z=10.0, w=2.0, l=4.0, ry=0.0, y=1.0, h=1.5):
    return np.array([x, y, z, h, w, l, ry])


def test_bev_iou_on_hand_made_boxes():
    a = box()
    cases = [(box(x=1.0), 6 / 10),                   # shifted along the length by 1 m: 3 x 2 overlap
             (box(ry=np.pi / 2), 4 / 12),            # turned 90 degrees: a 2 x 2 square in common
             (box(ry=np.pi), 1.0),                   # turned 180 degrees: the same footprint
             (box(x=10.0), 0.0),                     # apart
             (box(x=4.0), 0.0)]                      # touching at an edge
    for other, expected in cases:
        assert geometry.iou_bev(a[None], other[None])[0, 0] == pytest.approx(expected, abs=1e-9)
    square = box(w=2.0, l=2.0, ry=np.pi / 4)
    # a 2 x 2 square turned 45 degrees against the same square unturned: overlap 8 (sqrt(2) - 1)
    inter = 8 * (np.sqrt(2) - 1)
    assert geometry.iou_bev(square[None], box(w=2.0, l=2.0)[None])[0, 0] == pytest.approx(inter / (8 - inter))


def test_3d_iou_multiplies_the_height_overlap():
    a, b = box(), box(y=1.0 - 0.75)  # the same footprint, half the height in common
    assert geometry.iou_3d(a[None], b[None])[0, 0] == pytest.approx(0.75 / 2.25)
    assert geometry.iou_3d(a[None], box(y=-1.0)[None])[0, 0] == 0.0


def raster_iou(a, b, step=0.02):
    """Brute force: the share of a fine grid's cells inside both footprints."""
    xs = np.arange(-6, 6, step) + step / 2
    grid = np.stack(np.meshgrid(xs, [0.0], xs + 10), -1).reshape(-1, 3)
    grid[:, 1] = 0.5  # inside the height range
    inside = geometry.points_in_boxes(grid, np.stack([a, b]))
    return (inside[0] & inside[1]).sum() / max((inside[0] | inside[1]).sum(), 1)


def test_bev_iou_agrees_with_a_raster():
    rng = np.random.default_rng(0)
    for _ in range(12):
        a = box(x=rng.uniform(-1, 1), z=10 + rng.uniform(-1, 1), w=rng.uniform(1, 3), l=rng.uniform(2, 5),
                ry=rng.uniform(-np.pi, np.pi))
        b = box(x=rng.uniform(-1, 1), z=10 + rng.uniform(-1, 1), w=rng.uniform(1, 3), l=rng.uniform(2, 5),
                ry=rng.uniform(-np.pi, np.pi))
        got = geometry.iou_bev(a[None], b[None])[0, 0]
        assert got == pytest.approx(raster_iou(a, b), abs=0.01)
        assert geometry.iou_bev(b[None], a[None])[0, 0] == pytest.approx(got, abs=1e-9)


def test_rotated_nms_keeps_the_best_of_each_cluster():
    boxes = np.stack([box(), box(x=0.2), box(ry=np.pi / 2), box(x=8.0), box(x=8.3, ry=0.1)])
    scores = np.array([0.5, 0.9, 0.8, 0.3, 0.4])
    # box 1 (0.9) suppresses box 0 (IoU 0.9) but not the turned box 2 (IoU 0.31); box 4 suppresses box 3
    assert geometry.nms(boxes, scores, 0.5).tolist() == [1, 2, 4]
    assert geometry.nms(boxes, scores, 0.2).tolist() == [1, 4]
    assert geometry.nms(boxes, scores, 0.5, max_keep=2).tolist() == [1, 2]


def test_points_in_boxes_follow_the_heading():
    turned = box(ry=np.pi / 2)  # length now along z
    points = np.array([[0, 0.5, 11.9], [1.9, 0.5, 10], [0, 0.5, 10], [0, 1.2, 10], [0, -0.6, 10]])
    assert geometry.points_in_boxes(points, turned[None])[0].tolist() == [True, False, True, False, False]


def car(x, z, height_px=50.0, occluded=0, truncated=0.0, name="Car"):
    return {"name": name, "box": box(x=x, z=z, w=1.6, l=3.9), "bbox": [100, 100, 150, 100 + height_px],
            "occluded": occluded, "truncated": truncated}


def frames(gt_cars, dt_cars):
    """One frame per car (hand-made cases), detections given as (car, score) or None."""
    gts, dts = [], []
    for g, d in zip(gt_cars, dt_cars):
        gts.append({"name": [g["name"]], "box": g["box"][None], "bbox": np.array([g["bbox"]]),
                    "occluded": [g["occluded"]], "truncated": [g["truncated"]]})
        if d is None:
            dts.append({"name": [], "box": np.zeros((0, 7)), "bbox": np.zeros((0, 4)), "score": np.zeros(0)})
        else:
            c, s = d
            dts.append({"name": ["Car"], "box": c["box"][None], "bbox": np.array([c["bbox"]]), "score": np.array([s])})
    return gts, dts


def test_kitti_ap_perfect_and_missed():
    """50 cars all found: 100. (With exactly 40 the devkit's sampling reaches only recall 39/40: 97.5.)"""
    cars = [car(0, 5 + i) for i in range(50)]
    ap = kitti_eval.average_precision(*frames(cars, [(c, 0.9) for c in cars]))
    assert all(ap[d]["R11"] == pytest.approx(100) and ap[d]["R40"] == pytest.approx(100) for d in ap)
    forty = kitti_eval.average_precision(*frames(cars[:40], [(c, 0.9) for c in cars[:40]]))
    assert forty["easy"]["R40"] == pytest.approx(97.5) and forty["easy"]["R11"] == pytest.approx(1000 / 11)
    shifted = [dict(c, box=c["box"] + [0.8, 0, 0, 0, 0, 0, 0]) for c in cars]  # IoU 0.66 < 0.7
    ap = kitti_eval.average_precision(*frames(cars, [(c, 0.9) for c in shifted]))
    assert ap["moderate"]["R40"] == 0.0


def test_kitti_ap_half_found_and_the_recall_points():
    """20 of 40 cars found, no false positive: precision 1 up to recall 1/2. The devkit's thresholds
    give 20 recall positions: R40 counts positions 1..19 (47.5), R11 positions 0, 4, 8, 12, 16 (5/11)."""
    cars = [car(0, 5 + i) for i in range(40)]
    ap = kitti_eval.average_precision(*frames(cars, [(c, 0.9) if i % 2 else None for i, c in enumerate(cars)]))
    assert ap["easy"]["R40"] == pytest.approx(47.5) and ap["easy"]["R11"] == pytest.approx(500 / 11)
    # one car alone: the devkit's 41-point sampling gives R11 1/11 even when it is found
    one = kitti_eval.average_precision(*frames(cars[:1], [(cars[0], 0.9)]))
    assert one["easy"]["R11"] == pytest.approx(100 / 11) and one["easy"]["R40"] == 0.0


def test_kitti_difficulties_and_ignored_objects():
    """50 easy cars found; 10 more cars only 30 px high (moderate, not easy) missed; a found Van and a
    found car occluded 2 count neither way where they are ignored."""
    easy = [car(0, 5 + i) for i in range(50)]
    low = [car(5, 5 + i, height_px=30) for i in range(10)]
    van = car(-5, 10, name="Van")
    hidden = car(-5, 20, occluded=2)
    gts, dts = frames(easy + low + [van, hidden], [(c, 0.9) for c in easy] + [None] * 10 + [(van, 0.95), (hidden, 0.95)])
    ap = kitti_eval.average_precision(gts, dts)
    assert ap["easy"]["num_gt"] == 50 and ap["moderate"]["num_gt"] == 60 and ap["hard"]["num_gt"] == 61
    assert ap["easy"]["R40"] == pytest.approx(100)  # the Van and the hidden car are not false positives
    assert ap["moderate"]["R40"] < 100 and ap["hard"]["R40"] < ap["easy"]["R40"]
    # a detection lower than 25 px in the image is ignored, not a false positive
    tiny = dict(car(10, 30), bbox=[0, 0, 10, 10])
    gts, dts = frames(easy + [car(10, 30)], [(c, 0.9) for c in easy] + [(tiny, 0.99)])
    gts[-1]["name"] = ["DontCare"]
    assert kitti_eval.average_precision(gts, dts)["moderate"]["R40"] == pytest.approx(100)
