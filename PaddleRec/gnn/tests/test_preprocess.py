"""preprocess.py reproduces the release's DIGINETICA split on a hand-made click log (each rule of its
docstring exercised), and stops on a bad line with its file and line (or skips and counts it)."""
import pickle

import pytest

from preprocess import preprocess
from utils import DataError

HEADER = "sessionId;userId;itemId;timeframe;eventdate\n"
ROWS = [  # session, item, timeframe, date
    (1, 200, 30, "2016-01-01"), (1, 100, 10, "2016-01-01"), (1, 300, 20, "2016-01-01"),  # sorted: 100 300 200
    (2, 100, 1, "2016-01-02"), (2, 200, 2, "2016-01-02"), (2, 999, 3, "2016-01-02"),     # 999: clicked once
    (3, 300, 1, "2016-01-03"),                                                           # one click: dropped
    (4, 200, 1, "2016-01-03"), (4, 300, 2, "2016-01-03"),
    (5, 100, 1, "2016-01-04"), (5, 300, 2, "2016-01-04"), (5, 200, 3, "2016-01-04"),
    (6, 100, 1, "2016-01-05"), (6, 200, 2, "2016-01-05"),                                # the split day: neither
    (7, 100, 1, "2016-01-10"), (7, 400, 2, "2016-01-10"), (7, 200, 3, "2016-01-10"),     # 400 unseen in train
    (8, 400, 1, "2016-01-12"), (8, 400, 2, "2016-01-12"), (8, 400, 3, "2016-01-12"), (8, 400, 4, "2016-01-12"),
    (9, 300, 1, "2016-01-02"), (9, 300, 2, "2016-01-02"),                                # dated before 4 and 5
]


def write_csv(tmp_path, rows=ROWS, extra=b""):
    path = tmp_path / "train-item-views.csv"
    text = HEADER + "".join(f"{s};NA;{i};{t};{d}\n" for s, i, t, d in rows)
    path.write_bytes(text.encode() + extra)
    return str(path)


def load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def test_the_release_split_by_hand(tmp_path):
    out = tmp_path / "out"
    assert preprocess(write_csv(tmp_path), str(out)) == 4
    assert (out / "config.txt").read_text() == "4\n"
    # train sessions by date (ties in file order): 1, 2, 9, 4, 5; items numbered 100 -> 1, 300 -> 2, 200 -> 3
    assert load(out / "all_train_seq.txt") == [[1, 2, 3], [1, 3], [2, 2], [3, 2], [1, 2, 3]]
    assert load(out / "train.txt") == ([[1, 2], [1], [1], [2], [3], [1, 2], [1]], [3, 2, 3, 2, 2, 3, 2])
    # session 7 loses item 400 (unseen in training), session 8 loses all its clicks and is dropped
    assert load(out / "test.txt") == ([[1]], [3])


def test_bad_lines(tmp_path):
    cases = [(b"1;NA;100;5\n", "expected 5 ';'-separated fields, got 4"),
             (b"1;NA;100;soon;2016-01-01\n", "timeframe 'soon' is not an integer"),
             (b"1;NA;100;5;01/01/2016\n", "eventdate '01/01/2016' is not YYYY-MM-DD"),
             (b"1;NA;;5;2016-01-01\n", "empty itemId"),
             (b"1;NA;10\xe90;5;2016-01-01\n", "not UTF-8 text (byte 8 of the line)")]
    line = len(ROWS) + 2
    for extra, message in cases:
        path = write_csv(tmp_path, extra=extra)
        with pytest.raises(DataError) as e:
            preprocess(path, str(tmp_path / "out"))
        assert str(e.value) == f"{path}:{line}: {message}"
    path = write_csv(tmp_path, extra=b"".join(extra for extra, _ in cases))
    assert preprocess(path, str(tmp_path / "out"), skip_bad=True) == 4
    assert load(tmp_path / "out" / "test.txt") == ([[1]], [3])
    (tmp_path / "bad_header.csv").write_text("session;item\n")
    with pytest.raises(DataError, match="bad_header.csv:1: the header has no sessionId column"):
        preprocess(str(tmp_path / "bad_header.csv"), str(tmp_path / "out"))
