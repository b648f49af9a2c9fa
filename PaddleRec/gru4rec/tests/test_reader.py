"""The reader: the demo data parses; each kind of bad input gets its clear message (or is skipped and
counted); batches, padding and the length-bucketed, resumable sampler."""
import argparse
import os

import numpy as np
import pytest

import reader
import utils


def args(**kw):
    return argparse.Namespace(**{"max_seq_len": reader.MAX_SEQ_LEN, "skip_bad_samples": False,
                                 "dev_every": reader.DEV_EVERY, **kw})


def data_dir(root, train_lines, vocab=b"10\n", dev_lines=None):
    os.makedirs(root / "train_data")
    (root / "vocab.txt").write_bytes(vocab)
    (root / "train_data" / "part.txt").write_bytes(b"".join(train_lines))
    if dev_lines is not None:
        os.makedirs(root / "dev_data")
        (root / "dev_data" / "part.txt").write_bytes(b"".join(dev_lines))
    return str(root)


def test_demo_data_parses(demo):
    vocab = reader.read_vocab_size(demo)
    for split in ("train", "dev", "test"):
        data = reader.load_split(demo, split, vocab, args())
        assert len(data) > 50 and all(len(s) >= 2 and s.max() < vocab for s in data.sessions)
        assert not any(data.stats.counts.values())


def test_each_kind_of_bad_input(tmp_path, capsys):
    lines = [b"1 2 3\n", b"4 x 5\n", b"\n", b"6 12 7\n", b"8\n", b"1 2\xff\n", b"1 2 3 4 5 6 7 8\n", b"3 -1\n"]
    root = data_dir(tmp_path, lines)
    path = os.path.join(root, "train_data", "part.txt")
    with pytest.raises(utils.DataError, match=f"^{path}:2: item 'x' is not a non-negative integer index$"):
        reader.load_split(root, "train", 10, args(dev_every=100))
    data = reader.load_split(root, "train", 10, args(dev_every=100, skip_bad_samples=True, max_seq_len=4))
    out = capsys.readouterr().out
    assert [s.tolist() for s in data.sessions] == [[1, 2, 3], [6, 10, 7], [4, 5, 6, 7, 8]]  # 12 -> unknown (10)
    assert data.stats.counts == {"bad": 3, "empty": 1, "single": 1, "unknown": 1, "truncated": 1}
    for note in ("3 bad lines skipped (first at " + path + ":2)", "1 empty sessions skipped (first at " + path + ":3)",
                 "1 item indices outside the vocabulary mapped to the unknown item (first at " + path + ":4)",
                 "1 sessions of one item skipped", "1 sessions cut to their last 5 items (first at " + path + ":7)"):
        assert note in out, out
    root2 = data_dir(tmp_path / "utf8", [b"1 2\n", b"1 2\xff\n"])
    with pytest.raises(utils.DataError, match=r"train_data/part.txt:2: not UTF-8 text \(byte 4 of the line\)$"):
        reader.load_split(root2, "train", 10, args(dev_every=100))
    with pytest.raises(utils.DataError, match=r":8: item '-1' is not a non-negative integer"):
        reader.parse_session("3 -1", path, 8, 10)


@pytest.mark.parametrize("vocab, message", [(b"", ":1: empty"), (b"ten\n", ":1: expected the number of items"),
                                            (None, ":0: no such file")])
def test_bad_vocabulary_file(tmp_path, vocab, message):
    root = data_dir(tmp_path, [b"1 2\n"], vocab=vocab or b"")
    if vocab is None:
        os.remove(tmp_path / "vocab.txt")
    with pytest.raises(utils.DataError, match=message):
        reader.read_vocab_size(root)


def test_dev_split_is_held_out_of_train_without_dev_data(tmp_path):
    root = data_dir(tmp_path, [f"{i % 9} {(i + 1) % 9}\n".encode() for i in range(40)])
    train = reader.load_split(root, "train", 10, args(dev_every=4), verbose=False)
    dev = reader.load_split(root, "dev", 10, args(dev_every=4), verbose=False)
    assert len(train) == 30 and len(dev) == 10 and dev.sessions[0].tolist() == [3, 4]  # line 4
    with pytest.raises(utils.DataError, match="test_data:0: no files"):
        reader.load_split(root, "test", 10, args())


def test_collate_pads_and_shifts():
    inputs, targets, lengths = reader.collate([np.array([1, 2, 3]), np.array([7, 8])])
    assert inputs.tolist() == [[1, 2], [7, 0]] and targets.tolist() == [[2, 3], [8, 0]] and lengths.tolist() == [2, 1]


def test_sampler_buckets_resumes_and_shards(monkeypatch):
    lengths = np.random.default_rng(0).integers(2, 30, 200)
    sampler = reader.LengthBucketSampler(lengths, 8, shuffle=True, seed=3, pool_batches=5)
    sampler.set_epoch(2)
    full = list(sampler)
    assert sorted(i for b in full for i in b) == list(range(200)) and len(sampler) == len(full) == 25
    assert np.mean([np.ptp(lengths[b]) for b in full]) < 0.5 * np.ptp(lengths)  # similar lengths per batch
    sampler.set_epoch(2, start_batch=10)
    assert list(sampler) == full[10:]
    sampler.set_epoch(3)
    assert list(sampler) != full
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    shares = []
    for rank in ("0", "1"):
        monkeypatch.setenv("PADDLE_TRAINER_ID", rank)
        sampler.set_epoch(2)
        shares.append({i for b in sampler for i in b})
    assert len(shares[0]) == len(shares[1]) == 100 and not shares[0] & shares[1]
