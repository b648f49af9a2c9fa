"""Decoding: CTC greedy by hand (blanks between repeated characters), prefix beam search against the
best labelling found by enumerating every path of small matrices, and attention beam search on a
hand-made decoder; the metric by hand."""
import itertools
import math

import numpy as np
import pytest

from decoders import attention_beam_search, ctc_greedy, ctc_prefix_beam_search, logsumexp
from metric import edit_distance, error_counts, rates

BLANK = 2  # labels: 0 = "a", 1 = "b", 2 = blank


def collapse(path, blank=BLANK):
    return tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c))


def labelling_log_probs(log_probs, blank=BLANK):
    totals = {}
    for path in itertools.product(range(log_probs.shape[1]), repeat=len(log_probs)):
        p = sum(log_probs[t, c] for t, c in enumerate(path))
        key = collapse(path, blank)
        totals[key] = logsumexp(totals.get(key, -math.inf), p)
    return totals


def test_greedy_merges_repeats_but_not_across_a_blank():
    probs = np.log(np.array([[0.6, 0.1, 0.3],    # a
                             [0.7, 0.1, 0.2],    # a   (merged with the previous)
                             [0.1, 0.1, 0.8],    # blank
                             [0.8, 0.1, 0.1],    # a   (a second a: a blank came between)
                             [0.1, 0.8, 0.1],    # b
                             [0.1, 0.7, 0.2]]))  # b   (merged)
    assert ctc_greedy(probs, BLANK) == [0, 0, 1]


def test_prefix_beam_search_finds_the_best_labelling_where_greedy_does_not():
    """Blank is the likeliest label of every frame, so greedy reads nothing; but the paths that emit
    one "a" together outweigh the all-blank path."""
    log_probs = np.log(np.array([[0.35, 0.25, 0.40]] * 3))
    totals = labelling_log_probs(log_probs)
    best = max(totals, key=totals.get)
    assert ctc_greedy(log_probs, BLANK) == [] and best == (0,)
    ids, score = ctc_prefix_beam_search(log_probs, BLANK, beam_size=8)
    assert tuple(ids) == best and score == pytest.approx(totals[best], abs=1e-9)


def test_prefix_beam_search_keeps_a_double_letter_apart_only_with_a_blank():
    """"aa" needs a blank between the two a's: a a a reads "a", a blank a reads "aa"."""
    sure = lambda labels: np.log(np.eye(3)[labels] * 0.98 + 0.01)  # noqa: E731
    assert ctc_prefix_beam_search(sure([0, 0, 0]), BLANK, 4)[0] == [0]
    assert ctc_prefix_beam_search(sure([0, 2, 0]), BLANK, 4)[0] == [0, 0]
    assert ctc_greedy(sure([0, 2, 0]), BLANK) == [0, 0]


def test_prefix_beam_search_is_exact_with_a_wide_beam():
    rng = np.random.default_rng(0)
    for _ in range(5):
        log_probs = np.log(rng.dirichlet(np.ones(3), size=5))
        totals = labelling_log_probs(log_probs)
        best = max(totals, key=totals.get)
        ids, score = ctc_prefix_beam_search(log_probs, BLANK, beam_size=64)
        assert tuple(ids) == best and score == pytest.approx(totals[best], abs=1e-9)


def test_attention_beam_search_beats_greedy_on_a_hand_made_decoder():
    """Ids 0, 1; sos 2, eos 3. From the start: P(0) = 0.6, P(1) = 0.4. After 0 the decoder is unsure
    (end 0.5, 0 0.5: the best text "0" has P 0.3); after 1 it is sure to end (P("1") = 0.4). Greedy
    takes 0 first and reads "0" or "00"; a beam of 2 finds "1"."""
    table = {2: [0.6, 0.4, 0.0, 0.0], 0: [0.25, 0.25, 0.0, 0.5], 1: [0.0, 0.0, 0.0, 1.0]}

    def step(prev, states):
        logits = np.log(np.array([table[int(p)] for p in prev]) + 1e-12)
        return logits, states, np.ones((len(prev), 3)) / 3

    greedy, rows = attention_beam_search(step, np.zeros(4), 2, 3, beam_size=1)
    assert greedy == [0] and rows.shape == (1, 3)  # one attention row per character read
    assert attention_beam_search(step, np.zeros(4), 2, 3, beam_size=2)[0] == [1]


def test_edit_distance_and_rates_by_hand():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0
    counts = error_counts(["abc", "hello", "xy"], ["abc", "helo", "xyz"])
    assert counts.tolist() == [2, 3, 2, 10]
    assert rates(counts) == {"seq_err": pytest.approx(2 / 3), "cer": pytest.approx(0.2)}
