"""The readers: byte ids, the vocabulary, the 1B-layout shards and the LAC files, and every kind of bad input
with its file:line message (or skipped and counted with --skip_bad_samples)."""
import os
import shutil

import numpy as np
import pytest

import utils  # noqa: F401
import reader
from utils import DataError


def test_token_chars_bytes_and_specials():
    ids = reader.token_chars("北", 8)
    assert ids == [reader.BOW_CHAR, 0xe5 + 1, 0x8c + 1, 0x97 + 1, reader.EOW_CHAR, reader.PAD_CHAR, reader.PAD_CHAR,
                   reader.PAD_CHAR]
    assert reader.token_chars("<S>", 4) == [reader.BOW_CHAR, reader.BOS_CHAR, reader.EOW_CHAR, reader.PAD_CHAR]
    assert reader.token_chars("abcdefgh", 5) == [reader.BOW_CHAR, 98, 99, 100, reader.EOW_CHAR]  # cut to 3 bytes
    assert reader.sentence_chars(["a", "b"], 6).shape == (4, 6)


def test_demo_layout_reads(data_dir):
    vocab = reader.Vocabulary.load(os.path.join(data_dir, "vocab.txt"))
    assert vocab.words[:3] == ["<S>", "</S>", "<UNK>"]
    train = reader.load_lm_split(data_dir, "train", vocab, 12)
    assert 300 <= len(train) < 310 and len(reader.split_paths(data_dir, "train")) == 2  # whole documents
    chars, words = train[0]
    assert words[0] == vocab.bos_id and words[-1] == vocab.eos_id and chars.shape == (len(words), 12)
    assert vocab.encode(["不存在的词"]).tolist() == [vocab.bos_id, vocab.unk_id, vocab.eos_id]
    lac = reader.LacVocab(os.path.join(data_dir, "lac"))
    tr, dev, test = reader.load_lac_splits(os.path.join(data_dir, "lac"), lac, 12)
    assert (len(tr), len(dev), len(test)) == (54, 6, 20)
    c, elmo, tags = tr[0]
    assert len(c) == len(tags) == elmo.shape[0] - 2


def test_vocabulary_without_specials(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("<S>\n</S>\n的\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}:1: the vocabulary has no <UNK>"):
        reader.Vocabulary.load(str(path))


def test_shard_errors_name_file_and_line(tmp_path):
    path = tmp_path / "shard"
    path.write_bytes(b"a b\n\nc\n")  # a blank line between two documents
    assert reader.read_sentences(str(path)) == ([["a", "b"], ["c"]], 0)
    path.write_bytes(b"a b\n\n \t\nc\n\n")
    with pytest.raises(DataError, match=rf"^{path}:3: empty document \(a blank line after a blank line\)$"):
        reader.read_sentences(str(path))
    assert reader.read_sentences(str(path), skip_bad=True) == ([["a", "b"], ["c"]], 1)
    path.write_bytes(b"\na b\n")
    with pytest.raises(DataError, match=rf"^{path}:1: empty document \(a blank line at the top of the file\)$"):
        reader.read_sentences(str(path))
    path.write_bytes(b"a b\nc \xff d\n")
    with pytest.raises(DataError, match=rf"^{path}:2: invalid UTF-8 \(byte 0xff at column 3\)$"):
        reader.read_sentences(str(path))
    path.write_bytes(b"")
    with pytest.raises(DataError, match=rf"^{path}:1: no sentences in the file$"):
        reader.read_sentences(str(path))
    with pytest.raises(DataError, match="no training shards"):
        reader.split_paths(str(tmp_path), "train")


def test_long_sentences_are_cut(tmp_path):
    path = tmp_path / "shard"
    path.write_text("a b c d e\n", encoding="utf-8")
    assert reader.read_sentences(str(path), max_len=3)[0] == [["a", "b", "c"]]


def test_lac_bad_lines(data_dir, tmp_path):
    lac = tmp_path / "lac"
    shutil.copytree(os.path.join(data_dir, "lac"), lac)
    vocab = reader.LacVocab(str(lac))
    good = "他\002在\002北\002京\tO\002O\002LOC-B\002LOC-I\n"  # Chinese characters read as the English words do
    (lac / "train.tsv").write_text("text_a\tlabel\n" + good + "Tovin\002left\tPER-B\tO\n" + good, encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{lac}/train.tsv:3: expected 2 tab-separated fields \(text_a, label\), got 3$"):
        reader.read_lac_split(str(lac / "train.tsv"), vocab, 12)
    split = reader.read_lac_split(str(lac / "train.tsv"), vocab, 12, skip_bad=True)
    assert split.skipped == 1 and split.samples[0][0] == ["他", "在", "北", "京"]
    assert split[0][1].shape == (6, 12)  # <S> 4 characters </S>, their UTF-8 bytes for the character CNN
    (lac / "train.tsv").write_text("text_a\tlabel\n" + good + "Tovin\002left\tPER-B\002XX-B\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.tsv:3: unknown tag 'XX-B'"):
        reader.read_lac_split(str(lac / "train.tsv"), vocab, 12)
    (lac / "word.dic").write_text("0\t我\n", encoding="utf-8")
    with pytest.raises(DataError, match="no 'OOV' entry"):
        reader.LacVocab(str(lac))


def test_batches_cover_every_sentence_once():
    lengths = np.array([3, 9, 4, 7, 5, 6, 8, 2, 3, 4])
    sampler = reader.LengthBucketBatchSampler(lengths, 3, seed=1)
    seen = sorted(i for b in sampler for i in b)
    assert len(seen) == 9 and len(set(seen)) == 9  # the last, partial batch is dropped
    sampler.set_epoch(0, start_batch=1)
    assert list(sampler) == list(reader.LengthBucketBatchSampler(lengths, 3, seed=1))[1:]
    assert sorted(i for b in reader.eval_batches(lengths, 4) for i in b) == list(range(10))


def test_raw_text_is_words_or_with_chars_characters():
    import infer
    assert infer.split_line(" Tovin  works .\n", chars=False) == ["Tovin", "works", "."]
    assert infer.split_line("他在 北京\n", chars=True) == ["他", "在", "北", "京"]
    tags = ["PER-B", "O", "O", "ORG-B", "O"]
    assert infer.show_chunks(["Tovin", "works", "for", "Besko", "."], tags, " ") == "Tovin/PER works for Besko/ORG ."
    assert infer.show_chunks(list("他在北京"), ["r-B", "p-B", "LOC-B", "LOC-I"], "") == "他/r 在/p 北京/LOC"
