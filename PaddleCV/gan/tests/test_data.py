"""The reader: the demo's idx files parse, and every kind of bad input stops with `file[:record]: what`."""
import os
import shutil
import struct

import numpy as np
import pytest

import reader
import utils


def copy_of(demo, root):
    shutil.copytree(demo, root, ignore=shutil.ignore_patterns("demo_classifier*"))
    return os.path.join(root, "mnist")


def test_demo_splits_parse(demo):
    train, dev, test = (reader.MnistDataset(demo, s) for s in ("train", "dev", "test"))
    assert (len(train), len(dev), len(test)) == (110, 10, 40)
    assert train.images.shape == (110, 1, 28, 28) and train.images.dtype == np.float32
    assert -1.0 <= train.images.min() < -0.9 and 0.9 < train.images.max() <= 1.0
    assert sorted(np.unique(test.labels)) == list(range(10)) and np.bincount(test.labels).tolist() == [4] * 10


def test_batch_order_resumes_mid_epoch_and_covers_each_epoch():
    order = reader.BatchOrder(23, 5, seed=3)
    full = list(order.epoch(2))
    assert len(full) == 4 and len(set(np.concatenate(full))) == 20
    assert [b.tolist() for b in order.epoch(2, start_batch=2)] == [b.tolist() for b in full[2:]]
    assert full[0].tolist() != next(order.epoch(3)).tolist()


def rewrite(path, header_fmt, header, body):
    with open(path, "wb") as f:
        f.write(struct.pack(header_fmt, *header) + body)


def test_wrong_image_size(demo, tmp_path):
    mnist = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(mnist, "t10k-images-idx3-ubyte")
    rewrite(path, ">IIII", (2051, 10, 32, 32), bytes(10 * 32 * 32))
    with pytest.raises(utils.DataError) as e:
        reader.MnistDataset(str(tmp_path / "d"), "test")
    assert str(e.value) == f"{path}: images are 32x32, the models need 28x28"


def test_truncated_image_names_the_record(demo, tmp_path):
    mnist = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(mnist, "train-images-idx3-ubyte")
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[:16 + 28 * 28 * 7 + 100])  # 7 whole images, then part of the 8th
    with pytest.raises(utils.DataError, match=rf"^{path}:8: image 8 of 120 is truncated"):
        reader.MnistDataset(str(tmp_path / "d"), "train")


def test_not_an_idx_file(demo, tmp_path):
    mnist = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(mnist, "train-labels-idx1-ubyte")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(utils.DataError, match=rf"^{path}: not an idx1 label file \(magic number 2303741511, expected 2049\)"):
        reader.MnistDataset(str(tmp_path / "d"), "train")
    os.remove(path)
    with pytest.raises(utils.DataError, match=rf"^{path}: file not found"):
        reader.MnistDataset(str(tmp_path / "d"), "train")


def test_label_out_of_range_stops_or_is_skipped(demo, tmp_path):
    mnist = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(mnist, "train-labels-idx1-ubyte")
    labels = reader.read_idx_labels(path).astype(np.uint8).copy()
    labels[5] = 12
    rewrite(path, ">II", (2049, len(labels)), labels.tobytes())
    with pytest.raises(utils.DataError) as e:
        reader.MnistDataset(str(tmp_path / "d"), "train")
    assert str(e.value) == f"{path}:6: label 12 outside 0-9"
    skipping = reader.MnistDataset(str(tmp_path / "d"), "train", skip_bad_samples=True)
    assert (skipping.skipped, len(skipping)) == (1, 109)


def test_label_count_disagrees_with_the_images(demo, tmp_path):
    mnist = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(mnist, "t10k-labels-idx1-ubyte")
    rewrite(path, ">II", (2049, 39), bytes(39))
    with pytest.raises(utils.DataError, match=rf"^{path}: 39 labels for 40 images"):
        reader.MnistDataset(str(tmp_path / "d"), "test")
