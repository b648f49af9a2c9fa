"""The readers parse the demo ReCoRD and SQuAD files and the KB, attach each token's concepts to its
pieces, window long passages (and count them), and reject each kind of bad input with a one-line
message naming the file and line or the question id."""
import json
import os
import pickle
import shutil

import numpy as np
import pytest

import kb as kb_files
import reader
import utils
from kb import KnowledgeBase
from tokenizer import Tokenizer


def test_record_and_squad_give_the_same_questions(demo_dir):
    record = reader.read_examples(reader.data_path(demo_dir, "record", "dev"), "record")
    squad = reader.read_examples(reader.data_path(demo_dir, "squad", "dev"), "squad")
    assert len(record) == len(squad) == 24
    for r, s in zip(record, squad):
        assert r["id"] == s["id"] and r["words"] == s["words"] and r["answers"] == s["answers"]
        assert (r["start_word"], r["end_word"]) == (s["start_word"], s["end_word"])
        assert r["words"][r["start_word"]] == r["answers"][0]  # a one-word city
        assert "@placeholder" in r["question"] and s["question"].endswith("?")


def test_kb_reads_the_release_format_and_concepts_follow_their_token(demo_dir):
    kb = KnowledgeBase(os.path.join(demo_dir, "kb"))
    assert kb.names[0] == "<pad_concept>" and not kb.embeddings[0].any()
    assert kb.embeddings.shape == (len(kb), 16) and len(kb) == 1 + 10
    tok = Tokenizer(os.path.join(demo_dir, "vocab.txt"))
    ex = reader.read_examples(reader.data_path(demo_dir, "record", "dev"), "record")[0]
    city = ex["answers"][0]
    ids, concepts, word_of = reader.encode(ex["words"], tok, kb)
    pieces = [i for i, w in enumerate(word_of) if w == ex["start_word"]]
    assert len(pieces) >= 2  # made-up city names are split into syllable pieces...
    for p in pieces:          # ...and every piece carries the city's concepts: city.n.01 and its country
        assert [kb.names[c] for c in concepts[p]][0] == "city.n.01" and len(concepts[p]) == 2
    country = ex["question"].split(" in ")[1].split()[0]
    assert kb.names[concepts[pieces[0]][1]] == f"{country}.n.01"  # the fact the answer needs is in the KB
    assert kb.concepts("DROVE") == [] and kb.concepts(country.upper()) == [kb.names.index(f"{country}.n.01")]


def test_windows_cover_a_long_passage_and_are_counted(demo_dir):
    tok = Tokenizer(os.path.join(demo_dir, "vocab.txt"))
    kb = KnowledgeBase(os.path.join(demo_dir, "kb"))
    examples = reader.read_examples(reader.data_path(demo_dir, "record", "train"), "record")[:20]
    short, long = reader.make_features(examples, tok, kb, max_seq_len=200)
    assert long == 0 and len(short) == 20
    feats, long = reader.make_features(examples, tok, kb, max_seq_len=40, doc_stride=8, max_query_len=16)
    assert long > 0 and len(feats) > 20 and all(len(f["ids"]) <= 40 for f in feats)
    for f in feats:  # the answer is inside a window or the window points at [CLS]
        ex = examples[f["example"]]
        if f["start"]:
            assert f["token_word"][f["start"]] == ex["start_word"] and f["token_word"][f["end"]] == ex["end_word"]
        assert len(f["concepts"]) == len(f["ids"])
    assert {f["example"] for f in feats if f["start"]} == set(range(20))  # every answer is in some window
    ids, types, concepts, start, end, index = reader.collate([(f["ids"], f["types"], f["concepts"], f["start"],
                                                               f["end"], k) for k, f in enumerate(feats[:4])], 0)
    assert concepts.shape[:2] == ids.shape and concepts.shape[2] == 2 and concepts.dtype == np.int64


def bad_copy(demo_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    return bad


def test_answer_span_outside_its_passage(demo_dir, tmp_path):
    bad = bad_copy(demo_dir, tmp_path)
    path = bad / "record" / "dev.json"
    data = json.loads(path.read_text())
    qa = data["data"][1]["qas"][0]
    qa["answers"][0]["start"], qa["answers"][0]["end"] = 500, 505
    path.write_text(json.dumps(data))
    with pytest.raises(utils.DataError, match=rf"dev.json: question {qa['id']}: answer .* at characters 500..505 is "
                                              r"outside the passage"):
        reader.read_examples(str(path), "record")
    assert len(reader.read_examples(str(path), "record", skip_bad_samples=True)) == 23
    path = bad / "squad" / "dev-v1.1.json"
    data = json.loads(path.read_text())
    data["data"][2]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 1  # the text is not there
    path.write_text(json.dumps(data))
    with pytest.raises(utils.DataError, match=r"question dev-00002: answer .* is not in the passage"):
        reader.read_examples(str(path), "squad")


def test_malformed_json_and_non_utf8_name_the_line(demo_dir, tmp_path):
    bad = bad_copy(demo_dir, tmp_path)
    path = bad / "record" / "dev.json"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(lines[:7] + [lines[7] + b"}"] + lines[8:]))
    with pytest.raises(utils.DataError, match=r"dev.json:8: malformed json"):
        reader.read_examples(str(path), "record")
    path.write_bytes(b"\n".join(lines[:11] + [lines[11].replace(b"\"", b"\"\xff", 1)] + lines[12:]))
    with pytest.raises(utils.DataError, match=r"dev.json:12: not UTF-8 text"):
        reader.read_examples(str(path), "record")
    path = bad / "squad" / "dev-v1.1.json"
    path.write_text(json.dumps({"data": [{"title": "x", "paragraphs": [{"qas": []}]}]}))
    with pytest.raises(utils.DataError, match=r"not a squad json file \(missing field 'context'\)"):
        reader.read_examples(str(path), "squad")


def test_kb_with_a_wrong_vector_length_names_file_and_line(demo_dir, tmp_path):
    bad = bad_copy(demo_dir, tmp_path)
    path = bad / "kb" / kb_files.EMBEDDING_FILE
    lines = path.read_text().splitlines()
    lines[4] = " ".join(lines[4].split()[:-1])  # 15 numbers
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(utils.DataError, match=rf"{path}:5: concept 'peru.n.01' has a vector of 15 numbers, the "
                                              r"file's first line has 16"):
        KnowledgeBase(str(bad / "kb"))
    lines[4] = lines[4] + " 1e0x"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(utils.DataError, match=rf"{path}:5: concept 'peru.n.01': the vector holds a non-number"):
        KnowledgeBase(str(bad / "kb"))


def test_retrieved_concepts_pickle_runs_no_code(demo_dir, tmp_path):
    bad = bad_copy(demo_dir, tmp_path)
    with open(bad / "kb" / kb_files.RETRIEVED_FILE, "wb") as f:
        pickle.dump({"rome": [np.float32(1)]}, f)  # a numpy object: a class to import, refused
    with pytest.raises(utils.DataError, match=r"retrieved_concepts.data:1: not a pickled .* \(refusing to load"):
        KnowledgeBase(str(bad / "kb"))
    marker = tmp_path / "ran"

    class Payload:  # what a hostile file holds: a call to a builtin with its arguments
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w')",)
    with open(bad / "kb" / kb_files.RETRIEVED_FILE, "wb") as f:
        pickle.dump({"rome": [Payload()]}, f)
    with pytest.raises(utils.DataError, match=r"\(refusing to load builtins.exec\)"):
        KnowledgeBase(str(bad / "kb"))
    assert not marker.exists()
    with open(bad / "kb" / kb_files.RETRIEVED_FILE, "wb") as f:
        pickle.dump({"rome": [["city.n.01"]]}, f)  # class-free but not token -> [concept name]
    with pytest.raises(utils.DataError, match=r"retrieved_concepts.data:1: not a pickled \{token: \[concept, \.\.\.\]\} dict$"):
        KnowledgeBase(str(bad / "kb"))


def test_the_loader_reports_passages_cut_into_windows(demo_dir, capsys):
    import argparse
    import re

    import eval as eval_script
    args = argparse.Namespace(data_dir=demo_dir, dataset="record", skip_bad_samples=False, no_kb=False, max_seq_len=40,
                              doc_stride=16, max_query_len=16, max_concepts=8, batch_size=8, seed=0, num_workers=0,
                              no_shared_memory=False)
    tok = Tokenizer(os.path.join(demo_dir, "vocab.txt"))
    data = eval_script.mrc_loader(args, tok, KnowledgeBase(os.path.join(demo_dir, "kb")), "dev")[0]
    found = re.search(r"dev.json: (\d+) of 24 passages are longer than one window of 40 tokens; cut into windows "
                      r"every 16 tokens \((\d+) windows\)", capsys.readouterr().out)
    assert found and 0 < int(found.group(1)) < 24 and int(found.group(2)) == len(data.features) > 24
    args.max_seq_len = 128
    eval_script.mrc_loader(args, tok, None, "dev")
    assert "longer than one window" not in capsys.readouterr().out
