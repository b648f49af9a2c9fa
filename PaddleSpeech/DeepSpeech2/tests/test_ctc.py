"""CTC decoding: greedy by hand, beam width 1 against greedy, prefix beam search against the best
labelling found by enumerating every path of a small hand-made matrix, and the character LM."""
import itertools
import math

import numpy as np
import pytest

from ctc_decoders import CharNgramLM, greedy_decode, logsumexp, prefix_beam_search

BLANK = 2  # labels: 0 = "a", 1 = "b", 2 = blank


def collapse(path, blank=BLANK):
    out = []
    for i, label in enumerate(path):
        if label != blank and (i == 0 or path[i - 1] != label):
            out.append(label)
    return tuple(out)


def labelling_log_probs(log_probs, blank=BLANK):
    """log P(labelling) for every labelling, by summing over all paths (brute force)."""
    totals = {}
    for path in itertools.product(range(log_probs.shape[1]), repeat=len(log_probs)):
        p = sum(log_probs[t, c] for t, c in enumerate(path))
        key = collapse(path, blank)
        totals[key] = logsumexp(totals.get(key, -math.inf), p)
    return totals


def test_greedy_by_hand():
    probs = np.log(np.array([[0.6, 0.1, 0.3], [0.7, 0.1, 0.2], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1],
                             [0.1, 0.8, 0.1]]))
    assert greedy_decode(probs, BLANK) == [0, 0, 1]  # a a (merged), blank, a, b


def test_prefix_beam_search_finds_the_best_labelling_where_greedy_does_not():
    """Blank is the likeliest label of every frame, so greedy returns nothing; but the many paths that
    emit one "a" together outweigh the all-blank path."""
    probs = np.array([[0.35, 0.25, 0.40], [0.35, 0.25, 0.40], [0.35, 0.25, 0.40]])
    log_probs = np.log(probs)
    totals = labelling_log_probs(log_probs)
    best = max(totals, key=totals.get)
    assert greedy_decode(log_probs, BLANK) == [] and best == (0,)
    ids, score = prefix_beam_search(log_probs, BLANK, beam_size=8)
    assert tuple(ids) == best and score == pytest.approx(totals[best], abs=1e-9)
    assert prefix_beam_search(log_probs, BLANK, beam_size=1)[0] == []  # width 1 follows greedy here


def test_beam_scores_are_exact_on_random_matrices():
    """With a beam wide enough to keep every prefix, the search is exact: its best labelling and score
    are the brute-force ones."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        log_probs = np.log(rng.dirichlet(np.ones(3), size=5))
        totals = labelling_log_probs(log_probs)
        best = max(totals, key=totals.get)
        ids, score = prefix_beam_search(log_probs, BLANK, beam_size=64)
        assert tuple(ids) == best and score == pytest.approx(totals[best], abs=1e-9)


def peaky(rng, frames, labels, top=0.95):
    """A matrix like a trained model's: one label per frame holds `top` of the probability."""
    probs = rng.dirichlet(np.ones(labels), size=frames) * (1 - top)
    probs[np.arange(frames), rng.integers(0, labels, frames)] += top
    return np.log(probs)


def test_beam_width_1_equals_greedy():
    """On confident frames (a trained model's), beam width 1 gives the greedy transcript. (On flat
    frames they can differ: the beam sums a prefix's paths, greedy follows one; see the test above.)"""
    rng = np.random.default_rng(1)
    for _ in range(200):
        log_probs = peaky(rng, int(rng.integers(1, 30)), 6)
        assert prefix_beam_search(log_probs, 5, beam_size=1)[0] == greedy_decode(log_probs, 5)


def test_char_lm_is_a_distribution_and_prefers_what_it_saw():
    lm = CharNgramLM.train(["ab ab", "ab ba", "ba"], order=3)
    for context in ("", "a", "ab ", "zz"):
        total = sum(lm.prob(context, c) for c in lm.chars + [lm.EOS])
        assert total == pytest.approx(1.0, abs=1e-9)
    assert lm.prob("a", "b") > lm.prob("a", "a")
    assert lm.sentence_log_prob("ab ab") > lm.sentence_log_prob("ba ba ab")


def test_lm_weight_decides_an_acoustically_ambiguous_frame():
    """Two frames, the second torn between "a" and "b": the LM, which only ever saw "ab", gives "ab" when
    its weight alpha is on; the acoustics alone prefer "a"."""
    chars = ["a", "b"]
    lm = CharNgramLM.train(["ab"] * 5, order=2)
    log_probs = np.log(np.array([[0.9, 0.05, 0.05], [0.48, 0.47, 0.05]]))
    assert prefix_beam_search(log_probs, BLANK, 4, chars, lm, alpha=0.0)[0] == [0]  # P("a") .50 > P("ab") .42
    assert prefix_beam_search(log_probs, BLANK, 4, chars, lm, alpha=1.0)[0] == [0, 1]
