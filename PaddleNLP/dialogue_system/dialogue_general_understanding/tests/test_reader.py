"""The readers of the six layouts, the release's context windows and truncation, and each kind of bad
input with its one-line message naming file and line."""
import numpy as np
import pytest

import reader
import utils
from tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tok(demo_dir):
    return Tokenizer(f"{demo_dir}/vocab.txt")


@pytest.mark.parametrize("task", sorted(reader.TASKS))
def test_every_demo_file_parses_and_encodes(demo_dir, tok, task):
    data = reader.DGUDataset(task, reader.task_file(demo_dir, task, "dev"), tok, 64)
    ids, types, label = data[0]
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and len(ids) == len(types) <= 64
    if task == "udc":
        reader.check_candidate_groups(data)
        assert types.count(1) > 1 and label == 1
    if task == "dstc2":
        assert label.shape == (217,) and label.sum() >= 1


def write(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_dialogue_act_window_is_five_before_two_after(tmp_path, tok):
    lines = "".join(f"7\t{i % 3}\t{'AB'[i % 2]}\tword{i}\n" for i in range(9)) + "8\t1\tA\tother\n"
    examples = reader.make_examples("swda", reader.read_records("swda", write(tmp_path / "s.txt", lines))[0])
    assert len(examples) == 10
    ex = examples[7]
    assert ex["a"] == [f"{'AB'[i % 2]} : word{i}" for i in range(2, 7)]  # five before
    assert ex["b"] == "B : word7" and ex["c"] == ["A : word8"]            # the dialogue ends after one
    assert examples[9]["a"] == [] and examples[9]["c"] == []              # a new dialogue id starts afresh


def test_dstc2_history_and_state(tmp_path, tok):
    text = "1\thello\1i want thai food\t4\n1\tok\1in the north\t4 8\n2\thi\1cheap please\t13\n"
    examples = reader.make_examples("dstc2", reader.read_records("dstc2", write(tmp_path / "d.txt", text))[0])
    assert examples[1]["a"] == ["hello", "i want thai food", "ok", "in the north"]
    assert examples[1]["label"] == [4, 8] and examples[2]["a"] == ["hi", "cheap please"]


def test_udc_truncation_keeps_the_latest_context_and_is_counted(tmp_path, tok):
    context = "\t".join(["hi all"] + ["please help"] * 30 + ["my wifi is dead"])
    path = write(tmp_path / "u.txt", f"1\t{context}\tcheck the wifi settings\n0\thi all\tplease help\n")
    data = reader.DGUDataset("udc", path, tok, 24)
    ids, types, _ = data[0]
    assert len(ids) == 24 and data.truncated == 1
    # [CLS] context [SEP] response [SEP]: the end of the context survives, next to the response
    assert tok.convert_ids_to_tokens(ids[-10:-6]) == ["my", "wifi", "is", "dead"]
    assert types.count(1) == 5  # "check the wifi settings" [SEP]


def test_slot_labels_follow_the_first_piece_and_truncation(tmp_path, tok):
    path = write(tmp_path / "s.txt", "flights from new york to boston\t0 0 1 2 0 3\n")
    data = reader.DGUDataset("atis_slot", path, tok, 6)
    ids, _, labels = data[0]
    assert len(ids) == 6 and labels == [-100, 0, 0, 1, 2, -100] and data.truncated == 1


def test_bad_input_names_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.txt", "3\tshow me flights\n5\tone\ttwo\n")
    with pytest.raises(utils.DataError, match=r"bad.txt:2: expected 2 tab-separated fields, got 3"):
        reader.read_records("atis_intent", bad)
    records, skipped = reader.read_records("atis_intent", bad, skip_bad_samples=True)
    assert len(records) == 1 and skipped == 1
    with pytest.raises(utils.DataError, match=r"u.txt:2: empty context"):
        reader.read_records("udc", write(tmp_path / "u.txt", "1\ta\tb\n0\t \t\tresponse\n"))
    with pytest.raises(utils.DataError, match=r"u2.txt:1: expected at least 3 tab-separated fields, got 2"):
        reader.read_records("udc", write(tmp_path / "u2.txt", "1\tresponse only\n"))
    with pytest.raises(utils.DataError, match=r"bin.txt:1: not UTF-8 text \(byte 5 of the line\)"):
        reader.read_records("atis_intent", write(tmp_path / "bin.txt", b"3\tsh\xffow\n"))
    with pytest.raises(utils.DataError, match=r"lab.txt:1: label '26' is not an id in 0..25"):
        reader.read_records("atis_intent", write(tmp_path / "lab.txt", "26\tshow\n"))
    with pytest.raises(utils.DataError, match=r"sl.txt:1: 2 words but 3 slot labels"):
        reader.read_records("atis_slot", write(tmp_path / "sl.txt", "to boston\t0 3 3\n"))
    with pytest.raises(utils.DataError, match=r"da.txt:1: empty utterance"):
        reader.read_records("swda", write(tmp_path / "da.txt", "1\t0\tA\t \n"))


def test_udc_groups_are_checked(tmp_path, tok):
    data = reader.DGUDataset("udc", write(tmp_path / "g.txt", "0\thi\tcheck the wifi\n" * 10), tok, 16)
    with pytest.raises(utils.DataError, match=r"g.txt:1: a group of 10 candidates must start"):
        reader.check_candidate_groups(data)


def test_collate_pads_each_label_kind(tok):
    batch = [([2, 5, 3], [0, 0, 0], [-100, 1, -100]), ([2, 3], [0, 0], [-100, -100])]
    ids, types, labels = reader.collate(batch, 0)
    assert ids.shape == labels.shape == (2, 3) and labels[1].tolist() == [-100, -100, -100]
    multi = reader.collate([([2, 3], [0, 0], np.ones(4, "float32"))], 0)[2]
    assert multi.shape == (1, 4) and multi.dtype == np.float32
