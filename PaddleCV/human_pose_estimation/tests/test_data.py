"""reader.py: parsing the demo data in the COCO keypoints layout, crops and targets, augmentation
(flip swaps left and right), and every kind of bad input stopping with `file: id: what` (or skipped
and counted), checked before the first step."""
import json
import os

import numpy as np
import pytest

import reader
import utils
from conftest import MODEL, TINY, run_train


def test_reader_parses_demo_data(demo):
    split = reader.CocoKeypoints(demo, "train", 0.75)
    with open(split.json_path) as f:
        raw = json.load(f)
    assert split.num_joints == 17 and split.names[5] == "left_shoulder"
    assert split.flip_pairs == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
    assert len(split.people) == sum(1 for a in raw["annotations"] if a["num_keypoints"] > 0)
    ann = raw["annotations"][0]
    person = next(p for p in split.people if p["ann"] == ann["id"])
    kps = np.array(ann["keypoints"]).reshape(-1, 3)
    np.testing.assert_allclose(person["joints"], kps[:, :2], rtol=1e-6)
    np.testing.assert_array_equal(person["visible"], kps[:, 2] > 0)
    x, y, w, h = ann["bbox"]
    np.testing.assert_allclose(person["center"], [x + w / 2, y + h / 2], rtol=1e-5)
    # padded to the 3:4 input and by 1.25
    assert person["size"][0] / person["size"][1] == pytest.approx(0.75) and person["size"][1] >= h * 1.25 - 1e-3


def test_crop_maps_the_box_centre_to_the_crop_centre_and_back():
    m = reader.crop_transform((50.0, 80.0), (40.0, 60.0), 30.0, (48, 64))
    np.testing.assert_allclose(reader.apply(m, np.array([[50.0, 80.0]])), [[24.0, 32.0]])
    point = np.array([[61.0, 70.0]])
    np.testing.assert_allclose(reader.apply(np.linalg.inv(m), reader.apply(m, point)), point, atol=1e-9)
    # 40 px of picture become 48 px of crop, turned by 30 degrees
    d = reader.apply(m, np.array([[60.0, 80.0]])) - [[24.0, 32.0]]
    assert np.hypot(*d[0]) == pytest.approx(12.0) and np.degrees(np.arctan2(-d[0, 1], d[0, 0])) == pytest.approx(30.0)


def test_gaussian_targets_peak_at_the_joint_and_weigh_out_the_unlabelled():
    joints = np.array([[20.0, 12.0], [0.0, 0.0], [500.0, 10.0], [1.0, 1.0]])
    target, weight = reader.gaussian_targets(joints, np.array([1, 0, 1, 1]), (16, 16), 4.0)
    assert target.shape == (4, 16, 16) and weight.shape == (4, 1)
    assert np.unravel_index(target[0].argmax(), target[0].shape) == (3, 5) and target[0].max() == 1.0
    assert target[0, 3, 6] == pytest.approx(np.exp(-1 / 8))  # sigma 2: one pixel away
    assert (target[0, :, 12:] == 0).all() and target[0, 3, 11] > 0  # 3 sigma (6 pixels) around the peak only
    assert weight.ravel().tolist() == [1, 0, 0, 1] and not target[1].any() and not target[2].any()


def test_training_samples_are_repeatable_and_flip_swaps_sides(demo):
    split = reader.CocoKeypoints(demo, "train", 1.0)
    ds = reader.TrainDataset(split, (64, 64), seed=3)
    image, target, weight = ds[2]
    assert image.shape == (3, 64, 64) and target.shape == (17, 16, 16) and weight.shape == (17, 1)
    assert all(np.array_equal(a, b) for a, b in zip(ds[2], (image, target, weight)))
    ds.epoch = 1
    assert not np.array_equal(ds[2][0], image)  # another epoch, another augmentation
    person = split.people[2]
    picture = reader.load_image(person["file"], "")
    crop, joints, visible = ds.transform(picture, person)
    m_crop, m_joints, m_visible = ds.transform(picture, person, flip=True)
    # the mirrored crop is the crop mirrored about its centre line (x -> 64 - x in crop pixels) ...
    np.testing.assert_allclose(np.asarray(m_crop)[:, 1:-1].astype(float), np.asarray(crop)[:, :0:-1][:, :-1].astype(float),
                               atol=40)
    for a, b in split.flip_pairs:  # ... with each left joint where its right joint was, and the other way
        for x, y in ((a, b), (b, a)):
            if visible[y]:
                assert m_visible[x] == 1
                np.testing.assert_allclose(m_joints[x], [64 - joints[y][0], joints[y][1]], atol=1e-6)
    for k in (0,):  # the nose stays the nose
        np.testing.assert_allclose(m_joints[k], [64 - joints[k][0], joints[k][1]], atol=1e-6)


def test_a_target_peaks_where_its_joint_is(demo):
    split = reader.CocoKeypoints(demo, "train", 1.0)
    ds = reader.TrainDataset(split, (64, 64), augment=False)
    person = split.people[0]
    _, joints, visible = ds.transform(reader.load_image(person["file"], ""), person)
    _, target, weight = ds[0]
    checked = 0
    for k in range(17):
        x, y = joints[k] / 4
        if visible[k] and 0 <= x < 15.5 and 0 <= y < 15.5:
            assert np.unravel_index(target[k].argmax(), (16, 16)) == (int(y + 0.5), int(x + 0.5))
            assert weight[k] == 1
            checked += 1
    assert checked >= 5


def copy_with_json(demo, root, split, edit):
    """A dataset root linking to the demo's pictures, with `edit(json dict)` applied to one split's json."""
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    for name in os.listdir(demo):
        if name != "annotations":
            os.makedirs(os.path.join(root, name))
            for picture in os.listdir(os.path.join(demo, name)):
                os.symlink(os.path.join(demo, name, picture), os.path.join(root, name, picture))
    for name in os.listdir(os.path.join(demo, "annotations")):
        with open(os.path.join(demo, "annotations", name)) as f:
            data = json.load(f)
        if name == f"person_keypoints_{split}2017.json":
            data = edit(data) or data
        with open(os.path.join(root, "annotations", name), "w") as f:
            json.dump(data, f, indent=0)
    return os.path.join(root, "annotations", f"person_keypoints_{split}2017.json")


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(keypoints=a["keypoints"][:48]), "48 keypoint values, expected 51 (17 joints x (x, y, visibility))"),
    (lambda a: a.update(keypoints=a["keypoints"] + [1, 2, 2]), "54 keypoint values, expected 51"),
    (lambda a: a["keypoints"].__setitem__(2, 3), "visibility [3.0] is not 0, 1 or 2"),
    (lambda a: a.update(bbox=[5, 5, 0, 10]), "box of width 0 and height 10 has no area"),
    (lambda a: a.update(bbox=[500, 500, 10, 10]), "box [500, 500, 10, 10] lies outside its"),
    (lambda a: a.update(bbox=[1, 2]), "bbox [1, 2] is not [x, y, width, height]"),
])
def test_bad_annotations_name_the_annotation_id(demo, tmp_path, change, message):
    path = copy_with_json(demo, str(tmp_path), "train", lambda d: change(d["annotations"][0]))
    with pytest.raises(utils.DataError) as error:
        reader.CocoKeypoints(str(tmp_path), "train", 1.0)
    with open(path) as f:
        aid = json.load(f)["annotations"][0]["id"]
    assert str(error.value).startswith(f"{path}: annotation id {aid}: {message}")
    full = reader.CocoKeypoints(demo, "train", 1.0)
    split = reader.CocoKeypoints(str(tmp_path), "train", 1.0, skip_bad_samples=True)
    assert len(split.skipped) == 1 and len(split.people) == len(full.people) - 1


def test_unknown_image_id_and_malformed_json(demo, tmp_path):
    copy_with_json(demo, str(tmp_path / "a"), "val", lambda d: d["annotations"][0].update(image_id=999))
    with pytest.raises(utils.DataError, match=r"annotation id \d+: image_id 999 is not in 'images'"):
        reader.CocoKeypoints(str(tmp_path / "a"), "val", 1.0)
    path = copy_with_json(demo, str(tmp_path / "b"), "val", lambda d: None)
    text = open(path).read().splitlines()
    text[3] = text[3] + ",,"
    open(path, "w").write("\n".join(text))
    with pytest.raises(utils.DataError) as error:
        reader.CocoKeypoints(str(tmp_path / "b"), "val", 1.0)
    assert str(error.value).startswith(f"{path}:4: malformed json")


def test_missing_val_picture_stops_before_the_first_step(demo, tmp_path):
    path = copy_with_json(demo, str(tmp_path / "data"), "val", lambda d: d["images"][0].update(file_name="gone.jpg"))
    data = json.load(open(path))
    image_id = data["images"][0]["id"]
    ann = next(a["id"] for a in data["annotations"] if a["image_id"] == image_id)
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", str(tmp_path / "data"), "--output_dir", out])
    assert str(error.value) == f"{path}: image id {image_id}, annotation id {ann}: image {tmp_path}/data/val2017/gone.jpg not found"
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # no step was taken


def test_corrupt_jpeg_is_named_when_read(demo, tmp_path):
    root = str(tmp_path / "data")
    copy_with_json(demo, root, "val", lambda d: d["images"][1].update(file_name="broken.jpg"))
    with open(os.path.join(root, "val2017", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    split = reader.CocoKeypoints(root, "val", 1.0)
    split.check_files()  # the file exists
    index = next(i for i, p in enumerate(split.people) if p["file"].endswith("broken.jpg"))
    error = reader.EvalDataset(split, (64, 64))[index]
    assert isinstance(error, utils.DataError)
    assert str(error).startswith(f"{split.where(split.people[index])}: cannot decode image {root}/val2017/broken.jpg")
