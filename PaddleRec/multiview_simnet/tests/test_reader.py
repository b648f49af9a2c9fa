"""The slot format: the demo parses; each kind of bad input is refused with file:line, or skipped
and counted; unknown ids are mapped to 0 and counted; batches pad and shard as documented."""
import os

import pytest

import reader
from utils import DataError

LAYOUT = reader.SlotLayout(2, 2)


def write(tmp_path, lines, name="train.txt", split="train"):
    folder = tmp_path / split
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(line if isinstance(line, bytes) else line.encode() + b"\n" for line in lines))
    return str(path)


GOOD = "0:5 0:6 1:7 2:8 2:9 2:10 3:11 4:12 5:13"


def test_demo_parses_in_slot_order(demo):
    path = os.path.join(demo, "train", "train.txt")
    data = reader.SlotDataset([path], LAYOUT, 3001)
    assert len(data) == 400 and data.report() == ""
    with open(path) as f:
        first = f.readline().split()
    for k in range(6):
        assert data[0][k].tolist() == [int(t.split(":")[1]) for t in first if t.startswith(f"{k}:")]


def test_interleaved_tokens_keep_their_order_within_a_slot():
    sample, unknown = reader.parse_line("2:8 0:5 4:12 0:6 1:7 3:11 2:9 5:13", "f", 1, LAYOUT, 100)
    assert [s.tolist() for s in sample] == [[5, 6], [7], [8, 9], [11], [12], [13]] and unknown == 0


@pytest.mark.parametrize("line, message", [
    ("0:5 0:x 1:7 2:8 3:9 4:1 5:2", "token '0:x' is not slot:id"),
    ("0:5 0:-3 1:7 2:8 3:9 4:1 5:2", "token '0:-3' is not slot:id"),
    ("0:5 05 1:7 2:8 3:9 4:1 5:2", "token '05' is not slot:id"),
    ("0:5 1:7 2:8 3:9 4:1 5:2 6:1", r"slot 6 is outside the 6 slots \(query 0-1, positive title 2-3, negative title 4-5"),
])
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path, [GOOD, line])
    with pytest.raises(DataError, match=f"^{path}:2: {message}"):
        reader.SlotDataset([path], LAYOUT, 100)
    data = reader.SlotDataset([path], LAYOUT, 100, skip_bad=True)
    assert len(data) == 1 and data.counts["bad_lines"] == 1 and "1 bad lines skipped" in data.report()


def test_non_utf8_byte(tmp_path):
    path = write(tmp_path, [GOOD, b"0:5 \xff1:7\n"])
    with pytest.raises(DataError, match=f"^{path}:2: not UTF-8 text \\(byte 5 of the line\\)"):
        reader.SlotDataset([path], LAYOUT, 100)


def test_unknown_ids_map_to_zero_and_are_counted(tmp_path):
    path = write(tmp_path, [GOOD.replace("0:6", "0:100").replace("5:13", "5:12345")])
    data = reader.SlotDataset([path], LAYOUT, 100)
    assert data[0][0].tolist() == [5, 0] and data[0][5].tolist() == [0]
    assert data.counts["unknown_ids"] == 2 and "2 ids outside the vocabulary mapped to the unknown id 0" in data.report()


def test_empty_lines_and_empty_slots_are_skipped_and_counted(tmp_path):
    path = write(tmp_path, [GOOD, "", "   ", "0:5 1:7 2:8 3:9 5:2", GOOD])
    data = reader.SlotDataset([path], LAYOUT, 100)
    assert len(data) == 2 and data.where == [(path, 1), (path, 5)]
    assert data.counts["empty_lines"] == 2 and data.counts["empty_slot_lines"] == 1
    assert f"(first: {path}:4: slot 4 (negative title view 0) is empty)" in data.report()


def test_pairs_only_where_allowed():
    pair = "0:5 1:7 2:8 3:9"
    with pytest.raises(reader.SkippedLine, match="slot 4 .* is empty"):
        reader.parse_line(pair, "f", 1, LAYOUT, 100)
    sample, _ = reader.parse_line(pair, "f", 1, LAYOUT, 100, allow_pair=True)
    assert len(sample) == 4


def test_dev_split_is_every_20th_train_line(tmp_path):
    path = write(tmp_path, [GOOD.replace("0:5", f"0:{i}") for i in range(1, 46)])
    files, part = reader.split_source(str(tmp_path), "train")
    train = reader.SlotDataset(files, LAYOUT, 100, part=part)
    dev = reader.SlotDataset(*reader.split_source(str(tmp_path), "dev")[:1], LAYOUT, 100, part="dev")
    assert [w[1] for w in dev.where] == [20, 40] and len(train) == 43
    assert reader.split_source(str(tmp_path), "dev") == ([path], "dev")
    (tmp_path / "dev").mkdir()
    write(tmp_path, [GOOD], split="dev")
    assert reader.split_source(str(tmp_path), "train")[1] == "all"  # a dev/ folder: every train line trains


def test_no_dev_folder_and_no_held_out_lines_is_refused(tmp_path):
    write(tmp_path, [GOOD])
    with pytest.raises(DataError, match=f"^{tmp_path}/dev:0: no dev folder, and --dev_every 0"):
        reader.split_source(str(tmp_path), "dev", dev_every=0)


def test_missing_split(tmp_path):
    with pytest.raises(DataError, match=f"^{tmp_path}/test:0: no such directory"):
        reader.split_files(str(tmp_path), "test")


def test_collate_pads_and_keeps_both_titles_aligned():
    a, _ = reader.parse_line("0:1 0:2 0:3 1:4 2:5 3:6 3:7 4:8 4:9 4:10 4:11 5:12", "f", 1, LAYOUT, 100)
    b, _ = reader.parse_line("0:1 1:4 1:5 2:6 3:7 4:8 5:9", "f", 2, LAYOUT, 100)
    q, ql, p, pl, n, nl = reader.collate_triples([a, b], LAYOUT)
    assert q.shape == (2, 2, 3) and ql.tolist() == [[3, 1], [1, 2]]
    assert p.shape == n.shape == (2, 2, 4)  # both titles padded to their common longest slot
    assert pl.tolist() == [[1, 2], [1, 1]] and nl.tolist() == [[4, 1], [1, 1]]
    assert n[0, 0].tolist() == [8, 9, 10, 11] and p[1, 1].tolist() == [7, 0, 0, 0]


def test_sampler_shards_and_restarts_mid_epoch(monkeypatch):
    sampler = reader.ShardedBatchSampler(50, 8, seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    assert len(full) == len(sampler) == 7 and sorted(sum(full, [])) == list(range(50))
    sampler.set_epoch(2, start_batch=4)
    assert list(sampler) == full[4:]
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    shares = []
    for rank in ("0", "1"):
        monkeypatch.setenv("PADDLE_TRAINER_ID", rank)
        shares.append(sum(list(sampler.__class__(50, 8, seed=3)), []))
    assert len(shares[0]) == len(shares[1]) == 25 and not set(shares[0]) & set(shares[1])
    assert reader.eval_batches(5, 2) == [[1, 3]]  # rank 1 of 2 scores lines 1 and 3
