"""Quick tests: the CRF's log-partition and Viterbi against brute force on a 3-tag case, chunking,
and a short run that beats the per-character majority-tag baseline."""
import itertools

import numpy as np
import paddle
import pytest

import train

N = 3  # tags


def hand_case():
    rng = np.random.default_rng(0)
    em = rng.normal(size=(2, 4, N)).astype("float32")  # two sentences, lengths 4 and 2
    trans = rng.normal(size=(N, N)).astype("float32")
    start, stop = rng.normal(size=N).astype("float32"), rng.normal(size=N).astype("float32")
    return em, np.array([4, 2], "int64"), trans, start, stop


def brute_force(em, n, trans, start, stop):
    """Score of every one of the N**n tag paths of one sentence of length n."""
    scores = {}
    for path in itertools.product(range(N), repeat=n):
        s = start[path[0]] + stop[path[-1]] + sum(em[t, y] for t, y in enumerate(path))
        s += sum(trans[a, b] for a, b in zip(path, path[1:]))
        scores[path] = s
    return scores


def test_log_partition_and_path_score_by_enumeration():
    em, lengths, trans, start, stop = hand_case()
    t = [paddle.to_tensor(x) for x in (em, lengths, trans, start, stop)]
    log_z = train.crf_log_partition(t[0], t[1], *t[2:]).numpy()
    gold = np.array([[2, 0, 1, 1], [1, 2, 0, 0]], "int64")  # the second one's tail is padding
    path_score = train.crf_path_score(t[0], paddle.to_tensor(gold), t[1], *t[2:]).numpy()
    for b, n in enumerate(lengths):
        scores = brute_force(em[b], n, trans, start, stop)
        expected = np.log(np.sum(np.exp(np.array(list(scores.values()), "float64"))))
        assert log_z[b] == pytest.approx(expected, abs=1e-4)
        assert path_score[b] == pytest.approx(scores[tuple(gold[b, :n])], abs=1e-4)


def test_viterbi_decoder_by_enumeration():
    em, lengths, trans, start, stop = hand_case()
    decoder = paddle.text.ViterbiDecoder(paddle.to_tensor(trans), include_bos_eos_tag=False)
    t_len = paddle.to_tensor(lengths)
    em_ss = train.with_start_stop(paddle.to_tensor(em), t_len, paddle.to_tensor(start), paddle.to_tensor(stop))
    best, paths = decoder(em_ss, t_len)
    for b, n in enumerate(lengths):
        scores = brute_force(em[b], n, trans, start, stop)
        argmax = max(scores, key=scores.get)
        assert tuple(paths.numpy()[b, :n]) == argmax
        assert best.numpy()[b] == pytest.approx(scores[argmax], abs=1e-4)


def test_chunks_and_f1():
    assert train.chunks(["PER-B", "PER-I", "v-B", "n-I", "n-I", "O"]) == {(0, 2, "PER"), (2, 3, "v"), (3, 5, "n")}
    gold, pred = [["n-B", "n-I", "v-B"]], [["n-B", "v-B", "v-I"]]  # 0 of 2 chunks right
    assert train.chunk_f1(gold, pred) == 0.0
    assert train.chunk_f1(gold, gold) == 1.0


def test_learns_on_demo_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = train.main(["--max_steps", "30", "--log_interval", "20", "--output_dir", str(tmp_path / "out")])
    assert m["chunk_f1"] > m["baseline_f1"] + 0.2, m
    assert (tmp_path / "out" / "inference" / "model.json").is_file()
