"""DuConv's metrics (metric.py) on hand-made cases, each figure worked out by hand in the comments
the way the release's tools/eval.py computes it."""
import math

import pytest

import metric


def test_char_f1_is_corpus_level_over_characters_without_spaces():
    # pair 1: pred "ab c" -> "abc", gold "a bd" -> "abd": common a, b = 2 hits; 3 pred chars, 3 gold chars
    # pair 2: pred "xx" -> "xx", gold "x y" -> "xy": common x once (clipped) = 1 hit; 2 pred, 2 gold
    # P = 3/5, R = 3/5, F1 = 0.6 -> 60%
    s = metric.score(["ab c", "xx"], ["a bd", "x y"])
    assert s["f1"] == pytest.approx(60.0)
    # Chinese: pred "张 伟 导演" (4 chars), gold "导演 是 张 伟" (5 chars): 4 hits; P 1, R 4/5, F1 8/9
    assert metric.score(["张 伟 导演"], ["导演 是 张 伟"])["f1"] == pytest.approx(100 * 8 / 9)


def test_bleu_one_and_two_with_brevity_penalty():
    # pred "a b c" vs gold "a b d e": unigrams a, b match: 2/3; bigrams "ab" matches of "ab","bc": 1/2
    # c = 3 < r = 4: BP = exp(1 - 4/3); BLEU-1 = BP * 2/3; BLEU-2 = BP * sqrt(2/3 * 1/2)
    b1, b2 = metric.bleu(metric.to_pairs(["a b c"], ["a b d e"]))
    bp = math.exp(1 - 4 / 3)
    assert b1 == pytest.approx(bp * 2 / 3) and b2 == pytest.approx(bp * math.sqrt(1 / 3))
    # clipped counts, no penalty when longer: pred "a a a" vs gold "a b": unigram 1/3 (a clipped to 1),
    # bigrams "aa","aa" vs "ab": 0 -> BLEU-2 is 0 (no smoothing), BLEU-1 = 1/3 (c = 3 >= r = 2)
    b1, b2 = metric.bleu(metric.to_pairs(["a a a"], ["a b"]))
    assert b1 == pytest.approx(1 / 3) and b2 == 0.0


def test_ngrams_are_keyed_by_words_joined_without_separator():
    # the script joins an n-gram's words with "": "ab c" and "a bc" are the same bigram "abc"
    # pred "ab c" vs gold "a bc": unigrams ab, c vs a, bc: 0 -> BLEU-1 0; bigram "abc" == "abc": 1/1
    b1, b2 = metric.bleu(metric.to_pairs(["ab c"], ["a bc"]))
    assert b1 == 0.0 and b2 == 0.0  # the script would take log(0) and fail; 0 here
    d1, d2 = metric.distinct(metric.to_pairs(["ab c", "a bc"], ["x", "x"]))
    # unigrams ab, c, a, bc: 4 distinct of 4; bigrams "abc", "abc": 1 distinct of 2
    assert d1 == 1.0 and d2 == 0.5


def test_distinct_over_all_predictions():
    # preds "a b a" and "a b": unigrams a, b, a, a, b -> 2 distinct / 5; bigrams ab, ba, ab -> 2 / 3
    d1, d2 = metric.distinct(metric.to_pairs(["a b a", "a b"], ["g", "g"]))
    assert d1 == pytest.approx(2 / 5) and d2 == pytest.approx(2 / 3)


def test_empty_sides_are_skipped_as_the_script_reads_them():
    # "\tgold".strip() has one field: the script skips the pair; the other pair alone gives F1 100
    s = metric.score(["", "a b"], ["x y", "a b"])
    assert s["f1"] == pytest.approx(100.0) and s["bleu1"] == pytest.approx(1.0) and s["bleu2"] == pytest.approx(1.0)
    assert metric.score(["z"], ["a"])["f1"] == 0.0  # no hit: 0 (the script would divide by zero)


def test_counts_add_up_over_ranks():
    pairs = metric.to_pairs(["ab c", "xx", "张 伟"], ["a bd", "x y", "张 三"])
    halves = [metric.char_counts(pairs[:1]), metric.char_counts(pairs[1:])]
    summed = [a + b for a, b in zip(*halves)]
    assert metric.f1_from_counts(*summed) == pytest.approx(metric.char_f1(pairs))


def test_knowledge_recall_counts_the_objects_the_gold_reply_states():
    import eval as evaluation
    sample = {"knowledge": [["m", "领域", "电影"], ["m", "导演", "李 · 明"], ["m", "评分", "7.3"], ["m", "主演", "张 · 伟"]],
              "gold": "m 的 导演 是 李 · 明 ， 主演 张 · 伟 。"}
    # the gold states the director (主演 and 领域 are not counted; 7.3 is not in the gold): 1 needed
    assert evaluation.knowledge_recall([sample], ["导演 是 李 · 明"]) == (1, 1)
    assert evaluation.knowledge_recall([sample], ["导演 是 李 · 伟"]) == (0, 1)
    assert evaluation.right_triples(sample) == {1}  # the triple knowledge_selection wants the attention on
