"""The reader parses the demo data (the Cityscapes layout) and rejects each kind of bad input with a
message naming the list file and line."""
import argparse
import os
import shutil

import numpy as np
import pytest
from PIL import Image

import make_demo_data
import reader
import utils


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo_data.main(["--out_dir", str(root), "--num_train", "4", "--num_val", "2",
                         "--height", "64", "--width", "128"])
    return root


def test_demo_data_is_in_the_cityscapes_layout(demo):
    lines = (demo / "train.list").read_text().splitlines()
    assert len(lines) == 4
    image, label = lines[0].split()
    assert image.startswith("leftImg8bit/train/") and image.endswith("_leftImg8bit.png")
    assert label.startswith("gtFine/train/") and label.endswith("_gtFine_labelTrainIds.png")
    assert image.split("/")[2] == label.split("/")[2]  # the same city folder
    lab = np.asarray(Image.open(demo / label))
    assert lab.dtype == np.uint8 and lab.ndim == 2
    values = set(np.unique(lab).tolist())
    assert 255 in values and len(values - {255}) >= 6 and max(values - {255}) < 19


def test_train_samples_are_cropped_flipped_and_deterministic(demo):
    ds = reader.SegDataset(str(demo), "train.list", 19, mode="train", crop_size=(48, 80), seed=3)
    image, label = ds[1]
    assert image.shape == (3, 48, 80) and image.dtype == np.float32 and label.shape == (48, 80)
    assert -1.0 <= image.min() and image.max() <= 1.0
    assert set(np.unique(label).tolist()) <= set(range(19)) | {255}
    again_image, again_label = ds[1]
    np.testing.assert_array_equal(label, again_label)  # same (seed, epoch, index) -> same crop
    ds.set_epoch(1)
    assert not np.array_equal(ds[1][0], image)  # a new epoch draws new augmentation


def test_eval_samples_are_full_resolution(demo):
    ds = reader.SegDataset(str(demo), "val.list", 19, mode="eval")
    image, label = ds[0]
    assert image.shape == (3, 64, 128) and label.shape == (64, 128)
    raw = np.asarray(Image.open(ds.samples[0][0]))
    np.testing.assert_allclose(image, reader.normalize(raw))


def test_padding_uses_the_ignore_label():
    rng = np.random.default_rng(0)
    image = np.full((10, 12, 3), 200, np.uint8)
    label = np.zeros((10, 12), np.int64)
    img, lab = reader.random_crop(image, label, rng, 16, 20)
    assert img.shape == (16, 20, 3) and (lab == 255).sum() == 16 * 20 - 10 * 12
    assert (img[lab == 255] == 127).all()


def make_bad(demo, tmp_path, edit):
    """A copy of the demo val set with `edit(root, lines)` applied; returns (root, list path)."""
    root = tmp_path / "bad"
    shutil.copytree(demo, root)
    lines = (root / "val.list").read_text().splitlines()
    lines = edit(root, lines) or lines
    (root / "val.list").write_text("\n".join(lines) + "\n")
    return root, str(root / "val.list")


def load_all(root):
    ds = reader.SegDataset(str(root), "val.list", 19, mode="eval")
    for i in range(len(ds)):
        sample = ds[i]
        if isinstance(sample, utils.DataError):
            raise sample


def expect_error(root, where, *fragments):
    with pytest.raises(utils.DataError) as e:
        load_all(root)
    message = str(e.value)
    assert message.startswith(where + ": "), message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_image(demo, tmp_path):
    root, lst = make_bad(demo, tmp_path, lambda r, lines: os.remove(r / lines[1].split()[0]))
    expect_error(root, f"{lst}:2", "image file not found", "_leftImg8bit.png")


def test_missing_label(demo, tmp_path):
    root, lst = make_bad(demo, tmp_path, lambda r, lines: os.remove(r / lines[0].split()[1]))
    expect_error(root, f"{lst}:1", "label file not found", "_gtFine_labelTrainIds.png")


def test_label_size_differs_from_image(demo, tmp_path):
    def edit(r, lines):
        path = r / lines[1].split()[1]
        Image.fromarray(np.asarray(Image.open(path))[:, :100]).save(path)
    root, lst = make_bad(demo, tmp_path, edit)
    expect_error(root, f"{lst}:2", "is 100x64 but its image is 128x64")


def test_label_value_out_of_range(demo, tmp_path):
    def edit(r, lines):
        path = r / lines[0].split()[1]
        lab = np.asarray(Image.open(path)).copy()
        lab[5, 5] = 19
        lab[6, 6] = 254
        Image.fromarray(lab).save(path)
    root, lst = make_bad(demo, tmp_path, edit)
    expect_error(root, f"{lst}:1", "value(s) [19, 254]", "neither a class id (0..18) nor the ignore index 255")


def test_corrupt_png(demo, tmp_path):
    def edit(r, lines):
        path = r / lines[1].split()[0]
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 3])  # truncated file
    root, lst = make_bad(demo, tmp_path, edit)
    expect_error(root, f"{lst}:2", "cannot decode image")


def test_colour_label_is_rejected(demo, tmp_path):
    def edit(r, lines):
        path = r / lines[0].split()[1]
        Image.open(path).convert("RGB").save(path)
    root, lst = make_bad(demo, tmp_path, edit)
    expect_error(root, f"{lst}:1", "mode RGB", "single-channel")


def test_malformed_list_line(demo, tmp_path):
    root, lst = make_bad(demo, tmp_path, lambda r, lines: lines + ["only_one_path.png"])
    expect_error(root, f"{lst}:3", "expected 'image_path label_path'", "only_one_path.png")


def loader_over(root, skip):
    bad = reader.BadSamples(skip)
    ds = reader.SegDataset(str(root), "val.list", 19, mode="eval", bad=bad)
    args = argparse.Namespace(num_workers=0, no_shared_memory=True)
    loader = utils.make_loader(ds, args, batch_size=1, collate_fn=reader.collate)
    return [label.shape for _, label in bad(loader)], bad


def test_bad_sample_stops_the_loader_or_is_skipped_and_counted(demo, tmp_path):
    def edit(r, lines):
        path = r / lines[0].split()[0]
        path.write_bytes(path.read_bytes()[:100])  # exists (passes the list check) but cannot be decoded
    root, lst = make_bad(demo, tmp_path, edit)
    with pytest.raises(utils.DataError, match=f"^{lst}:1: cannot decode image"):
        loader_over(root, skip=False)
    shapes, bad = loader_over(root, skip=True)
    assert shapes == [[1, 64, 128]] and bad.skipped == 1


def test_malformed_line_and_missing_file_are_skipped_and_counted(demo, tmp_path):
    """--skip_bad_samples skips a malformed list line (it used to stop the run anyway) and a line
    whose image is missing, when the dataset is built, and counts both."""
    def edit(r, lines):
        os.remove(r / lines[1].split()[0])
        return [lines[0], "only_one_path.png", lines[1]]
    root, lst = make_bad(demo, tmp_path, edit)
    with pytest.raises(utils.DataError, match=f"^{lst}:2: expected 'image_path label_path'"):
        loader_over(root, skip=False)
    shapes, bad = loader_over(root, skip=True)
    assert shapes == [[1, 64, 128]] and bad.skipped == 2


@pytest.mark.parametrize("skip", [False, True])
def test_non_utf8_byte_in_a_list_is_one_line_naming_file_and_line(demo, tmp_path, skip):
    root, lst = make_bad(demo, tmp_path, lambda r, lines: None)
    data = (root / "val.list").read_bytes().split(b"\n")
    data[1] = data[1].replace(b".png", b"\xff.png", 1)
    (root / "val.list").write_bytes(b"\n".join(data))
    with pytest.raises(utils.DataError) as e:
        reader.SegDataset(str(root), "val.list", 19, mode="eval", bad=reader.BadSamples(skip))
    column = data[1].index(b"\xff") + 1
    assert str(e.value) == f"{lst}:2: not UTF-8 text (byte {column} of the line)"


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    image = reader.load_image(str(tmp_path / "grey16.png"), "grey16.png")
    assert image.shape == (8, 256, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, :, 0], np.round(ramp[0] / 257).astype(np.uint8))  # not all 255
