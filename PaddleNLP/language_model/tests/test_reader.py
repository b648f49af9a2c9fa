"""reader.py: PTB files, the vocabulary, the [rows, num_steps] streams, and bad input."""
import os

import numpy as np
import pytest

import reader
import tokenizer
import utils

def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def test_reader_parses_demo_data(demo):
    vocab, streams, skipped = reader.load_corpus(demo)
    assert skipped == 0 and reader.UNK in vocab.ids
    counts = np.bincount(streams["train"], minlength=len(vocab))
    assert (np.diff(counts) <= 0).all() and counts.min() >= 1  # ids by decreasing training frequency
    for split in reader.SPLITS:
        with open(reader.split_path(demo, split)) as f:
            lines = f.read().splitlines()
        stream = streams[split]
        assert stream.dtype == np.int64 and stream[-1] == vocab.eos_id
        assert (stream == vocab.eos_id).sum() == len(lines)
        words = vocab.decode(stream[:len(lines[0].split()) + 1])
        assert words == lines[0].split() + [reader.EOS]
    # every word of the valid/test files is in the vocabulary or was written as <unk>
    assert len(streams["train"]) == sum(len(line.split()) + 1 for line in open(reader.split_path(demo, "train")))


def test_vocabulary_is_ordered_by_frequency_then_spelling(tmp_path):
    write(tmp_path / "ptb.train.txt", " a b a \n b a <unk> \n")
    write(tmp_path / "ptb.valid.txt", " a zebra \n")
    vocab, streams, _ = reader.load_corpus(str(tmp_path), ("train", "valid"))
    # counts: a 3, b 2, <eos> 2, <unk> 1; '<' sorts before letters
    assert vocab.words == ["a", "<eos>", "b", "<unk>"]
    assert streams["train"].tolist() == [0, 2, 0, 1, 2, 0, 3, 1]
    assert streams["valid"].tolist() == [0, 3, 1]  # zebra -> <unk>
    vocab.save(str(tmp_path / "vocab.txt"))
    assert reader.Vocabulary.load(str(tmp_path / "vocab.txt")).words == vocab.words


@pytest.mark.parametrize("content, message, good_lines", [
    (b" a b \n a \xff b \n", "invalid UTF-8 (byte 0xff at column 4)", [1]),
    (b" a b \n   \n a b \n", "empty sentence", [1, 3]),
])
def test_reader_rejects_bad_lines(tmp_path, content, message, good_lines):
    path = write(tmp_path / "ptb.train.txt", content, "wb")
    with pytest.raises(utils.DataError) as error:
        reader.read_sentences(path)
    assert str(error.value) == f"{path}:2: {message}"
    sentences, skipped = reader.read_sentences(path, skip_bad=True)
    assert skipped == 1 and [n for n, _ in sentences] == good_lines


def test_unknown_word_without_unk_is_an_error(tmp_path):
    write(tmp_path / "ptb.train.txt", " a b \n b a \n")
    path = write(tmp_path / "ptb.test.txt", " a b \n a c b \n")
    with pytest.raises(utils.DataError) as error:
        reader.load_corpus(str(tmp_path), ("train", "test"))
    assert str(error.value) == f"{path}:2: word 'c' is not in the vocabulary, which has no <unk>"
    vocab, streams, skipped = reader.load_corpus(str(tmp_path), ("train", "test"), skip_bad=True)
    assert skipped == 1 and vocab.decode(streams["test"]) == ["a", "b", "<eos>"]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(utils.DataError, match=f"^{tmp_path}/ptb.train.txt: file not found$"):
        reader.load_corpus(str(tmp_path))


def test_stream_batches_continue_each_row():
    stream = np.arange(43)
    batches = list(reader.StreamBatches(stream, total_rows=4, num_steps=3))
    # rows of 10: [0..9], [10..19], [20..29], [30..39]; 9 targets per row -> 3 chunks of 3
    assert len(batches) == 3
    x, y = batches[1]
    np.testing.assert_array_equal(x, [[3, 4, 5], [13, 14, 15], [23, 24, 25], [33, 34, 35]])
    np.testing.assert_array_equal(y, x + 1)
    # this rank's rows only, and a resumed epoch starting at chunk 2
    mine = reader.StreamBatches(stream, total_rows=4, num_steps=3, rows=slice(2, 4))
    mine.start = 2
    (x, _), = list(mine)
    np.testing.assert_array_equal(x, [[26, 27, 28], [36, 37, 38]])


def test_stream_batches_with_tail_score_every_token_once():
    stream = np.arange(43)
    dropped = reader.StreamBatches(stream, total_rows=4, num_steps=4)
    kept = reader.StreamBatches(stream, total_rows=4, num_steps=4, keep_tail=True, rows=[1, 3])
    assert len(dropped) == 2 and len(kept) == 3
    targets = np.concatenate([y for _, y in kept], axis=1)
    np.testing.assert_array_equal(targets, [np.arange(11, 20), np.arange(31, 40)])


def test_tokenizer_makes_ptb_text_and_leaves_it_unchanged():
    assert tokenizer.tokenize("It's 3.14, and the class’s __init__ doesn't run!") == \
        ["it", "'s", "N", "and", "the", "class", "'s", "init", "does", "n't", "run"]
    ptb = "the company 's $ N million <unk> did n't close"
    assert tokenizer.tokenize(ptb) == ptb.split()
