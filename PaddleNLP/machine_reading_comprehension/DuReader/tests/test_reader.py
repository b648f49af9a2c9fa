"""The reader: the DuReader json-lines layout, the release's paragraph selection, the vocabulary,
padding, and every kind of bad input stopping with one line naming the file and line."""
import json
import os
import shutil

import numpy as np
import pytest

import reader
import utils

CFG = {"max_p_num": 5, "max_p_len": 500, "max_q_len": 60}


def sample_line(**over):
    doc0 = {"is_selected": False, "segmented_title": ["关于", "甲国"],
            "segmented_paragraphs": [["乙国", "的", "首都", "是", "北城", "。"],
                                     ["甲国", "的", "首都", "是", "南城", "。", "丙国", "的", "首都", "是", "东城", "。"],
                                     ["甲国", "的", "首都", "是", "西城", "。"]],
            "most_related_para": 1}
    doc1 = {"is_selected": False, "segmented_title": ["标题"], "segmented_paragraphs": [["无关", "。"]],
            "most_related_para": 0}
    obj = {"question_id": 7, "question_type": "ENTITY", "segmented_question": ["甲国", "的", "首都", "是", "哪里"],
           "documents": [doc0, doc1], "answers": ["南城"], "segmented_answers": [["南城"]], "answer_docs": [0],
           "answer_spans": [[4, 4]], "fake_answers": ["南城"], "match_scores": [1.0]}
    obj.update(over)
    return json.dumps(obj, ensure_ascii=False)


def parse(line, train=True, cfg=CFG):
    return reader.parse_sample(line, "f.json:3", train, cfg, reader.Counts())


def test_train_takes_most_related_para_and_the_span():
    s = parse(sample_line())
    assert s["passages"][0][4] == "南城" and len(s["passages"][0]) == 12  # paragraph 1, no title
    assert s["passages"][1] == ["无关", "。"]
    assert (s["doc"], s["start"], s["end"]) == (0, 4, 4)


def test_dev_selects_by_question_recall_with_the_title_in_front():
    # paragraphs 1 and 2 both have recall 4/5; the shorter (2) wins, as the release sorts by (-recall, length)
    s = parse(sample_line(), train=False)
    assert s["passages"][0] == ["关于", "甲国", "甲国", "的", "首都", "是", "西城", "。"]
    assert s["doc"] == -1 and s["answers"] == ["南城"]
    assert s["title_lens"] == [2, 1] and parse(sample_line())["title_lens"] == [0, 0]  # what baselines.py strips


def test_cuts_are_counted_and_far_answers_skipped_as_the_release_does():
    counts = reader.Counts()
    cfg = {"max_p_num": 1, "max_p_len": 4, "max_q_len": 3}
    assert reader.parse_sample(sample_line(), "f:1", True, cfg, counts) is None  # span ends at 4 >= max_p_len
    s = reader.parse_sample(sample_line(), "f:1", False, cfg, counts)
    assert len(s["passages"]) == 1 and len(s["passages"][0]) == 4 and len(s["question"]) == 3
    assert counts.c == {"passages cut to max_p_len=4": 2, "questions cut to max_q_len": 2,
                        "questions with documents beyond max_p_num=1": 2,
                        "training questions answered beyond max_p_len=4 skipped": 1}
    assert parse(sample_line(answer_spans=[])) is None
    # an answer document beyond max_p_num is skipped before its (unchecked) paragraphs are read
    line = json.loads(sample_line(answer_docs=[1], answer_spans=[[0, 0]]))
    line["documents"][1]["most_related_para"] = 5
    counts = reader.Counts()
    assert reader.parse_sample(json.dumps(line), "f:1", True, {**CFG, "max_p_num": 1}, counts) is None
    assert counts.c["training questions answered beyond max_p_num=1 skipped"] == 1


@pytest.mark.parametrize("line, message", [
    (sample_line(answer_spans=[[10, 13]]), "answer span [10, 13] outside its paragraph (documents[0] paragraph 1 has 12 tokens)"),
    (sample_line(answer_docs=[5]), "answer_docs[0] = 5 but the question has 2 documents"),
    (sample_line(segmented_question=[]), "empty question"),
    (sample_line(documents=[]), "no documents"),
    ('{"question_id": 1, "segmented_question": ["a"]', "not a json object (Expecting ',' delimiter at column 47)"),
    ('{"question_id": 1}', "(question_id 1): missing field 'segmented_question'"),
    ('{"segmented_question": ["a"]}', "f.json:3: missing field 'question_id'"),
])
def test_bad_samples_name_file_line_and_question(line, message):
    with pytest.raises(utils.DataError) as e:
        parse(line)
    assert str(e.value).startswith("f.json:3") and str(e.value).endswith(message)


def write_split(tmp_path, lines):
    path = tmp_path / "trainset" / "search.train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    return str(path)


def test_a_byte_that_is_not_utf8_and_skipping(tmp_path, capsys):
    good = sample_line().encode() + b"\n"
    bad = sample_line().encode().replace("南城".encode(), b"\xff\xfe", 1) + b"\n"
    path = write_split(tmp_path, [good, bad, good])
    with pytest.raises(utils.DataError, match=rf"^{path}:2: not UTF-8 text \(byte \d+ of the line\)$"):
        reader.load_split(str(tmp_path), "train", CFG)
    samples = reader.load_split(str(tmp_path), "train", CFG, skip_bad_samples=True)
    assert [s["where"] for s in samples] == [f"{path}:1", f"{path}:3"]
    assert "1 bad lines skipped" in capsys.readouterr().out


def test_missing_split_is_named(tmp_path):
    with pytest.raises(utils.DataError, match="devset: no \\*.json files"):
        reader.load_split(str(tmp_path), "dev", CFG)


def test_demo_data_parses_and_the_answer_is_in_the_passage(demo_dir):
    samples = reader.load_split(demo_dir, "train", CFG)
    assert len(samples) == 160
    for s in samples:
        assert "".join(s["passages"][s["doc"]][s["start"]:s["end"] + 1]) == s["answers"][0]
    dev = reader.load_split(demo_dir, "dev", CFG)
    found = sum(any(s["answers"][0] in "".join(p) for p in s["passages"]) for s in dev)
    assert found == len(dev)  # the recall selection keeps the answer paragraph on the demo


def test_vocab_min_count_lowercases_and_pads():
    samples = [{"question": ["A", "b"], "passages": [["a", "c", "b"]]}]
    vocab = reader.Vocab.build(samples, min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"]
    assert vocab.to_ids(["A", "c"]) == [2, vocab.unk_id]


def test_collate_places_spans_in_their_passage_slot():
    items = [([2, 3], [[4, 5, 6], [7]], 1, 0, 0), ([2], [[4]], 0, 0, 0)]
    q_ids, q_len, p_ids, p_len, start, end = reader.collate(items)
    assert p_ids.shape == (2, 2, 3) and p_len.tolist() == [[3, 1], [1, 0]] and q_len.tolist() == [2, 1]
    assert start.tolist() == [3, 0]  # passage 1 of a 3-token slot
    np.testing.assert_array_equal(p_ids[0, 1], [7, 0, 0])


def test_baselines_read_the_selected_passages_without_titles(demo_dir):
    import baselines
    sample = {"passages": [["关于", "甲", "甲国", "的", "首都", "是", "北城", "。", "乙国", "的", "人口", "是", "三百二十", "万", "。"],
                           ["标题", "长", "句子", "在", "这里", "很", "很", "长", "。"]]}
    assert baselines.first_sentence(sample, [2, 1], 200) == "甲国的首都是北城。"
    assert baselines.longest_span(sample, [2, 1], 200) == "长句子在这里很很长。"
    assert baselines.longest_span(sample, [2, 1], 3) == "长句子在"  # 3 tokens
    results = baselines.run(demo_dir, "dev")
    assert set(results) == {"first_sentence", "longest_span"}
    assert all(r["questions"] == 24 and 0 < r["rouge_l"] < 0.5 for r in results.values())
