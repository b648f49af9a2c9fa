"""The reader: the demo data parses in both layouts; the dev split is held out of training; the
vocabulary comes from train only; unknown words are UNK and counted (loudly when most are);
empty texts are skipped and counted; every kind of bad line is named with file and line, or skipped
and counted; bucketing and padding."""
import os

import numpy as np
import pytest

import make_demo_data
import reader
import utils


def write(path, text):
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def line(cls, title, desc):
    return f'"{cls}","{title}","{desc}"\n'


def test_demo_data_parses_with_a_dev_split_held_out(demo_dir):
    vocab, records, stats = reader.build_vocab(demo_dir)
    dev = reader.load_split(demo_dir, "dev", vocab, verbose=False)
    test = reader.load_split(demo_dir, "test", vocab, verbose=False)
    assert (len(records), len(dev), len(test)) == (760, 40, 200)  # every 20th of the 800 train lines is dev
    assert vocab.tags == make_demo_data.CLASS_NAMES and sum(vocab.tag_counts) == 760
    assert {tag for tag, _ in records} == set(range(4))
    train_words = {w for _, words in records for w in words}
    assert set(vocab.words) == train_words  # the vocabulary is the training part's words only
    assert not any(vocab.unk_id in ids for ids, _ in reader.encode(records, vocab, 256, reader.Stats()).examples)
    assert any(vocab.unk_id in ids for ids, _ in test.examples)  # words only the test split has
    assert len(vocab) == len(vocab.words) + 2 and vocab.pad_id == len(vocab.words) + 1


def test_tokenizer():
    assert reader.tokenize("Wall St. Bears Claw Back (Reuters)") == ["wall", "st", "bears", "claw", "back", "reuters"]
    assert reader.tokenize("Short-sellers, \\band of 3 ultra-cynics\\$") == ["short", "sellers", "band", "of", "3",
                                                                             "ultra", "cynics"]


def test_unknown_words_are_counted_and_mostly_unknown_is_loud(tmp_path, capsys):
    write(tmp_path / "train.csv", line(1, "apple banana", "cherry") * 2 + line(2, "dog", "egg fig") * 2)
    write(tmp_path / "test.csv", line(1, "apple zzz", "yyy xxx") + line(2, "dog", "egg"))
    vocab, _, _ = reader.build_vocab(str(tmp_path), dev_every=100)
    test = reader.load_split(str(tmp_path), "test", vocab)
    assert test.examples[0][0] == [vocab.word_to_id["apple"]] + [vocab.unk_id] * 3
    printed = capsys.readouterr()
    assert "3 of 6 words (50.0%) not in the vocabulary, read as UNK" in printed.out
    assert "WARNING" not in printed.err  # half is not most
    write(tmp_path / "test.csv", line(1, "apple zzz", "yyy xxx") + line(2, "dog", "www"))
    reader.load_split(str(tmp_path), "test", vocab)
    assert "WARNING: test split" in capsys.readouterr().err


def test_empty_texts_are_skipped_and_counted(tmp_path, capsys):
    write(tmp_path / "train.csv", line(1, "apple", "banana") + line(2, "", "") + line(2, "...", "!!") + line(2, "dog", "egg"))
    write(tmp_path / "test.csv", line(1, "apple", "x"))
    vocab, records, stats = reader.build_vocab(str(tmp_path), dev_every=100)
    assert len(records) == 2 and stats.empty == 2
    assert "2 empty texts skipped" in stats.summary("train")


MALFORMED = [
    ('"1","title","unclosed description\n', 'malformed csv line (unexpected end of data)'),
    ('"1","a "quoted" title","b"\n', "malformed csv line (',' expected after '\"')"),
    ('"1","only two fields"\n', 'expected 3 comma-separated fields (class,title,description), got 2'),
    ('"1","a","b","c"\n', 'expected 3 comma-separated fields (class,title,description), got 4'),
    ('"5","a","b"\n', "class '5' is not one of 1..4"),
    ('"0","a","b"\n', "class '0' is not one of 1..4"),
    ('"x","a","b"\n', "class 'x' is not one of 1..4"),
    ('"1","caf\udce9","b"\n', "not UTF-8 text (byte 9 of the line)"),  # a latin-1 byte
]


@pytest.mark.parametrize("bad, message", MALFORMED)
def test_bad_lines_are_named_with_file_and_line(tmp_path, bad, message):
    write(tmp_path / "classes.txt", "A\nB\nC\nD\n")
    path = write(tmp_path / "train.csv", line(1, "apple", "banana") + line(2, "dog", "egg") + bad + line(3, "x", "y"))
    with pytest.raises(utils.DataError) as e:
        reader.build_vocab(str(tmp_path), dev_every=100)
    assert str(e.value) == f"{path}:3: {message}"


def test_skip_bad_samples_counts(tmp_path):
    write(tmp_path / "classes.txt", "A\nB\nC\nD\n")
    body = line(1, "apple", "banana") + "".join(bad for bad, _ in MALFORMED) + line(2, "dog", "egg")
    write(tmp_path / "train.csv", body)
    vocab, records, stats = reader.build_vocab(str(tmp_path), dev_every=100, skip_bad=True)
    assert stats.bad == len(MALFORMED) and [tag for tag, _ in records] == [0, 1]


def test_missing_files_are_named(tmp_path):
    with pytest.raises(utils.DataError, match=r"train\.csv: file not found"):
        reader.build_vocab(str(tmp_path))
    write(tmp_path / "train.csv", line(1, "a", "b") + line(2, "c", "d"))
    vocab, _, _ = reader.build_vocab(str(tmp_path))
    with pytest.raises(utils.DataError, match=r"test\.csv: file not found"):
        reader.load_split(str(tmp_path), "test", vocab)


def test_release_id_format(tmp_path):
    """The release's preprocessed layout: ids outside the table map to UNK and are counted; a tag
    outside vocab_tag.txt and a word that is not an integer are named with file and line."""
    os.makedirs(tmp_path / "train_data")
    os.makedirs(tmp_path / "test_data")
    write(tmp_path / "vocab_text.txt", "6\n")
    write(tmp_path / "vocab_tag.txt", "3\n")
    write(tmp_path / "train_data" / "part-0", "0,1 2 3 \n2,4 5\n1,0\n")
    write(tmp_path / "test_data" / "part-0", "1,5 6 -1 2\n")
    vocab, records, _ = reader.build_vocab(str(tmp_path), dev_every=100)
    assert (vocab.format, len(vocab), vocab.num_tags, vocab.unk_id) == ("ids", 8, 3, 6)
    assert records == [(0, [1, 2, 3]), (2, [4, 5]), (1, [0])]
    test = reader.load_split(str(tmp_path), "test", vocab, verbose=False)
    assert test.examples == [([5, 6, 6, 2], 1)]
    for bad, message in [("3,1 2\n", "tag id '3' is not in [0, 3) set by vocab_tag.txt"),
                         ("1,1 x\n", "word id 'x' is not an integer"),
                         ("1 2 3\n", "expected `tag_id,word_id word_id ...`, got 1 comma-separated fields")]:
        path = write(tmp_path / "test_data" / "part-0", "1,5\n" + bad)
        with pytest.raises(utils.DataError) as e:
            reader.load_split(str(tmp_path), "test", vocab, verbose=False)
        assert str(e.value) == f"{path}:2: {message}"


def test_demo_in_the_release_format_holds_the_same_texts(tmp_path, demo_dir):
    ids_dir = make_demo_data.make_demo_data(str(tmp_path / "ids"), num_train=800, num_test=200, fmt="ids")
    vocab, records, _ = reader.build_vocab(ids_dir)
    csv_vocab, csv_records, _ = reader.build_vocab(demo_dir)
    assert vocab.format == "ids" and len(records) == len(csv_records) == 760
    assert [t for t, _ in records] == [t for t, _ in csv_records]
    assert [len(w) for _, w in records] == [len(w) for _, w in csv_records]


def test_bucket_sampler_covers_once_resumes_and_pads_little():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=1000)
    sampler = reader.LengthBucketSampler(lengths, batch_size=16, shuffle=True, seed=3, pool_batches=20)
    sampler.set_epoch(2)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded / lengths.sum() < 1.1
    again = reader.LengthBucketSampler(lengths, batch_size=16, shuffle=True, seed=3, pool_batches=20)
    again.set_epoch(2, start_batch=5)
    assert list(again) == batches[5:]


def test_collate_pads_with_pad_id():
    ids, lengths, tags = reader.collate([([4, 5, 6], 1), ([7], 0)], pad_id=9)
    assert ids.tolist() == [[4, 5, 6], [7, 9, 9]] and lengths.tolist() == [3, 1] and tags.tolist() == [1, 0]
    assert ids.dtype == lengths.dtype == tags.dtype == np.int64
