"""The KITTI reader on the demo data, and every kind of bad input it must name."""
import os
import shutil

import numpy as np
import pytest

import geometry
import reader
import utils
from make_demo_data import make_demo_data


def copy_of(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    return root


def test_reader_parses_the_demo_layout(demo):
    split = reader.KittiSplit(demo, "train")
    assert [r["id"] for r in split.frames] == [f"{i:06d}" for i in range(6)]
    record = split.frames[0]
    assert record["size"] == (1242, 375)
    assert record["calib"].P2.shape == (3, 4) and record["calib"].V2C.shape == (3, 4)
    points = split.points(record)
    assert points.shape[1] == 4 and len(points) > 500
    assert (points[:, 2] > 0).all() and (np.abs(points[:, 0]) <= 40).all()
    cars = split.cars(record)
    assert cars.shape[1] == 7 and len(cars) >= 1
    # every labelled car holds some of the frame's points (the demo drops cars hidden from the sensor)
    assert (geometry.points_in_boxes(points, cars).sum(1) >= 3).all()
    labels = record["labels"]
    assert all(len(o["bbox"]) == 4 for o in labels) and {o["type"] for o in labels} <= {"Car", "Van", "DontCare"}


def test_lidar_and_camera_frames_round_trip(demo):
    calib = reader.Calibration(reader.frame_path(demo, "calib", "000000"))
    raw = reader.read_velodyne(reader.frame_path(demo, "velodyne", "000000"))[:100]
    back = calib.rect_to_lidar(calib.lidar_to_rect(raw))
    assert np.abs(back - raw[:, :3]).max() < 1e-3


def test_demo_data_is_deterministic(tmp_path):
    a = make_demo_data(str(tmp_path / "a"), 2, 1, 0, seed=3)
    b = make_demo_data(str(tmp_path / "b"), 2, 1, 0, seed=3)
    for name in ("velodyne/000001.bin", "label_2/000002.txt"):
        with open(os.path.join(a, "training", name), "rb") as f, open(os.path.join(b, "training", name), "rb") as g:
            assert f.read() == g.read()


def test_samples_have_a_fixed_point_count_and_padded_boxes(demo):
    split = reader.KittiSplit(demo, "train")
    points, boxes, count, index = reader.FrameDataset(split, 256)[1]
    assert points.shape == (256, 3) and boxes.shape == (reader.MAX_BOXES, 7) and index == 1
    assert count == len(split.cars(split.frames[1])) and not boxes[count:].any()
    again = reader.FrameDataset(split, 256)[1][0]
    assert np.array_equal(points, again)  # eval samples the same points every time


def test_augmentation_keeps_points_in_their_boxes(demo):
    split = reader.KittiSplit(demo, "train")
    record = split.frames[0]
    points, boxes = split.points(record)[:, :3], split.cars(record)
    before = geometry.points_in_boxes(points, boxes).sum(1)
    for seed in range(6):
        p, b = reader.augment(points, boxes, np.random.default_rng(seed))
        assert np.array_equal(geometry.points_in_boxes(p, b).sum(1), before)


def test_bin_of_the_wrong_size(demo, tmp_path):
    root = copy_of(demo, tmp_path)
    path = reader.frame_path(root, "velodyne", "000002")
    with open(path, "ab") as f:
        f.write(b"\0" * 6)
    size = os.path.getsize(path)
    with pytest.raises(utils.DataError) as e:
        reader.KittiSplit(root, "train")
    assert str(e.value) == f"{path}: {size} bytes is not a multiple of 16 (4 float32 per point)"
    split = reader.KittiSplit(root, "train", skip_bad_samples=True)
    assert len(split.frames) == 5 and len(split.skipped) == 1
    with pytest.raises(utils.DataError, match="not a multiple of 16"):
        reader.read_velodyne(path)


def test_calib_missing_a_matrix(demo, tmp_path):
    root = copy_of(demo, tmp_path)
    path = reader.frame_path(root, "calib", "000001")
    with open(path) as f:
        lines = [line for line in f if not line.startswith("R0_rect")]
    with open(path, "w") as f:
        f.writelines(lines)
    with pytest.raises(utils.DataError) as e:
        reader.KittiSplit(root, "train")
    assert str(e.value) == f"{path}: no R0_rect matrix"
    with open(path, "w") as f:
        f.writelines(lines[:2] + ["R0_rect: 1 0 0 0 1 0\n"] + lines[2:])
    with pytest.raises(utils.DataError) as e:
        reader.Calibration(path)
    assert str(e.value) == f"{path}:3: R0_rect has 6 values, not 9"


def test_label_line_with_the_wrong_field_count(demo, tmp_path):
    root = copy_of(demo, tmp_path)
    path = reader.frame_path(root, "label_2", "000003")
    with open(path) as f:
        lines = f.readlines()
    lines.insert(1, "Car 0.00 0 1.2 10 20 30 40 1.5 1.6 3.9 1.0 1.6\n")
    with open(path, "w") as f:
        f.writelines(lines)
    with pytest.raises(utils.DataError) as e:
        reader.read_labels(path)
    assert str(e.value) == f"{path}:2: 13 fields, a KITTI label line has 15 (or 16 with a score)"
    lines[1] = "Car 0.00 0 1.2 10 20 30 40 1.5 1.6 3.9 1.0 1.6 x 0.1\n"
    with open(path, "w") as f:
        f.writelines(lines)
    with pytest.raises(utils.DataError, match=r":2: fields 2-15 must be numbers"):
        reader.read_labels(path)


def test_split_files_and_missing_frames(demo, tmp_path):
    root = copy_of(demo, tmp_path)
    listing = os.path.join(root, "ImageSets", "val.txt")
    with open(listing, "a") as f:
        f.write("000006\n")
    with pytest.raises(utils.DataError) as e:
        reader.split_ids(root, "val")
    assert str(e.value) == f"{listing}:5: frame 000006 already listed on line 1"
    os.remove(reader.frame_path(root, "image_2", "000000"))
    with pytest.raises(utils.DataError) as e:
        reader.KittiSplit(root, "train")
    assert str(e.value) == f"{reader.frame_path(root, 'image_2', '000000')}: file not found"
