"""The reader: the released format, the vocabulary, bad input with its file and line, batching."""
import os
import subprocess
import sys

import numpy as np
import pytest

import reader
import utils
from conftest import FOLDER


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def test_reader_parses_demo_data(demo, vocab):
    pairwise = reader.TextPairDataset(os.path.join(demo, "train_pairwise_data"), "pairwise", vocab)
    pointwise = reader.TextPairDataset(os.path.join(demo, "train_pointwise_data"), "pointwise", vocab)
    test = reader.TextPairDataset(os.path.join(demo, "test_pointwise_data"), "pointwise", vocab)
    infer = reader.TextPairDataset(os.path.join(demo, "infer_data"), "infer", vocab)
    dev = reader.TextPairDataset(os.path.join(demo, "dev_pointwise_data"), "pointwise", vocab)
    assert len(pairwise) == len(pointwise) == 400 and len(test) == 200 and len(dev) == 100 and len(infer) == 25
    assert not set(dev.texts) & set(test.texts)
    query, pos, neg = pairwise[0]
    assert query.dtype == np.int64 and len(pairwise[0]) == 3 and pairwise.labels is None
    assert set(pointwise.labels.tolist()) == {0, 1} and set(test.labels.tolist()) == {0, 1}
    with open(os.path.join(demo, "train_pairwise_data"), encoding="utf-8") as f:
        first = f.readline().rstrip("\n").split("\t")
    assert pairwise.texts[0] == tuple(first)
    assert query.tolist() == [vocab.word2id[w] for w in first[0].split()]
    assert len(infer[0]) == 2 and pairwise.lengths[0] == max(len(query), len(pos), len(neg))


def test_unknown_words_are_dropped_and_an_empty_text_becomes_unk(vocab):
    known = sorted(w for w in vocab.word2id if w != "<unk>")[:2]
    assert vocab.to_ids(f"{known[0]} 不在词典里 {known[1]}").tolist() == [vocab.word2id[known[0]], vocab.word2id[known[1]]]
    assert vocab.to_ids("不在词典里 也不在").tolist() == [reader.UNK_ID]


@pytest.mark.parametrize("mode, line, message", [
    ("pairwise", "a b\tc", "expected 3 tab-separated fields (query, similar, dissimilar), got 2"),
    ("pointwise", "a\tb\tc\t1", "expected 3 tab-separated fields (query1, query2, label), got 4"),
    ("pointwise", "a\tb\t2", "label '2' is not 0 or 1"),
    ("pointwise", "a\tb\tyes", "label 'yes' is not 0 or 1"),
    ("pointwise", "a\t \t1", "empty text in field 2 (query2)"),
    ("pairwise", "\tb\tc", "empty text in field 1 (query)"),
    ("infer", "a", "expected 2 tab-separated fields (query1, query2), got 1"),
])
def test_bad_lines_name_file_and_line(tmp_path, vocab, mode, line, message):
    good = "a b\tc d\te" if mode == "pairwise" else ("a b\tc d\t1" if mode == "pointwise" else "a\tb")
    path = write(tmp_path, "data", f"{good}\n{line}\n{good}\n")
    with pytest.raises(utils.DataError) as error:
        reader.TextPairDataset(path, mode, vocab)
    assert str(error.value) == f"{path}:2: {message}"
    skipped = reader.TextPairDataset(path, mode, vocab, skip_bad_samples=True)
    assert skipped.skipped == 1 and len(skipped) == 2


def test_invalid_utf8_names_its_line(tmp_path, vocab):
    path = write(tmp_path, "data", "a\tb\t1\n".encode() + b"\xff\xfe\tb\t0\n")
    with pytest.raises(utils.DataError) as error:
        reader.TextPairDataset(path, "pointwise", vocab)
    assert str(error.value).startswith(f"{path}:2: invalid UTF-8 (invalid start byte at byte 0)")


def test_bad_dictionary_and_missing_file(tmp_path):
    path = write(tmp_path, "term2id.dict", "a\t0\nb 1\n")
    with pytest.raises(utils.DataError, match=rf"^{path}:2: expected 'word<TAB>id', got 'b 1'$"):
        reader.Vocab(path)
    with pytest.raises(utils.DataError, match=r"nowhere: file not found$"):
        reader.Vocab(str(tmp_path / "nowhere"))


@pytest.mark.slow
def test_bad_line_stops_training_with_one_line(demo, tmp_path):
    """Through the script entry point: one line naming file and line, exit 2; or skipped and counted."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("term2id.dict", "dev_pairwise_data"):
        os.symlink(os.path.join(demo, name), data / name)
    with open(os.path.join(demo, "train_pairwise_data"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    lines[6] = lines[6].rsplit("\t", 1)[0]
    path = write(data, "train_pairwise_data", "\n".join(lines) + "\n")
    args = [sys.executable, "train.py", "--data_dir", str(data), "--output_dir", str(tmp_path / "out"),
            "--max_steps", "2", "--batch_size", "16", "--epochs", "1"]
    run = subprocess.run(args, cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (f"error: {path}:7: expected 3 tab-separated fields "
                                  "(query, similar, dissimilar), got 2")
    skipped = subprocess.run(args + ["--skip_bad_samples"], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout


def test_collate_pads_and_cuts():
    a, b, c = np.array([1, 2, 3]), np.array([4]), np.array([5, 6])
    left, left_len, right, right_len, labels = reader.collate_pair([(a, b, 1), (c, a, 0)])
    assert left.tolist() == [[1, 2, 3], [5, 6, 0]] and left_len.tolist() == [3, 2]
    assert right.tolist() == [[4, 0, 0], [1, 2, 3]] and labels.tolist() == [1, 0]
    q, ql, pos, pl, neg, nl = reader.collate_pairwise([(b, a, c), (c, b, b)])
    assert pos.shape == neg.shape == (2, 3) and nl.tolist() == [2, 1] and q.shape == (2, 2)
    fixed, fixed_len = reader.pad([a, b], width=2)  # MM-DNN's fixed size cuts longer texts
    assert fixed.tolist() == [[1, 2], [4, 0]] and fixed_len.tolist() == [2, 1]


def test_bucket_sampler_covers_every_line_once_and_resumes_mid_epoch():
    lengths = np.random.default_rng(0).integers(1, 30, size=103)
    sampler = reader.LengthBucketBatchSampler(lengths, 8, seed=3, pool_batches=4)
    sampler.set_epoch(2)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(103)) and len(batches) == len(sampler)
    # batches of similar length: within a batch the spread is far below the data's
    assert np.mean([np.ptp(lengths[b]) for b in batches]) < 0.5 * np.ptp(lengths)
    sampler.set_epoch(2, start_batch=5)
    assert list(sampler) == batches[5:]
    sampler.set_epoch(3)
    assert list(sampler) != batches


def test_raw_chinese_is_segmented_by_forward_maximum_matching(vocab):
    """Unsegmented text (no space, not itself a word) is cut into the longest dictionary words; on the
    old reader it was one unknown word, so every such pair scored as two <unk> texts."""
    assert vocab.words("电冰箱可以使用多少年") == ["电冰箱", "可以", "使用", "多少", "年"]
    assert vocab.to_ids("电冰箱可以使用多少年").tolist() == vocab.to_ids("电冰箱 可以 使用 多少 年").tolist()
    assert vocab.words("手机") == ["手机"] and vocab.words("手机 多少 钱") == ["手机", "多少", "钱"]
    assert vocab.words("手机XY") == ["手机", "X", "Y"] and vocab.unknown("手机XY") == (2, 3)
    assert vocab.unknown("嗯嗯 那个啥 手机") == (2, 3)  # segmented text is never re-cut


def test_hold_out_makes_labelled_dev_pairs(demo, vocab):
    """Data without a dev file: every n-th training line is held out; a triple gives two labelled pairs."""
    train = reader.TextPairDataset(os.path.join(demo, "train_pairwise_data"), "pairwise", vocab)
    first, third = train.texts[3], train.texts[2]
    dev = train.hold_out(4)
    assert len(train) == 300 and len(dev) == 200 and dev.mode == "pointwise"
    assert dev.texts[:2] == [(first[0], first[1]), (first[0], first[2])] and dev.labels[:2].tolist() == [1, 0]
    assert train.texts[2] == third and first not in train.texts
    assert len(train.lengths) == 300 and len(dev.lengths) == 200
