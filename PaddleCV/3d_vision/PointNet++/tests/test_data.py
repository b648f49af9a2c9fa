"""The readers parse the demo data (the real layouts) and stop on each kind of bad input with
`file:line: what`."""
import argparse
import os
import shutil

import h5py
import numpy as np
import pytest

import reader
import utils


def copy_of(demo, dst):
    shutil.copytree(demo, dst)
    return dst


def replace_line(path, index, text):
    lines = open(path).read().splitlines()
    lines[index] = text
    open(path, "w").write("\n".join(lines) + "\n")


def test_modelnet_splits_and_preprocessing(demo):
    train = reader.ModelNet40(demo, "train", 64, val_every=3, train=True)
    val = reader.ModelNet40(demo, "val", 64, val_every=3)
    test = reader.ModelNet40(demo, "test", 64)
    assert train.names == ["sphere", "box", "cone", "torus"]
    assert (len(train), len(val), len(test)) == (16, 8, 8)  # 24 listed for training, every third is val
    assert not set(train.paths) & set(val.paths)
    points, label = val[0]
    assert points.shape == (64, 3) and points.dtype == np.float32 and label == 0
    assert np.abs(points.mean(0)).max() < 1e-5 and np.linalg.norm(points, axis=1).max() == pytest.approx(1, abs=1e-5)
    a, b = train[3][0], train[3][0]
    np.testing.assert_array_equal(a, b)  # augmentation seeded by (seed, epoch, index)
    train.epoch = 1
    assert not np.allclose(a, train[3][0])
    with_normals = reader.ModelNet40(demo, "test", 64, use_normals=True)
    assert with_normals[0][0].shape == (64, 6)
    args = argparse.Namespace(task="cls", data_dir=demo, val_every=3)  # the baseline's labels, from the lists
    assert reader.split_labels(args, "train").tolist() == train.labels.tolist()


def test_a_point_file_with_the_wrong_column_count_names_file_and_line(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(root, reader.MODELNET, "cone", "cone_0002.txt")
    replace_line(path, 6, "0.1,0.2,0.3,0.0,1.0")
    with pytest.raises(utils.DataError) as e:
        reader.ModelNet40(root, "train", 64)
    assert str(e.value) == f"{path}:7: expected 6 comma-separated values (x,y,z,nx,ny,nz), got 5"
    skipped = reader.ModelNet40(root, "train", 64, val_every=3, skip_bad_samples=True)
    assert skipped.skipped == 1 and len(skipped) == 15


def test_other_bad_point_files(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "d"))
    path = os.path.join(root, reader.MODELNET, "box", "box_0001.txt")
    replace_line(path, 2, "0.1,0.2,abc,0,0,1")
    with pytest.raises(utils.DataError, match=rf"^{path}:3: not a number in '0.1,0.2,abc,0,0,1'$"):
        reader.read_point_file(path, 64)
    os.remove(path)
    with pytest.raises(utils.DataError, match=rf"^{path}: file not found$"):
        reader.ModelNet40(root, "train", 64)
    listing = os.path.join(root, reader.MODELNET, "modelnet40_test.txt")
    open(listing, "a").write("pyramid_0001\n")
    with pytest.raises(utils.DataError, match=rf"^{listing}:9: shape 'pyramid' is not in modelnet40_shape_names.txt$"):
        reader.ModelNet40(root, "test", 64)


def test_short_files_repeat_their_points(tmp_path):
    path = tmp_path / "few.txt"
    path.write_text("1,0,0\n0,1,0\n0,0,1\n")
    points = reader.read_point_file(str(path), 7, columns=(3, 6))
    assert points.shape == (7, 3) and (points[3:6] == points[:3]).all()


def test_indoor3d_blocks_and_area_5_held_out(demo):
    data, label, rooms = reader.read_indoor3d(demo)
    assert data.shape[1:] == (96, 9) and label.shape == data.shape[:2] and len(rooms) == len(data)
    blocks = (data, label, rooms)
    test = reader.Indoor3D(demo, "test", 64, blocks=blocks)
    train = reader.Indoor3D(demo, "train", 64, val_every=3, train=True, blocks=blocks)
    val = reader.Indoor3D(demo, "val", 64, val_every=3, blocks=blocks)
    assert all(r.startswith("Area_5_") for r in test.rooms)
    assert not any(r.startswith("Area_5_") for r in np.concatenate([train.rooms, val.rooms]))
    assert len(train) + len(val) + len(test) == len(data) and not set(train.rooms) & set(val.rooms)
    points, labels = train[0]
    assert points.shape == (64, 9) and labels.shape == (64,)
    args = argparse.Namespace(task="seg", data_dir=demo, val_every=3, test_area=5)
    np.testing.assert_array_equal(reader.split_labels(args, "train", blocks), train.labels)
    assert set(np.unique(label)) <= set(range(13)) and {0, 1, 2} <= set(np.unique(label))


def write_h5(path, data, label=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data)
        if label is not None:
            f.create_dataset("label", data=label)


def test_bad_indoor3d_files(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "d"))
    folder = os.path.join(root, reader.INDOOR3D)
    listing = os.path.join(folder, "all_files.txt")
    first = os.path.join(folder, "ply_data_all_0.h5")
    with h5py.File(first, "a") as f:
        lab = f["label"][:]
        lab[1, 5] = 13
        f["label"][...] = lab
    with pytest.raises(utils.DataError, match=rf"^{listing}:1: {first} block 1 has label 13, outside \[0, 13\)$"):
        reader.read_indoor3d(root)
    write_h5(first, np.zeros((2, 10, 6), np.float32), np.zeros((2, 10), np.uint8))
    with pytest.raises(utils.DataError, match=r"has data \[2, 10, 6\] and label \[2, 10\]; expected"):
        reader.read_indoor3d(root)
    write_h5(first, np.zeros((2, 10, 9), np.float32))
    with pytest.raises(utils.DataError, match=rf"^{listing}:1: cannot read `data` and `label` from {first}"):
        reader.read_indoor3d(root)
    write_h5(first, np.zeros((2, 10, 9), np.float32), np.zeros((2, 10), np.uint8))
    with pytest.raises(utils.DataError, match=r"ply_data_all_1.h5 has blocks of 96 points, the files before it 10$"):
        reader.read_indoor3d(root)
    write_h5(first, np.zeros((2, 96, 9), np.float32), np.zeros((2, 96), np.uint8))
    with pytest.raises(utils.DataError, match=r"room_filelist.txt:\d+: \d+ rooms listed for \d+ blocks$"):
        reader.read_indoor3d(root)


def test_eval_batches_split_between_ranks_without_padding(monkeypatch):
    seen = []
    for rank in range(2):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        seen += [i for batch in reader.EpochBatchSampler(7, 2, train=False) for i in batch]
    assert sorted(seen) == list(range(7))
    sampler = reader.EpochBatchSampler(10, 3, train=True, seed=1)
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=1)
    assert list(sampler) == full[1:] and len(full) == 3
