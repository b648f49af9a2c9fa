"""reader.py: parsing the demo data in the COCO layout, the augmentation's determinism, and every kind
of bad input stopping with `file: id: what` (or skipped and counted), checked before the first step."""
import json
import os

import numpy as np
import pytest

import reader
import utils
from conftest import MODEL, TINY, run_train


def test_reader_parses_demo_data(demo):
    split = reader.CocoSplit(demo, "train")
    assert len(split.records) == 16 and split.names == ["circle", "square", "triangle", "ring"]
    assert split.category_ids == [1, 2, 3, 4]
    with open(os.path.join(demo, "annotations", "instances_train2017.json")) as f:
        raw = json.load(f)
    assert sum(len(r["boxes"]) for r in split.records) == len(raw["annotations"])
    assert any(len(r["boxes"]) == 0 for r in split.records)  # pictures without objects are kept
    first = raw["annotations"][0]
    record = next(r for r in split.records if r["id"] == first["image_id"])
    x, y, w, h = first["bbox"]
    np.testing.assert_allclose(record["boxes"][0], [x, y, x + w, y + h], rtol=1e-6)
    assert record["labels"][0] == first["category_id"] - 1


def test_training_samples_are_normalised_and_repeatable(demo):
    split = reader.CocoSplit(demo, "train")
    ds = reader.DetectionDataset(split, seed=3, mixup_epochs=1)
    image, gt_box, gt_label, gt_score = ds[(2, 96)]
    assert image.shape == (3, 96, 96) and image.dtype == np.float32 and gt_box.shape == (reader.NUM_MAX_BOXES, 4)
    n = int((gt_box[:, 2] > 0).sum())
    assert (gt_box[:n] > 0).all() and (gt_box[:n, :2] < 1).all() and (gt_box[n:] == 0).all()
    assert ((gt_score[:n] > 0) & (gt_score[:n] <= 1)).all() and (gt_label[:n] < 4).all()
    again = ds[(2, 96)]
    assert all(np.array_equal(a, b) for a, b in zip(again, (image, gt_box, gt_label, gt_score)))
    ds.epoch = 1  # past --mixup_epochs: every kept box scores 1
    _, gt_box, _, gt_score = ds[(2, 96)]
    assert (gt_score[gt_box[:, 2] > 0] == 1).all()


def test_without_augmentation_boxes_follow_the_resize(demo):
    split = reader.CocoSplit(demo, "val")
    record = next(r for r in split.records if len(r["boxes"]))
    index = split.records.index(record)
    _, gt_box, gt_label, gt_score = reader.DetectionDataset(split, augment=False)[(index, 64)]
    b = record["boxes"]
    expected = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)
    expected /= np.array([record["width"], record["height"]] * 2)
    np.testing.assert_allclose(gt_box[:len(b)], expected, rtol=1e-5)
    assert (gt_score[:len(b)] == 1).all() and (gt_label[:len(b)] == record["labels"]).all()


def test_multiscale_batches_share_a_size_and_resume_mid_epoch():
    sampler = reader.ResumableBatchSampler(20, 4, [64, 96, 128], seed=1)
    sampler.set_epoch(2)
    batches = list(sampler)
    assert len(batches) == 5 and all(len({s for _, s in b}) == 1 for b in batches)
    assert len({b[0][1] for b in batches}) > 1  # the size changes between batches
    sampler.set_epoch(2, start_batch=3)
    assert list(sampler) == batches[3:]


def copy_with_json(demo, root, split, edit):
    """A dataset root linking to the demo's pictures, with `edit(json dict)` applied to one split's json."""
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    for name in os.listdir(demo):
        if name != "annotations":  # a real folder, so that a test can add a file to it
            os.makedirs(os.path.join(root, name))
            for picture in os.listdir(os.path.join(demo, name)):
                os.symlink(os.path.join(demo, name, picture), os.path.join(root, name, picture))
    for name in os.listdir(os.path.join(demo, "annotations")):
        with open(os.path.join(demo, "annotations", name)) as f:
            data = json.load(f)
        if name == f"instances_{split}2017.json":
            data = edit(data) or data
        with open(os.path.join(root, "annotations", name), "w") as f:
            json.dump(data, f, indent=0)
    return os.path.join(root, "annotations", f"instances_{split}2017.json")


def first_annotation(data):
    return data["annotations"][0]


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(bbox=[5, 5, 0, 10]), "box of width 0 and height 10 has no area"),
    (lambda a: a.update(bbox=[5, 5, 10, -2]), "box of width 10 and height -2 has no area"),
    (lambda a: a.update(bbox=[500, 500, 10, 10]), "box [500, 500, 10, 10] lies outside its"),
    (lambda a: a.update(category_id=77), "category_id 77 is not in the category list"),
    (lambda a: a.update(bbox=[1, 2]), "bbox [1, 2] is not [x, y, width, height]"),
])
def test_bad_annotations_name_the_annotation_id(demo, tmp_path, change, message):
    path = copy_with_json(demo, str(tmp_path), "train", lambda d: change(first_annotation(d)))
    with pytest.raises(utils.DataError) as error:
        reader.CocoSplit(str(tmp_path), "train")
    with open(path) as f:
        aid = json.load(f)["annotations"][0]["id"]
    assert str(error.value).startswith(f"{path}: annotation id {aid}: {message}")
    split = reader.CocoSplit(str(tmp_path), "train", skip_bad_samples=True)
    assert len(split.skipped) == 1 and sum(len(r["boxes"]) for r in split.records) == len(
        json.load(open(path))["annotations"]) - 1


def test_a_box_leaving_the_picture_is_clipped_and_counted(demo, tmp_path, capsys):
    def edit(data):
        ann = first_annotation(data)
        ann["bbox"] = [-5.0, -3.0, 20.0, 13.0]
    path = copy_with_json(demo, str(tmp_path), "train", edit)
    split = reader.CocoSplit(str(tmp_path), "train")
    aid = json.load(open(path))["annotations"][0]["id"]
    assert split.clipped == [aid]
    assert f"clipped 1 boxes to their image (first: annotation id {aid})" in capsys.readouterr().out
    image_id = json.load(open(path))["annotations"][0]["image_id"]
    record = next(r for r in split.records if r["id"] == image_id)
    np.testing.assert_allclose(record["boxes"][0], [0, 0, 15, 10])


def test_crowd_boxes_are_not_trained_on(demo, tmp_path):
    path = copy_with_json(demo, str(tmp_path), "train", lambda d: first_annotation(d).update(iscrowd=1))
    split = reader.CocoSplit(str(tmp_path), "train")
    assert split.crowd == 1
    assert sum(len(r["boxes"]) for r in split.records) == len(json.load(open(path))["annotations"]) - 1


def test_unknown_image_id_and_malformed_json(demo, tmp_path):
    path = copy_with_json(demo, str(tmp_path / "a"), "val", lambda d: first_annotation(d).update(image_id=999))
    with pytest.raises(utils.DataError, match=r"annotation id \d+: image_id 999 is not in 'images'"):
        reader.CocoSplit(str(tmp_path / "a"), "val")
    path = copy_with_json(demo, str(tmp_path / "b"), "val", lambda d: None)
    text = open(path).read().splitlines()
    text[3] = text[3] + ",,"
    open(path, "w").write("\n".join(text))
    with pytest.raises(utils.DataError) as error:
        reader.CocoSplit(str(tmp_path / "b"), "val")
    assert str(error.value).startswith(f"{path}:4: malformed json")
    open(path, "wb").write(b'{"images": [],\n "x": "caf\xe9"}')
    with pytest.raises(utils.DataError, match=f"^{path}:2: not UTF-8 text$"):
        reader.CocoSplit(str(tmp_path / "b"), "val")


def test_missing_val_picture_stops_before_the_first_step(demo, tmp_path):
    path = copy_with_json(demo, str(tmp_path / "data"), "val",
                          lambda d: d["images"][2].update(file_name="gone.jpg"))
    data = json.load(open(path))
    image_id = data["images"][2]["id"]
    anns = [a["id"] for a in data["annotations"] if a["image_id"] == image_id]
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", str(tmp_path / "data"), "--output_dir", out])
    ann = f", annotation id {anns[0]}" if anns else ""
    assert str(error.value) == (f"{path}: image id {image_id}{ann}: image {tmp_path}/data/val2017/gone.jpg not found")
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # no step was taken


def test_corrupt_jpeg_is_named_when_read(demo, tmp_path):
    root = str(tmp_path / "data")
    path = copy_with_json(demo, root, "val", lambda d: d["images"][1].update(file_name="broken.jpg"))
    with open(os.path.join(root, "val2017", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    split = reader.CocoSplit(root, "val")
    split.check_files()  # the file exists
    image_id = split.records[1]["id"]
    error = reader.EvalDataset(split, 64)[1]
    assert isinstance(error, utils.DataError)
    assert str(error).startswith(f"{split.where(split.records[1])}: cannot decode image {root}/val2017/broken.jpg")
    assert f"image id {image_id}" in str(error)


def test_a_picture_without_boxes_trains_as_background(demo):
    """Its sample has no box, and the loss on it is finite: only the "no object" term."""
    import paddle
    from models import build_model
    split = reader.CocoSplit(demo, "train")
    index = next(i for i, r in enumerate(split.records) if len(r["boxes"]) == 0)
    image, gt_box, gt_label, gt_score = reader.DetectionDataset(split, seed=0)[(index, 64)]
    assert not gt_box.any() and not gt_score.any()
    model = build_model(MODEL, num_classes=4)
    targets = [paddle.to_tensor(a[None]) for a in (gt_box, gt_label, gt_score)]
    loss = model.loss(model(paddle.to_tensor(image[None])), *targets)
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 0
