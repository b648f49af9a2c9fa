"""The reader: parses the demo data, shards it without loss or overlap, resumes exactly, holds out
the dev lines, caps histories, and stops on each kind of bad input with a message naming the file
and line (or skips and counts it)."""
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import reader
import utils
from utils import DataError

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOD = ["1 2 3;0 1 1;4;2;1\n", "5;3;6;0;0\n", "7 8;2 2;9;2;1\n"]


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, os.path.join(FOLDER, "make_demo_data.py"), "--out_dir", str(out),
                    "--train_lines", "3000", "--test_lines", "500"], check=True, capture_output=True)
    return str(out)


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("".join(lines))
    return str(path)


def all_batches(stream, num_workers=0):
    return [b for b in reader.make_loader(stream, num_workers, use_shared_memory=False)]


def test_config_and_demo_lines_parse(demo_dir):
    users, items, cats = reader.read_config(demo_dir)
    assert (users, items, cats) == (3500, 1500, 30)
    path = os.path.join(demo_dir, "paddle_test.txt")
    counts, bad, truncated = reader.scan([path], items, cats)
    assert counts["all"] == [500] and bad == 0 and truncated == 0
    with open(path) as f:
        hist, hist_cats, target, target_cat, label, length = reader.parse_line(f.readline(), path, 1, items, cats)
    assert len(hist) == len(hist_cats) == length >= 1 and label in (0, 1)
    assert 0 <= target < items and 0 <= target_cat < cats


def test_dev_lines_are_held_out_of_training(demo_dir):
    """Without paddle_dev.txt, every 20th train line is the dev split and never a training line."""
    _, items, cats = reader.read_config(demo_dir)
    files, part = reader.split_source(demo_dir, "train")
    dev_files, dev_part = reader.split_source(demo_dir, "dev")
    assert files == dev_files and (part, dev_part) == ("train", "dev")

    def lines(part):
        stream = reader.DinStream(files, items, cats, batch_size=50, shuffle=True, part=part)
        return [b[6] for b in stream], stream

    train, stream = lines("train")
    dev, dev_stream = lines("dev")
    assert sum(len(b) for b in train) == 2850 and sum(len(b) for b in dev) == 150
    assert len(train) == stream.batches_per_rank([2850])[0] and len(dev) == dev_stream.batches_per_rank([150])[0]
    counts, _, _ = reader.scan(files, items, cats)
    assert counts["train"] == [2850] and counts["dev"] == [150]
    # the dev batches hold lines 20, 40, ... of the file: their targets are those lines' targets
    with open(files[0]) as f:
        every_20th = sorted(int(line.split(";")[2]) for n, line in enumerate(f, 1) if n % 20 == 0)
    dev_targets = sorted(t for b in reader.DinStream(files, items, cats, 50, shuffle=False, part="dev") for t in b[3])
    assert dev_targets == every_20th


def test_a_dev_file_is_used_when_there_is_one(tmp_path):
    for name in ("paddle_train.txt", "paddle_dev.txt", "paddle_test.txt"):
        write(tmp_path, name, GOOD)
    assert reader.split_source(str(tmp_path), "dev") == ([str(tmp_path / "paddle_dev.txt")], "all")
    assert reader.split_source(str(tmp_path), "train") == ([str(tmp_path / "paddle_train.txt")], "all")


def test_a_huge_history_is_capped_in_memory_and_shape(tmp_path):
    """One line with a 1,000,000-item history: the batch is [1, cap] wide, holds the most recent items,
    and reading it takes a few copies of the line's own bytes, not the tens of bytes per item of the
    parsed lists and the [batch, longest history] arrays of an uncapped reader (gigabytes in the model)."""
    n = 1_000_000
    path = tmp_path / "paddle_train.txt"
    with open(path, "w") as f:
        f.write(" ".join(str(i % 1000) for i in range(n)) + ";" + " ".join("1" for _ in range(n)) + ";4;2;1\n")
        f.writelines(GOOD)
    line_bytes = os.path.getsize(path)
    tracemalloc.start()
    stream = reader.DinStream([str(path)], 1000, 4, batch_size=4, shuffle=False, max_len=100)
    (hist, hist_cats, hist_len, *_), = list(iter(stream))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert hist.shape == (4, 100) and hist_len.tolist() == [1, 2, 3, 100]
    assert hist[3].tolist() == [i % 1000 for i in range(n - 100, n)]  # the most recent 100
    assert peak < 8 * line_bytes, (peak, line_bytes)
    counts, bad, truncated = reader.scan([str(path)], 1000, 4, max_len=100)
    assert counts["all"] == [4] and truncated == 1
    # the dropped part is still checked: ids, and the same number of items as categories
    with pytest.raises(DataError, match=":1: history item 'x' is not an integer id"):
        reader.parse_line("x " + "1 " * 200 + ";" + "1 " * 201 + ";4;2;1", "f", 1, 1000, 4, max_len=100)
    with pytest.raises(DataError, match=":1: 201 history items but 200 history categories"):
        reader.parse_line("1 " * 201 + ";" + "1 " * 200 + ";4;2;1", "f", 1, 1000, 4, max_len=100)


def test_loader_workers_die_with_the_trainer(tmp_path):
    stream = reader.DinStream([write(tmp_path, "paddle_train.txt", GOOD)], 10, 4, 2, shuffle=False, num_shards=2)
    assert reader.make_loader(stream, 2).worker_init_fn is utils.die_with_parent


def test_batch_padding_and_lengths(tmp_path):
    path = write(tmp_path, "paddle_test.txt", GOOD + [";;2;1;0\n"])  # a user with no history yet
    stream = reader.DinStream([path], 10, 4, batch_size=8, shuffle=False)
    (hist, hist_cats, hist_len, target, target_cat, label, index, meta), = list(iter(stream))
    # sorted by history length inside the block: lines 4, 2, 3, 1
    assert index.tolist() == [3, 1, 2, 0]
    assert hist_len.tolist() == [0, 1, 2, 3]
    assert hist.tolist() == [[0, 0, 0], [5, 0, 0], [7, 8, 0], [1, 2, 3]]
    assert hist_cats.tolist() == [[0, 0, 0], [3, 0, 0], [2, 2, 0], [0, 1, 1]]
    assert target.tolist() == [2, 6, 9, 4] and target_cat.tolist() == [1, 0, 2, 2]
    assert label.tolist() == [0.0, 0.0, 1.0, 1.0] and label.dtype == np.float32


@pytest.mark.parametrize("world,workers", [pytest.param(1, 2, marks=pytest.mark.slow), (2, 1),
                                           pytest.param(2, 2, marks=pytest.mark.slow)])
def test_shards_cover_every_line_once(demo_dir, world, workers):
    _, items, cats = reader.read_config(demo_dir)
    files = reader.split_files(demo_dir, "train")
    seen = []
    for rank in range(world):
        stream = reader.DinStream(files, items, cats, batch_size=16, shuffle=True, seed=3,
                                  num_shards=workers, rank=rank, world_size=world)
        got = [b[6].numpy() for b in all_batches(stream, workers)]
        assert len(got) == stream.batches_per_rank()[rank]
        seen.append(np.concatenate(got))
    seen = np.concatenate(seen)
    assert len(seen) == 3000 and len(np.unique(seen)) == 3000


def test_epochs_differ_and_runs_repeat(demo_dir):
    _, items, cats = reader.read_config(demo_dir)
    files = reader.split_files(demo_dir, "train")

    def order(epoch):
        stream = reader.DinStream(files, items, cats, batch_size=16, shuffle=True, seed=3)
        stream.set_epoch(epoch)
        return np.concatenate([b[6] for b in stream])

    assert np.array_equal(order(0), order(0))
    assert not np.array_equal(order(0), order(1))


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_resume_position_continues_exactly(demo_dir, workers):
    """Stop after k batches, restart from the saved position: the rest is exactly what an
    uninterrupted epoch would have given, with nothing read twice or left out."""
    _, items, cats = reader.read_config(demo_dir)
    files = reader.split_files(demo_dir, "train")
    shards = max(1, workers)

    def stream():
        s = reader.DinStream(files, items, cats, batch_size=16, shuffle=True, seed=5, num_shards=shards)
        s.set_epoch(1)
        return s

    full = [b[6].numpy() for b in all_batches(stream(), workers)]
    for stop in (1, 7, 30, len(full) - 1):
        position = reader.ReaderPosition(1, shards)
        for b in all_batches(stream(), workers)[:stop]:
            position.update(b[7].numpy())
        restored = reader.ReaderPosition.from_state(position.state())
        s = stream()
        s.set_epoch(1, restored)
        rest = [b[6].numpy() for b in all_batches(s, workers)]
        assert len(rest) == len(full) - stop
        assert all(np.array_equal(a, b) for a, b in zip(rest, full[stop:]))


BAD_LINES = [
    ("1 2;0 1;4;2\n", "expected 5 ';'-separated fields"),
    ("1 x;0 1;4;2;1\n", "history item 'x' is not an integer id"),
    ("1 2;0 1;4.5;2;1\n", "target item '4.5' is not an integer id"),
    ("1 2;0 1;4;2;2\n", "label '2' is not 0 or 1"),
    ("1 2;0 1;4;2;yes\n", "label 'yes' is not 0 or 1"),
    ("1 2;0;4;2;1\n", "2 history items but 1 history categories"),
    ("1 2;0 9;4;2;1\n", "history category 9 is out of range [0, 4)"),
    ("1 2;0 1;-4;2;1\n", "target item -4 is out of range [0, 10)"),
    ("\n", "expected 5 ';'-separated fields"),
]


def test_non_utf8_byte_names_file_and_line(tmp_path):
    path = str(tmp_path / "paddle_train.txt")
    with open(path, "wb") as f:
        f.write("".join(GOOD[:2]).encode() + b"1 2;0 1;4;2;1\xff\n" + GOOD[2].encode())
    for run in (lambda: list(iter(reader.DinStream([path], 10, 4, batch_size=2, shuffle=True))),
                lambda: reader.scan([path], 10, 4)):
        with pytest.raises(DataError) as e:
            run()
        assert str(e.value) == f"{path}:3: not UTF-8 text (byte 14 of the line)"
    assert reader.scan([path], 10, 4, skip_bad=True)[1] == 1
    batches = list(iter(reader.DinStream([path], 10, 4, batch_size=4, shuffle=True, skip_bad=True)))
    assert sum(len(b[5]) for b in batches) == 3 and sum(int(b[7][7]) for b in batches) == 1


@pytest.mark.parametrize("bad,message", BAD_LINES)
def test_bad_line_names_file_and_line(tmp_path, bad, message):
    path = write(tmp_path, "paddle_train.txt", GOOD[:2] + [bad] + GOOD[2:])
    stream = reader.DinStream([path], 10, 4, batch_size=2, shuffle=True)
    with pytest.raises(DataError) as e:
        list(iter(stream))
    assert str(e.value).startswith(f"{path}:3: ") and message in str(e.value)


def test_bad_lines_skipped_and_counted(tmp_path):
    lines = GOOD + [bad for bad, _ in BAD_LINES] + GOOD
    path = write(tmp_path, "paddle_train.txt", lines)
    stream = reader.DinStream([path], 10, 4, batch_size=4, shuffle=True, skip_bad=True)
    batches = list(iter(stream))
    assert sum(len(b[5]) for b in batches) == 6
    assert sum(int(b[7][7]) for b in batches) == len(BAD_LINES)


def test_bad_lines_at_the_end_still_counted(tmp_path):
    path = write(tmp_path, "paddle_train.txt", GOOD + ["oops\n", "1;1;1;1;7\n"])
    stream = reader.DinStream([path], 10, 4, batch_size=3, group_batches=1, shuffle=False, skip_bad=True)
    batches = list(iter(stream))
    assert [len(b[5]) for b in batches] == [3, 0] and int(batches[-1][7][7]) == 2


def test_empty_file(tmp_path):
    path = write(tmp_path, "paddle_train.txt", [])
    with pytest.raises(DataError, match=f"^{path}:0: file is empty"):
        list(iter(reader.DinStream([path], 10, 4, batch_size=2, shuffle=True)))
    with pytest.raises(DataError, match=f"^{path}:0: file is empty"):
        reader.scan([path], 10, 4)


def test_missing_files_and_bad_config(tmp_path):
    with pytest.raises(DataError, match="config.txt:0: no such file"):
        reader.read_config(str(tmp_path))
    with pytest.raises(DataError, match="paddle_train.txt:0: no such file"):
        reader.split_files(str(tmp_path), "train")
    write(tmp_path, "config.txt", ["10\n", "ten\n", "4\n"])
    with pytest.raises(DataError, match="config.txt:2: expected a positive integer count, got 'ten'"):
        reader.read_config(str(tmp_path))
