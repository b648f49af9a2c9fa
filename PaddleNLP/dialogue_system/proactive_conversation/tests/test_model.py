"""The model: the parameter count of the release's configuration, the losses by hand, decoding
(start/step against teacher forcing, beam 1 = greedy, the hand-made beam case), and learning."""
import numpy as np
import paddle
import pytest

import decode
import model as M


def test_parameter_count_of_the_release_configuration():
    """network.py's defaults: V 30004, E 300, H 800 (400 each way), one layer: 74,612,409, the count
    written out from the release's parameters (model.reference_num_parameters)."""
    model = M.build_model(30004, lazy=True)  # the vocabulary-sized layers under paddle.LazyGuard
    assert M.num_parameters(model) == M.reference_num_parameters() == 74_612_409
    # by hand: embedding 30004*300 = 9,001,200; four encoder directions 4*(300*1200 + 1200 + 400*1200
    # + 1200) = 3,369,600; bridge 640,800; decoder GRU 1100*2400 + 800*2400 + 4800 = 4,564,800; cue GRU
    # 1600*2400 + 800*2400 + 4800 = 5,764,800; dec_fc1/2 1,281,600; dec_fc3 1,601; dec_out_fc1
    # 1,280,800; dec_out_fc2 24,033,204; bow_fc_1 640,800; bow_fc_2 24,033,204
    assert sum([9_001_200, 3_369_600, 640_800, 4_564_800, 5_764_800, 1_281_600, 1_601, 1_280_800, 24_033_204,
                640_800, 24_033_204]) == 74_612_409
    assert list(model.decoder_cell.weight_ih.shape) == [2400, 1100] and list(model.encoder.weight_hh_l0.shape) == [1200, 400]


def small_model(seed=0, vocab=40):
    paddle.seed(seed)
    model = M.build_model(vocab, 8, 16, dropout=0.0, init_scale=0.5)
    model.eval()
    return model


def source(rng, batch=3, vocab=40):
    src_len = rng.integers(3, 9, batch)
    src = np.zeros((batch, src_len.max()), dtype=np.int64)
    for i, n in enumerate(src_len):
        src[i, :n] = rng.integers(4, vocab, n)
    kn_len = np.array([[3, 4, 2], [5, 0, 0], [2, 3, 0]][:batch], dtype=np.int64)
    kn = np.zeros((batch, 3, 5), dtype=np.int64)
    for i in range(batch):
        for k in range(3):
            kn[i, k, :kn_len[i, k]] = rng.integers(4, vocab, kn_len[i, k])
    return src, src_len.astype(np.int64), kn, kn_len


def test_start_and_step_give_the_teacher_forced_distribution_with_the_prior():
    """Decoding (prior knowledge) step by step equals one teacher-forced pass fed the prior's vector."""
    model, rng = small_model(), np.random.default_rng(0)
    src, src_len, kn, kn_len = [paddle.to_tensor(a) for a in source(rng)]
    trg = paddle.to_tensor(rng.integers(4, 40, (3, 4)))
    log_probs, hidden, enc_out, enc_bias, knowledge = model.start(src, src_len, kn, kn_len)
    h0, enc_out2, enc_bias2, memory, kn_bias = model.encode(src, src_len, kn, kn_len)
    prior_vec, prior = model.attend(h0, memory, kn_bias)
    np.testing.assert_allclose(knowledge.numpy(), prior_vec.numpy(), atol=1e-6)
    assert np.allclose(prior.numpy()[1, 1:], 0) and np.allclose(prior.numpy().sum(1), 1)  # padded triples
    h, emb = h0, model.embedding(paddle.concat([paddle.full([3, 1], 2, "int64"), trg], axis=1))
    for t in range(4):
        out, h = model.decoder_step(emb[:, t], h, enc_out2, enc_bias2, prior_vec)
        expected = paddle.nn.functional.log_softmax(model.project(out), axis=-1).numpy()
        np.testing.assert_allclose(log_probs.numpy(), expected, atol=1e-5)
        log_probs, hidden = model.step(trg[:, t], hidden, enc_out, enc_bias, knowledge)


def test_padding_changes_nothing():
    model, rng = small_model(), np.random.default_rng(1)
    src, src_len, kn, kn_len = source(rng)
    together = model.start(*[paddle.to_tensor(a) for a in (src, src_len, kn, kn_len)])[0].numpy()
    n = src_len[1]
    alone = model.start(*[paddle.to_tensor(a) for a in (src[1:2, :n], src_len[1:2], kn[1:2, :1, :5], kn_len[1:2, :1])])
    np.testing.assert_allclose(together[1], alone[0].numpy()[0], atol=1e-5)


def test_losses_by_hand():
    # two replies of lengths 2 and 1 (+ <eos>), vocabulary 3: NLL = -(log .5 + log .8 + log .6) /
    # batch 2 for the first (its <eos> at position 2 has p .6) and -(log .4 + log .5) for the second
    probs = np.array([[[.5, .25, .25], [.1, .1, .8], [.2, .2, .6]], [[.2, .4, .4], [.5, .25, .25], [1 / 3] * 3]])
    logits = paddle.to_tensor(np.log(probs).astype("float32"))
    labels = paddle.to_tensor(np.array([[0, 2, 2], [1, 0, 0]]))
    trg_len = paddle.to_tensor(np.array([3, 2]))
    prior = paddle.to_tensor(np.array([[.5, .5], [.25, .75]], dtype="float32"))
    posterior = paddle.to_tensor(np.array([[1.0, 0.0], [.25, .75]], dtype="float32"))
    bow = paddle.to_tensor(np.log(np.array([[.5, .3, .2], [.1, .6, .3]], dtype="float32")))
    parts = M.losses(logits, prior, posterior, bow, labels, trg_len)
    nll = -(np.log(.5) + np.log(.8) + np.log(.6) + np.log(.4) + np.log(.5)) / 2
    assert parts["nll"].item() == pytest.approx(nll, rel=1e-5)
    # BOW: reply words only (no <eos>): sample 1 words 0, 2 -> -(log .5 + log .2); sample 2 word 1 -> -log .6
    assert parts["bow"].item() == pytest.approx(-(np.log(.5) + np.log(.2) + np.log(.6)) / 2, rel=1e-5)
    # KL: sample 1: 1 * (log 1 - log .5) = log 2 (the 0 entry adds 0); sample 2: posterior = prior, 0;
    # the mean over the 4 entries: log 2 / 4
    assert parts["kl"].item() == pytest.approx(np.log(2) / 4, rel=1e-4)
    assert M.total_loss(parts, 0.0).item() == pytest.approx(parts["bow"].item())


def test_beam_one_is_greedy_and_unk_is_never_generated():
    model, rng = small_model(seed=3), np.random.default_rng(2)
    src = source(rng)
    decoder = decode.ModelDecoder(model)
    greedy = decode.greedy_search(decoder, src, 8)
    assert decode.beam_search(decoder, src, 8, beam_size=1) == greedy
    wide = decode.beam_search(decoder, src, 8, beam_size=5)
    assert all(1 not in out and 0 not in out and 2 not in out for out in greedy + wide)
    assert all(len(out) <= 7 for out in wide)  # max_len counts <eos>


class TableDecoder:
    """A hand-made language over ids 0-6 (3 = <eos>, 4 = a, 5 = b, 6 = c): the next word's
    probabilities depend on the last word only."""

    def __init__(self, first, after):
        self.first, self.after = np.log(first), {k: np.log(v) for k, v in after.items()}

    def start(self, source):
        return np.repeat(self.first[None], len(source[0]), 0), [np.zeros((len(source[0]), 1))]

    def step(self, tokens, state):
        return np.stack([self.after[int(t)] for t in tokens]), state

    def reorder(self, state, rows):
        return [s[rows] for s in state]


def test_beam_search_with_and_without_the_release_length_average():
    # first word a .6, b .4; after a: <eos> .7, a .3; after b: c .9, <eos> .1; after c: <eos> .95.
    # Summed: "a <eos>" .6 * .7 = .42 beats "b c <eos>" .4 * .9 * .95 = .342.
    # Mean log-probability per word: "a <eos>" (log .6 + log .7) / 2 = -0.434 loses to "b c <eos>"
    # (log .4 + log .9 + log .95) / 3 = -0.357. Greedy: a, then <eos>.
    e = 1e-9
    first = np.array([e, e, e, e, .6, .4, e])
    after = {4: np.array([e, e, e, .7, .3, e, e]), 5: np.array([e, e, e, .1, e, e, .9]),
             6: np.array([e, e, e, .95, e, .05, e]), 3: np.array([e, e, e, 1, e, e, e])}
    decoder, src = TableDecoder(first, after), [np.zeros((1, 2), dtype=np.int64)]
    assert decode.greedy_search(decoder, src, 5) == [[4]]
    assert decode.beam_search(decoder, src, 5, beam_size=2, length_average=False) == [[4]]
    assert decode.beam_search(decoder, src, 5, beam_size=2, length_average=True) == [[5, 6]]


def test_learning_on_a_fixed_batch():
    paddle.seed(0)
    model = M.build_model(40, 16, 32, dropout=0.0, init_scale=0.1)
    rng = np.random.default_rng(0)
    src, src_len, kn, kn_len = source(rng)
    labels_np = np.concatenate([rng.integers(4, 40, (3, 5)), np.full((3, 1), 3)], axis=1)
    trg_in = np.concatenate([np.full((3, 1), 2), labels_np[:, :-1]], axis=1)
    arrays = [paddle.to_tensor(a) for a in (src, src_len, kn, kn_len, trg_in, labels_np, np.full(3, 6))]
    optimizer = paddle.optimizer.Adam(0.02, parameters=model.parameters())
    history = []
    for _ in range(40):
        parts = M.losses(*model(*arrays), arrays[5], arrays[6])
        M.total_loss(parts, 1.0).backward()
        optimizer.step()
        optimizer.clear_grad()
        history.append(parts["nll"].item())
    assert history[0] > 6 * np.log(40) * 0.9  # about uniform at the start
    assert history[-1] < history[0] * 0.1, history[::5]
