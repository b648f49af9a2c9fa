"""The readers of both layouts, their bad-input messages, and the training pairs."""
import os
import shutil

import numpy as np
import pytest

import reader
import utils


def copy_of(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    return root


def test_both_layouts_parse(demo):
    train, _ = reader.load_sequences(os.path.join(demo, "got10k"), "train")
    assert len(train) == 3 and all(len(s) == 12 and s.boxes.shape == (12, 4) for s in train)
    assert os.path.basename(train[0].frames[0]) == "00000001.jpg"
    test, _ = reader.load_sequences(os.path.join(demo, "vot2018"), "test")
    assert [s.polygons is not None for s in test] == [True, False]  # 8-value polygons, then 4-value boxes
    assert "/color/" in test[0].frames[0] and "/color/" not in test[1].frames[0]
    x, y, w, h = test[0].boxes[0]  # the demo's polygons are upright rectangles: the same box back
    np.testing.assert_allclose(test[0].polygons[0], [x, y, x + w, y, x + w, y + h, x, y + h], atol=1e-9)


def test_rotated_polygon_keeps_centre_and_area():
    c, s = np.cos(0.5), np.sin(0.5)
    corners = np.array([[-20, -10], [20, -10], [20, 10], [-20, 10]]) @ np.array([[c, s], [-s, c]]) + [50, 40]
    box = reader.polygon_to_box(corners.reshape(-1))
    assert box[0] + box[2] / 2 == pytest.approx(50) and box[1] + box[3] / 2 == pytest.approx(40)
    assert box[2] * box[3] == pytest.approx(40 * 20)


def test_bad_groundtruth_names_file_and_line(demo, tmp_path):
    root = copy_of(demo, tmp_path)
    gt = os.path.join(root, "got10k", "train", "GOT-10k_Train_000002", "groundtruth.txt")
    lines = open(gt).read().splitlines()
    lines[6] = "1,2,3"
    open(gt, "w").write("\n".join(lines) + "\n")
    with pytest.raises(utils.DataError) as e:
        reader.load_sequences(os.path.join(root, "got10k"), "train")
    assert str(e.value) == f"{gt}:7: expected 4 values (x,y,w,h) or 8 (polygon), got 3"
    lines[6] = "1,2,x,4"
    open(gt, "w").write("\n".join(lines) + "\n")
    with pytest.raises(utils.DataError, match=r":7: not a number in '1,2,x,4'"):
        reader.load_sequences(os.path.join(root, "got10k"), "train")
    sequences, skipped = reader.load_sequences(os.path.join(root, "got10k"), "train", skip_bad=True)
    assert (len(sequences), skipped) == (2, 1)


def test_missing_frame_is_named(demo, tmp_path):
    root = copy_of(demo, tmp_path)
    seq = os.path.join(root, "vot2018", "demo_000001")
    os.remove(os.path.join(seq, "color", "00000005.jpg"))
    with pytest.raises(utils.DataError) as e:
        reader.load_sequences(os.path.join(root, "vot2018"), "test")
    assert str(e.value) == f"{seq}/groundtruth.txt:5: frame {seq}/color/00000005.jpg not found"
    shutil.copy(os.path.join(seq, "color", "00000004.jpg"), os.path.join(seq, "color", "00000005.jpg"))
    with open(os.path.join(root, "vot2018", "list.txt"), "a") as f:
        f.write("nowhere\n")
    with pytest.raises(utils.DataError, match=r"list.txt:3: sequence folder .*nowhere not found"):
        reader.load_sequences(os.path.join(root, "vot2018"), "test")
    sequences, skipped = reader.load_sequences(os.path.join(root, "vot2018"), "test", skip_bad=True)
    assert (len(sequences), skipped) == (2, 1)


def test_siamfc_labels_are_balanced_and_follow_the_shift():
    label, weight = reader.siamfc_labels(17, 8, np.array([16.0, 0.0]), 16)
    # 16 px right of the crop centre is column 10; cells (stride 8) within 2 cells of (row 8, column 10)
    assert label[8, 8] == 1 and label[8, 12] == 1 and label[8, 7] == 0 and label[8, 13] == 0 and label[6, 10] == 1
    assert label[7, 9] == 1 and label[6, 9] == 0 and label.sum() == 13
    assert weight[label > 0].sum() == pytest.approx(0.5) and weight[label == 0].sum() == pytest.approx(0.5)


def test_pairs_are_repeatable_and_shaped(demo):
    train, _ = reader.load_sequences(os.path.join(demo, "got10k"), "train")
    cfg = {"max_gap": 5, "exemplar_size": 127, "search_size": 255, "score_size": 17, "total_stride": 8,
           "radius": 16, "max_shift": 32, "scale_jitter": 0.05}
    ds = reader.PairDataset(train, "siamfc", 4, seed=3, cfg=cfg)
    z, x, label, weight = ds[1]
    assert z.shape == (3, 127, 127) and x.shape == (3, 255, 255) and label.shape == (17, 17)
    np.testing.assert_array_equal(ds[1][1], x)
    ds.epoch = 1
    assert not np.array_equal(ds[1][1], x)


def test_imagenet_vid_layout(tmp_path):
    """A track per sequence (the frames where it has a box), train_*.txt's union, auto-detection, and
    bad input naming the file: malformed xml, a missing frame."""
    from make_demo_data import make_vid_demo
    root = make_vid_demo(str(tmp_path / "vid"), num_train=2, num_val=1, length=(4, 4), size=48, seed=0)
    train, _ = reader.load_training_sequences(root, "train")  # auto-detected
    assert [(s.name.split("/")[-1], len(s)) for s in train] == [
        ("ILSVRC2015_train_00000000#0", 4), ("ILSVRC2015_train_00000001#0", 4), ("ILSVRC2015_train_00000001#1", 2)]
    assert train[0].frames[0].endswith("Data/VID/train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000/000000.JPEG")
    xml = train[0].frames[0].replace("Data", "Annotations").replace(".JPEG", ".xml")
    text = open(xml).read()
    x1, y1, x2, y2 = (float(text.split(f"<{k}>")[1].split("<")[0]) for k in ("xmin", "ymin", "xmax", "ymax"))
    np.testing.assert_allclose(train[0].boxes[0], [x1, y1, x2 - x1, y2 - y1])
    val, _ = reader.load_training_sequences(root, "val", "vid")
    assert len(val) == 1 and len(val[0]) == 4
    open(xml, "w").write(text.replace("</bndbox>", ""))
    with pytest.raises(utils.DataError, match=f"^{xml}:\\d+: malformed xml"):
        reader.load_training_sequences(root, "train")
    assert len(reader.load_training_sequences(root, "train", skip_bad=True)[0]) == 2
    open(xml, "w").write(text.replace("<xmin>", "<xmin>x"))
    with pytest.raises(utils.DataError, match=f"^{xml}: <object> 1: expected"):
        reader.load_training_sequences(root, "train")
    open(xml, "w").write(text)
    shutil.rmtree(os.path.join(root, "Annotations", "VID", "val"))
    with pytest.raises(utils.DataError, match=r"ImageSets/VID/val\.txt:1: annotation folder .* not found"):
        reader.load_training_sequences(root, "val")
    frame = train[1].frames[2]
    os.remove(frame)
    with pytest.raises(utils.DataError, match=f"frame {frame} not found"):
        reader.load_training_sequences(root, "train", "vid")
