"""reader.py: parsing the demo data, and every kind of bad input stopping with `file:line: what`,
checked before the first training step."""
import os

import numpy as np
import paddle
import pytest
from PIL import Image

import reader
import utils
from conftest import MODEL, TINY, run_train


def test_reader_parses_demo_data(demo):
    ds = reader.ImageClassificationDataset(demo, "train", 32, seed=0)
    assert len(ds) == 24 and ds.num_classes == 4 and ds.class_names[0] == "red circle"
    image, label = ds[0]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and 0 <= label < 4
    # the crop is a function of (seed, epoch, index) only
    np.testing.assert_array_equal(ds[5][0], ds[5][0])
    ds.epoch = 1
    assert not np.array_equal(ds[5][0], reader.ImageClassificationDataset(demo, "train", 32, seed=0)[5][0])
    assert len(reader.ImageClassificationDataset(demo, "test", 32)) == 12


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


def demo_lines(demo, split):
    with open(os.path.join(demo, f"{split}_list.txt")) as f:
        return f.read().splitlines()


@pytest.mark.parametrize("line, message", [
    ("train/n00000000/n00000000_0000.JPEG 9", "label 9 is outside [0, 4)"),
    ("train/n00000000/n00000000_0000.JPEG", "expected 'relative/path label'"),
    ("train/n00000000/n00000000_0000.JPEG zero", "expected 'relative/path label'"),
])
def test_reader_rejects_bad_lines(demo, tmp_path, line, message):
    root = copy_of(demo, str(tmp_path), skip=("train_list.txt",))
    path = write_list(root, "train_list.txt", ["train/n00000000/n00000000_0001.JPEG 0", line])
    with pytest.raises(utils.DataError) as error:
        reader.ImageClassificationDataset(root, "train", 32)
    assert str(error.value).startswith(f"{path}:2: {message}")


@pytest.mark.parametrize("name", ["train_list.txt", "val_list.txt", "label_list.txt"])
@pytest.mark.parametrize("skip", [False, True])
def test_non_utf8_byte_names_file_and_line(demo, tmp_path, name, skip):
    """Was a UnicodeDecodeError traceback (exit 1), with or without --skip_bad_samples."""
    root = copy_of(demo, str(tmp_path / "data"), skip=(name,))
    lines = demo_lines(demo, name[:-9]) if name != "label_list.txt" else ["0 a", "1 b", "2 c", "3 d"]
    path = write_list(root, name, lines[:2], raw=b"caf\xe9 0\n")
    argv = TINY + ["--data_dir", root, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"]
    with pytest.raises(utils.DataError) as error:
        run_train(argv + (["--skip_bad_samples"] if skip else []))
    assert str(error.value) == f"{path}:3: not UTF-8 text (byte 4 of the line)"


def test_missing_val_image_stops_before_the_first_step(demo, tmp_path):
    """Was found only at the first eval, after an epoch of training that was then lost."""
    root = copy_of(demo, str(tmp_path / "data"), skip=("val_list.txt",))
    lines = demo_lines(demo, "val")
    lines[2] = "val/n00000001/gone.JPEG 1"
    path = write_list(root, "val_list.txt", lines)
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", root, "--output_dir", out])
    assert str(error.value) == f"{path}:3: image {root}/val/n00000001/gone.JPEG not found"
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # no step was taken


def test_corrupt_val_image_fails_at_eval_after_the_checkpoint(demo, tmp_path, capsys):
    """The file exists (the up-front check passes), decoding fails at eval: the epoch is saved first."""
    root = copy_of(demo, str(tmp_path / "data"), skip=("val_list.txt",))
    with open(os.path.join(root, "broken.JPEG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    path = write_list(root, "val_list.txt", demo_lines(demo, "val")[:3] + ["broken.JPEG 2"])
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_train(TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert str(error.value).startswith(f"{path}:4: cannot decode image {root}/broken.JPEG")
    assert paddle.load(os.path.join(out, MODEL, "latest.pdckpt"))["step"] == 2


def test_missing_and_corrupt_images_are_named(demo, tmp_path):
    root = copy_of(demo, str(tmp_path), skip=("train_list.txt",))
    with open(os.path.join(root, "broken.JPEG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this is not a jpeg")
    path = write_list(root, "train_list.txt", ["missing.JPEG 1", "broken.JPEG 2"])
    ds = reader.ImageClassificationDataset(root, "train", 32)
    assert str(ds[0]).startswith(f"{path}:1: image {root}/missing.JPEG not found")
    assert str(ds[1]).startswith(f"{path}:2: cannot decode image {root}/broken.JPEG")
    with pytest.raises(utils.DataError, match=f"^{path}:1: image {root}/missing.JPEG not found$"):
        ds.check_files()
    assert ds.check_files(skip_bad_samples=True) == 1 and len(ds) == 1


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    """convert("RGB") alone turned every 16-bit value above 255 into white."""
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    Image.fromarray((ramp // 257).astype(np.uint8)).save(tmp_path / "flat.png")
    deep = reader.load_image(str(tmp_path / "deep.png"), "x")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")  # Pillow opens it as I;16 or I
    flat = np.asarray(reader.load_image(str(tmp_path / "flat.png"), "x")).astype(int)
    assert deep.mode == "RGB" and np.abs(np.asarray(deep).astype(int) - flat).max() <= 1
    assert np.asarray(deep).mean() == pytest.approx(127.5, abs=1)
