"""WER and CER: hand-computed cases (the CER leaves out the spaces), and agreement with jiwer."""
import jiwer
import numpy as np
import pytest

from metric import error_counts, rates


def test_hand_computed():
    counts = error_counts(["the cat sat", "a b"], ["the bat sat down", ""])
    # words: cat->bat, +down; a, b deleted. chars without spaces: c->b, "down" inserted (4), "ab" deleted (2)
    assert counts.tolist() == [2 + 2, 3 + 2, 1 + 4 + 2, 9 + 2]
    assert rates(counts)["wer"] == pytest.approx(0.8)


def test_agrees_with_jiwer_corpus_level():
    rng = np.random.default_rng(0)
    words = ["sam", "lu", "tom", "kito"]
    refs = [" ".join(rng.choice(words, rng.integers(1, 5))) for _ in range(30)]
    hyps = [" ".join(rng.choice(words, rng.integers(1, 5))) for _ in range(30)]
    r = rates(error_counts(refs, hyps))
    assert r["wer"] == pytest.approx(jiwer.wer(refs, hyps))
    assert r["cer"] == pytest.approx(jiwer.cer([x.replace(" ", "") for x in refs], [x.replace(" ", "") for x in hyps]))
