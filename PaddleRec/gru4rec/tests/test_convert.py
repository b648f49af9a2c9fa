"""convert_rsc15.py: the published preprocessing (sessions of one click and rare items dropped, the
last day as test and the day before as dev, test items limited to the training items), the output
layout, and bad lines of the raw log."""
import os

import pytest

import convert_rsc15
import reader
import utils

DAY = "2014-04-0{}T{}:00:00.000Z"


def write_log(path, rows):
    with open(path, "w") as f:
        f.write("".join(f"{s},{DAY.format(day, hour)},{item},0\n" for s, day, hour, item in rows))
    return str(path)


def test_published_preprocessing_and_split(tmp_path):
    rows = []
    for k in range(6):  # days 1-2: train; items 100 and 101 clicked often, 102 five times
        rows += [(k + 1, 1, 10 + k, 101), (k + 1, 1, 10 + k, 100)]
    rows += [(20, 1, "08", 102)] * 3 + [(21, 1, "08", 102), (21, 1, "09", 102), (21, 1, "10", 100)]
    rows += [(30, 1, "05", 103), (30, 1, "06", 101)]  # item 103 clicked once: rare, dropped -> session too short
    rows += [(31, 1, "05", 100)]  # a session of one click
    rows += [(40, 3, "05", 100), (40, 3, "06", 101), (40, 3, "07", 100)]  # the last day before the test's: dev
    rows += [(50, 4, "05", 101), (50, 4, "06", 100), (51, 4, "07", 101), (51, 4, "08", 104)] + [(52, 4, h, 104) for h in ("09", "10", "11", "12", "13")]
    clicks = write_log(tmp_path / "clicks.dat", rows)
    out = str(tmp_path / "out")
    counts = convert_rsc15.convert(clicks, out)
    assert reader.read_vocab_size(out) == 3  # 100, 101, 102; 104 is only in the test day
    read = lambda split: open(reader.split_files(out, split)[0]).read().splitlines()  # noqa: E731
    # index by falling click count in train_tr: 100 (7 clicks), 101 (6), 102 (5)
    assert open(os.path.join(out, "item_ids.txt")).read().split() == ["100", "101", "102"]
    # sessions by start time, ties (20 and 21 both start at 08:00) by session id
    assert read("train") == ["2 2 2", "2 2 0"] + ["1 0"] * 6
    assert read("dev") == ["0 1 0"]
    assert read("test") == ["1 0"]  # session 51 keeps one click after 104 is dropped; 52 none
    assert counts["clicks"] == len(rows) and counts["test_data"] == (1, 2)


def test_bad_lines_name_file_and_line(tmp_path):
    good = "1,2014-04-01T10:00:00.000Z,5,0\n"
    cases = [("1,2014-04-01T10:00:00.000Z,5\n", "expected 4 comma-separated fields"),
             ("1,2014-04-01 10:00:00,5,0\n", "timestamp '2014-04-01 10:00:00' is not like"),
             ("1,2014-04-01T10:00:00.000Z,abc,0\n", "item id 'abc' is not a non-negative integer")]
    for bad, message in cases:
        path = tmp_path / "clicks.dat"
        path.write_text("session_id,timestamp,item_id,category\n" + good + bad)
        with pytest.raises(utils.DataError, match=f"^{path}:3: {message}"):
            convert_rsc15.read_clicks(str(path))
        sessions, _, _, skipped = convert_rsc15.read_clicks(str(path), skip_bad=True)
        assert len(sessions) == 1 and skipped == 1
    path.write_bytes(good.encode() + b"2,2014-04-01T10:00:00.000Z,5,\xe9\n")
    with pytest.raises(utils.DataError, match=rf"^{path}:2: not UTF-8 text \(byte 30 of the line\)$"):
        convert_rsc15.read_clicks(str(path))


def test_demo_log_keeps_its_structure_through_the_conversion(demo):
    """The generator's one-click sessions and rare items are what the conversion drops."""
    raw = os.path.join(os.path.dirname(demo), "raw", "yoochoose-clicks.dat")
    sessions, _, items, _ = convert_rsc15.read_clicks(raw)
    kept = sum(len(line.split()) for split in ("train", "dev", "test") for line in open(reader.split_files(demo, split)[0]))
    assert 0.6 * len(sessions) < kept < 0.97 * len(sessions)
    assert reader.read_vocab_size(demo) < len(set(items.tolist()))
