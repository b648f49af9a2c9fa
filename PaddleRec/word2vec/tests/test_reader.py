"""The reader: vocabulary and counts, both corpus layouts, the release's text rule, sub-sampling,
the unigram^0.75 noise, the skip-gram windows, the resumable and sharded pair stream, the analogy
questions, and each kind of bad input with its file:line message."""
import os

import numpy as np
import pytest

import reader
from make_demo_data import make_demo_data
from utils import DataError


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def test_vocabulary_counts_min_count_and_unk(tmp_path):
    path = write(tmp_path, "text8", " the cat the dog the cat a bird the")
    vocab, ids, starts, bad = reader.build_corpus([path], min_count=2)
    # the 4, cat 2 kept; dog, a, bird (once each) are <UNK>, whose count is theirs summed (3)
    assert vocab.words == ["the", "<UNK>", "cat"] and list(vocab.counts) == [4, 3, 2]
    assert [vocab.words[i] for i in ids] == "the cat the <UNK> the cat <UNK> <UNK> the".split()
    assert list(starts) == [0] and bad == 0 and ids.dtype == np.int32
    assert vocab.id("cat") == 2 and vocab.id("dog") is None and vocab.id("<UNK>") is None
    vocab.save(str(tmp_path / "vocab.txt"))
    assert (tmp_path / "vocab.txt").read_text() == "the 4\n<UNK> 3\ncat 2\n"
    again = reader.Vocab.load(str(tmp_path / "vocab.txt"))
    assert again.words == vocab.words and list(again.counts) == [4, 3, 2]


def test_release_text_rule_and_lines_as_sentences(tmp_path):
    path = write(tmp_path, "news", "Hello, World! x3y\n\nIt's 2 o'clock\n")
    vocab, ids, starts, _ = reader.build_corpus([path], min_count=1)
    assert [vocab.words[i] for i in ids] == ["hello", "world", "xy", "its", "oclock"]
    assert list(starts) == [0, 3]  # the empty line is not a sentence
    vocab, ids, _, _ = reader.build_corpus([path], min_count=1, text_filter="none")
    assert [vocab.words[i] for i in ids][:3] == ["hello,", "world!", "x3y"]


def test_both_layouts_give_the_same_vocabulary(tmp_path):
    text8 = make_demo_data(str(tmp_path / "t8"), num_sentences=300, seed=5)
    billion = make_demo_data(str(tmp_path / "1b"), num_sentences=300, layout="billion", shards=3, seed=5)
    files8, files1b = reader.corpus_files(text8), reader.corpus_files(billion)
    assert files8 == [os.path.join(text8, "text8")] and len(files1b) == 3
    assert all("training-monolingual.tokenized.shuffled/news.en-0000" in f for f in files1b)
    v8, ids8, starts8, _ = reader.build_corpus(files8, 5)
    v1b, ids1b, starts1b, _ = reader.build_corpus(files1b, 5)
    assert v8.words == v1b.words and list(v8.counts) == list(v1b.counts) and len(ids8) == len(ids1b)
    assert len(starts8) == 1 and len(starts1b) == 300


def test_subsampling_and_noise_follow_their_formulas():
    counts = np.array([1000, 100, 10, 1])
    keep = reader.keep_probabilities(counts, 1e-2)
    tn = 1e-2 * 1111
    assert keep[0] == pytest.approx((np.sqrt(1000 / tn) + 1) * tn / 1000) and keep[0] < 0.45
    assert keep[2] == keep[3] == 1.0 and list(reader.keep_probabilities(counts, 0)) == [1, 1, 1, 1]
    cdf = reader.noise_cdf(counts)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(np.diff(np.concatenate([[0], cdf])), expected, rtol=1e-9)
    draws = np.searchsorted(cdf, np.random.default_rng(0).random(200000), side="right")
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 200000, expected, atol=0.005)


def test_window_pairs_by_hand():
    ids = np.array([10, 11, 12, 13])
    sent = np.array([0, 0, 0, 1])  # the last word starts another sentence
    windows = np.array([1, 2, 1, 2])
    pairs = set(zip(*reader.window_pairs(ids, sent, windows, 2)))
    # 10 sees 11; 11 sees 10 and 12 (and 13 is in another sentence); 12 sees 11; 13 sees nothing
    assert pairs == {(10, 11), (11, 10), (11, 12), (12, 11)}


def stream_of(demo_dir, **kw):
    vocab, ids, starts, _ = reader.build_corpus(reader.corpus_files(demo_dir), 3)
    args = dict(window=5, neg_num=5, batch_size=200, subsample=1e-3, seed=7, chunk_tokens=3000)
    args.update(kw)
    return vocab, reader.PairStream(ids, starts, vocab.counts, **args)


def test_pair_stream_resumes_exactly_and_shards_without_overlap(demo):
    vocab, stream = stream_of(demo)
    full = list(stream.batches(0))
    assert len(full) == stream.steps(0) > 20
    center, context, negatives = full[0]
    assert center.shape == context.shape == (200,) and negatives.shape == (200, 5) and center.dtype == np.int64
    for start in (0, 7, 13, len(full) - 1):
        resumed = list(stream.batches(0, start))
        assert len(resumed) == len(full) - start
        assert all((a == b).all() for x, y in zip(resumed, full[start:]) for a, b in zip(x, y))
    again = list(stream_of(demo)[1].batches(0))
    assert all((a == b).all() for x, y in zip(again, full) for a, b in zip(x, y))  # the same on every run
    other_epoch = list(stream.batches(1))
    assert not all((a[0] == b[0]).all() for a, b in zip(other_epoch, full))
    ranks = [stream_of(demo, rank=r, world_size=2)[1] for r in range(2)]
    assert set(ranks[0].chunks()).isdisjoint(ranks[1].chunks())
    assert sorted([*ranks[0].chunks(), *ranks[1].chunks()]) == list(range(stream.num_chunks))
    assert ranks[0].steps(0) == ranks[1].steps(0) == len(list(ranks[1].batches(0)))


def test_frequent_words_are_subsampled_in_the_pairs(demo):
    vocab, stream = stream_of(demo, subsample=1e-3)
    _, plain = stream_of(demo, subsample=0)
    centers = np.concatenate([b[0] for b in stream.batches(0)])
    plain_centers = np.concatenate([b[0] for b in plain.batches(0)])
    the = vocab.id("the")
    share, plain_share = (centers == the).mean(), (plain_centers == the).mean()
    assert share < 0.6 * plain_share, (share, plain_share)


def test_questions_and_their_splits(tmp_path):
    path = write(tmp_path, "questions-words.txt",
                 ": capital\nAthens Greece Paris France\nparis france athens greece\n\n: family\n"
                 + "".join(f"boy girl man{i} woman{i}\n" for i in range(10)))
    questions, bad = reader.read_questions(path)
    assert questions[0] == ("capital", 2, ("athens", "greece", "paris", "france")) and bad == 0
    assert len(questions) == 12 and questions[-1][0] == "family"
    _, dev, _ = reader.load_questions(str(tmp_path), "dev", 5)
    _, test, _ = reader.load_questions(str(tmp_path), "test", 5)
    assert [q[1] for q in dev] == [8, 13] and len(test) == 10 and not set(dev) & set(test)
    write(tmp_path, "questions-dev.txt", ": own\na b c d\n")
    _, dev, _ = reader.load_questions(str(tmp_path), "dev", 5)
    _, test, _ = reader.load_questions(str(tmp_path), "test", 5)
    assert len(dev) == 1 and len(test) == 12  # a dev file of its own: the whole questions file is test


def test_bad_input_names_file_and_line(tmp_path):
    bad_utf8 = write(tmp_path, "corpus.txt", b"one two three\nfour \xff five\n")
    with pytest.raises(DataError, match=rf"^{bad_utf8}:2: not UTF-8 text \(byte 6 of the line\)$"):
        reader.build_corpus([bad_utf8], 1)
    vocab, ids, _, skipped = reader.build_corpus([bad_utf8], 1, skip_bad=True)
    assert skipped == 1 and len(ids) == 3
    empty = write(tmp_path, "empty.txt", " \n\n")
    with pytest.raises(DataError, match=rf"^{empty}:0: the corpus is empty"):
        reader.build_corpus([empty], 1)
    rare = write(tmp_path, "rare.txt", "a b c d")
    with pytest.raises(DataError, match=rf"^{rare}:0: no word occurs 5 times"):
        reader.build_corpus([rare], 5)
    with pytest.raises(DataError, match=r"text8:0: no such file, and no .*training-monolingual"):
        reader.corpus_files(str(tmp_path / "nothing"))
    questions = write(tmp_path, "q.txt", ": s\na b c d\na b c\n")
    with pytest.raises(DataError, match=rf"^{questions}:3: an analogy line needs four words \(a b c d\), got 3$"):
        reader.read_questions(questions)
    assert reader.read_questions(questions, skip_bad=True)[1] == 1
    questions = write(tmp_path, "q2.txt", b": s\na b c d\na b \xe9 d\n")
    with pytest.raises(DataError, match=rf"^{questions}:3: not UTF-8 text"):
        reader.read_questions(questions)
    only_headers = write(tmp_path, "q3.txt", ": s\n")
    with pytest.raises(DataError, match=rf"^{only_headers}:0: no analogy questions"):
        reader.read_questions(only_headers)
    vocab_file = write(tmp_path, "vocab.txt", "the 5\ncat\n")
    with pytest.raises(DataError, match=rf"^{vocab_file}:2: expected `word count`"):
        reader.Vocab.load(vocab_file)
