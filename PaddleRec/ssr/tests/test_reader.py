"""The reader parses the demo data and handles each kind of odd input as README says: malformed
line, unknown item id (mapped to the unknown id and counted), empty and one-item sessions (skipped
and counted), non-UTF-8 bytes (file:line); batches are deterministic, resumable and split over
ranks; convert_rsc15.py applies GRU4Rec's filters and split by time."""
import os

import numpy as np
import pytest

import reader
from convert_rsc15 import convert
from utils import DataError


def data_dir(tmp_path, train, test=("1 2 3\n",), vocab="10\n", dev=None):
    for folder, lines in (("train_data", train), ("test_data", test), ("dev_data", dev)):
        if lines is not None:
            os.makedirs(tmp_path / folder, exist_ok=True)
            (tmp_path / folder / "part-0.txt").write_bytes(
                b"".join(l if isinstance(l, bytes) else l.encode() for l in lines))
    (tmp_path / "vocab.txt").write_text(vocab)
    return str(tmp_path)


def test_demo_data_parses(demo):
    vocab = reader.read_vocab(demo)
    for split in ("train", "dev", "test"):
        samples = reader.load_split(demo, split, vocab)
        assert len(samples) > 200 and samples.counts["samples"] == len(samples) == samples.counts["lines"]
        assert samples.targets.max() < vocab and samples.flat.max() < vocab and samples.lengths.min() >= 1


def test_odd_lines_are_counted_and_skipped(tmp_path):
    d = data_dir(tmp_path, ["1 2 3\n", "\n", "4\n", "  \n", "1 12 5\n", "3 4 15\n", "7 8\n"], dev=["1 2\n"])
    samples = reader.load_split(d, "train", reader.read_vocab(d))
    c = samples.counts
    assert (c["lines"], c["samples"], c["empty"], c["one_item"], c["unknown_items"], c["unknown_target"]) == (7, 3, 2, 1, 1, 1)
    assert samples.sequence(1).tolist() == [1, 10] and samples.targets.tolist() == [3, 5, 8]  # 12 -> unknown id 10
    assert samples.where[1][1] == 5
    text = samples.summary()
    assert "2 empty lines skipped" in text and "1 unknown item ids mapped to the unknown id" in text


@pytest.mark.parametrize("line, message", [
    (b"1 x 3\n", "item 'x' is not a non-negative integer id"),
    (b"1 -2 3\n", "item '-2' is not a non-negative integer id"),
    (b"1,2,3\n", "item '1,2,3' is not a non-negative integer id"),
    (b"1 2 \xff3\n", "not UTF-8 text \\(byte 5 of the line\\)"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    d = data_dir(tmp_path, ["1 2 3\n", "4 5\n", line, "6 7\n"], dev=["1 2\n"])
    path = os.path.join(d, "train_data", "part-0.txt")
    with pytest.raises(DataError, match=f"^{path}:3: {message}$"):
        reader.load_split(d, "train", 10)
    samples = reader.load_split(d, "train", 10, skip_bad=True)
    assert samples.counts["bad"] == 1 and len(samples) == 3


def test_dev_split_from_train_lines(tmp_path):
    d = data_dir(tmp_path, [f"{i % 9} {(i + 1) % 9}\n" for i in range(40)])
    train = reader.load_split(d, "train", 10, dev_every=20)
    dev = reader.load_split(d, "dev", 10, dev_every=20)
    assert len(train) == 38 and [w[1] for w in dev.where] == [20, 40]


def test_max_len_keeps_the_last_clicks(tmp_path):
    d = data_dir(tmp_path, ["1 2 3 4 5 6\n"], dev=["1 2\n"])
    samples = reader.load_split(d, "train", 10, max_len=3)
    assert samples.sequence(0).tolist() == [3, 4, 5] and samples.counts["truncated"] == 1


def test_missing_and_bad_vocab_and_dirs(tmp_path):
    with pytest.raises(DataError, match="vocab.txt:0: no such file"):
        reader.read_vocab(str(tmp_path))
    (tmp_path / "vocab.txt").write_text("many\n")
    with pytest.raises(DataError, match="vocab.txt:1: expected the number of items"):
        reader.read_vocab(str(tmp_path))
    with pytest.raises(DataError, match="train_data:0: no such directory"):
        reader.split_files(str(tmp_path), "train")


def test_batches_deterministic_sharded_and_resumable(demo):
    vocab = reader.read_vocab(demo)
    samples = reader.load_split(demo, "train", vocab)
    one = reader.SessionBatches(samples, 32, vocab, shuffle=True, num_neg=2, seed=5)
    one.set_epoch(1)
    again = reader.SessionBatches(samples, 32, vocab, shuffle=True, num_neg=2, seed=5)
    again.set_epoch(1)
    for a, b in zip(one[3], again[3]):
        np.testing.assert_array_equal(a, b)
    items, lengths, targets, negatives, rows = one[3]
    assert items.shape == (32, lengths.max()) and negatives.shape == (32, 2) and negatives.max() < vocab
    np.testing.assert_array_equal(targets, samples.targets[rows])
    assert (items[0, :lengths[0]] == samples.sequence(rows[0])).all()
    # resuming from batch 5 gives the batches 5, 6, ... of the uninterrupted epoch
    resumed = list(reader.make_loader(one, 0, start=5))
    assert len(resumed) == len(one) - 5
    np.testing.assert_array_equal(resumed[0][4].numpy(), one[5][4])
    # two ranks: disjoint samples, the same number of batches
    ranks = [reader.SessionBatches(samples, 32, vocab, shuffle=True, seed=5, rank=r, world_size=2) for r in (0, 1)]
    seen = [set(np.concatenate([r[k][4] for k in range(len(r))]).tolist()) for r in ranks]
    assert len(ranks[0]) == len(ranks[1]) and not seen[0] & seen[1]
    # evaluation over two ranks covers every sample exactly once
    evals = [reader.SessionBatches(samples, 100, vocab, shuffle=False, rank=r, world_size=2) for r in (0, 1)]
    covered = np.concatenate([e[k][4] for e in evals for k in range(len(e))])
    assert sorted(covered.tolist()) == list(range(len(samples)))


def test_convert_applies_the_filters_and_the_split_by_time(tmp_path):
    """Item 9 has 4 clicks (< 5: dropped), which leaves session 6 with one click (dropped); session 8
    has one click (dropped first). Session 5 ends in the last day (test), session 4 in the day
    before (dev); dev keeps only items of the remaining train sessions, test those of all training."""
    day = 86400
    clicks = []

    def add(session, t, item):
        stamp = f"1970-01-{1 + t // day:02d}T{t % day // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}.000Z"
        clicks.append(f"{session},{stamp},{item},0\n")
    for s in (1, 2, 3):
        for k, item in enumerate((100, 200, 100, 300)):
            add(s, 1000 * s + 60 * k, item)
        add(s, 5000, 9)
    add(6, 100, 9)
    add(6, 200, 100)
    add(7, 300, 200)
    add(7, 400, 200)
    add(8, 500, 300)
    for k, item in enumerate((200, 100, 300, 400)):
        add(4, 3 * day + 60 * k, item)
    for k, item in enumerate((400, 400, 400, 400, 300, 100)):
        add(5, 5 * day + 60 * k, item)
    path = tmp_path / "yoochoose-clicks.dat"
    path.write_text("".join(reversed(clicks)))  # any order: sessions and times are sorted
    vocab, written = convert(str(path), str(tmp_path / "out"))

    def read(name):
        return (tmp_path / "out" / name).read_text().splitlines()
    assert vocab == 4 and read("vocab.txt") == ["4"]
    assert read("item_ids.txt") == ["100", "200", "300", "400"]  # 8, 6, 5 and 4 clicks in the outputs
    assert read("train_data/rsc15_train_tr_paddle.txt") == ["0 1 0 2"] * 3 + ["1 1"]
    assert read("dev_data/rsc15_valid_paddle.txt") == ["1 0 2"]  # 400 is not in the train sessions
    assert read("test_data/rsc15_test_paddle.txt") == ["3 3 3 3 2 0"]  # 400 is in the dev session
    assert written == {"train_data": (4, 14), "dev_data": (1, 3), "test_data": (1, 6)}


def test_convert_rejects_a_bad_raw_line(tmp_path):
    path = tmp_path / "yoochoose-clicks.dat"
    path.write_text("1,2014-04-07T10:51:09.277Z,214536502,0\n1;2014-04-07;5\n")
    with pytest.raises(DataError, match=f"^{path}:2: expected session_id,timestamp,item_id,category"):
        convert(str(path), str(tmp_path / "out"))
