"""reader.py: parsing the VOC layout, SSD augmentation, and every kind of bad input stopping with
`file:line: what` (or `file: object k: what`) before the first training step."""
import os
import shutil

import numpy as np
import paddle
import pytest

import reader
import utils
from conftest import MODEL, TINY, run_train


def names(root):
    return reader.class_names(root)


def test_reader_parses_the_voc_layout(demo):
    assert names(demo) == ["circle", "square", "triangle", "diamond", "cross", "ring"]
    both = reader.VOCDetection(demo, "VOC2007/train,VOC2012/trainval", 64, names(demo), train=True, seed=0)
    assert len(both) == 28 and both.records[-1]["id"].startswith("VOC2012/")
    image, loc, labels = both[0]
    assert image.shape == (3, 64, 64) and image.dtype == np.float32
    assert loc.shape == (len(both.priors), 4) and labels.shape == (len(both.priors),)
    np.testing.assert_array_equal(both[3][0], both[3][0])  # augmentation is a function of (seed, epoch, index)
    both.epoch = 1
    assert not np.array_equal(both[3][0], reader.VOCDetection(demo, "VOC2007/train", 64, names(demo),
                                                              train=True, seed=0)[3][0])
    test = reader.VOCDetection(demo, "VOC2007/test", 64, names(demo))
    image, im_shape, scale, index = test[2]
    record = test.records[2]
    assert im_shape.tolist() == [64, 64] and index == 2
    np.testing.assert_allclose(scale, [64 / record["height"], 64 / record["width"]], rtol=1e-6)
    assert (record["labels"] >= 1).all() and record["boxes"].shape == (len(record["labels"]), 4)


def test_augmentation_keeps_boxes_valid():
    rng = np.random.default_rng(0)
    image = np.full((80, 120, 3), 100, np.uint8)
    boxes = np.array([[10, 10, 50, 60], [70, 20, 115, 75]], np.float32)
    labels = np.array([1, 2])
    for _ in range(50):
        im = reader.photometric_distort(image, rng)
        im, b = reader.random_expand(im, boxes, rng)
        im, b, lab = reader.random_crop(im, b, labels, rng)
        im, b = reader.random_flip(im, b, rng)
        h, w = im.shape[:2]
        assert len(b) == len(lab) >= 1
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 1] >= 0).all() and (b[:, 3] <= h).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
    # flipping mirrors the boxes
    _, flipped = reader.random_flip(image, boxes, np.random.default_rng(1))
    if not np.array_equal(flipped, boxes):
        np.testing.assert_allclose(flipped[0], [70, 10, 110, 60])


def copy_of(demo, root):
    """A writable copy of the demo's lists and annotations (pictures linked)."""
    shutil.copytree(demo, root, symlinks=False, ignore=shutil.ignore_patterns("JPEGImages"))
    for year in ("VOC2007", "VOC2012"):
        os.symlink(os.path.join(demo, "VOCdevkit", year, "JPEGImages"), os.path.join(root, "VOCdevkit", year, "JPEGImages"))
    return root


def first_id(root, split="train"):
    with open(os.path.join(root, "VOCdevkit", "VOC2007", "ImageSets", "Main", f"{split}.txt")) as f:
        return f.readline().strip()


def annotation(root, image_id):
    return os.path.join(root, "VOCdevkit", "VOC2007", "Annotations", f"{image_id}.xml")


def edit(path, old, new, count=1):
    with open(path) as f:
        text = f.read()
    assert old in text
    with open(path, "w") as f:
        f.write(text.replace(old, new, count))


def object_with_box(root, image_id):
    """A copy's annotation with at least one object: (path, text)."""
    with open(annotation(root, image_id)) as f:
        return annotation(root, image_id), f.read()


def demo_train_ids(root):
    with open(os.path.join(root, "VOCdevkit", "VOC2007", "ImageSets", "Main", "train.txt")) as f:
        return f.read().split()


def with_objects(root):
    for image_id in demo_train_ids(root):
        path, text = object_with_box(root, image_id)
        if "<object>" in text:
            return image_id, path, text
    raise AssertionError("no annotated picture")


@pytest.mark.parametrize("case", ["class", "zero", "malformed", "missing_image", "missing_xml"])
def test_bad_annotations_stop_with_file_and_object(demo, tmp_path, case):
    root = copy_of(demo, str(tmp_path / "data"))
    image_id, path, text = with_objects(root)
    list_path = os.path.join(root, "VOCdevkit", "VOC2007", "ImageSets", "Main", "train.txt")
    line = demo_train_ids(root).index(image_id) + 1
    if case == "class":
        name = text.split("<name>")[1].split("</name>")[0]
        edit(path, f"<name>{name}</name>", "<name>unicorn</name>")
        expected = f"{path}: object 1: class 'unicorn' is not one of the 6 classes"
    elif case == "zero":
        xmin = text.split("<xmin>")[1].split("</xmin>")[0]
        edit(path, f"<xmax>{text.split('<xmax>')[1].split('</xmax>')[0]}</xmax>", f"<xmax>{xmin}</xmax>")
        expected = f"{path}: object 1 ("
    elif case == "malformed":
        edit(path, "</annotation>", "</annotatio>")
        expected = f"{path}:"
    elif case == "missing_image":
        edit(list_path, image_id, "999999")
        expected = f"{list_path}:{line}: image {root}/VOCdevkit/VOC2007/JPEGImages/999999.jpg not found"
        shutil.copy(path, annotation(root, "999999"))
    else:
        os.remove(path)
        expected = f"{list_path}:{line}: annotation {path} not found"
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "1"])
    assert str(error.value).startswith(expected), str(error.value)
    if case == "zero":
        assert "has zero or negative size" in str(error.value)
    if case == "malformed":
        assert "malformed XML" in str(error.value)
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # no step was taken
    # --skip_bad_samples: the picture is skipped and counted, the others train
    reader_records, skipped = reader.read_split(root, "VOC2007/train", names(root), skip_bad_samples=True)
    assert skipped == 1 and len(reader_records) == len(demo_train_ids(root)) - 1


def test_boxes_outside_the_image_are_clipped_and_counted(demo, tmp_path, capsys):
    root = copy_of(demo, str(tmp_path / "data"))
    image_id, path, text = with_objects(root)
    xmin = text.split("<xmin>")[1].split("</xmin>")[0]
    edit(path, f"<xmin>{xmin}</xmin>", "<xmin>-20</xmin>")
    records, _ = reader.read_split(root, "VOC2007/train", names(root))
    record = [r for r in records if r["id"] == f"VOC2007/{image_id}"][0]
    assert record["boxes"][0, 0] == 0 and record["clipped"] == 1
    assert "clipped 1 boxes that reached outside their image" in capsys.readouterr().out


def test_corrupt_jpeg_is_named_at_read_time(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "data"))
    image_id = first_id(root, "val")
    jpegs = os.path.join(root, "VOCdevkit", "VOC2007", "JPEGImages")
    os.remove(jpegs)
    shutil.copytree(os.path.join(demo, "VOCdevkit", "VOC2007", "JPEGImages"), jpegs)
    broken = os.path.join(jpegs, f"{image_id}.jpg")
    with open(broken, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    ds = reader.VOCDetection(root, "VOC2007/val", 64, names(root))
    list_path = os.path.join(root, "VOCdevkit", "VOC2007", "ImageSets", "Main", "val.txt")
    assert str(ds[0]).startswith(f"{list_path}:1: cannot decode image {broken}")
    # during training the val split is read at the end of the epoch: the checkpoint is saved first
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match="cannot decode image"):
        run_train(TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert paddle.load(os.path.join(out, MODEL, "latest.pdckpt"))["step"] == 2


def test_non_utf8_list_names_file_and_line(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "data"))
    list_path = os.path.join(root, "VOCdevkit", "VOC2007", "ImageSets", "Main", "train.txt")
    lines = len(demo_train_ids(root)) + 1
    with open(list_path, "ab") as f:
        f.write(b"caf\xe9\n")
    with pytest.raises(utils.DataError) as error:
        reader.read_split(root, "VOC2007/train", names(root))
    assert str(error.value) == f"{list_path}:{lines}: not UTF-8 text (byte 4 of the line)"


def test_demo_model_priors_cover_the_demo_objects(demo):
    """The reason for SSD_MobileNetV1_demo: at 96 px the published priors miss about half of the demo
    objects (no prior at IoU >= 0.5), the demo model's stride-8 map and sizes reach nearly all."""
    import prior_box
    from models import model_priors
    records, _ = reader.read_split(demo, "VOC2007/train,VOC2012/trainval", names(demo))
    boxes = [r["boxes"] / np.array([r["width"], r["height"]] * 2) for r in records if len(r["boxes"])]
    share = {}
    for model in ("SSD_MobileNetV1", "SSD_MobileNetV1_demo"):
        priors = model_priors(model, 96)
        share[model] = np.mean(np.concatenate([prior_box.iou_matrix(b, priors).max(1) for b in boxes]) >= 0.5)
    assert share["SSD_MobileNetV1"] < 0.7 and share["SSD_MobileNetV1_demo"] > 0.9, share
    ds = reader.VOCDetection(demo, "VOC2007/train", 96, names(demo), train=True, augment=False,
                             model="SSD_MobileNetV1_demo")
    assert len(ds.priors) == 882 and ds[0][2].shape == (882,)
