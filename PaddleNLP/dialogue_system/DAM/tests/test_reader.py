"""The reader: the demo files parse, truncation is counted, and each kind of bad input stops with
one message naming the file and line."""
import os

import numpy as np
import pytest

import reader
import utils
from reader import DialogueDataset


def write(path, text, mode="w"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(text)
    return str(path)


def test_demo_files_parse_in_groups(demo, vocab):
    train = DialogueDataset(os.path.join(demo, "train.txt"), vocab, 5, 12)
    dev = DialogueDataset(os.path.join(demo, "dev.txt"), vocab, 5, 12, grouped=True)
    assert len(train) == 300 and train.labels.tolist()[:2] == [1, 0]
    assert len(dev) == 40 and dev.labels.reshape(-1, 10)[:, 0].tolist() == [1] * 4
    turns, lengths, response, r_len, label = train[0]
    assert turns.shape == (5, 12) and lengths.shape == (5,) and response.shape == (12,) and label == 1
    assert all((turns[i, lengths[i]:] == 0).all() for i in range(5)) and (response[r_len:] == 0).all()


def test_truncation_keeps_the_last_turns_and_words_and_counts_them(tmp_path):
    vocab = reader.Vocab(write(tmp_path / "vocab.txt", "".join(f"w{i}\t{i}\n" for i in range(1, 20))))
    line = "1\tw1 w2\tw3\tw4 w5 w6 w7\tw8\tw9 w10 w11 w12 w13 w14 w15"
    path = write(tmp_path / "train.txt", line + "\n" + "0\tw1\tw2\n")
    data = DialogueDataset(path, vocab, 3, 3)
    turns, lengths, response, r_len, _ = data[0]
    # 4 turns: the first (w1 w2) is cut; w4..w7 keeps its last 3 words; the response its last 3
    assert turns.tolist() == [[3, 0, 0], [5, 6, 7], [8, 0, 0]] and lengths.tolist() == [1, 3, 1]
    assert response.tolist() == [13, 14, 15] and r_len == 3
    # 1 turn cut, 1 word of w4..w7 and 4 words of the response
    assert (data.truncation.samples, data.truncation.turns, data.truncation.words) == (1, 1, 5)
    assert data.report() == f"{path}: 1 samples truncated (1 turns beyond --max_turn_num, 5 words beyond --max_turn_len)"
    # a short context: turns first, then empty (padding) turns
    turns, lengths, *_ = data[1]
    assert lengths.tolist() == [1, 0, 0] and turns[1:].sum() == 0


def test_unknown_words_get_id_0_and_vocab_takes_one_word_per_line(tmp_path):
    vocab = reader.Vocab(write(tmp_path / "vocab.txt", "hello\nworld\n"))
    assert vocab.to_ids("hello there world") == [1, 0, 2] and len(vocab) == 2


@pytest.mark.parametrize("line,message", [
    ("1\tonly one field", "expected `label<TAB>utterances...<TAB>response` (at least 3 tab-separated fields), got 2"),
    ("2\thi\tvlc", "label '2' is not 0 or 1"),
    ("1\t \t\tvlc", "empty context (no word in any utterance)"),
    ("1\thi\t ", "empty response"),
])
def test_bad_lines_name_file_and_line(demo, vocab, tmp_path, line, message):
    with open(os.path.join(demo, "train.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()[:5]
    path = write(tmp_path / "train.txt", "\n".join(lines[:3] + [line] + lines[3:]) + "\n")
    with pytest.raises(utils.DataError) as error:
        DialogueDataset(path, vocab, 5, 12)
    assert str(error.value) == f"{path}:4: {message}"
    skipped = DialogueDataset(path, vocab, 5, 12, skip_bad_samples=True)
    assert (len(skipped), skipped.skipped) == (5, 1)


def test_non_utf8_names_file_and_line(demo, vocab, tmp_path):
    with open(os.path.join(demo, "train.txt"), "rb") as f:
        lines = f.read().splitlines(keepends=True)[:4]
    path = write(tmp_path / "train.txt", b"".join(lines[:2] + [b"1\tcaf\xe9\tok\n"] + lines[2:]), "wb")
    with pytest.raises(utils.DataError, match=r"train.txt:3: not UTF-8 text \(byte 6 of the line\)"):
        DialogueDataset(path, vocab, 5, 12)


def test_a_dev_group_that_is_not_10_lines(demo, vocab, tmp_path):
    with open(os.path.join(demo, "dev.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    short = write(tmp_path / "dev.txt", "\n".join(lines[:9] + lines[10:]) + "\n")  # group 1 lost a line
    with pytest.raises(utils.DataError) as error:
        DialogueDataset(short, vocab, 5, 12, grouped=True)
    assert str(error.value).startswith(f"{short}:10: the context differs from that of line 1, but the group "
                                       "starting there has only 9 lines")
    cut = write(tmp_path / "dev2.txt", "\n".join(lines[:-1]) + "\n")  # the last group lost a line
    with pytest.raises(utils.DataError, match=r"dev2.txt:31: the last group has 9 lines"):
        DialogueDataset(cut, vocab, 5, 12, grouped=True)


def test_batch_sampler_resumes_mid_epoch_and_shards_equally(monkeypatch):
    sampler = reader.ShuffledBatchSampler(10, 3, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=2)
    assert list(sampler) == full[2:] and sorted(np.concatenate(full)) == list(range(10))
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    parts = []
    for r in ("0", "1"):
        monkeypatch.setenv("PADDLE_TRAINER_ID", r)
        parts.append(sum(list(sampler.__class__(10, 3, seed=1)), []))
    assert len(parts[0]) == len(parts[1]) == 5 and not set(parts[0]) & set(parts[1])


def test_douban_layout_demo_has_0_to_2_true_responses_anywhere(tmp_path):
    from make_demo_data import make_demo_data
    import metric
    data = make_demo_data(str(tmp_path / "douban"), num_train=10, num_dev=2, num_test=40, dataset="douban", seed=3)
    vocab = reader.Vocab(os.path.join(data, "vocab.txt"))
    test = DialogueDataset(os.path.join(data, "test.txt"), vocab, 5, 12, grouped=True)
    per_group = test.labels.reshape(-1, 10)
    assert set(per_group.sum(1)) == {0, 1, 2} and per_group[:, 1:].sum() > 0
    result = metric.douban_metrics(np.zeros(len(test)) + np.arange(len(test)) % 10 * -1.0, test.labels)
    assert result["skipped_groups"] == int((per_group.sum(1) == 0).sum()) and result["groups"] + result["skipped_groups"] == 40


def test_the_release_pickle_converts_to_the_text_layout(tmp_path):
    """A hand-made pickle in the release's form (bytes keys, turns joined by _EOS_ = 9)."""
    import pickle
    from convert_pkl import convert
    train = {b"y": [1, 0], b"c": [[3, 4, 9, 5, 9], [6, 9, 9, 7]], b"r": [[8], [2, 3]]}
    group = {b"y": [1] + [0] * 9, b"c": [[3, 9, 4]] * 10, b"r": [[i] for i in range(1, 11)]}
    with open(tmp_path / "data.pkl", "wb") as f:
        pickle.dump((train, group, group), f)
    out = convert(str(tmp_path / "data.pkl"), str(tmp_path / "text"), eos=9, vocab_size=12)
    with open(os.path.join(out, "train.txt"), encoding="utf-8") as f:
        # [3 4 | 5 |] -> turns "3 4", "5" (trailing empty turn dropped); [6 | | 7] keeps its empty turn
        assert f.read() == "1\t3 4\t5\t8\n0\t6\t\t7\t2 3\n"
    vocab = reader.Vocab(os.path.join(out, "vocab.txt"))
    assert len(vocab) == 12 and "9" not in vocab.word2id and vocab.to_ids("3 4 10") == [3, 4, 10]
    data = DialogueDataset(os.path.join(out, "train.txt"), vocab, 3, 4)
    assert data[1][1].tolist() == [1, 0, 1] and data[1][0][2].tolist() == [7, 0, 0, 0]
    test = DialogueDataset(reader.find_file(out, "dev"), vocab, 3, 4, grouped=True)
    assert test.path.endswith("valid.txt") and len(test) == 10
