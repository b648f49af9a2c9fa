"""reader.py: parsing the SOP layout of the demo data, the P x K sampler, and every kind of bad input
stopping with `file:line: what`, checked before the first training step."""
import os

import numpy as np
import pytest

import reader
import utils
from conftest import MODEL, TINY, run_train


def test_reader_parses_demo_data(demo):
    train = reader.SOPDataset(demo, "train", 24, dev_fraction=0.25)
    dev = reader.SOPDataset(demo, "dev", 24, dev_fraction=0.25)
    test = reader.SOPDataset(demo, "test", 24)
    assert (len(train), len(dev), len(test)) == (24, 8, 20) and train.num_classes == 6
    assert sorted(set(train.labels)) == list(range(6)) and sorted(set(dev.labels)) == [7, 8]
    assert not set(test.labels) & set(range(1, 9))  # test products are not training products
    image, label = train[0]
    assert image.shape == (3, 24, 24) and image.dtype == np.float32
    np.testing.assert_array_equal(train[5][0], train[5][0])  # the crop is a function of (seed, epoch, index)
    train.epoch = 1
    assert not np.array_equal(train[5][0], reader.SOPDataset(demo, "train", 24, dev_fraction=0.25)[5][0])


def test_pk_sampler_gives_p_classes_of_k_consecutive_images():
    labels = np.repeat(np.arange(10), [5, 5, 5, 5, 5, 5, 5, 5, 1, 3])  # two classes with fewer than K
    sampler = reader.PKBatchSampler(labels, batch_size=8, samples_each_class=2, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2  # 10 classes x 2 // 8
    for batch in batches:
        classes = labels[batch].reshape(4, 2)
        assert (classes[:, 0] == classes[:, 1]).all() and len(set(classes[:, 0])) == 4
    # the same epoch is the same; resuming at batch 1 yields the rest
    sampler.set_epoch(0, start_batch=1)
    assert list(sampler) == batches[1:]
    sampler.set_epoch(1)
    assert list(sampler) != batches
    plain = reader.PKBatchSampler(labels, batch_size=8, samples_each_class=0)
    seen = sum(list(plain), [])
    assert len(plain) == 5 and len(seen) == len(set(seen)) == 40 and set(seen) <= set(range(44))


def copy_of(demo, root, skip=()):
    """A dataset root whose files link to the demo's, except those in `skip`."""
    os.makedirs(root, exist_ok=True)
    for name in os.listdir(demo):
        if name not in skip:
            os.symlink(os.path.join(demo, name), os.path.join(root, name))
    return root


def write_list(root, name, lines, raw=b""):
    path = os.path.join(root, name)
    with open(path, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode() + raw)
    return path


def demo_lines(demo, name):
    with open(os.path.join(demo, name)) as f:
        return f.read().splitlines()


@pytest.mark.parametrize("line, message", [
    ("99 1 2", "expected 'image_id class_id super_class_id path'"),
    ("99 one 2 a.JPG", "expected 'image_id class_id super_class_id path'"),
    ("99 0 2 a.JPG", "class_id and super_class_id start at 1, got 0 and 2"),
    ("1 1 2 a.JPG", "image_id 1 repeats line 2"),
])
def test_reader_rejects_bad_lines(demo, tmp_path, line, message):
    root = copy_of(demo, str(tmp_path), skip=("Ebay_train.txt",))
    lines = demo_lines(demo, "Ebay_train.txt")
    path = write_list(root, "Ebay_train.txt", lines[:3] + [line])
    with pytest.raises(utils.DataError) as error:
        reader.SOPDataset(root, "train", 24)
    assert str(error.value).startswith(f"{path}:4: {message}")


def test_a_test_class_that_is_a_training_class_is_named(demo, tmp_path):
    root = copy_of(demo, str(tmp_path), skip=("Ebay_test.txt",))
    lines = demo_lines(demo, "Ebay_test.txt")
    first = lines[1].split()
    lines.append(f"999 3 {first[2]} {first[3]}")
    path = write_list(root, "Ebay_test.txt", lines)
    with pytest.raises(utils.DataError, match=f"^{path}:{len(lines)}: class_id 3 is also a training class"):
        reader.SOPDataset(root, "test", 24)


@pytest.mark.parametrize("skip", [False, True])
def test_non_utf8_byte_names_file_and_line(demo, tmp_path, skip):
    root = copy_of(demo, str(tmp_path / "data"), skip=("Ebay_test.txt",))
    path = write_list(root, "Ebay_test.txt", demo_lines(demo, "Ebay_test.txt")[:2], raw=b"3 9 1 caf\xe9.JPG\n")
    argv = TINY + ["--data_dir", root, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"]
    with pytest.raises(utils.DataError) as error:
        run_train(argv + (["--skip_bad_samples"] if skip else []))
    assert str(error.value) == f"{path}:3: not UTF-8 text (byte 10 of the line)"


def test_missing_test_image_stops_before_the_first_step(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "data"), skip=("Ebay_test.txt",))
    lines = demo_lines(demo, "Ebay_test.txt")
    parts = lines[3].split()
    lines[3] = " ".join(parts[:3] + ["gone/x.JPG"])
    path = write_list(root, "Ebay_test.txt", lines)
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", root, "--output_dir", out])
    assert str(error.value) == f"{path}:4: image {root}/gone/x.JPG not found"
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # no step was taken


def test_missing_and_corrupt_images_are_named(demo, tmp_path):
    root = copy_of(demo, str(tmp_path), skip=("Ebay_train.txt",))
    with open(os.path.join(root, "broken.JPG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this is not a jpeg")
    path = write_list(root, "Ebay_train.txt", [reader.HEADER, "1 1 1 missing.JPG", "2 2 1 broken.JPG"])
    ds = reader.SOPDataset(root, "train", 24)
    assert str(ds[0]).startswith(f"{path}:2: image {root}/missing.JPG not found")
    assert str(ds[1]).startswith(f"{path}:3: cannot decode image {root}/broken.JPG")
    with pytest.raises(utils.DataError, match=f"^{path}:2: image {root}/missing.JPG not found$"):
        ds.check_files()
    assert ds.check_files(skip_bad_samples=True) == 1 and len(ds) == 1 and list(ds.labels) == [1]
