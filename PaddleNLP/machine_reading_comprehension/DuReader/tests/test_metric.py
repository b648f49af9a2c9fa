"""ROUGE-L and BLEU-4 as DuReader's evaluation computes them, on cases worked out by hand; the span
decoder. Answers are normalised to characters, so '甲乙' is the two tokens '甲 乙'."""
import math

import numpy as np
import pytest

from metric import DuReaderMetric, best_answer, best_span, bleu_from_stats, bleu_stats, compute_bleu_rouge, normalize, rouge_l


def test_normalize_keeps_characters_without_spaces():
    assert normalize("北京 是\t首都") == "北 京 是 首 都"
    assert normalize("") == ""


def test_rouge_l_beta_1_2():
    # LCS('北 京', '北 京 市') = 2, P = 2/2, R = 2/3; F = (1 + 1.44) P R / (R + 1.44 P) = (4.88/3)/(6.32/3) = 4.88/6.32
    assert rouge_l("北 京", ["北 京 市"]) == pytest.approx(4.88 / 6.32)  # 0.772152
    # best precision and best recall are taken over the references separately:
    # ref '甲 乙': LCS 2, P 2/4, R 1; ref '丙 丁 戊 己': LCS 2, P 2/4, R 2/4 -> P .5, R 1 -> 2.44*.5/(1+.72) = 1.22/1.72
    assert rouge_l("甲 乙 丙 丁", ["甲 乙", "丙 丁 戊 己"]) == pytest.approx(1.22 / 1.72)  # 0.709302
    assert rouge_l("", ["甲 乙"]) == 0.0  # an empty answer is one empty token: no match
    assert rouge_l("乙 甲", ["甲 乙"]) == pytest.approx(2.44 * 0.25 / (0.5 + 1.44 * 0.5))  # LCS 1: P = R = 1/2 -> 0.5


def bleu4(cand, refs):
    return bleu_from_stats(np.array(bleu_stats(normalize(cand), [normalize(r) for r in refs]), dtype=float))[-1]


def test_bleu4_single_questions():
    assert bleu4("甲乙丙丁", ["甲乙丙丁"]) == pytest.approx(1.0, abs=1e-8)
    # 1-grams 4/5, 2-grams 3/4, 3-grams 2/3, 4-grams 1/2: (4/5 * 3/4 * 2/3 * 1/2) ** (1/4) = 0.2 ** 0.25, same length
    assert bleu4("甲乙丙丁戊", ["甲乙丙丁己"]) == pytest.approx(0.2 ** 0.25, rel=1e-8)  # 0.668740
    # 'closest' reference length: 3 (not 5) for a 2-token answer; no 3- or 4-gram to guess: (0 + 1e-15) / (0 + 1e-9)
    # each, so BLEU-4 = (1 * 1 * 1e-6 * 1e-6) ** (1/4) = 1e-3, times the brevity penalty exp(1 - 3/2)
    assert bleu4("甲乙", ["甲乙丙", "甲乙丙丁戊"]) == pytest.approx(1e-3 * math.exp(-0.5), rel=1e-6)  # 6.0653e-4
    # a tie between reference lengths 2 and 4 for a 3-token answer goes to the shorter (2): no brevity penalty;
    # n-grams clip against the max count over the references (all of 甲乙丙 is in 甲乙丙丁): (1e-6) ** (1/4)
    assert bleu4("甲乙丙", ["甲乙", "甲乙丙丁"]) == pytest.approx(1e-6 ** 0.25, rel=1e-6)  # 0.0316228


def test_bleu_is_over_the_corpus_and_rouge_the_mean():
    # sums: 1-grams 4/6, 2-grams 3/4, 3-grams 2/2, 4-grams 1/1 -> (4/6 * 3/4) ** (1/4) = 0.5 ** 0.25 (not the
    # mean of the per-question BLEUs, 0.5); lengths 6 and 6: no penalty. ROUGE-L: (1 + 0) / 2.
    result = compute_bleu_rouge({1: "甲乙丙丁", 2: "戊己"}, {1: ["甲乙丙丁"], 2: ["庚辛"]})
    assert result["bleu4"] == pytest.approx(0.5 ** 0.25, rel=1e-8)  # 0.840896
    assert result["rouge_l"] == pytest.approx(0.5)
    assert result["questions"] == 2


def test_questions_without_reference_are_left_out_and_stats_add():
    metric = DuReaderMetric()
    assert not metric.update("甲", [])
    assert not metric.update("甲", [""])
    assert metric.update("北京", ["北京市"])
    other = DuReaderMetric()
    other.update("乙", ["乙"])
    metric.stats += other.stats  # what the ranks' all-reduce does
    assert metric.summary()["questions"] == 2
    assert metric.summary()["rouge_l"] == pytest.approx((4.88 / 6.32 + 1.0) / 2)


def test_best_span_respects_max_answer_length_and_order():
    start = np.array([0.1, 0.6, 0.1, 0.2])
    end = np.array([0.1, 0.1, 0.1, 0.7])
    assert best_span(start, end, 3)[:2] == (1, 3)  # 0.6 * 0.7
    # length <= 2: (1, 2) 0.06, (2, 3) 0.07, (3, 3) 0.2 * 0.7 = 0.14 is the best
    s, e, p = best_span(start, end, 2)
    assert (s, e) == (3, 3) and p == pytest.approx(0.14)
    assert best_span(np.array([0.0, 0.0, 0.9]), np.array([0.9, 0.0, 0.1]), 5)[:2] == (2, 2)  # never end < start
    assert best_span(np.zeros(3), np.zeros(3), 2) == (-1, -1, 0.0)


def test_best_answer_picks_the_best_passage_and_joins_without_spaces():
    passages = [["甲", "乙", "丙"], ["北", "京", "。"]]
    slot = 4  # passage p occupies positions p*4 .. p*4+3 (padding after its tokens)
    start = np.array([0.1, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 0.0])
    end = np.array([0.1, 0.0, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0])
    assert best_answer(passages, start, end, 5, slot) == ("北京", 1, 0, 1)
    # the release's priors weight passage 0 by 0.44 and passage 1 by 0.23: 0.01*0.44 < 0.64*0.23, still passage 1
    assert best_answer(passages, start, end, 5, slot, priors=(0.44, 0.23))[1] == 1
    assert best_answer(passages, start, end, 5, slot, priors=(0.44, 0.0))[0] == "甲"
