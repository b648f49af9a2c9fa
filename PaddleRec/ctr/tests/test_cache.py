"""The binary cache: the same batches as the text stream, memory-mapped, rebuilt when the files, the
vocabulary or the scaling change, every line checked while it is built, and streaming when the disk
has no room for it."""
import os
import shutil

import numpy as np
import pytest

import reader
import utils


@pytest.fixture(scope="module")
def vocab(demo):
    return reader.FeatureVocab.build(reader.list_data_files(os.path.join(demo, "train")), min_freq=5)


def stream_batches(files, encoder, batch_size, world, rank, drop_last, counts=None):
    plan = reader.StreamPlan(files, batch_size, world, 0, counts)
    return [b for b, _ in reader.CriteoStream(plan, encoder, rank, drop_last=drop_last)]


@pytest.mark.parametrize("split, drop_last", [("train", True), ("valid", False)])
@pytest.mark.parametrize("world", [1, 2])
def test_cache_gives_the_streams_batches(demo, vocab, tmp_path, split, drop_last, world):
    files = reader.list_data_files(os.path.join(demo, split))
    encoder = reader.Encoder(vocab, "minmax")
    cache = reader.build_cache(str(tmp_path / split), files, encoder)
    counts = [f["lines"] for f in vocab.files] if split == "train" else None
    for rank in range(world):
        got = list(cache.batches(64, rank, world, drop_last=drop_last))
        expected = stream_batches(files, encoder, 64, world, rank, drop_last, counts)
        assert len(got) == len(expected) > 2
        for a, b in zip(got, expected):
            for x, y in zip(a, b):
                assert x.dtype == y.dtype and x.shape == y.shape
                np.testing.assert_array_equal(x, y)
    # resuming at batch k gives the rest
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(cache.batches(64, 0, world, 3, drop_last),
                                                          list(cache.batches(64, 0, world, 0, drop_last))[3:]))


def test_cache_is_memory_mapped_npy(demo, vocab, tmp_path):
    files = reader.list_data_files(os.path.join(demo, "valid"))
    cache = reader.build_cache(str(tmp_path / "valid"), files, reader.Encoder(vocab, "log"))
    assert sorted(os.listdir(cache.directory)) == ["dense.npy", "ids.npy", "label.npy", "meta.json"]
    assert isinstance(cache.ids, np.memmap) and cache.ids.dtype == np.int32 and cache.ids.shape == (500, 26)
    assert np.load(os.path.join(cache.directory, "dense.npy"), mmap_mode="r").shape == (500, 13)


def test_cache_is_rebuilt_when_its_sources_change(demo, vocab, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(os.path.join(demo, "valid"), data)
    files = reader.list_data_files(str(data))
    encoder = reader.Encoder(vocab, "minmax")
    directory = str(tmp_path / "cache" / "valid")
    first = reader.build_cache(directory, files, encoder)
    assert reader.open_cache(directory, files, encoder) is not None  # reused as it is
    with open(files[0], "a") as f:  # one more line: size and time change
        f.write(open(files[0]).readline())
    assert reader.open_cache(directory, files, encoder) is None
    assert len(reader.build_cache(directory, files, encoder)) == len(first) + 1
    os.utime(files[0], ns=(1, 1))  # only the time
    assert reader.open_cache(directory, files, encoder) is None
    reader.build_cache(directory, files, encoder)
    other_vocab = reader.FeatureVocab.build(reader.list_data_files(os.path.join(demo, "train")), min_freq=50)
    assert reader.open_cache(directory, files, reader.Encoder(other_vocab, "minmax")) is None
    assert reader.open_cache(directory, files, reader.Encoder(vocab, "log")) is None
    # a killed build's leftovers go with the next build
    os.makedirs(directory + ".tmp999")
    reader.build_cache(directory, files, reader.Encoder(vocab, "log"))
    assert not os.path.exists(directory + ".tmp999")


def test_bad_line_is_found_while_building(demo, vocab, tmp_path):
    lines = open(os.path.join(demo, "valid", "part-00000")).readlines()
    fields = lines[6].split("\t")
    lines[6] = "\t".join([fields[0], "7.5"] + fields[2:])
    path = str(tmp_path / "valid" / "part-00000")
    os.makedirs(os.path.dirname(path))
    open(path, "w").writelines(lines)
    encoder = reader.Encoder(vocab, "minmax")
    with pytest.raises(utils.DataError, match=f"^{path}:7: I1 must be an integer, found '7.5'$"):
        reader.build_cache(str(tmp_path / "cache"), [path], encoder)
    cache = reader.build_cache(str(tmp_path / "cache"), [path], encoder, skip_bad=True)
    assert len(cache) == 499 and cache.meta["bad_lines"] == 1
    with pytest.raises(utils.DataError, match=":7: I1"):  # a run without skip_bad does not reuse it silently
        reader.open_cache(str(tmp_path / "cache"), [path], encoder)


def test_no_room_on_disk_means_streaming(demo, vocab, tmp_path, monkeypatch):
    files = reader.list_data_files(os.path.join(demo, "valid"))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 ** 6, 10 ** 6, 1000))
    assert reader.build_cache(str(tmp_path / "valid"), files, reader.Encoder(vocab, "minmax")) is None
