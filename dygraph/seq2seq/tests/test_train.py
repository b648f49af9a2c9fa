"""Seq2seq: beam search on a hand-made step-score table, and learning to reverse on demo data."""
import numpy as np
import paddle

import train

A, B = 3, 4  # token ids after <unk>=0, <s>=1, </s>=2
# Probability of the next token given the previous one: greedy takes A (0.6) and ends with A </s>
# (0.6 * 0.4 = 0.24); B looks worse first but B </s> scores 0.4 * 0.9 = 0.36.
TABLE = {1: {A: 0.6, B: 0.4}, A: {2: 0.4, A: 0.3, B: 0.3}, B: {2: 0.9, A: 0.05, B: 0.05}, 2: {2: 1.0}}


def table_step(words, state):
    logp = np.full((len(words), 5), -1e9)
    for i, w in enumerate(words):
        for nxt, p in TABLE[int(w)].items():
            logp[i, nxt] = np.log(p)
    return logp, state


def test_beam_beats_greedy_on_hand_made_table():
    state = [paddle.zeros([2, 1])]  # rows must be reorderable; the table itself needs no state
    g_seq, g_score = train.greedy(table_step, [paddle.zeros([1, 1])], 1, 5)
    b_seq, b_score = train.beam_search(table_step, state, 1, 2, 5)
    assert g_seq == [[A]] and np.isclose(g_score[0], np.log(0.24))
    assert b_seq == [[B]] and np.isclose(b_score[0], np.log(0.36))
    one_seq, one_score = train.beam_search(table_step, [paddle.zeros([1, 1])], 1, 1, 5)
    assert one_seq == g_seq and np.isclose(one_score[0], g_score[0])


def test_beam_one_equals_greedy_on_a_model():
    paddle.seed(1)
    model = train.Seq2Seq(10, 10, 16)
    rng = np.random.RandomState(0)
    pairs = [(list(rng.randint(3, 10, rng.randint(3, 7))), [1, 2]) for _ in range(8)]
    greedy = train.translate(model, pairs, 1)
    model.eval()
    src, src_len, _, _, _ = train.collate(pairs)
    enc, pad, state = model.encode(paddle.to_tensor(src), paddle.to_tensor(src_len))

    def step(words, st):
        logp, st = model.step(paddle.to_tensor(words), st, enc, pad)
        return logp.numpy(), st
    beam1, _ = train.beam_search(step, state, len(pairs), 1, 2 * src.shape[1] + 2)
    assert beam1 == greedy


def test_bleu_by_hand():
    assert train.bleu([[1, 2, 3, 4]], [[1, 2, 3, 4]]) == 100.0
    assert train.bleu([[1, 2, 3]], [[4, 5, 6]]) == 0.0


def test_learns_to_reverse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    beam, greedy, copy = train.main(["--demo_pairs", "2000", "--epochs", "2", "--hidden_size", "64", "--lr", "0.01",
                                     "--max_eval", "64", "--max_len", "12", "--log_interval", "1000", "--output_dir", str(tmp_path / "o")])
    assert greedy > copy + 20 and beam > copy + 20
