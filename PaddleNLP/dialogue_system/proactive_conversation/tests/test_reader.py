"""The reader: DuConv's json layout, sessions -> samples, topic placeholders, the length limits, and
each kind of bad input with its one-line message."""
import json
import os
import shutil

import pytest

import reader
import utils


def write_lines(path, lines):
    with open(path, "wb") as f:
        f.write(b"".join((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n" for line in lines))
    return str(path)


SESSION = {"goal": [["START", "星际 迷航", "张 · 伟"], ["星际 迷航", "主演", "张 · 伟"]],
           "knowledge": [["星际 迷航", "领域", "电影"], ["星际 迷航", "导演", "李 · 明"], ["张 · 伟", "领域", "明星"],
                         ["张 · 伟", "出生地", "成都"]],
           "conversation": ["你 喜欢 星际 迷航 吗 ？", "喜欢 ， 谁 导演 的 ？", "李 · 明 导演 的 ， 主演 是 张 · 伟 。"]}


def test_a_session_gives_one_sample_per_bot_turn_with_topic_placeholders(tmp_path):
    path = write_lines(tmp_path / "train.txt", [json.dumps(SESSION, ensure_ascii=False)])
    samples = reader.read_file(path)
    assert [s["num_history"] for s in samples] == [0, 2]
    first, second = samples
    assert first["response"] == "你 喜欢 video_topic_a 吗 ？" and first["history"] == ""
    assert second["history"] == "你 喜欢 video_topic_a 吗 ？ 喜欢 ， 谁 导演 的 ？"
    assert second["response"] == "李 · 明 导演 的 ， 主演 是 person_topic_b 。"
    assert second["gold"] == SESSION["conversation"][2]
    assert second["src"].startswith("START video_topic_a person_topic_b video_topic_a 主演 person_topic_b ")
    assert second["src"].endswith(" :") and "person_topic_b 出生地 成都" in second["triples"]
    assert reader.restore(second["response"], second["topics"]) == second["gold"]


def test_a_sample_line_and_the_demo_files(demo):
    samples = reader.read_file(os.path.join(demo, "test_1.txt"))
    assert len(samples) == 15 and samples[0]["num_history"] == 0 and samples[4]["num_history"] == 8
    train = reader.read_file(os.path.join(demo, "train.txt"))
    assert len(train) == 200
    vocab = reader.Vocabulary.build(train)
    assert vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    data = reader.Encoded(train, vocab)
    src, src_len, kn, kn_len, trg_in, labels, trg_len = data.batch([0, 4])
    assert kn.shape[:2] == (2, 9) and list(kn_len[0]) == [len(t.split()) for t in train[0]["triples"]]
    assert trg_in[1, 0] == reader.BOS_ID and labels[1, trg_len[1] - 1] == reader.EOS_ID
    assert vocab.decode(labels[1, :trg_len[1] - 1]) == train[4]["response"]
    assert src_len[1] == len(vocab.encode(train[4]["src"])) + len(vocab.encode(train[4]["history"]))


def test_long_text_is_cut_and_counted():
    samples = reader.parse_record("x:1", json.dumps(SESSION, ensure_ascii=False))
    vocab = reader.Vocabulary.build(samples)
    head = len(samples[1]["src"].split())
    data = reader.Encoded(samples, vocab, max_src_len=head + 3, max_dec_len=5, max_triple_len=3)
    # one history over; both replies (5 and 10 words); "video_topic_a 导演 李 · 明" (5 words) in both samples
    assert data.cut == {"src": 1, "response": 2, "triple": 2}
    assert len(data.src[1]) == head + 3
    assert vocab.decode(data.src[1][-3:]) == "谁 导演 的 ？".split(" ", 1)[1]  # the newest words are kept
    assert all(len(t) == 4 for t in data.trg)  # 4 words + <eos> = max_dec_len
    assert "cut to the length limits: 1 srcs, 2 responses, 2 triples" == data.cut_note()


@pytest.mark.parametrize("line, message", [
    ('{"goal": [["START", "a", "b"]], "knowledge": [', "not a JSON object (Expecting value at column 47)"),
    ('["a"]', "not a JSON object"),
    (json.dumps({**SESSION, "knowledge": SESSION["knowledge"] + [["张 · 伟", "身高"]]}, ensure_ascii=False),
     'knowledge triple 5 has 2 fields, expected 3 strings (subject, predicate, object): ["张 · 伟", "身高"]'),
    (json.dumps({**SESSION, "conversation": []}), "empty conversation"),
    (json.dumps({**SESSION, "conversation": ["a", " "]}), "conversation turn 2 is empty"),
    (json.dumps({k: v for k, v in SESSION.items() if k != "conversation"}), "field 'history' missing or not a list of strings"),
    (json.dumps({**{k: v for k, v in SESSION.items() if k != "conversation"}, "history": []}),
     "field 'response' missing or empty"),
    (json.dumps({**SESSION, "goal": []}), 'empty goal: expected [["START", topic_a, topic_b], ...]'),
    (json.dumps({**SESSION, "knowledge": SESSION["knowledge"][1:]}, ensure_ascii=False),
     "no (星际 迷航, 领域, domain) triple for topic_a: the release needs it to pick the placeholder"),
])
def test_bad_lines_stop_with_file_and_line(tmp_path, line, message):
    good = json.dumps(SESSION, ensure_ascii=False)
    path = write_lines(tmp_path / "train.txt", [good, good, line])
    with pytest.raises(utils.DataError) as error:
        reader.read_file(path)
    assert str(error.value) == f"{path}:3: {message}"


def test_non_utf8_stops_or_is_skipped_and_counted(tmp_path, capsys):
    good = json.dumps(SESSION, ensure_ascii=False)
    path = write_lines(tmp_path / "dev.txt", [good, good.encode("utf-8").replace("成都".encode(), b"\xe6\x88"), good])
    with pytest.raises(utils.DataError, match=r"dev\.txt:2: not UTF-8 text \(byte \d+ of the line\)$"):
        reader.read_file(path)
    counter = {"bad": 0}
    assert len(reader.read_file(path, skip_bad=True, counter=counter)) == 4 and counter["bad"] == 1
    assert "skipped bad sample" in capsys.readouterr().out


def test_a_missing_file_and_an_empty_one(tmp_path):
    with pytest.raises(utils.DataError, match="file not found"):
        reader.read_file(str(tmp_path / "none.txt"))
    path = write_lines(tmp_path / "empty.txt", [""])
    with pytest.raises(utils.DataError, match=r"empty\.txt:1: no samples in the file"):
        reader.read_file(path)


def test_infer_takes_samples_without_a_response(tmp_path):
    sample = {k: v for k, v in SESSION.items() if k != "conversation"}
    sample["history"] = ["你 好"]
    path = write_lines(tmp_path / "in.txt", [json.dumps(sample, ensure_ascii=False)])
    assert reader.read_file(path, need_response=False)[0]["gold"] == ""
