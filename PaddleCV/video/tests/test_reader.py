"""reader.py: the list files, the three kinds of video, sampling, test views and bad input."""
import os
import pickle
import shutil

import numpy as np
import pytest

import frames
import utils
import reader


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return frames.make_demo(str(tmp_path_factory.mktemp("kinetics")), smoke=True)


def first_video(demo):
    return os.path.join(demo, reader.read_list(demo, "train", 4)[0][0])


def test_layout_and_lists(demo):
    assert reader.read_label_map(demo) == list(frames.DEMO_CLASSES)
    items = reader.read_list(demo, "train", 4)
    assert len(items) == 8 and all(os.path.isfile(v) for v, _, _ in items)
    for video, label, where in items:
        assert frames.DEMO_CLASSES[label] in video and where.startswith(os.path.join(demo, "train.list") + ":")


@pytest.mark.parametrize("line,message", [
    ("videos/a.mp4", "expected `<path> <label>`"),
    ("videos/a.mp4 x", "is not an integer"),
    ("videos/a.mp4 7", "outside 0..3"),
])
def test_malformed_list_line_names_file_and_line(tmp_path, demo, line, message):
    shutil.copy(os.path.join(demo, "label_map.txt"), tmp_path)
    (tmp_path / "train.list").write_text("videos/b.mp4 1\n" + line + "\n")
    with pytest.raises(utils.DataError, match=f"train.list:2: .*{message}"):
        reader.read_list(str(tmp_path), "train", 4)


def test_mp4_frame_folder_and_pkl_give_the_same_frames(tmp_path, demo):
    import cv2
    video = first_video(demo)
    n = reader.count_frames(video)
    assert n == 8
    clip = reader.read_frames(video, range(n))
    folder = tmp_path / "vid"
    folder.mkdir()
    jpegs = []
    for i, frame in enumerate(clip):
        ok, data = cv2.imencode(".png", np.ascontiguousarray(frame[:, :, ::-1]))  # lossless
        (folder / f"img_{i + 1:05d}.png").write_bytes(data.tobytes())
        jpegs.append(data.tobytes())
    with open(tmp_path / "vid.pkl", "wb") as f:
        pickle.dump(("vid", 0, jpegs), f, -1)
    idx = [5, 0, 0, 7]
    for other in (str(folder), str(tmp_path / "vid.pkl")):
        assert reader.count_frames(other) == n
        np.testing.assert_array_equal(reader.read_frames(other, idx), clip[idx])


def test_bad_videos_are_named(tmp_path):
    garbage = tmp_path / "bad.mp4"
    garbage.write_bytes(b"not a video" * 10)
    empty = tmp_path / "empty"
    empty.mkdir()
    broken_pkl = tmp_path / "x.pkl"
    broken_pkl.write_bytes(b"nope")
    for path, message in [(garbage, "not a readable video"), (empty, "has no frames"),
                          (broken_pkl, "pickled frame list"), (tmp_path / "missing.mp4", "file not found")]:
        with pytest.raises(utils.DataError, match=message) as e:
            reader.count_frames(str(path))
        assert str(path) in str(e.value)


def test_skip_bad_samples_counts(tmp_path, demo):
    data = tmp_path / "d"
    shutil.copytree(demo, data)
    (data / "videos" / "bad.mp4").write_bytes(b"garbage")
    with open(data / "val.list", "a") as f:
        f.write("videos/bad.mp4 0\n")
    args = frames.resolve(_args(str(data)))
    with pytest.raises(utils.DataError, match=r"val.list:5: .*bad.mp4: not a readable video"):
        frames.datasets(args, ["val"])
    args.skip_bad_samples = True
    ds = frames.datasets(args, ["val"])["val"]
    assert len(ds) == 4 and len(ds.skipped) == 1


def _args(data_dir, model="TSM"):
    import argparse
    return argparse.Namespace(model=model, size="demo", data_dir=data_dir, num_classes=None, seg_num=None,
                              seglen=None, sample_rate=None, test_seg_num=None, test_clips=None, test_crops=None,
                              short_size=None, crop_size=None, test_crop_size=None, dropout=None, flip="auto",
                              seed=0, skip_bad_samples=False, layers=50, frame_cache=None)


def test_sampling_train_random_test_centre_and_looping():
    rng = np.random.default_rng(0)
    for _ in range(20):  # training: one frame at a random place inside each of the 4 segments of 40 frames
        idx = reader.sample_indices(40, 4, 1, True, rng)
        assert all(10 * s <= i < 10 * (s + 1) for s, i in enumerate(idx))
    assert list(reader.sample_indices(40, 4, 1, False)) == [4, 14, 24, 34]  # the centres
    assert list(reader.sample_indices(40, 2, 3, False)) == [8, 9, 10, 28, 29, 30]  # seglen 3
    # two test clips spread inside each segment
    assert list(reader.sample_indices(40, 2, 1, False, clip=0, num_clips=2)) == [4, 24]
    assert list(reader.sample_indices(40, 2, 1, False, clip=1, num_clips=2)) == [14, 34]
    # NonLocal: 8 frames 8 apart from a 20-frame video: looped
    assert list(reader.sample_indices(20, 1, 8, False, sample_rate=8)) == [0, 8, 16, 4, 12, 0, 8, 16]
    assert list(reader.sample_indices(3, 6, 1, False)) == [0, 0, 1, 1, 2, 2]  # shorter than the clip


def test_test_views():
    assert len(reader.crop_boxes(256, 340, 224, 1)) == 1
    boxes = reader.crop_boxes(256, 340, 224, 3)
    assert [b[1] for b in boxes] == [0, 58, 116]
    ten = reader.crop_boxes(256, 340, 224, 10)
    assert len(ten) == 10 and sum(f for _, _, f in ten) == 5
    frames_ = np.random.default_rng(0).integers(0, 255, (2, 64, 80, 3)).astype(np.uint8)
    views = reader.test_views(frames_, 64, 56, 10, (0, 0, 0), (1, 1, 1))
    assert views.shape == (10, 2, 3, 56, 56)
    np.testing.assert_allclose(views[5], views[0][..., ::-1], atol=1e-6)  # flipped corner


# ------------------------------------------------------------------------------------- frame cache

def _cached_and_decoded(demo, cache, split="train", train=True):
    args = frames.resolve(_args(demo))
    cfg = frames.ClipConfig(args)
    pair = []
    for cache_dir in (cache, None):
        ds = reader.VideoDataset.from_split(demo, split, cfg, train=train, cache_dir=cache_dir)
        ds.check(False)
        pair.append(ds)
    return pair


def test_frame_cache_gives_the_decoded_frames(demo, tmp_path):
    cached, decoded = _cached_and_decoded(demo, str(tmp_path / "cache"))
    assert len(os.listdir(tmp_path / "cache")) == 2 * len(cached)  # an array and an index entry a video
    assert [v.num_frames for v in cached.checked] == [v.num_frames for v in decoded.checked]
    assert all(v.cached is None for v in decoded.checked)
    for i, (video, _, _) in enumerate(decoded.items):
        every = range(decoded.checked[i].num_frames)
        np.testing.assert_array_equal(reader.read_cached_frames(cached.checked[i].cached, every),
                                      reader.read_frames(video, every))
    for i in range(len(decoded)):  # the training clips (random offsets and crops) and the test views
        np.testing.assert_array_equal(cached[i][0], decoded[i][0])
    cached_test, decoded_test = _cached_and_decoded(demo, str(tmp_path / "cache"), "test", train=False)
    np.testing.assert_array_equal(cached_test[0][0], decoded_test[0][0])


def test_frame_cache_is_resized_to_the_short_side(demo, tmp_path):
    video = first_video(demo)
    array_path, _, shape = reader.cache_video(str(tmp_path), video, 48)
    assert shape == (8, 48, 48, 3) and array_path.endswith(".s48.npy")
    np.testing.assert_array_equal(reader.read_cached_frames(reader.cache_video(str(tmp_path), video, 48), [3]),
                                  reader.resize_short(reader.read_frames(video, [3]), 48))


def test_cache_entries_are_mapped_once_per_process(demo, tmp_path):
    args = frames.resolve(_args(demo))
    ds = reader.VideoDataset.from_split(demo, "train", frames.ClipConfig(args), train=True,
                                        cache_dir=str(tmp_path / "cache"))
    ds.check(False)
    first = ds[0][0]
    mapped = ds._open_maps[0]
    np.testing.assert_array_equal(ds[0][0], first)
    assert list(ds._open_maps) == [0] and ds._open_maps[0] is mapped  # the map already open, not a new one
    assert pickle.loads(pickle.dumps(ds))._open_maps == {}  # a spawned loader worker opens its own
    ds.MAX_OPEN_MAPS = 2
    for i in (1, 2):
        ds[i]
    assert list(ds._open_maps) == [1, 2]  # the oldest closed: a bounded number of descriptors stay open
    ds.check(False)
    assert ds._open_maps == {}  # check() may have decoded entries again


def test_stale_or_corrupt_cache_entries_are_decoded_again(demo, tmp_path, capsys):
    data = tmp_path / "d"
    shutil.copytree(demo, data)
    video, cache = first_video(str(data)), str(tmp_path / "cache")
    cached = reader.cache_video(cache, video, 32)
    array_path, entry_path = reader.cache_paths(cache, video, 32)
    assert cached[0] == array_path and reader.cache_video(cache, video, 32) == cached
    assert capsys.readouterr().out == ""  # an up-to-date entry is used silently
    expected = reader.read_cached_frames(cached, range(8))

    def damage_and_check(damage, problem):
        damage()
        again = reader.cache_video(cache, video, 32)
        assert f"frame cache {entry_path}: {problem}" in capsys.readouterr().out
        np.testing.assert_array_equal(reader.read_cached_frames(again, range(8)), expected)
        assert reader.cache_video(cache, video, 32) == again and capsys.readouterr().out == ""  # repaired

    def grow_keeping_mtime():
        stat = os.stat(video)
        with open(video, "ab") as f:
            f.write(b"\0")  # trailing bytes the decoder ignores
        os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    stat = os.stat(video)
    damage_and_check(lambda: os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9)), "stale")
    damage_and_check(grow_keeping_mtime, "stale")
    with open(array_path, "rb") as f:
        whole = f.read()
    damage_and_check(lambda: open(array_path, "wb").write(whole[:len(whole) // 2]), "corrupt array")
    damage_and_check(lambda: os.remove(array_path), "corrupt array")
    damage_and_check(lambda: open(entry_path, "w").write("{not json"), "unreadable index entry")
    np.save(tmp_path / "other.npy", np.zeros((8, 32, 33, 3), np.uint8))  # a valid array of another shape
    damage_and_check(lambda: shutil.copy(tmp_path / "other.npy", array_path), "corrupt array")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.load(array_path)))  # the right shape, other order
    damage_and_check(lambda: shutil.copy(tmp_path / "fortran.npy", array_path), "corrupt array (Fortran order)")


def test_bad_videos_are_named_with_the_frame_cache(tmp_path, demo):
    data = tmp_path / "d"
    shutil.copytree(demo, data)
    (data / "videos" / "bad.mp4").write_bytes(b"garbage")
    with open(data / "val.list", "a") as f:
        f.write("videos/bad.mp4 0\nvideos/missing.mp4 1\n")
    args = frames.resolve(_args(str(data)))
    args.frame_cache = str(tmp_path / "cache")
    with pytest.raises(utils.DataError, match=r"val.list:5: .*bad.mp4: not a readable video"):
        frames.datasets(args, ["val"])
    args.skip_bad_samples = True
    ds = frames.datasets(args, ["val"])["val"]
    assert len(ds) == 4 and len(ds.checked) == 4 and all(v.cached for v in ds.checked) and "missing.mp4: file not found" in ds.skipped[1]
    assert not any("bad.mp4" in name or "missing.mp4" in name for name in os.listdir(tmp_path / "cache"))
