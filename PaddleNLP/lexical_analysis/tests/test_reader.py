"""The reader parses the demo data in the real LAC format and rejects bad input by file and line."""
import os
import shutil

import numpy as np
import pytest

import utils  # noqa: F401
from utils import DataError
from make_demo_data import write_demo
from reader import LengthBucketBatchSampler, Vocab, collate, eval_batches, read_split

SEP = "\002"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("demo"))
    write_demo(out, num_train=300, num_test=50, seed=1)
    return out


@pytest.fixture
def bad_dir(demo, tmp_path):
    """A copy of the dictionaries, plus a writer for a one-off train file."""
    for name in ("word.dic", "tag.dic", "q2b.dic"):
        shutil.copy(os.path.join(demo, name), tmp_path / name)

    def write(body, header="text_a\tlabel\n"):
        path = tmp_path / "train.tsv"
        path.write_bytes((header + body).encode("utf-8") if isinstance(body, str) else header.encode() + body)
        return str(path)
    return tmp_path, write


def test_demo_files_are_in_the_lac_format(demo):
    with open(os.path.join(demo, "train.tsv"), encoding="utf-8") as f:
        assert f.readline() == "text_a\tlabel\n"
        text, label = f.readline().rstrip("\n").split("\t")
    assert len(text.split(SEP)) == len(label.split(SEP)) > 1
    assert all(t == "O" or t.endswith(("-B", "-I")) for t in label.split(SEP))
    vocab = Vocab(demo)
    assert vocab.num_tags == 57  # 24 POS + 4 entity types, each -B/-I, and O
    assert {"n-B", "PER-I", "TIME-B", "xc-I", "O"} <= set(vocab.tag2id)


def test_parses_demo_data(demo):
    vocab = Vocab(demo)
    ds = read_split(os.path.join(demo, "train.tsv"), vocab)
    assert len(ds) == 300 and ds.skipped == 0
    chars, tags = ds[0]
    assert chars.dtype == np.int64 and tags.dtype == np.int64 and len(chars) == len(tags)
    assert ds.lengths.min() >= 3
    assert all(t.max() < vocab.num_tags and c.max() < vocab.vocab_size for c, t in ds.samples)


def test_q2b_normalises_full_width_and_unknown_chars_map_to_oov(demo):
    vocab = Vocab(demo)
    ids = vocab.char_ids(["，", ",", "１", "1", "\u9f98"])  # full/half comma and one, a char not in the data
    assert ids[0] == ids[1] == vocab.word2id[","]
    assert ids[2] == ids[3] == vocab.word2id["1"]
    assert ids[4] == vocab.oov_id


def test_collate_pads_and_keeps_lengths():
    chars, lengths, tags = collate([(np.array([3, 4, 5]), np.array([1, 2, 1])), (np.array([7]), np.array([0]))])
    assert chars.tolist() == [[3, 4, 5], [7, 0, 0]]
    assert lengths.tolist() == [3, 1]
    assert tags.tolist() == [[1, 2, 1], [0, 0, 0]]


@pytest.mark.parametrize("line,message", [
    (f"我{SEP}们\n", "expected 2 tab-separated fields (text_a, label), got 1"),
    (f"我\tr-B\textra\n", "expected 2 tab-separated fields (text_a, label), got 3"),
    (f"我{SEP}们\tr-B{SEP}zz-I\n", "unknown tag 'zz-I' (not in tag.dic)"),
    ("\tr-B\n", "empty text"),
    (f"我{SEP}们{SEP}好\tr-B{SEP}r-I\n", "3 characters but 2 tags"),
])
def test_bad_lines_name_file_and_line(bad_dir, line, message):
    _, write = bad_dir
    good = f"他{SEP}好\tr-B{SEP}a-B\n"
    path = write(good + line)
    vocab = Vocab(str(bad_dir[0]))
    with pytest.raises(DataError) as err:
        read_split(path, vocab)
    assert str(err.value) == f"{path}:3: {message}"


def test_invalid_utf8_names_the_line(bad_dir):
    _, write = bad_dir
    path = write(f"他{SEP}好\tr-B{SEP}a-B\n".encode() + b"\xff\xfe\tr-B\n")
    for skip in (False, True):  # another encoding, not a bad sentence: skipping would drop most of the file
        with pytest.raises(DataError, match=rf"^{path}:3: not UTF-8 text"):
            read_split(path, Vocab(str(bad_dir[0])), skip_bad_samples=skip)


def test_missing_header_is_reported(bad_dir):
    _, write = bad_dir
    path = write(f"他{SEP}好\tr-B{SEP}a-B\n", header="")
    with pytest.raises(DataError, match=rf"^{path}:1: expected the header line"):
        read_split(path, Vocab(str(bad_dir[0])))


def test_skip_bad_samples_counts_every_kind(bad_dir):
    _, write = bad_dir
    good = f"他{SEP}好\tr-B{SEP}a-B\n"
    bad = [f"我\n", f"我\tzz-B\n", "\tr-B\n", f"我{SEP}们\tr-B\n"]
    path = write(good + "".join(bad) + good + good + "\n")
    ds = read_split(path, Vocab(str(bad_dir[0])), skip_bad_samples=True)
    assert len(ds) == 3 and ds.skipped == 4  # the blank last line is neither a sentence nor an error


def test_bad_dictionary_line(bad_dir):
    tmp, _ = bad_dir
    with open(tmp / "tag.dic", "a", encoding="utf-8") as f:
        f.write("not-a-number\tX-B\n")
    with pytest.raises(DataError, match=r"tag.dic:58: expected 'id<TAB>token'"):
        Vocab(str(tmp))


def test_bucketed_batches_cover_each_sample_once_and_resume_mid_epoch():
    lengths = np.random.default_rng(0).integers(1, 60, 1000)
    sampler = LengthBucketBatchSampler(lengths, 32, seed=3)
    sampler.set_epoch(2)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat)) == 31 * 32  # drop_last: 1000 // 32 batches
    # Sorting within pools keeps padding small: far less than in random batches.
    waste = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)
    random_waste = sum(lengths[b].max() * len(b) - lengths[b].sum() for b in np.array_split(np.arange(992), 31))
    assert waste < 0.1 * random_waste
    sampler.set_epoch(2, start_batch=7)
    assert list(sampler) == batches[7:]
    sampler.set_epoch(3)
    assert list(sampler) != batches


def test_eval_batches_are_sorted_and_complete():
    lengths = [5, 1, 9, 3, 3]
    batches = eval_batches(lengths, 2)
    assert batches == [[1, 3], [4, 0], [2]]


def test_a_dev_file_is_the_dev_split_and_train_stays_whole(demo, tmp_path):
    from reader import load_splits
    for name in ("word.dic", "tag.dic", "q2b.dic", "train.tsv"):
        shutil.copy(os.path.join(demo, name), tmp_path / name)
    vocab = Vocab(str(tmp_path))
    with pytest.raises(DataError, match=r"dev.tsv: file not found, and --dev_every 1 cannot hold out"):
        load_splits(str(tmp_path), vocab, dev_every=1)
    shutil.copy(os.path.join(demo, "test.tsv"), tmp_path / "dev.tsv")
    train, dev = load_splits(str(tmp_path), vocab, dev_every=10, max_seq_len=5)
    assert (len(train), len(dev), dev.path) == (300, 50, str(tmp_path / "dev.tsv"))
    assert train.lengths.max() == 5 and dev.lengths.max() > 5  # only training sentences are cut
