"""The reader: both list formats, height normalisation, width buckets, padding, and every kind of bad
input stopped with one message naming file and line (or skipped and counted)."""
import argparse
import os
import shutil

import numpy as np
import pytest

import reader
import utils


def opts(**kw):
    return argparse.Namespace(**{"skip_bad_samples": False, "max_width": 512, **kw})


def test_release_list_and_text_list_give_the_same_samples(demo_dir, tmp_path):
    d = reader.Dictionary.load(os.path.join(demo_dir, "dict.txt"))
    assert len(d) == 36 and d.decode(d.encode("ab12")) == "ab12"
    samples = reader.load_split(demo_dir, "dev", d, opts())
    assert len(samples) == 12
    lines = [f"{os.path.relpath(s.image, tmp_path)}\t{d.decode(s.label)}\n" for s in samples]
    (tmp_path / "mine.list").write_text("".join(lines))
    text = reader.load_split(None, str(tmp_path / "mine.list"), d, opts())
    same = lambda ss: [(os.path.realpath(s.image), s.label, s.width) for s in ss]  # noqa: E731
    assert same(text) == same(samples)


def test_images_are_height_48_with_the_aspect_ratio_kept(demo_dir):
    d = reader.Dictionary.load(os.path.join(demo_dir, "dict.txt"))
    sample = reader.load_split(demo_dir, "train", d, opts())[0]
    width, height = map(int, open(os.path.join(demo_dir, "train.list")).readline().split()[:2])
    image = reader.load_image(sample.image)
    assert image.shape == (1, 48, round(width * 48 / height)) == (1, 48, sample.width)
    assert -1.0 <= image.min() < image.max() <= 1.0
    assert reader.load_image(sample.image, max_width=20).shape == (1, 48, 20)


def test_collate_pads_and_buckets_keep_widths_together():
    images = [np.ones((1, 48, w), np.float32) for w in (20, 35)]
    batch = reader.collate([(images[0], np.array([1, 2]), 0), (images[1], np.array([3]), 1)])
    assert batch[0].shape == (2, 1, 48, 35) and batch[0][0, 0, 0, 20:].sum() == 0
    assert batch[1].tolist() == [20, 35] and batch[2].tolist() == [[1, 2], [3, 0]] and batch[3].tolist() == [2, 1]
    widths = np.random.default_rng(0).integers(16, 400, 256)
    sampler = reader.BucketSampler(widths, 16, seed=1)
    batches = sampler.batches(0)
    assert sorted(i for b in batches for i in b) == list(range(256))
    spread = np.mean([widths[b].max() - widths[b].min() for b in batches])
    assert spread < 0.2 * (widths.max() - widths.min())  # similar widths (random batches: about 0.9)
    assert batches != sampler.batches(1)  # reshuffled every epoch
    sampler.set_epoch(0, start_batch=3)
    assert list(sampler) == batches[3:]


def bad_copy(demo_dir, tmp_path, line):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    with open(bad / "dev.list", "a", encoding="utf-8", newline="") as f:
        f.write(line)
    return bad, len((bad / "dev.list").read_text().splitlines())


@pytest.mark.parametrize("line, message", [
    ("100 48 gone.jpg 1,2\n", "image not found: {bad}/dev_images/gone.jpg"),
    ("100 48 corrupt.jpg 1,2\n", "unreadable image {bad}/dev_images/corrupt.jpg: UnidentifiedImageError"),
    ("100 48 dev_00000.jpg 1,36\n", "label id 36 outside the dictionary (0..35)"),
    ("100 48 dev_00000.jpg\n", "expected `width height image_name label_ids` or `image_path<TAB>text`, got 3 field(s)"),
    ("100 x dev_00000.jpg 1\n", "width, height and comma-separated label ids must be integers"),
    ("dev_images/dev_00000.jpg\tAB!\n", "characters not in the dictionary: '!AB'"),
])
def test_bad_lines_name_file_and_line(demo_dir, tmp_path, line, message):
    bad, number = bad_copy(demo_dir, tmp_path, line)
    (bad / "dev_images" / "corrupt.jpg").write_bytes(b"not a jpeg at all")
    d = reader.Dictionary.load(os.path.join(bad, "dict.txt"))
    with pytest.raises(utils.DataError) as e:
        reader.load_split(str(bad), "dev", d, opts())
    assert str(e.value) == f"{bad}/dev.list:{number}: " + message.format(bad=bad)
    assert len(reader.load_split(str(bad), "dev", d, opts(skip_bad_samples=True), verbose=False)) == 12


def test_non_utf8_list_and_bad_dictionary(demo_dir, tmp_path):
    bad, number = bad_copy(demo_dir, tmp_path, "")
    with open(bad / "dev.list", "ab") as f:
        f.write(b"100 48 x.jpg \xff\n")
    d = reader.Dictionary.load(os.path.join(bad, "dict.txt"))
    with pytest.raises(utils.DataError, match=rf"^{bad}/dev.list:{number + 1}: not UTF-8 text"):
        reader.load_split(str(bad), "dev", d, opts())
    (bad / "dict.txt").write_text("a\nbc\n")
    with pytest.raises(utils.DataError, match=rf"^{bad}/dict.txt:2: expected one character per line"):
        reader.Dictionary.load(str(bad / "dict.txt"))
    ids_only = reader.Dictionary.load(str(tmp_path / "none.txt"), num_classes=95)
    assert len(ids_only) == 95 and ids_only.decode([3, 94]) == "3,94"
