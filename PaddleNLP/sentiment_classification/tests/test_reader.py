"""The reader: demo data parses; every kind of bad input is rejected with a message naming the file
and line (or skipped and counted); UNK, segmentation, bucketing and padding behave."""
import numpy as np
import pytest

import reader
import utils


HEADER = "\t".join(reader.COLUMNS) + "\n"


def row(text, label):
    """One data line in this dataset's column order."""
    return "\t".join(text if column == "text_a" else label for column in reader.COLUMNS) + "\n"


def write(path, text, mode="w"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(text)
    return str(path)


@pytest.fixture
def vocab():
    return reader.Vocab(["房间", "很", "干净", "不", "好", "服务"])


def test_demo_data_parses(demo_dir):
    vocab = reader.load_vocab(demo_dir)
    train = reader.load_split(demo_dir, "train", vocab, max_seq_len=256)
    dev = reader.load_split(demo_dir, "dev", vocab, max_seq_len=256)
    assert len(train) == 600 and len(dev) == 200
    labels = {label for _, label in train.examples}
    assert labels == set(range(len(reader.LABELS)))
    # Training words are all in the dictionary; dev has aspects that are not, which become UNK.
    assert not any(vocab.unk_id in ids for ids, _ in train.examples)
    assert any(vocab.unk_id in ids for ids, _ in dev.examples)
    assert max(max(ids) for ids, _ in train.examples) < vocab.pad_id


def test_vocab_ids_unk_and_pad():
    v = reader.Vocab(["a", "b", "a", "c"])
    assert v.to_ids(["a", "b", "c", "zzz"]) == [0, 1, 2, 3]
    assert (v.unk_id, v.pad_id, len(v)) == (3, 4, 5)
    own_unk = reader.Vocab(["a", "<unk>", "b"])  # a dictionary with its own <unk> keeps its id
    assert (own_unk.unk_id, own_unk.pad_id) == (1, 3)


def test_segment_spaces_and_raw_text(vocab):
    assert reader.segment(" 房间  很 干净 ", vocab) == ["房间", "很", "干净"]
    assert reader.segment("房间很干净", vocab) == ["房间", "很", "干净"]
    assert reader.segment("服务不好啊", vocab) == ["服务", "不", "好", "啊"]  # unknown char on its own


def test_dictionary_that_is_not_utf8_is_named(tmp_path):
    write(tmp_path / reader.VOCAB_FILE, "房间\n好\n\udcfe\n".encode("utf-8", "surrogateescape"), mode="wb")
    with pytest.raises(utils.DataError, match=rf"{reader.VOCAB_FILE}:3: not UTF-8 text"):
        reader.load_vocab(str(tmp_path))


def test_truncation(tmp_path, vocab):
    path = write(tmp_path / "t.tsv", HEADER + row("房间 很 干净 不 好", "1"))
    (ids, label), = reader.read_examples(path, vocab, max_seq_len=3)[0]
    assert ids == vocab.to_ids(["房间", "很", "干净"]) and label == 1


FIELDS = f"expected 2 tab-separated fields ({', '.join(reader.COLUMNS)})"


@pytest.mark.parametrize("body, message", [
    (row("房间 很 干净", "1").rstrip("\n") + "\textra\n", f":3: {FIELDS}, got 3"),
    ("房间 很 干净\n", f":3: {FIELDS}, got 1"),
    (row("房间 很 干净", "7"), f":3: unknown label '7' (expected one of {', '.join(reader.LABELS)})"),
    (row("   ", "1"), ":3: empty text"),
])
def test_bad_lines_are_named(tmp_path, vocab, body, message):
    path = write(tmp_path / "bad.tsv", HEADER + row("房间 很 好", "1") + body)
    with pytest.raises(utils.DataError) as e:
        reader.read_examples(path, vocab, max_seq_len=10)
    assert str(e.value) == path + message


def test_invalid_utf8_is_named(tmp_path, vocab):
    path = write(tmp_path / "bad.tsv", (HEADER + row("房间", "1") + row("\udcff bad", "0")).encode(
        "utf-8", "surrogateescape"), mode="wb")  # "\udcff" is written as the lone byte 0xff
    byte = row("\udcff bad", "0").index("\udcff") + 1
    with pytest.raises(utils.DataError, match=rf"bad\.tsv:3: not UTF-8 text \(byte {byte} of the line\)"):
        reader.read_examples(path, vocab, max_seq_len=10)


def test_missing_header_and_missing_file(tmp_path, vocab):
    path = write(tmp_path / "noheader.tsv", row("房间 很 好", "1"))
    with pytest.raises(utils.DataError, match=r"noheader\.tsv:1: expected the header line '"
                                              + "\\\\t".join(reader.COLUMNS)):
        reader.read_examples(path, vocab, max_seq_len=10)
    with pytest.raises(utils.DataError) as e:
        reader.read_examples(str(tmp_path / "nope.tsv"), vocab, max_seq_len=10)
    assert str(e.value) == f"{tmp_path / 'nope.tsv'}: file not found"  # no made-up line number


def test_skip_bad_samples_counts(tmp_path, vocab):
    body = (row("房间 很 好", "1") + "坏\t1\tx\n" + row("服务 不 好", "9") + row("", "0") + row("\udcff", "1")
            + row("服务 不 好", "0"))
    path = write(tmp_path / "mixed.tsv", (HEADER + body).encode("utf-8", "surrogateescape"), mode="wb")
    examples, skipped = reader.read_examples(path, vocab, max_seq_len=10, skip_bad_samples=True)
    assert skipped == 4 and [label for _, label in examples] == [1, 0]


def test_bucket_sampler_covers_once_and_keeps_padding_small():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=1000)
    sampler = reader.LengthBucketSampler(lengths, batch_size=16, shuffle=True, seed=3, pool_batches=20)
    sampler.set_epoch(2)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_padded = sum(16 * lengths[rng.permutation(1000)[:16]].max() for _ in range(len(batches)))
    assert padded < 0.7 * random_padded  # bucketing pads far less than random batches
    assert padded / lengths.sum() < 1.1
    again = reader.LengthBucketSampler(lengths, batch_size=16, shuffle=True, seed=3, pool_batches=20)
    again.set_epoch(2, start_batch=5)
    assert list(again) == batches[5:]  # the same order, and resumable mid-epoch
    again.set_epoch(3)
    assert list(again) != batches  # another epoch, another order


def test_eval_sampler_sorts_everything():
    lengths = np.array([5, 1, 9, 3, 7])
    sampler = reader.LengthBucketSampler(lengths, batch_size=2, shuffle=False)
    assert list(sampler) == [[1, 3], [0, 4], [2]]


def test_collate_pads_with_pad_id():
    ids, lengths, labels = reader.collate([([4, 5, 6], 1), ([7], 0)], pad_id=9)
    assert ids.tolist() == [[4, 5, 6], [7, 9, 9]] and lengths.tolist() == [3, 1] and labels.tolist() == [1, 0]
    assert ids.dtype == lengths.dtype == labels.dtype == np.int64
