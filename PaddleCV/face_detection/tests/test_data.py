"""reader.py: parsing the WIDER FACE layout, the augmentation, and every kind of bad input stopping
with `file:line: what` before the first training step (or skipped and counted)."""
import os
import shutil

import numpy as np
import paddle
import pytest

import reader
import utils
from conftest import MODEL, TINY, run_train
from models import MODELS


def test_reader_parses_the_wider_layout(demo):
    records, skipped = reader.read_split(demo, "train")
    assert len(records) == 24 and skipped == 0
    r = records[0]
    assert r["image"] == os.path.join(demo, "WIDER_train", "images", r["event"], r["name"] + ".jpg")
    assert r["where"] == f"{reader.gt_file(demo, 'train')}:1"
    assert r["boxes"].shape == (len(r["invalid"]), 4) and r["attributes"].shape == (len(r["invalid"]), 6)
    # every face line is read; the invalid flag (8th field) is what is ignored
    lines = open(reader.gt_file(demo, "train")).read().split("\n")
    assert int(lines[1]) == len(r["boxes"])
    assert [int(v) for v in lines[2].split()[:4]] == r["boxes"][0].tolist()
    # training targets: 64 px, the anchors of the model
    ds = reader.WiderFace(records, 64, train=True, spec=MODELS[MODEL], anchor_sampling=0.5)
    image, loc, labels = ds[1]
    assert image.shape == (3, 64, 64) and loc.shape == (len(ds.priors), 4) and labels.shape == (len(ds.priors),)
    np.testing.assert_array_equal(ds[3][0], ds[3][0])  # augmentation is a function of (seed, epoch, index)
    ev = reader.WiderFace(records, 64)
    image, im_shape, scale, index = ev[2]
    assert im_shape.tolist() == [64, 64] and index == 2


def test_invalid_faces_and_zero_count_entries(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "WIDER_train", "images", "0--Parade"))
    os.makedirs(os.path.join(root, "wider_face_split"))
    from PIL import Image
    for name in ("a", "b"):
        path = os.path.join(root, "WIDER_train", "images", "0--Parade", f"{name}.jpg")
        Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(path)
    with open(reader.gt_file(root, "train"), "w") as f:
        f.write("0--Parade/a.jpg\n3\n1 2 10 12 0 0 0 0 0 0 \n5 5 0 0 0 0 0 1 0 0 \n20 20 8 9 2 0 0 1 1 0 \n"
                "0--Parade/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n")
    records, _ = reader.read_split(root, "train")
    assert [r["name"] for r in records] == ["a", "b"]
    # the zero-size invalid face is dropped; the other invalid one is kept but flagged
    assert records[0]["boxes"].tolist() == [[1, 2, 10, 12], [20, 20, 8, 9]]
    assert records[0]["invalid"].tolist() == [False, True]
    assert reader.corner_boxes(records[0]).tolist() == [[1, 2, 11, 14]]
    assert records[1]["boxes"].shape == (0, 4)
    assert records[1]["where"] == f"{reader.gt_file(root, 'train')}:6"


def copy_of(demo, root, copy_train_images=False):
    """A writable copy of the demo's annotation files (pictures linked; the training pictures copied,
    so that one can be broken, with copy_train_images)."""
    shutil.copytree(demo, root, ignore=shutil.ignore_patterns("WIDER_train", "WIDER_val"))
    for split in ("train", "val"):
        source, target = os.path.join(demo, f"WIDER_{split}"), os.path.join(root, f"WIDER_{split}")
        if split == "train" and copy_train_images:
            shutil.copytree(source, target)
        else:
            os.symlink(source, target)
    return root


def lines_of(path):
    with open(path) as f:
        return f.read().split("\n")


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines))


def first_entry_with_faces(lines):
    """(line index of the file name, count) of the first entry with at least one face."""
    i = 0
    while True:
        count = int(lines[i + 1])
        if count:
            return i, count
        i += 2 + max(count, 1)


@pytest.mark.parametrize("case", ["count", "face_line", "missing_image", "degenerate"])
def test_bad_annotations_stop_with_file_and_line(demo, tmp_path, case):
    root = copy_of(demo, str(tmp_path / "data"))
    path = reader.gt_file(root, "train")
    lines = lines_of(path)
    i, count = first_entry_with_faces(lines)
    name = lines[i]
    if case == "count":
        lines[i + 1] = "three"
        expected = f"{path}:{i + 2}: expected the number of faces of {name}, got 'three'"
    elif case == "face_line":
        lines[i + 2] = "1 2 3"
        expected = f"{path}:{i + 3}: face 1 of {name}: expected 10 numbers"
    elif case == "missing_image":
        lines[i] = "0--Parade/not_there.jpg"
        expected = f"{path}:{i + 1}: image {root}/WIDER_train/images/0--Parade/not_there.jpg not found"
    else:
        fields = lines[i + 2].split()
        fields[2] = "0"
        lines[i + 2] = " ".join(fields)
        expected = f"{path}:{i + 3}: face 1 of {name}: box (x {fields[0]}, y {fields[1]}, w 0, h {fields[3]}) " \
                   "has zero or negative size"
    write_lines(path, lines)
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "1"])
    assert str(error.value).startswith(expected), str(error.value)
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # no step was taken
    if case == "count":  # the rest of the file cannot be read: no skipping
        with pytest.raises(utils.DataError):
            reader.read_split(root, "train", skip_bad_samples=True)
        return
    records, skipped = reader.read_split(root, "train", skip_bad_samples=True)
    assert skipped == 1 and len(records) == 23


def test_corrupt_jpeg_is_named_at_read_time(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "data"), copy_train_images=True)
    records, _ = reader.read_split(root, "train")
    broken = records[3]["image"]  # index 3: the first dev image with --dev_every 4
    with open(broken, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    ds = reader.WiderFace(records, 64)
    assert str(ds[3]).startswith(f"{records[3]['where']}: cannot decode image {broken}")
    # the dev split is read at the end of the epoch: the checkpoint is saved first
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match="cannot decode image"):
        run_train(TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert paddle.load(os.path.join(out, MODEL, "latest.pdckpt"))["step"] == 2


def test_non_utf8_annotation_names_file_and_line(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "data"))
    path = reader.gt_file(root, "train")
    count = len(lines_of(path)) - 1
    with open(path, "ab") as f:
        f.write(b"caf\xe9.jpg\n")
    with pytest.raises(utils.DataError) as error:
        reader.read_split(root, "train")
    assert str(error.value) == f"{path}:{count + 1}: not UTF-8 text (byte 4 of the line)"


def test_data_anchor_sampling_resizes_a_face_to_an_anchor_scale():
    """A 40 px face (nearest anchor 32 px, index 1 of 16 ... 512) is rescaled to a target anchor of
    index 0, 1 or 2 (16, 32 or 64 px), i.e. to a size in [8, 128] px, inside a 128 px window."""
    rng = np.random.default_rng(0)
    image = np.full((200, 300, 3), 90, np.uint8)
    face = np.array([[100, 50, 140, 90]], np.float32)
    sizes = MODELS["pyramidbox"].anchor_sizes
    assert sizes == [16, 32, 64, 128, 256, 512]
    seen = []
    for _ in range(60):
        out, boxes = reader.data_anchor_sampling(image, face, rng, sizes, 128)
        assert out.shape == (128, 128, 3)
        assert len(boxes) == 1  # the chosen face's centre is always inside the window
        assert (boxes >= 0).all() and (boxes <= 128).all()
        side = boxes[0, 2:] - boxes[0, :2]
        if (boxes[0, :2] > 0).all() and (boxes[0, 2:] < 128).all():  # not clipped by the window
            seen.append(float(np.sqrt(np.prod(side))))
    assert 8 - 0.5 <= min(seen) and max(seen) <= 128 + 0.5, seen
    assert min(seen) < 24 and max(seen) > 48  # small and large targets both drawn


def test_head_boxes_grow_the_face_by_half_each_side():
    heads = reader.expand_head_boxes(np.array([[0.4, 0.4, 0.5, 0.6], [0.0, 0.0, 0.2, 0.2]], np.float32))
    np.testing.assert_allclose(heads, [[0.35, 0.3, 0.55, 0.7], [0.0, 0.0, 0.3, 0.3]], atol=1e-6)


def test_demo_faces_are_reached_by_blazeface_anchors(demo):
    """At the demo's 128 px most valid faces have an anchor at IoU >= 0.35 (the matching threshold)."""
    import anchors
    records, _ = reader.read_split(demo, "train")
    priors = MODELS["blazeface"].priors(128)
    from PIL import Image
    boxes = []
    for r in records:
        with Image.open(r["image"]) as im:
            w, h = im.size
        boxes.append(reader.corner_boxes(r) / np.array([w, h, w, h]))
    share = anchors.coverage(np.concatenate(boxes), priors)
    assert 0.6 < share <= 1.0, share
