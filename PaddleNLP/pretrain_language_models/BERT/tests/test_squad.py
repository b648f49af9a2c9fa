"""SQuAD v1.1: the official metric on hand-made cases, the reader's answer positions and its bad-answer
message, sliding windows, and n-best extraction."""
import json

import numpy as np
import pytest

import squad
import utils
from tokenizer import Tokenizer


def test_normalize_answer_as_the_official_script():
    assert squad.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"  # punctuation removed, not split on
    assert squad.normalize_answer("an apple and a pear, the end.") == "apple and pear end"
    assert squad.normalize_answer("theater") == "theater"  # only whole articles go


def test_exact_match_and_f1_hand_computed():
    assert squad.exact_match("the Paris", "paris") == 1.0
    assert squad.exact_match("in paris", "paris") == 0.0
    # pred {in, north, paris} vs gold {paris}: precision 1/3, recall 1 -> F1 0.5
    assert squad.f1_score("in north paris", "Paris") == pytest.approx(0.5)
    # pred {a, b, b} vs gold {b, b, c, d}: common 2 -> P 2/3, R 2/4 -> F1 4/7
    assert squad.f1_score("e b b", "b b c d") == pytest.approx(4 / 7)
    assert squad.f1_score("the", "a") == 0.0  # both normalise to nothing: no common token
    em, f1, n = squad.squad_scores({"q1": "paris", "q2": "rome city"},
                                   {"q1": ["Paris", "France"], "q2": ["rome"], "q3": ["oslo"]})
    assert (em, n) == (1.0, 3) and f1 == pytest.approx(1 + 2 / 3)  # q3 unanswered scores 0


def write_squad(path, context, answer, start, qid="q7"):
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": [{"id": qid, "question": "where does miri live ?",
                                      "answers": [{"text": answer, "answer_start": start}]}]}]}]}))
    return str(path)


def test_reader_positions_and_bad_answer(tmp_path):
    context = "miri  works as a doctor . miri lives in rome ."
    ex = squad.read_examples(write_squad(tmp_path / "a.json", context, "rome", context.index("rome")))[0]
    assert ex["words"][ex["start_word"]:ex["end_word"] + 1] == ["rome"] and ex["start_word"] == 9
    with pytest.raises(utils.DataError, match=r"b.json: question q9: answer 'paris' is not in the context at character 3"):
        squad.read_examples(write_squad(tmp_path / "b.json", context, "paris", 3, qid="q9"))
    assert squad.read_examples(write_squad(tmp_path / "c.json", context + " x", "x", len(context) + 1)) != []


def test_sliding_windows_and_n_best(demo_dir, tmp_path):
    tok = Tokenizer(f"{demo_dir}/vocab.txt")
    context = " ".join(["the road was quiet ."] * 6 + ["miri lives in rome ."] + ["nobody expected that ."] * 4)
    examples = squad.read_examples(write_squad(tmp_path / "a.json", context, "rome", context.index("rome")))
    feats = squad.make_features(examples, tok, 24, doc_stride=8, max_query_len=16)
    assert len(feats) > 3 and all(len(f["ids"]) <= 24 for f in feats)
    holding = [f for f in feats if f["start"] > 0]
    assert holding and all(tok.convert_ids_to_tokens([f["ids"][f["start"]]]) == ["rome"] for f in holding)
    assert sum(f["start"] == 0 for f in feats) == len(feats) - len(holding)  # the others point at [CLS]
    # each window scores its own tokens: the max-context flags over all windows cover every context token once
    assert sum(sum(f["max_context"].values()) for f in feats) == len(tok.tokenize(context))
    logits_s = [np.full(len(f["ids"]), -5.0) for f in feats]
    logits_e = [np.full(len(f["ids"]), -5.0) for f in feats]
    for f, s, e in zip(feats, logits_s, logits_e):
        if f["start"]:
            s[f["start"]], e[f["end"]] = 3.0, 3.0
        s[0] = e[0] = 9.0  # [CLS] is never an answer
    assert squad.predict_answers(examples, feats, logits_s, logits_e) == {"q7": "rome"}
    assert squad.first_span_baseline(examples) == {"q7": "the"}
