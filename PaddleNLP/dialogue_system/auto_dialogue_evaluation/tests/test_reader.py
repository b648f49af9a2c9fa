"""The reader: the demo data parses; every kind of bad input is rejected with a message naming the
file and line (or skipped and counted); long texts are cut and counted; matching eval groups."""
import os

import pytest

import reader
import utils


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def read(path, task="human", vocab_size=10, max_seq_len=50, **kw):
    return reader.read_file(str(path), task, vocab_size, max_seq_len, **kw)


def test_demo_data_parses(demo_dir):
    vocab = reader.load_vocab(demo_dir)
    assert vocab.size == 414 and vocab.word_to_id["i"] == 0
    human = reader.load_split(demo_dir, "human", "train", vocab.size, 50)
    assert len(human) == 160 and {e[2] for e in human.examples} == {0.0, 1.0, 2.0}
    match = reader.load_split(demo_dir, "match", "dev", vocab.size, 50)
    assert len(match) == 100 and [e[2] for e in match.examples[:10]] == [1] + [0] * 9


@pytest.mark.parametrize("line, message", [
    ("1 2\t3 4\n", "expected 3 tab-separated fields (context ids, response ids, label), got 2"),
    ("1 2\t3 4\t1\t0\n", "expected 3 tab-separated fields (context ids, response ids, label), got 4"),
    (" \t3 4\t1\n", "empty context"),
    ("1 2\t\t1\n", "empty response"),
    ("1 x\t3\t1\n", "the context holds something that is not an integer id: '1 x'"),
    ("1 12\t3\t1\n", "context id 12 outside the vocabulary (0..9)"),
    ("1 2\t3\t3\n", "score '3' is outside the scale 0..2"),
    ("1 2\t3\t-0.5\n", "score '-0.5' is outside the scale 0..2"),
    ("1 2\t3\tgood\n", "score 'good' is not a number"),
])
def test_bad_lines_are_named_with_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "train.ids", "1 2\t3\t1\n" + line)
    with pytest.raises(utils.DataError) as e:
        read(path)
    assert str(e.value) == f"{path}:2: {message}"
    dataset, skipped = read(path, skip_bad_samples=True)
    assert (len(dataset), skipped) == (1, 1)


def test_a_byte_that_is_not_utf8_is_named(tmp_path):
    path = write(tmp_path / "train.ids", b"1 2\t3\t1\n1 \xff\t3\t1\n")
    with pytest.raises(utils.DataError, match=r"train.ids:2: not UTF-8 text \(byte 3 of the line\)"):
        read(path)


def test_matching_labels_are_0_or_1_and_scores_may_be_fractional(tmp_path):
    with pytest.raises(utils.DataError, match=r"train.ids:1: matching label '2' is not 0 or 1"):
        read(write(tmp_path / "train.ids", "1\t2\t2\n"), task="match")
    assert read(write(tmp_path / "s.ids", "1\t2\t1.5\n"))[0].examples == [([1], [2], 1.5)]


def test_long_texts_keep_their_first_ids_and_are_counted(tmp_path, capsys):
    path = write(tmp_path / "d" / "label_data" / "human" / "train.ids", "1 2 3 4 5\t6 7\t1\n1\t2 3 4 5 6 7\t2\n1\t2\t0\n")
    dataset = reader.load_split(str(tmp_path / "d"), "human", "train", 10, max_seq_len=3)
    assert [e[:2] for e in dataset.examples] == [([1, 2, 3], [6, 7]), ([1], [2, 3, 4]), ([1], [2])]
    assert dataset.truncated == (1, 1)
    assert "1 context(s) and 1 response(s) longer than max_seq_len 3 were truncated" in capsys.readouterr().out


def group(first_label=1):
    return "".join(f"1 2\t{i}\t{first_label if i == 0 else 0}\n" for i in range(10))


def test_matching_eval_groups(tmp_path):
    d = tmp_path / "d"
    path = write(d / "unlabel_data" / "val.ids", group() + group(first_label=0))
    with pytest.raises(utils.DataError, match=r"val.ids:11: a matching eval group is 10 lines, the true response"):
        reader.load_split(str(d), "match", "dev", 10, 50)
    write(path, group() + "".join(group().splitlines(keepends=True)[:3]))
    with pytest.raises(utils.DataError, match=r"val.ids:13: the file ends mid-group"):
        reader.load_split(str(d), "match", "dev", 10, 50)
    write(path, group() + group().replace("1 2\t4\t0", "1 2\t4\t9"))  # a bad line in group 2
    dataset = reader.load_split(str(d), "match", "dev", 10, 50, skip_bad_samples=True)
    assert dataset.linenos == list(range(1, 11))  # the broken group is dropped whole


def test_word2ids(tmp_path):
    path = write(tmp_path / "word2ids", "hello\t0\nworld\t2\n")
    vocab = reader.Vocab.load(path)
    assert vocab.size == 3 and vocab.to_ids(["world"], "x") == [2]
    with pytest.raises(utils.DataError, match="x: word 'nope' is not in word2ids"):
        vocab.to_ids(["nope"], "x")
    write(path, "hello\t0\nworld\n")
    with pytest.raises(utils.DataError, match=r"word2ids:2: expected `word<TAB>id`"):
        reader.Vocab.load(path)


def test_training_batches_resume_mid_epoch_and_sample():
    sampler = reader.BatchSampler(list(range(100)), 8, seed=1)
    sampler.set_epoch(2)
    whole = list(sampler)
    sampler.set_epoch(2, start_batch=5)
    assert list(sampler) == whole[5:]
    assert sorted(i for b in whole for i in b) == list(range(100))
    sampler = reader.BatchSampler(list(range(100)), 8, seed=1, sample_pro=0.1)
    assert sum(len(b) for b in sampler) == 10
