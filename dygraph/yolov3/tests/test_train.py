"""Anchor assignment and NMS checked on hand-made cases, COCO-json errors, and learning on the demo shapes."""
import json

import numpy as np
import paddle
import pytest

import train

# nine square anchors (pixels at a 128-px input), small to large: masks [6,7,8] / [3,4,5] / [0,1,2] at stride 32 / 16 / 8
ANCHORS = [(4, 4), (8, 8), (12, 12), (16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (96, 96)]


def slots_trained_on_xy(box, scale):
    """(anchor, row, col) where yolo_loss puts a tx gradient for one box: the slots it assigned the box to."""
    grid = 128 // train.STRIDES[scale]
    x = paddle.zeros([1, 3 * (5 + 2), grid, grid])
    x.stop_gradient = False
    gt = np.zeros((1, 4, 4), "float32")  # one box and three all-zero padding rows, which the loss must skip
    gt[0, 0] = box
    loss = paddle.vision.ops.yolo_loss(x, paddle.to_tensor(gt), paddle.zeros([1, 4], "int32"), [v for a in ANCHORS for v in a],
                                       train.ANCHOR_MASKS[scale], 2, 0.7, train.STRIDES[scale], use_label_smooth=False)
    loss.sum().backward()
    tx_grad = x.grad.numpy().reshape(3, 7, grid, grid)[:, 0]
    return [tuple(int(v) for v in s) for s in np.argwhere(tx_grad != 0)]


@pytest.mark.parametrize("box, want", [
    ((0.6, 0.3, 30 / 128, 30 / 128), (1, 2, 2, 4)),    # 30x30 px: best anchor 32x32 (no. 5) -> stride 16, third anchor; 8x8 grid cell (2, 4)
    ((0.1, 0.9, 100 / 128, 90 / 128), (0, 2, 3, 0)),   # 100x90 px: 96x96 (no. 8) -> stride 32, third anchor; 4x4 cell (3, 0)
    ((0.5, 0.5, 6 / 128, 6 / 128), (2, 1, 8, 8)),      # 6x6 px: IoU 36/64 with 8x8 beats 16/36 with 4x4 -> stride 8, 16x16 cell (8, 8)
    ((0.99, 0.01, 20 / 128, 60 / 128), (1, 2, 0, 7)),  # 20x60 px: 32x32 (IoU 640/1584 = 0.40) beats 48x48 (960/2544 = 0.38)
])
def test_anchor_assignment_by_hand_and_in_yolo_loss(box, want):
    assert train.assign_anchor(box, ANCHORS, 128) == want
    scale, anchor, row, col = want
    for s in range(3):  # the loss op trains exactly that slot on the box, and no slot of the other two maps
        assert slots_trained_on_xy(box, s) == ([(anchor, row, col)] if s == scale else [])


def test_nms_on_hand_made_boxes():
    boxes = np.array([[0, 0, 10, 10],    # A class 0, 0.9: kept
                      [1, 1, 11, 11],    # B class 0, 0.8: IoU 81/119 = 0.68 with A -> dropped
                      [0, 0, 10, 10],    # C class 1, 0.7: same place as A but another class -> kept
                      [20, 20, 30, 30],  # D class 0, 0.6: no overlap -> kept
                      [5, 0, 15, 10]],   # E class 0, 0.5: IoU 50/150 = 0.33 with A -> kept at 0.45, dropped at 0.3
                     "float32")
    scores = np.zeros((5, 2), "float32")
    scores[[0, 1, 2, 3, 4], [0, 0, 1, 0, 0]] = [0.9, 0.8, 0.7, 0.6, 0.5]

    def run(thresh, top_k=100):
        return [(b.tolist(), round(s, 2), k) for b, s, k in train.nms_per_class(boxes, scores, 0.01, thresh, top_k)]
    a, c, d, e = ([0, 0, 10, 10], 0.9, 0), ([0, 0, 10, 10], 0.7, 1), ([20, 20, 30, 30], 0.6, 0), ([5, 0, 15, 10], 0.5, 0)
    assert run(0.45) == [a, c, d, e]
    assert run(0.3) == [a, c, d]
    assert run(0.45, top_k=2) == [a, c]
    assert train.nms_per_class(boxes, scores * 0, 0.01, 0.45, 100) == []


def test_voc_ap_by_hand():
    gts = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]], "float32"), np.array([0, 0]))]
    dets = [[(np.array([0, 0, 10, 10]), 0.9, 0), (np.array([50, 50, 60, 60]), 0.8, 0),  # hit, miss
             (np.array([1, 0, 10, 10]), 0.75, 0), (np.array([20, 21, 30, 30]), 0.7, 0)]]  # duplicate of the first (miss), hit
    # precision 1 up to recall 0.5, then 2/4 at recall 1: AP = 0.5 * 1 + 0.5 * 0.5
    assert train.voc_map(dets, gts, 1) == pytest.approx(0.75)


def test_bad_coco_json_is_one_line_error(tmp_path):
    path = tmp_path / "instances_train2017.json"
    path.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(SystemExit, match=r"instances_train2017.json:2: Expecting value"):
        train.load_coco(str(path), str(tmp_path))
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}],
                                "annotations": [{"image_id": 1, "category_id": 1}], "categories": [{"id": 1}]}))
    with pytest.raises(SystemExit, match=r"annotations\[0\]: bad or missing field 'bbox'"):
        train.load_coco(str(path), str(tmp_path))
    with pytest.raises(SystemExit, match=r"nothere.json: No such file"):
        train.load_coco(str(tmp_path / "nothere.json"), str(tmp_path))


def test_crowd_boxes_dropped_and_empty_images_kept(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"")
    path = tmp_path / "instances_val2017.json"
    path.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 50}, {"id": 8, "file_name": "b.jpg", "width": 10, "height": 10}],
        "annotations": [{"image_id": 7, "category_id": 90, "bbox": [10, 5, 20, 30], "iscrowd": 0},
                        {"image_id": 7, "category_id": 3, "bbox": [0, 0, 50, 50], "iscrowd": 1}],
        "categories": [{"id": 3}, {"id": 90}]}))
    items, cat_ids = train.load_coco(str(path), str(tmp_path))
    assert cat_ids == [3, 90] and len(items) == 2
    assert items[0][3].tolist() == [[10, 5, 30, 35]] and items[0][4].tolist() == [1]
    assert items[1][3].shape == (0, 4)


@pytest.mark.slow  # 200 steps at 96 px: about 30 s of CPU, too much for the quick tier
def test_learns_demo_shapes(tmp_path):
    m = train.main(["--img_size", "96", "--max_steps", "200", "--log_interval", "50", "--output_dir", str(tmp_path)])
    assert m["map50"] > m["baseline_map50"] + 0.1, m
    assert (tmp_path / "model.pdparams").exists()
