"""The reader: parses the release's pickles and session lines, holds out whole sessions as the dev
split, builds the batch graph, cuts the batches over ranks, and handles each kind of bad input with
a message naming the file and line (or skips and counts it)."""
import os
import pickle

import numpy as np
import pytest

import reader
from utils import DataError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_demo_files_parse_and_dev_sessions_are_held_out(demo):
    items_num = reader.read_config(demo)
    train, train_idx, dev, dev_idx = reader.load_train_dev(demo, items_num)
    assert dev is train and len(train_idx) + len(dev_idx) == len(train) > 1000
    with open(os.path.join(demo, "train.txt"), "rb") as f:
        seqs, labels = pickle.load(f)
    assert train.seq(0).tolist() == seqs[0] and train.labels.tolist() == labels
    # sessions: a sample continues the previous one when its clicks + target are the previous clicks
    sessions = np.cumsum([0] + [not (s + [l] == p) for p, s, l in zip(seqs, seqs[1:], labels[1:])])
    assert train.session.tolist() == sessions.tolist()
    assert set(train.session[dev_idx] % 20) == {19} and not set(train.session[dev_idx]) & set(train.session[train_idx])
    test, test_idx = reader.load_split(demo, "test", items_num)
    assert len(test_idx) == len(test) > 50 and test.labels.min() >= 1 and test.labels.max() < items_num


def test_batch_graph():
    class S:
        items = np.array([5, 3, 5, 7, 3, 3, 2], dtype=np.int64)
        offsets = np.array([0, 6, 7])
        labels = np.array([9, 4])

        def seq(self, k):
            return self.items[self.offsets[k]:self.offsets[k + 1]]
    nodes, src, dst, seq_index, seq_len, last, labels, index = reader.make_batch(S(), [0, 1])
    assert nodes.tolist() == [3, 5, 7, 2]  # distinct items of each session, sessions side by side
    # edges 5->3, 3->5, 5->7, 7->3, 3->3 (3->3 twice: counted once)
    assert sorted(zip(nodes[src].tolist(), nodes[dst].tolist())) == [(3, 3), (3, 5), (5, 3), (5, 7), (7, 3)]
    assert seq_index.tolist() == [[1, 0, 1, 2, 0, 0], [3, 0, 0, 0, 0, 0]] and seq_len.tolist() == [6, 1]
    assert last.tolist() == [0, 3] and labels.tolist() == [9, 4] and index.tolist() == [0, 1]


def test_batches_cover_the_split_once_over_ranks():
    idx = np.arange(1000, 1103)
    one = reader.train_batches(idx, 10, seed=1, epoch=0)
    assert len(one) == 10 and len(set(np.concatenate(one))) == 100
    assert all((a == b).all() for a, b in zip(one, reader.train_batches(idx, 10, seed=1, epoch=0)))
    assert not (reader.train_batches(idx, 10, seed=1, epoch=1)[0] == one[0]).all()
    ranks = [reader.train_batches(idx, 10, seed=1, epoch=0, rank=r, world_size=3) for r in range(3)]
    assert [len(r) for r in ranks] == [3, 3, 3] and len(set(np.concatenate(sum(ranks, [])))) == 90
    evals = [reader.eval_batches(idx, 10, r, 2) for r in range(2)]
    assert sorted(np.concatenate(sum(evals, [])).tolist()) == idx.tolist()


def test_bad_lines_stop_with_file_and_line(tmp_path):
    cases = [("1 2 3;4\n5 x;6\n", 2, "item 'x' is not a non-negative integer id"),
             ("1 2;3;4\n", 1, "expected 'item item ...;label', got 3 ';'-separated fields"),
             ("1 2 3\n", 1, "expected 'item item ...;label', got 1 ';'-separated fields"),
             ("1 2;-3\n", 1, "label '-3' is not a non-negative integer id"),
             (b"1 2;3\n4 \xff5;6\n", 2, "not UTF-8 text (byte 3 of the line)")]
    for text, line, message in cases:
        path = write(tmp_path, "train.txt", text)
        with pytest.raises(DataError) as e:
            reader.Samples(path, 10)
        assert str(e.value) == f"{path}:{line}: {message}"
    path = write(tmp_path, "train.txt", b"1 2;3\n5 x;6\n\xff;1\n4;5\n")
    samples = reader.Samples(path, 10, skip_bad=True)
    assert len(samples) == 2 and samples.bad == 2 and samples.bad_lines == [2, 3]
    with pytest.raises(DataError, match=f"^{write(tmp_path, 'empty.txt', '')}:0: file is empty$"):
        reader.Samples(str(tmp_path / "empty.txt"), 10)


def test_unknown_items_and_empty_sessions_are_counted(tmp_path):
    path = write(tmp_path, "test.txt", "1 12 3;4\n;5\n\n0 2;99999999999999999999999\n2 3;1\n")
    samples = reader.Samples(path, 10)
    assert len(samples) == 3 and samples.empty == 2 and samples.empty_lines == [2, 3]
    assert samples.unknown_items == 2 and samples.seq(0).tolist() == [1, 0, 3] and samples.seq(1).tolist() == [0, 2]
    assert samples.unknown_labels == 1 and samples.labels.tolist() == [4, 0, 1] and samples.lines.tolist() == [1, 4, 5]
    assert samples.counts_text() == "2 empty sessions skipped; 2 unknown clicks mapped to id 0; 1 unknown targets"
    unlabelled = reader.Samples(write(tmp_path, "own.txt", "1 2\n3;4\n"), 10, need_label=False)
    assert unlabelled.has_label.tolist() == [False, True] and unlabelled.labels.tolist() == [0, 4]


def test_release_pickles_are_checked_and_nothing_else_is_unpickled(tmp_path):
    good = write(tmp_path, "train.txt", pickle.dumps(([[1, 2], [1]], [3, 2])))
    assert reader.Samples(good, 10).labels.tolist() == [3, 2]
    bad = write(tmp_path, "bad.txt", pickle.dumps(([[1, 2], [1, "a"]], [3, 2])))
    with pytest.raises(DataError, match=r"bad.txt:2: session \[1, 'a'\] is not a list of non-negative integer ids"):
        reader.Samples(bad, 10)
    evil = write(tmp_path, "evil.txt", pickle.dumps((os.getcwd, [1])))
    with pytest.raises(DataError, match="evil.txt:0: not the release's pickle .*refusing to load posix.getcwd"):
        reader.Samples(evil, 10)
    uneven = write(tmp_path, "uneven.txt", pickle.dumps(([[1]], [1, 2])))
    with pytest.raises(DataError, match="uneven.txt:0: not the release's pickle"):
        reader.Samples(uneven, 10)


def test_config_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="config.txt:0: no such file"):
        reader.read_config(str(tmp_path))
    write(tmp_path, "config.txt", "many\n")
    with pytest.raises(DataError, match="config.txt:1: expected the item count"):
        reader.read_config(str(tmp_path))
    with pytest.raises(DataError, match="train.txt:0: no such file"):
        reader.load_train_dev(str(tmp_path), 10)
