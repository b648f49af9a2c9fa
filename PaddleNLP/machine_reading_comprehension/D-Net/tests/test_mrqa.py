"""The MRQA jsonl reader, the official metric on hand-made cases, sliding windows (counted), n-best
extraction, the baselines, and each kind of bad input with its one-line message."""
import gzip
import json

import numpy as np
import pytest

import mrqa
import utils
from tokenizer import Tokenizer


def test_normalize_answer_as_the_official_script():
    assert mrqa.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"  # punctuation removed, not split on
    assert mrqa.normalize_answer("an apple and a pear, the end.") == "apple and pear end"
    assert mrqa.normalize_answer("theater") == "theater"  # only whole articles go


def test_exact_match_and_f1_hand_computed():
    assert mrqa.exact_match("the Paris", "paris") == 1.0
    assert mrqa.exact_match("in paris", "paris") == 0.0
    # pred {in, north, paris} vs gold {paris}: precision 1/3, recall 1 -> F1 2 * 1/3 / (4/3) = 0.5
    assert mrqa.f1_score("in north paris", "Paris") == pytest.approx(0.5)
    # pred {e, b, b} vs gold {b, b, c, d}: common 2 -> P 2/3, R 2/4 -> F1 2 * (1/3) / (7/6) = 4/7
    assert mrqa.f1_score("e b b", "b b c d") == pytest.approx(4 / 7)
    assert mrqa.f1_score("the", "a") == 0.0  # both normalise to nothing: no common token
    # q1: EM 1 against "Paris" (the max over its answers); q2: {rome, city} vs {rome}: P 1/2, R 1 -> 2/3;
    # q3 unanswered: 0, and it counts (the official script's skip_no_answer=False)
    em, f1, n = mrqa.mrqa_scores({"q1": "paris", "q2": "rome city"},
                                 {"q1": ["Paris", "France"], "q2": ["rome"], "q3": ["oslo"]})
    assert (em, n) == (1.0, 3) and f1 == pytest.approx(1 + 2 / 3)  # -> EM 33.33, F1 55.56 in percent


def line(context, qid="q7", answer="rome", span=None, tokens=None):
    start = context.index(answer) if span is None else span[0]
    end = start + len(answer) - 1 if span is None else span[1]
    toks = [[w, 0] for w in context.split()] if tokens is None else tokens
    return {"id": "c", "context": context, "context_tokens": toks,
            "qas": [{"qid": qid, "question": "where does miri live ?", "answers": [answer, answer.upper()],
                     "detected_answers": [{"text": answer, "char_spans": [[start, end]], "token_spans": [[0, 0]]}]}]}


def write(path, lines, header=True, gz=False):
    text = (json.dumps({"header": {"dataset": "Demo", "split": "dev"}}) + "\n" if header else "")
    text += "".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def test_reader_positions_answers_and_gzip(tmp_path):
    context = "miri  works as a doctor . miri lives in rome ."
    name, exs = mrqa.read_mrqa(write(tmp_path / "a.jsonl.gz", [line(context)], gz=True))
    ex = exs[0]
    assert name == "Demo" and ex["words"][ex["start_word"]:ex["end_word"] + 1] == ["rome"] and ex["start_word"] == 9
    assert ex["answers"] == ["rome", "ROME"]  # evaluation scores against "answers", all of them


def test_bad_input_names_file_line_and_question(tmp_path):
    ok = line("miri lives in rome .")
    with pytest.raises(utils.DataError, match=r"b.jsonl:2: question q9: answer span \[3, 40\] is outside its "
                                              r"passage \(20 characters\)"):
        mrqa.read_mrqa(write(tmp_path / "b.jsonl", [line("miri lives in rome .", qid="q9", span=(3, 40))]))
    with pytest.raises(utils.DataError, match=r"t.jsonl:2: question q7: answer token span \[0, 0\] is outside "
                                              r"its passage \(0 tokens\)"):
        mrqa.read_mrqa(write(tmp_path / "t.jsonl", [line("miri lives in rome .", tokens=[])]))
    with pytest.raises(utils.DataError, match=r"c.jsonl:3: not a JSON line"):
        mrqa.read_mrqa(write(tmp_path / "c.jsonl", [ok, '{"context": "broken', ok]))
    name, exs = mrqa.read_mrqa(write(tmp_path / "c2.jsonl", [ok, '{"context": "broken', ok]), skip_bad_samples=True)
    assert len(exs) == 2  # the bad line skipped (and counted in a printed line)
    with pytest.raises(utils.DataError, match=r"h.jsonl:1: no MRQA header line"):
        mrqa.read_mrqa(write(tmp_path / "h.jsonl", [ok], header=False))
    path = tmp_path / "u.jsonl"
    path.write_bytes(b'{"header": {"dataset": "D"}}\n' + json.dumps(ok).encode().replace(b"miri", b"m\xffri", 1) + b"\n")
    with pytest.raises(utils.DataError, match=r"u.jsonl:2: not UTF-8 text \(byte \d+ of the line\)"):
        mrqa.read_mrqa(str(path))
    with pytest.raises(utils.DataError, match=r"e.jsonl:2: empty context"):
        mrqa.read_mrqa(write(tmp_path / "e.jsonl", [{**ok, "context": "  "}]))
    with pytest.raises(utils.DataError, match=r"m.jsonl:2: a context line needs"):
        mrqa.read_mrqa(write(tmp_path / "m.jsonl", [{"qas": []}]))


def test_split_reading_and_unknown_dataset(demo_dir):
    sets = mrqa.read_split(demo_dir, "dev")
    assert sorted(sets) == ["BioQA", "TravelNews", "TriviaStyle"]
    with pytest.raises(utils.DataError, match="no dataset SQuAD"):
        mrqa.read_split(demo_dir, "dev", only=["SQuAD"])


def test_sliding_windows_counted_and_n_best(demo_dir, tmp_path):
    tok = Tokenizer(f"{demo_dir}/vocab.txt")
    context = " ".join(["the road was quiet ."] * 6 + ["miri lives in rome ."] + ["nobody expected that ."] * 4)
    _, examples = mrqa.read_mrqa(write(tmp_path / "a.jsonl", [line(context)]))
    stats = {}
    feats = mrqa.make_features(examples, tok, 24, doc_stride=8, max_query_len=16, stats=stats)
    assert stats == {"long": 1, "windows": len(feats)} and len(feats) > 3 and all(len(f["ids"]) <= 24 for f in feats)
    holding = [f for f in feats if f["start"] > 0]
    assert holding and all(tok.convert_ids_to_tokens([f["ids"][f["start"]]]) == ["rome"] for f in holding)
    assert sum(f["start"] == 0 for f in feats) == len(feats) - len(holding)  # the others point at [CLS]
    # each context token is scored in exactly one window (the one where it has the most context)
    assert sum(sum(f["max_context"].values()) for f in feats) == len(tok.tokenize(context))
    logits_s = [np.full(len(f["ids"]), -5.0) for f in feats]
    logits_e = [np.full(len(f["ids"]), -5.0) for f in feats]
    for f, s, e in zip(feats, logits_s, logits_e):
        if f["start"]:
            s[f["start"]], e[f["end"]] = 3.0, 3.0
        s[0] = e[0] = 9.0  # [CLS] is never an answer
    assert mrqa.predict_answers(examples, feats, logits_s, logits_e) == {"q7": "rome"}
    assert mrqa.first_span_baseline(examples) == {"q7": "the"}
    assert mrqa.first_sentence_baseline(examples) == {"q7": "the road was quiet ."}


def test_seen_answer_baseline_takes_the_first_span_that_is_a_training_answer():
    ex = {"id": "q", "words": "kari flew to the Oslo fjord on monday .".split(), "answers": ["monday"]}
    train = [{"answers": ["oslo fjord", "rome"]}, {"answers": ["Monday"]}]
    # "the Oslo fjord" normalises to "oslo fjord" but "the" alone to "": the first hit is "the Oslo fjord"
    # (starting at "the", the earliest word), not "monday"
    assert mrqa.seen_answer_baseline([ex], train) == {"q": "the Oslo fjord"}
    assert mrqa.seen_answer_baseline([ex], [{"answers": ["paris"]}]) == {"q": ""}


def test_mrqa_markers_are_read_as_sep(demo_dir, tmp_path):
    """[DOC], [TLE] and [PAR] become one [SEP] each (as the release's reader), not `[`, a word, `]`; the
    answer's position follows."""
    tok = Tokenizer(f"{demo_dir}/vocab.txt")
    _, examples = mrqa.read_mrqa(write(tmp_path / "a.jsonl", [line("[DOC] [TLE] people [PAR] miri lives in rome .")]))
    f = mrqa.make_features(examples, tok, 64, doc_stride=32, max_query_len=16)[0]
    doc = f["ids"][f["ids"].index(tok.sep_id) + 1:-1]
    assert doc == [tok.sep_id, tok.sep_id, tok.vocab["people"], tok.sep_id] + tok.encode("miri lives in rome .")
    assert tok.convert_ids_to_tokens([f["ids"][f["start"]]]) == ["rome"] and f["start"] == f["end"]
