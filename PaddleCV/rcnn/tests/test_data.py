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
    assert len(split.records) == 8 and split.names == ["circle", "square", "triangle", "ring"]
    assert split.category_ids == [1, 2, 3, 4]
    with open(os.path.join(demo, "annotations", "instances_train2017.json")) as f:
        raw = json.load(f)
    assert sum(len(r["boxes"]) for r in split.records) == len(raw["annotations"])
    first = raw["annotations"][0]
    record = next(r for r in split.records if r["id"] == first["image_id"])
    x, y, w, h = first["bbox"]
    np.testing.assert_allclose(record["boxes"][0], [x, y, x + w, y + h], rtol=1e-6)
    assert record["labels"][0] == first["category_id"] - 1
    kinds = {type(a["segmentation"]).__name__ + (type(a["segmentation"]["counts"]).__name__
                                                 if isinstance(a["segmentation"], dict) else "")
             for a in raw["annotations"]}
    assert kinds == {"list", "dictstr", "dictlist"}  # polygons, compressed and uncompressed RLE


@pytest.mark.parametrize("kind", ["polygon", "rle", "uncompressed rle"])
def test_each_mask_encoding_decodes_inside_its_box(demo, kind):
    split = reader.CocoSplit(demo, "train")
    found = 0
    for r in split.records:
        for segm, box in zip(r["segms"], r["boxes"]):
            this = "polygon" if isinstance(segm, list) else "rle" if isinstance(segm["counts"], str) else "uncompressed rle"
            if this != kind:
                continue
            mask = reader.decode_mask(segm, int(r["height"]), int(r["width"]))
            ys, xs = np.where(mask)
            assert mask.shape == (int(r["height"]), int(r["width"])) and len(xs) > 0
            assert abs(xs.min() - box[0]) <= 1.5 and abs(ys.min() - box[1]) <= 1.5
            assert abs(xs.max() + 1 - box[2]) <= 1.5 and abs(ys.max() + 1 - box[3]) <= 1.5
            found += 1
    assert found


def test_training_samples_keep_the_aspect_ratio_flip_and_repeat(demo):
    split = reader.CocoSplit(demo, "train")
    ds = reader.DetectionDataset(split, [64, 80], 96, seed=3)
    index = next(i for i, r in enumerate(split.records) if len(r["boxes"]))
    record = split.records[index]
    image, im_shape, scale, gt_box, gt_label, idx, flipped = ds[index]
    short = min(im_shape)
    assert short in (64, 80) or max(im_shape) == 96
    assert image.shape == (3, *im_shape.astype(int)) and image.dtype == np.float32
    np.testing.assert_allclose(scale, im_shape / np.array([record["height"], record["width"]]), rtol=0.02)
    n = len(record["boxes"])
    assert (gt_label[:n] == record["labels"]).all() and (gt_label[n:] == -1).all() and idx == index
    expected = record["boxes"] * np.array([scale[1], scale[0]] * 2)
    if flipped:
        expected = np.stack([im_shape[1] - expected[:, 2], expected[:, 1], im_shape[1] - expected[:, 0],
                             expected[:, 3]], 1)
    np.testing.assert_allclose(gt_box[:n], expected, rtol=1e-4, atol=1e-3)
    again = ds[index]
    assert all(np.array_equal(a, b) for a, b in zip(again, (image, im_shape, scale, gt_box, gt_label, idx, flipped)))
    flips = {bool(ds[i][6]) for i in range(len(ds))}
    assert flips == {True, False}


def test_batches_are_padded_to_32_and_eval_uses_the_largest_size(demo):
    split = reader.CocoSplit(demo, "val")
    ds = reader.EvalDataset(split, 64, 96)
    batch, errors = reader.collate_with_errors([ds[0], ds[1], ds[2]])
    images, im_shape = batch[0], batch[1].numpy() if hasattr(batch[1], "numpy") else batch[1]
    assert not errors and images.shape[2] % 32 == 0 and images.shape[3] % 32 == 0
    assert images.shape[2] >= im_shape[:, 0].max() and (np.minimum(im_shape[:, 0], im_shape[:, 1]) <= 64).all()
    k = 0
    h, w = (int(v) for v in im_shape[k])
    assert not images[k, :, h:, :].any() and not images[k, :, :, w:].any()


def test_batches_resume_mid_epoch():
    sampler = reader.ResumableBatchSampler(20, 4, seed=1)
    sampler.set_epoch(2)
    batches = list(sampler)
    assert len(batches) == 5 and sorted(i for b in batches for i, _ in b) == list(range(20))
    assert {e for b in batches for _, e in b} == {2}
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
    (lambda a: a.update(segmentation=[[1, 2, 3]]), "segmentation is not a list of polygons of at least 3 points"),
    (lambda a: a.update(segmentation={"counts": 5}), "segmentation is not RLE"),
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
    error = reader.EvalDataset(split, 64, 96)[1]
    assert isinstance(error, utils.DataError)
    assert str(error).startswith(f"{split.where(split.records[1])}: cannot decode image {root}/val2017/broken.jpg")
    assert f"image id {image_id}" in str(error)


def test_a_picture_without_boxes_trains_as_background(demo):
    """Its sample has no box, and the loss on it is finite: only the "no object" terms."""
    import paddle
    from models import build_model
    split = reader.CocoSplit(demo, "train")
    index = next((i for i, r in enumerate(split.records) if len(r["boxes"]) == 0), None)
    if index is None:  # this small set has none: make one
        split.records[0].update(boxes=np.zeros((0, 4), np.float32), labels=np.zeros(0, np.int32), segms=[])
        index = 0
    image, im_shape, scale, gt_box, gt_label, _, _ = reader.DetectionDataset(split, [64], 96, seed=0)[index]
    assert (gt_label == -1).all()
    model = build_model(MODEL, num_classes=4)
    boxes, labels = reader.targets_of(paddle.to_tensor(gt_box[None]), paddle.to_tensor(gt_label[None]))
    losses = model(paddle.to_tensor(reader.pad_batch([image])), paddle.to_tensor(im_shape[None]),
                   paddle.to_tensor(scale[None]), {"gt_boxes": boxes, "gt_labels": labels, "rng": np.random.default_rng(0)})
    loss = paddle.add_n(list(losses.values()))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 0 and losses["loss_reg_0"].item() == 0
