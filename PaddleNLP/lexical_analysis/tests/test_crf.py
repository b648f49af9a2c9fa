"""The CRF loss against brute-force enumeration, and Viterbi against brute-force argmax."""
import itertools

import numpy as np
import pytest

import utils  # noqa: F401  (sets threads and quiets Paddle before it is imported)
import paddle

from crf import LinearChainCRF


def brute_force(emission, trans, start, stop, length):
    """All tag paths of one sentence: (log Z, best path, best score) by enumeration."""
    num_tags = trans.shape[0]
    scores = {}
    for path in itertools.product(range(num_tags), repeat=length):
        s = start[path[0]] + stop[path[-1]]
        s += sum(emission[t, path[t]] for t in range(length))
        s += sum(trans[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = s
    values = np.array(list(scores.values()), dtype=np.float64)
    log_z = values.max() + np.log(np.exp(values - values.max()).sum())
    best = max(scores, key=scores.get)
    return log_z, scores, best


def make_crf(num_tags, seed):
    paddle.seed(seed)
    crf = LinearChainCRF(num_tags)
    rng = np.random.default_rng(seed)
    # Larger than the init range so transitions matter for the argmax.
    crf.transitions.set_value(rng.normal(0, 1.5, (num_tags, num_tags)).astype("float32"))
    crf.start.set_value(rng.normal(0, 1.5, num_tags).astype("float32"))
    crf.stop.set_value(rng.normal(0, 1.5, num_tags).astype("float32"))
    return crf, rng


@pytest.mark.parametrize("num_tags,lengths,seed", [(3, [4, 1, 3], 0), (4, [2, 5, 5, 3], 1), (2, [1], 2)])
def test_nll_matches_brute_force(num_tags, lengths, seed):
    crf, rng = make_crf(num_tags, seed)
    batch, max_len = len(lengths), max(lengths)
    emission = rng.normal(0, 1, (batch, max_len, num_tags)).astype("float32")
    tags = rng.integers(0, num_tags, (batch, max_len))
    # Garbage in the padding must not change anything.
    for b, n in enumerate(lengths):
        emission[b, n:] = 50.0
        tags[b, n:] = num_tags - 1
    nll = crf.nll(paddle.to_tensor(emission), paddle.to_tensor(lengths, dtype="int64"),
                  paddle.to_tensor(tags, dtype="int64")).numpy()
    trans, start, stop = (p.numpy().astype(np.float64) for p in (crf.transitions, crf.start, crf.stop))
    for b, n in enumerate(lengths):
        log_z, scores, _ = brute_force(emission[b].astype(np.float64), trans, start, stop, n)
        expected = log_z - scores[tuple(tags[b, :n])]
        assert nll[b] == pytest.approx(expected, rel=1e-5, abs=1e-4)
        assert nll[b] > 0


def test_nll_gradient_is_expected_counts_minus_gold():
    """d nll / d start = P(y_0 = j) - [gold y_0 = j]: checks the backward pass too."""
    crf, rng = make_crf(3, 5)
    emission = rng.normal(0, 1, (1, 3, 3)).astype("float32")
    tags = np.array([[2, 0, 1]])
    loss = crf.nll(paddle.to_tensor(emission), paddle.to_tensor([3], dtype="int64"),
                   paddle.to_tensor(tags, dtype="int64")).sum()
    loss.backward()
    trans, start, stop = (p.numpy().astype(np.float64) for p in (crf.transitions, crf.start, crf.stop))
    log_z, scores, _ = brute_force(emission[0].astype(np.float64), trans, start, stop, 3)
    marginal = np.zeros(3)
    for path, s in scores.items():
        marginal[path[0]] += np.exp(s - log_z)
    expected = marginal - np.eye(3)[2]
    np.testing.assert_allclose(crf.start.grad.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("num_tags,lengths,seed", [(3, [4, 2, 3, 1], 3), (5, [5, 4], 4)])
def test_viterbi_matches_brute_force_argmax(num_tags, lengths, seed):
    crf, rng = make_crf(num_tags, seed)
    emission = rng.normal(0, 1, (len(lengths), max(lengths), num_tags)).astype("float32")
    paths, best_scores = crf.decode(paddle.to_tensor(emission), paddle.to_tensor(lengths, dtype="int64"))
    paths, best_scores = paths.numpy(), best_scores.numpy()
    assert paths.shape == (len(lengths), max(lengths))
    trans, start, stop = (p.numpy().astype(np.float64) for p in (crf.transitions, crf.start, crf.stop))
    for b, n in enumerate(lengths):
        _, scores, best = brute_force(emission[b].astype(np.float64), trans, start, stop, n)
        assert tuple(paths[b, :n]) == best
        assert best_scores[b] == pytest.approx(scores[best], rel=1e-5, abs=1e-4)


def test_decoder_shares_the_trained_transitions():
    """Training changes the matrix in place; the decoder must see the new values."""
    crf, rng = make_crf(3, 6)
    new = rng.normal(0, 3, (3, 3)).astype("float32")
    crf.set_state_dict({"transitions": paddle.to_tensor(new), "start": crf.start, "stop": crf.stop})
    emission = rng.normal(0, 1, (1, 4, 3)).astype("float32")
    paths, _ = crf.decode(paddle.to_tensor(emission), paddle.to_tensor([4], dtype="int64"))
    _, _, best = brute_force(emission[0].astype(np.float64), new.astype(np.float64),
                             crf.start.numpy(), crf.stop.numpy(), 4)
    assert tuple(paths.numpy()[0]) == best
    assert sorted(crf.state_dict().keys()) == ["start", "stop", "transitions"]


def test_nll_is_stable_for_large_scores():
    """The exp-space matmul shifts by the maxima: large scores must not overflow."""
    crf, rng = make_crf(3, 7)
    crf.transitions.set_value(rng.normal(0, 15, (3, 3)).astype("float32"))
    emission = rng.normal(0, 40, (2, 4, 3)).astype("float32")
    tags = rng.integers(0, 3, (2, 4))
    nll = crf.nll(paddle.to_tensor(emission), paddle.to_tensor([4, 3], dtype="int64"),
                  paddle.to_tensor(tags, dtype="int64")).numpy()
    assert np.isfinite(nll).all()
    trans, start, stop = (p.numpy().astype(np.float64) for p in (crf.transitions, crf.start, crf.stop))
    for b, n in enumerate([4, 3]):
        log_z, scores, _ = brute_force(emission[b].astype(np.float64), trans, start, stop, n)
        assert nll[b] == pytest.approx(log_z - scores[tuple(tags[b, :n])], rel=1e-4, abs=1e-2)


def test_tied_start_stop_reads_paddlenlps_rows():
    """tied_start_stop (a run fine-tuned from PaddleNLP's LAC): start = the last transition row, stop = the
    second-to-last, as paddle.text.ViterbiDecoder(include_bos_eos_tag=True) reads them; the loss is the
    brute-force one with those rows, and the state dict holds the matrix only."""
    num_tags, lengths = 5, [4, 2, 3]
    rng = np.random.default_rng(8)
    crf = LinearChainCRF(num_tags, tied_start_stop=True)
    crf.transitions.set_value(rng.normal(0, 1.5, (num_tags, num_tags)).astype("float32"))
    emission = rng.normal(0, 1, (len(lengths), max(lengths), num_tags)).astype("float32")
    lens = paddle.to_tensor(lengths, dtype="int64")
    paths, scores = crf.decode(paddle.to_tensor(emission), lens)
    theirs_scores, theirs = paddle.text.ViterbiDecoder(crf.transitions, include_bos_eos_tag=True)(
        paddle.to_tensor(emission), lens)
    np.testing.assert_array_equal(paths.numpy(), theirs.numpy())
    np.testing.assert_allclose(scores.numpy(), theirs_scores.numpy(), rtol=1e-5)
    tags = rng.integers(0, num_tags, (len(lengths), max(lengths)))
    nll = crf.nll(paddle.to_tensor(emission), lens, paddle.to_tensor(tags, dtype="int64")).numpy()
    trans = crf.transitions.numpy().astype(np.float64)
    for b, n in enumerate(lengths):
        log_z, path_scores, _ = brute_force(emission[b].astype(np.float64), trans, trans[-1], trans[-2], n)
        assert nll[b] == pytest.approx(log_z - path_scores[tuple(tags[b, :n])], rel=1e-5, abs=1e-4)
    assert list(crf.state_dict()) == ["transitions"]
