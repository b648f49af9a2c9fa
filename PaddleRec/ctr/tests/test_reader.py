"""The Criteo reader: parsing, vocabulary, dense scaling, bad input, and how the stream is sharded."""
import os
import re

import numpy as np
import pytest

import paddle

import utils

import reader

# A real-looking line: label, 13 integers (some blank, I2 negative), 26 categorical (some blank).
DENSE = ["5", "-3", "", "7", "100", "", "0", "1", "2", "", "0", "", "3"]
CATEGORICAL = ["68fd1e64", "80e26c9b", "", "", "25c83c98", "7e0ccccf", "fb936136", "7b4723c4", "25c83c98",
               "de7995b8", "1f89b562", "a73ee510", "a8cd5504", "b2cb9c98", "37c9c164", "2824a5f6", "1adce6ef",
               "8ba8b39a", "891b62e7", "e5ba7672", "f54016b9", "21ddcdc9", "b1252a9d", "07b5194c", "", "3a171ecb"]
GOOD = "\t".join(["1"] + DENSE + CATEGORICAL)


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.writelines(line + "\n" for line in lines)
    return str(path)


def test_good_line_with_blank_fields_parses():
    assert GOOD.count("\t") == 39
    labels, dense, categorical, kept, errors = reader.parse_block([("f", 1, GOOD.encode() + b"\n")])
    assert labels.tolist() == [1.0] and kept == [0] and errors == []
    assert dense[0, :3].tolist() == [5, -3, reader._MISSING]
    assert categorical[0] == [b"68fd1e64"] and categorical[2] == [b""] and categorical[24] == [b""]


def test_vocab_threshold_ids_and_dense_range(tmp_path):
    # C1: 'aa' x3, 'bb' x2, 'cc' x1; with min_freq 2 'aa' -> 1, 'bb' -> 2, 'cc' and blanks -> 0
    rows = []
    for value, dense in [("aa", "4"), ("aa", "-3"), ("bb", ""), ("aa", "10"), ("bb", "1"), ("cc", "2"), ("", "0")]:
        rows.append("\t".join(["0", dense] + [""] * 12 + [value] + [""] * 25))
    path = write(tmp_path / "train" / "part-0", rows)
    vocab = reader.FeatureVocab.build([path], min_freq=2)
    assert vocab.fields[0] == ["aa", "bb"] and vocab.sizes[1:] == [0] * 25
    assert (vocab.dense_min[0], vocab.dense_max[0]) == (-3.0, 10.0)
    assert vocab.files == [{"name": "part-0", "bytes": os.path.getsize(path), "mtime_ns": os.stat(path).st_mtime_ns,
                            "lines": 7}]
    vocab.save(str(tmp_path / "vocab.json"))
    loaded = reader.FeatureVocab.load(str(tmp_path / "vocab.json"))
    assert loaded.fields == vocab.fields and loaded.matches([path])

    records = [(path, i + 1, (r + "\n").encode()) for i, r in enumerate(rows)]
    ids, dense, labels, kept, _ = reader.Encoder(loaded, "minmax").encode(records)
    assert ids[:, 0].tolist() == [1, 1, 2, 1, 2, 0, 0]
    np.testing.assert_allclose(dense[:, 0], [7 / 13, 0, 0, 1, 4 / 13, 5 / 13, 3 / 13], rtol=1e-6)
    # log scaling shifts by the training minimum when it is negative: log(1 + x + 3)
    _, dense_log, _, _, _ = reader.Encoder(loaded, "log").encode(records)
    np.testing.assert_allclose(dense_log[:, 0], np.log1p(np.array([7, 0, 0, 13, 4, 5, 3])) * [1, 1, 0, 1, 1, 1, 1],
                               rtol=1e-6)
    # values outside the training range are clipped (minmax) or floored at the minimum (log)
    unseen = [("x", 1, ("\t".join(["1", "99"] + [""] * 38) + "\n").encode()),
              ("x", 2, ("\t".join(["1", "-50"] + [""] * 38) + "\n").encode())]
    assert reader.Encoder(loaded, "minmax").encode(unseen)[1][:, 0].tolist() == [1.0, 0.0]
    assert reader.Encoder(loaded, "log").encode(unseen)[1][1, 0] == 0.0


def test_reader_parses_demo_data(demo):
    files = reader.list_data_files(os.path.join(demo, "train"))
    vocab = reader.FeatureVocab.build(files, min_freq=10)
    assert [f["lines"] for f in vocab.files] == [667, 667, 666] and vocab.bad_lines == 0
    assert 20 < sum(vocab.sizes) < 1500
    plan = reader.StreamPlan(files, 64, line_counts=[f["lines"] for f in vocab.files])
    batches = [b for b, errors in reader.CriteoStream(plan, reader.Encoder(vocab, "minmax"))]
    assert len(batches) == plan.batches_per_rank == 2000 // 64
    ids, dense, label, weight = batches[0]
    assert ids.shape == (64, 26) and ids.dtype == np.int64 and dense.shape == (64, 13) and dense.dtype == np.float32
    assert label.shape == weight.shape == (64, 1) and set(np.unique(label)) <= {0.0, 1.0} and weight.min() == 1
    assert ids.min() >= 0 and (ids.max(0) <= np.array(vocab.sizes)).all() and (ids == 0).any()
    assert 0.0 <= dense.min() and dense.max() <= 1.0


BAD_LINES = [
    (GOOD.rsplit("\t", 1)[0], "expected 40 tab-separated fields (label, 13 integer, 26 categorical), found 39"),
    (GOOD + "\textra", "expected 40 tab-separated fields (label, 13 integer, 26 categorical), found 41"),
    ("", "expected 40 tab-separated fields (label, 13 integer, 26 categorical), found 1"),
    (GOOD.replace("1\t5\t-3", "1\t5.5\t-3", 1), "I1 must be an integer, found '5.5'"),
    (GOOD.replace("1\t5\t-3", "1\t5\tabc", 1), "I2 must be an integer, found 'abc'"),
    (GOOD.replace("1\t5\t-3", f"1\t{2 ** 62}\t-3", 1), f"I1 is out of range: '{2 ** 62}'"),
    (GOOD.replace("1\t5\t-3", f"1\t{-2 ** 62}\t-3", 1), f"I1 is out of range: '{-2 ** 62}'"),
    ("2" + GOOD[1:], "label must be 0 or 1, found '2'"),
    ("\t" + GOOD[2:], "label must be 0 or 1, found ''"),
]


@pytest.mark.parametrize("line, message", BAD_LINES)
def test_bad_line_is_named_by_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "train" / "part-0", [GOOD, GOOD, line, GOOD])
    with pytest.raises(utils.DataError) as error:
        reader.FeatureVocab.build([path])
    assert str(error.value) == f"{path}:3: {message}"
    vocab = reader.FeatureVocab.build([path], skip_bad=True)
    assert vocab.bad_lines == 1 and vocab.files[0]["lines"] == 4
    # the stream reports the same line; with skip_bad it drops and names it
    plan = reader.StreamPlan([path], 4, line_counts=[4])
    items = list(iter(reader.CriteoStream(plan, reader.Encoder(vocab, "minmax"))))
    assert items == [(None, [f"{path}:3: {message}"])]
    (batch, errors), = reader.CriteoStream(plan, reader.Encoder(vocab, "minmax"), skip_bad=True)
    assert errors == [f"{path}:3: {message}"] and batch[0].shape == (3, 26)


def test_empty_file(tmp_path):
    empty = write(tmp_path / "train" / "part-0", [])
    good = write(tmp_path / "train" / "part-1", [GOOD] * 3)
    with pytest.raises(utils.DataError, match=f"^{re.escape(empty)}: file is empty$"):
        reader.FeatureVocab.build([empty, good])
    vocab = reader.FeatureVocab.build([empty, good], skip_bad=True, min_freq=1)
    assert vocab.empty_files == 1 and [f["lines"] for f in vocab.files] == [0, 3]
    plan = reader.StreamPlan([empty, good], 2)
    assert list(iter(reader.CriteoStream(plan, reader.Encoder(vocab, "minmax"), drop_last=False))) == \
        [(None, [f"{empty}: file is empty"])]
    items = list(iter(reader.CriteoStream(plan, reader.Encoder(vocab, "minmax"), drop_last=False, skip_bad=True)))
    assert [b[0].shape[0] for b, _ in items] == [2, 1] and items[0][1] == [f"{empty}: file is empty"]


def test_all_bad_block_keeps_a_zero_weight_step(tmp_path):
    path = write(tmp_path / "part-0", [GOOD, GOOD, "bad", "bad"])
    vocab = reader.FeatureVocab.build([path], skip_bad=True, min_freq=1)
    plan = reader.StreamPlan([path], 2, line_counts=[4])
    items = list(iter(reader.CriteoStream(plan, reader.Encoder(vocab, "minmax"), skip_bad=True)))
    assert len(items) == 2 and len(items[1][1]) == 2
    assert items[1][0][3].tolist() == [[0.0]] and items[0][0][3].tolist() == [[1.0], [1.0]]


def labels_read(stream_items):
    """The line identities a stream delivered: we plant the line number in I13 of each line."""
    return [int(round(v)) for batch, _ in stream_items for v in np.asarray(batch[1])[:, 12] * 1000]


@pytest.fixture(scope="module")
def numbered(tmp_path_factory):
    """103 lines over 3 files (one of them short) whose I13 holds the line's global number."""
    root = tmp_path_factory.mktemp("numbered")
    lines = ["\t".join(["0"] + ["1"] * 12 + [str(i)] + ["ab"] * 26) for i in range(103)]
    files = [write(root / f"part-{k}", chunk) for k, chunk in enumerate([lines[:50], lines[50:57], lines[57:]])]
    vocab = reader.FeatureVocab([["ab"]] * 26, [0] * 13, [1] * 12 + [1000], [], 1)
    return files, reader.Encoder(vocab, "minmax"), [50, 7, 46]


@pytest.mark.parametrize("world, workers", [(1, 0), pytest.param(1, 3, marks=pytest.mark.slow), (2, 0),
                                            pytest.param(2, 2, marks=pytest.mark.slow),
                                            pytest.param(3, 1, marks=pytest.mark.slow)])
def test_shards_cover_every_line_once(numbered, world, workers):
    files, encoder, counts = numbered
    eval_lines, train_lines = [], []
    for rank in range(world):
        for drop_last, out in [(False, eval_lines), (True, train_lines)]:
            plan = reader.StreamPlan(files, 5, world, workers, counts)
            stream = reader.CriteoStream(plan, encoder, rank, drop_last=drop_last)
            got = labels_read(reader.make_loader(stream, workers, use_shared_memory=False))
            if drop_last:  # every rank takes the same number of full batches
                assert len(got) == plan.batches_per_rank * 5
            out += got
    assert sorted(eval_lines) == list(range(103))
    usable = 103 // 5 // world * 5 * world  # full batches, the same count on every rank
    assert sorted(train_lines) == sorted(set(train_lines)) and len(train_lines) == usable


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_positions_continue_the_stream_exactly(numbered, workers):
    """A stream restarted from the positions saved after k batches delivers what the uninterrupted
    stream delivers after its first k batches, in the same order."""
    files, encoder, counts = numbered
    for rank in range(2):
        plan = reader.StreamPlan(files, 4, 2, workers, counts)
        full = labels_read(reader.make_loader(reader.CriteoStream(plan, encoder, rank), workers, False))
        for k in (1, 5, 6):
            positions = plan.positions(rank, k)
            assert positions[0] == list(plan.position(rank, k))
            rest = reader.CriteoStream(plan, encoder, rank, start_batch=k, positions=positions)
            assert labels_read(reader.make_loader(rest, workers, False)) == full[4 * k:]
    # the positions are plain file/line pairs: batch 6 of rank 1 is global block 13 = line 52 = part-1:2
    assert reader.StreamPlan(files, 4, 2, 0, counts).position(1, 6) == (1, 2)


def test_worker_count_must_match_the_saved_positions(numbered):
    files, encoder, counts = numbered
    plan = reader.StreamPlan(files, 4, 1, 2, counts)
    with pytest.raises(utils.DataError, match="resume with the same --num_workers"):
        reader.CriteoStream(plan, encoder, positions=[[0, 0]] * 3)


@pytest.mark.slow
def test_loader_tensors(demo):
    files = reader.list_data_files(os.path.join(demo, "valid"))
    vocab = reader.FeatureVocab.build(reader.list_data_files(os.path.join(demo, "train")))
    stream = reader.CriteoStream(reader.StreamPlan(files, 128, 1, 2), reader.Encoder(vocab, "log"), drop_last=False)
    batches = list(reader.BadSampleFilter(False)(reader.make_loader(stream, 2, use_shared_memory=False)))
    assert [b[0].shape[0] for b in batches] == [128, 128, 128, 116]  # the 500 valid lines
    assert all(isinstance(t, paddle.Tensor) for t in batches[0]) and batches[0][0].dtype == paddle.int64


@pytest.mark.parametrize("skip", [False, True])
def test_non_utf8_byte_is_a_bad_line_named_by_file_and_line(tmp_path, skip):
    path = str(tmp_path / "part-0")
    with open(path, "wb") as f:
        f.write((GOOD + "\n" + GOOD + "\n").encode() + GOOD.replace("68fd1e64", "68fd1e\xff4").encode("latin-1") + b"\n")
    if not skip:
        with pytest.raises(utils.DataError) as error:
            reader.FeatureVocab.build([path])
        byte = GOOD.index("68fd1e64") + 7  # 1-based position of the 0xff
        assert str(error.value) == f"{path}:3: not UTF-8 text (byte {byte} of the line)"
    else:
        assert reader.FeatureVocab.build([path], skip_bad=True).bad_lines == 1


def test_long_passes_print_progress_with_an_eta(tmp_path, monkeypatch, capsys):
    path = write(tmp_path / "part-0", [GOOD] * 30)
    monkeypatch.setattr(reader, "PROGRESS_EVERY", 0.0)  # a line after every chunk
    monkeypatch.setattr(reader, "_READ_LINES", 10)
    reader.FeatureVocab.build([path], min_freq=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(re.fullmatch(r"feature vocabulary: [\d.]+/[\d.]+ MB \(\d+%\) eta \d+:\d\d:\d\d", s)
                                   for s in lines), lines
    assert lines[-1].endswith("(100%) eta 0:00:00")
