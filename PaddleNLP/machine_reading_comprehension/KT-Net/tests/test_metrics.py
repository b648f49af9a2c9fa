"""Exact match and F1 as the official SQuAD v1.1 and ReCoRD evaluation scripts compute them, on
hand-made cases (expected numbers worked out in the comments), and the answer extraction."""
import numpy as np
import pytest

import metrics


def test_normalisation_drops_case_punctuation_articles_and_extra_spaces():
    assert metrics.normalize_answer("  The  Eiffel-Tower, in PARIS!") == "eiffeltower in paris"
    assert metrics.normalize_answer("an apple a day") == "apple day"
    assert metrics.normalize_answer("theatre") == "theatre"  # "the" only as a whole word


def test_f1_and_exact_match_by_hand():
    # pred "the city of rome" -> [city, of, rome]; gold "rome" -> [rome]: 1 common token,
    # precision 1/3, recall 1/1, F1 = 2 * (1/3) / (4/3) = 0.5
    assert metrics.f1_score("the city of rome", "Rome") == pytest.approx(0.5)
    assert metrics.exact_match("the city of rome", "Rome") == 0.0
    assert metrics.exact_match("Rome.", "rome") == 1.0
    # pred [new, york, new] vs gold [new, york]: common = min counts: new 1, york 1 -> 2;
    # precision 2/3, recall 2/2, F1 = 2 * (2/3) / (5/3) = 0.8
    assert metrics.f1_score("new york new", "New York") == pytest.approx(0.8)
    assert metrics.f1_score("paris", "rome") == 0.0
    assert metrics.f1_score("the", "a") == 0.0  # both normalise to nothing: no common token


def test_scores_take_the_best_gold_answer_and_count_missing_predictions():
    # SQuAD: q1 has two gold answers; "rome city" vs "rome" -> P 1/2 R 1 F1 2/3, vs "rome city" -> 1.0 (EM 1)
    # q2: "oslo" vs "lima" -> 0; q3: no prediction -> 0 (counted, as the official script does)
    answers = {"q1": ["rome", "Rome city"], "q2": ["lima"], "q3": ["cairo"]}
    em, f1, n = metrics.scores({"q1": "rome city", "q2": "oslo"}, answers)
    assert (em, n) == (1.0, 3) and f1 == pytest.approx(1.0)
    # EM 1/3 = 33.33%, F1 1/3 = 33.33%
    # ReCoRD: the gold answers of a query are every mention of the entity; max over them:
    # pred "Barack Obama" vs ["Obama", "Barack Obama"] -> EM 1, F1 1; pred "President" vs ["Trump",
    # "Donald Trump"] -> 0; pred "the Donald" vs same -> "donald" vs [donald, trump]: P 1 R 1/2 F1 2/3
    record = {"a": ["Obama", "Barack Obama"], "b": ["Trump", "Donald Trump"], "c": ["Trump", "Donald Trump"]}
    em, f1, n = metrics.scores({"a": "Barack Obama", "b": "President", "c": "the Donald"}, record)
    assert (em, n) == (1.0, 3) and f1 == pytest.approx(1 + 2 / 3)


def test_predict_answers_picks_the_best_valid_span_over_windows():
    examples = [{"id": "q", "words": ["kari", "flew", "to", "zomela", "."]}]
    # two windows of the same passage; positions 3.. map to words; window 0 has words 0..3, window 1 words 2..4
    features = [{"example": 0, "token_word": {3: 0, 4: 1, 5: 2, 6: 3}, "max_context": {3: True, 4: True, 5: True, 6: False}},
                {"example": 0, "token_word": {3: 2, 4: 3, 5: 4}, "max_context": {3: False, 4: True, 5: True}}]
    s0, e0 = np.full(8, -5.0), np.full(8, -5.0)
    s0[6] = 9.0               # word 3 starting in window 0: not its max-context window
    s0[3], e0[3] = 1.0, 1.0   # word 0: valid, score 2
    s1, e1 = np.full(8, -5.0), np.full(8, -5.0)
    s1[4], e1[4] = 2.0, 2.0   # word 3 in window 1: valid, score 4 -> the answer
    s1[0], e1[0] = 50.0, 50.0  # [CLS]: not in the passage
    assert metrics.predict_answers(examples, features, [s0, s1], [e0, e1]) == {"q": "zomela"}
    s1[5], e1[4] = 3.0, 2.0   # end before start (5 > 4) is not a span
    assert metrics.predict_answers(examples, features, [s0, s1], [e0, e1]) == {"q": "zomela"}


def test_baselines():
    ex = [{"id": "q", "words": ["kari", "flew", "to", "zo", ".", "dano", "went"], "start_word": 3, "end_word": 3}]
    assert metrics.first_span_baseline(ex) == {"q": "kari"}
    assert metrics.first_sentence_baseline(ex) == {"q": "kari flew to zo ."}
