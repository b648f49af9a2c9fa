"""The reader: the demo data parses in every layout; XLNet's input format; every kind of bad input is
rejected with a message naming the file and line (or skipped and counted)."""
import os
import shutil

import numpy as np
import pytest

import reader
import utils
from model import SEG_CLS, SEG_PAD


@pytest.fixture(scope="module")
def tok(demo_dir):
    return reader.load_tokenizer(demo_dir)


def test_spiece_has_xlnet_ids(tok):
    assert (tok.unk_id, tok.cls_id, tok.sep_id, tok.pad_id, tok.mask_id, tok.eod_id) == (0, 3, 4, 5, 6, 7)
    pieces = tok.sp.encode("alice lives in paris .", out_type=str)
    assert "".join(pieces).replace("\u2581", " ").strip() == "alice lives in paris ."


def test_demo_data_parses(demo_dir, tok):
    pre = reader.load_split("pretrain", demo_dir, "train", tok, 16, num_predict=2)
    ids, content, query, target = pre[len(pre) + 3]  # epoch 1, example 3
    assert ids.shape == (2, 16) and content.shape == query.shape == (2, 16, 16) and target.sum() == 4
    assert (pre[3][3] != target).any()  # another epoch, another order
    np.testing.assert_array_equal(pre[len(pre) + 3][3], target)  # deterministic
    sts = reader.load_split("stsb", demo_dir, "dev", tok, 64)
    assert len(sts) == 40 and all(0 <= label <= 5 for _, _, label in sts.examples)
    imdb_train = reader.load_split("imdb", demo_dir, "train", tok, 64)
    imdb_dev = reader.load_split("imdb", demo_dir, "dev", tok, 64)
    assert len(imdb_train) + len(imdb_dev) == 120 and 6 <= len(imdb_dev) <= 20
    assert {label for _, _, label in imdb_train.examples} == {0, 1}


def test_input_format_and_left_padding(tok):
    ids, segs = reader.encode_pair(tok, "alice lives in paris .", "rosa owns a cat .", 64)
    assert ids[-1] == tok.cls_id and segs[-1] == SEG_CLS and ids.count(tok.sep_id) == 2
    assert segs.count(0) == ids.index(tok.sep_id) + 1 and set(segs) == {0, 1, SEG_CLS}
    cut, cut_segs = reader.encode_pair(tok, "alice lives in paris . " * 10, "rosa owns a cat .", 40)
    assert len(cut) == 40 and cut_segs.count(1) == len(tok.encode("rosa owns a cat .")) + 1  # the longer one is cut
    ids_b, segs_b, labels = reader.collate([(ids, segs, 1.0), (ids[:3] + ids[-1:], segs[:3] + segs[-1:], 2.0)], tok.pad_id)
    assert ids_b.shape == (2, len(ids)) and (ids_b[1, :len(ids) - 4] == tok.pad_id).all()
    assert (segs_b[1, :len(ids) - 4] == SEG_PAD).all() and ids_b[1, -1] == tok.cls_id


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"


def sts_line(s1="alice lives in paris .", s2="rosa owns a cat .", score="2.5"):
    return f"1\tg\tf\t2026\t1\ta\tb\t{s1}\t{s2}\t{score}\n"


@pytest.mark.parametrize("line, message", [
    ("1\tg\tf\t2026\t1\ta\tb\tonly one sentence\t2.5\n", ":3: expected 10 tab-separated fields as in the header, got 9"),
    (sts_line(score="high"), ":3: score 'high' is not a number"),
    (sts_line(score="7"), ":3: score 7.0 outside 0-5"),
    (sts_line(s2="  "), ":3: empty sentence"),
])
def test_bad_stsb_lines_are_named(tmp_path, tok, line, message):
    path = write(tmp_path / "bad.tsv", HEADER + sts_line() + line)
    with pytest.raises(utils.DataError) as e:
        reader.read_stsb(path, tok, 64)
    assert str(e.value) == path + message


def test_non_utf8_and_skip_bad_samples(tmp_path, tok):
    path = write(tmp_path / "mixed.tsv", (HEADER + sts_line()).encode() + b"1\tg\tf\t2026\t1\ta\tb\tal\xffce\tx\t1\n"
                 + (sts_line(score="9") + sts_line()).encode())
    with pytest.raises(utils.DataError, match=r"mixed\.tsv:3: not UTF-8 text \(byte 20 of the line\)"):
        reader.read_stsb(path, tok, 64)
    path = write(tmp_path / "skips.tsv", HEADER + sts_line() + sts_line(score="9") + "x\ty\n" + sts_line())
    examples, skipped = reader.read_stsb(path, tok, 64, skip_bad=True)
    assert (len(examples), skipped) == (2, 2)


def test_document_file_without_sentences(tmp_path, tok):
    path = write(tmp_path / "pretrain" / "train.txt", "\n\n  \n\n")
    with pytest.raises(utils.DataError) as e:
        reader.load_split("pretrain", str(tmp_path), "train", tok, 16, num_predict=2)
    assert str(e.value).startswith(f"{path}:1: no sentences")


def test_imdb_review_not_utf8_named_and_skipped(demo_dir, tmp_path, tok):
    root = tmp_path / "d"
    shutil.copytree(os.path.join(demo_dir, "aclImdb"), root / "aclImdb")
    bad = write(root / "aclImdb" / "test" / "pos" / "99999_9.txt", b"great film\nthe end was gr\xe9at")
    with pytest.raises(utils.DataError, match=rf"^{bad}:2: not UTF-8 text"):
        reader.load_split("imdb", str(root), "test", tok, 64)
    full = reader.load_split("imdb", demo_dir, "test", tok, 64)
    assert len(reader.load_split("imdb", str(root), "test", tok, 64, skip_bad=True)) == len(full)


def test_spiece_without_the_special_pieces(tmp_path):
    import sentencepiece
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["alice lives in paris .", "rosa owns a cat ."] * 50), model_prefix=str(tmp_path / "spiece"),
        vocab_size=30, model_type="unigram", minloglevel=2, hard_vocab_limit=False)
    with pytest.raises(utils.DataError, match=r"spiece\.model: the sentencepiece model lacks the piece\(s\) <cls>, <sep>, <pad>, <mask>, <eod>"):
        reader.load_tokenizer(str(tmp_path))
    write(tmp_path / "x" / "spiece.model", b"not a model")
    with pytest.raises(utils.DataError, match="not a sentencepiece model"):
        reader.load_tokenizer(str(tmp_path / "x"))
