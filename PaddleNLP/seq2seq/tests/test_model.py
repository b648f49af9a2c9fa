"""The model: parameter counts of the release's configuration, shapes, the decoding functions
against teacher forcing, padding, beam search against greedy and a hand-made case, and learning."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import decode
from model import MODELS, build_model, num_parameters, reference_num_parameters, sequence_loss

# the release's IWSLT15 en-vi vocabularies (run.sh: --src_vocab_size 17191 --tar_vocab_size 7709)
SRC_VOCAB, TRG_VOCAB = 17191, 7709


@pytest.mark.parametrize("name, expected", [("seq2seq", 25_092_608), ("attention_seq2seq", 26_927_616)])
def test_parameter_count_of_the_release_configuration(name, expected):
    with paddle.LazyGuard():
        model = build_model(name, SRC_VOCAB, TRG_VOCAB)  # 2 x 512, the defaults
    assert num_parameters(model) == reference_num_parameters(name, SRC_VOCAB, TRG_VOCAB) == expected
    # one weight and one bias per LSTM cell, as fluid's LSTMCell: 2 layers x (encoder, decoder)
    assert len(model.encoder.weights) == len(model.decoder.weights) == 2
    assert [list(b.shape) for b in model.encoder.biases] == [[2048], [2048]]


def test_hand_computation_written_out():
    h, vs, vt = 512, SRC_VOCAB, TRG_VOCAB
    lstm = (h + h) * 4 * h + 4 * h  # one cell: [in + H, 4H] and [4H]
    plain = vs * h + vt * h + 4 * lstm + h * vt
    assert reference_num_parameters("seq2seq", vs, vt) == plain
    first_with_feeding = (h + h + h) * 4 * h + 4 * h
    assert reference_num_parameters("attention_seq2seq", vs, vt) == plain - lstm + first_with_feeding + h * h + 2 * h * h


def small_model(name, seed=0, vocab=(30, 40), hidden=16):
    paddle.seed(seed)
    model = build_model(name, *vocab, hidden_size=hidden, num_layers=2, dropout=0.2, init_scale=0.5)
    model.eval()
    return model


@pytest.mark.parametrize("name", MODELS)
def test_start_and_step_give_the_teacher_forced_distribution(name):
    model = small_model(name)
    src = paddle.to_tensor(np.array([[5, 6, 7, 2], [8, 9, 2, 2]]))
    src_len = paddle.to_tensor(np.array([4, 3]))
    trg = paddle.to_tensor(np.array([[1, 3, 4, 5, 6], [1, 6, 7, 2, 2]]))
    logits = model(src, src_len, trg)
    assert logits.shape == [2, 5, 40]
    full = F.log_softmax(logits, axis=-1).numpy()
    log_probs, *state = model.start(src, src_len)
    assert [s.shape for s in state[:2]] == [[2, 2, 16], [2, 2, 16]]
    assert len(state) == (5 if name == "attention_seq2seq" else 2)
    np.testing.assert_allclose(log_probs.numpy(), full[:, 0], atol=1e-5)
    for t in range(1, 5):
        log_probs, *changed = model.step(trg[:, t], *state)
        state = changed + state[len(changed):]
        np.testing.assert_allclose(log_probs.numpy(), full[:, t], atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_padding_changes_nothing(name):
    """A sentence decoded alone or padded next to a longer one: the same distribution."""
    model = small_model(name)
    alone = model.start(paddle.to_tensor(np.array([[8, 9, 2]])), paddle.to_tensor(np.array([3])))[0].numpy()
    padded = model.start(paddle.to_tensor(np.array([[5, 6, 7, 4, 2], [8, 9, 2, 2, 2]])),
                         paddle.to_tensor(np.array([5, 3])))[0].numpy()
    np.testing.assert_allclose(padded[1], alone[0], atol=1e-5)
    assert np.abs(padded[0] - alone[0]).max() > 1e-3  # the other sentence is another distribution


def random_sources(rng, vocab=30, count=7):
    return [np.array(rng.integers(3, vocab, rng.integers(2, 9)).tolist() + [2]) for _ in range(count)]


@pytest.mark.parametrize("name", MODELS)
def test_beam_one_is_greedy_and_a_wide_beam_is_at_least_as_likely(name):
    model, rng = small_model(name), np.random.default_rng(0)
    sources = random_sources(rng)
    decoder = decode.ModelDecoder(model)
    greedy = decode.translate(decoder, sources, 2, beam_size=1, batch_size=3, max_out_len=12)
    assert decode.translate(decoder, sources, 2, beam_size=1, batch_size=7, max_out_len=12) == greedy
    beam1 = [decode.beam_search(decoder, s[None], np.array([len(s)]), 12, 2, beam_size=1)[0] for s in sources]
    assert beam1 == greedy
    wide = decode.translate(decoder, sources, 2, beam_size=10, batch_size=3, max_out_len=12)

    def log_prob(src, out):
        trg_in = paddle.to_tensor(np.array([[1] + out]))
        logits = model(paddle.to_tensor(src[None]), paddle.to_tensor(np.array([len(src)])), trg_in)
        lp = F.log_softmax(logits, axis=-1).numpy()[0]
        return sum(lp[t, tok] for t, tok in enumerate(out + [2]))

    finished = [len(g) < 11 for g in greedy]  # greedy ended on its own: a fair comparison
    assert all(log_prob(s, w) >= log_prob(s, g) - 1e-4 for s, w, g, f in zip(sources, wide, greedy, finished) if f)
    assert wide != greedy  # the beam finds other translations on an untrained model


@pytest.mark.parametrize("name", MODELS)
def test_carried_state_decodes_as_rerunning_the_whole_prefix(name):
    """The decoder's carried LSTM state (the cache) gives the tokens of re-running the model over the
    whole prefix at every step, for greedy and for beam 10."""
    model, rng = small_model(name, seed=3), np.random.default_rng(1)
    sources = random_sources(rng, count=5)
    for beam in (1, 10):
        cached = decode.translate(decode.ModelDecoder(model), sources, 2, beam_size=beam, batch_size=3, max_out_len=10)
        uncached = decode.translate(decode.UncachedDecoder(model), sources, 2, beam_size=beam, batch_size=3,
                                    max_out_len=10)
        assert cached == uncached and any(cached)


class TableDecoder:
    """A hand-made language: the first word's log-probs, then log-probs that depend on the last word."""

    def __init__(self, first, after):
        self.first, self.after = np.log(first), {k: np.log(v) for k, v in after.items()}

    def start(self, src, src_len):
        return np.repeat(self.first[None], len(src), 0), [np.zeros((1, len(src), 1))] * 2

    def step(self, tokens, state):
        return np.stack([self.after[int(t)] for t in tokens]), state

    def reorder(self, state, rows):
        return [s[:, rows] for s in state]


def test_beam_search_finds_the_likelier_sentence_greedy_misses():
    # ids: 0 <unk>, 1 <s>, 2 </s>, 3 a, 4 b. Greedy takes a (0.6), then </s> (0.4): 0.24;
    # the beam takes b (0.4), then </s> (0.9): 0.36.
    first = np.array([1e-9, 1e-9, 1e-9, 0.6, 0.4])
    flat = np.array([1e-9, 1e-9, 0.4, 0.3, 0.3])
    after = {3: flat, 4: np.array([1e-9, 1e-9, 0.9, 0.05, 0.05]), 2: np.array([1e-9, 1e-9, 1.0, 1e-9, 1e-9])}
    decoder, src = TableDecoder(first, after), np.zeros((1, 2), dtype=np.int64)
    assert decode.greedy_search(decoder, src, np.array([2]), 5, 2) == [[3]]
    assert decode.beam_search(decoder, src, np.array([2]), 5, 2, beam_size=2) == [[4]]
    assert decode.beam_search(decoder, src, np.array([2]), 5, 2, beam_size=1) == [[3]]


def test_sequence_loss_is_the_release_loss():
    logits = paddle.to_tensor(np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]],
                                               [[0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]]], dtype="float32")))
    labels = paddle.to_tensor(np.array([[0, 2], [1, 0]]))
    loss, total, tokens = sequence_loss(logits, labels, paddle.to_tensor(np.array([2, 1])))
    expected = -(np.log(0.5) + np.log(0.8) + np.log(0.4))  # the second sentence's padding is not counted
    assert float(total) == pytest.approx(expected, rel=1e-5)
    assert float(loss) == pytest.approx(expected / 2, rel=1e-5) and float(tokens) == 3


def test_learning_on_a_fixed_batch():
    paddle.seed(0)
    model = build_model("attention_seq2seq", 30, 40, hidden_size=32, dropout=0.0)
    rng = np.random.default_rng(0)
    src = paddle.to_tensor(rng.integers(3, 30, (8, 6)))
    labels_np = np.concatenate([rng.integers(3, 40, (8, 5)), np.full((8, 1), 2)], axis=1)
    trg_in = paddle.to_tensor(np.concatenate([np.ones((8, 1), dtype=np.int64), labels_np[:, :-1]], axis=1))
    labels, lengths = paddle.to_tensor(labels_np), paddle.to_tensor(np.full(8, 6))
    optimizer = paddle.optimizer.Adam(0.03, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    losses = []
    for _ in range(60):
        loss = sequence_loss(model(src, paddle.to_tensor(np.full(8, 6)), trg_in), labels, lengths)[0]
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(loss))
    assert losses[0] > 6 * np.log(40) * 0.9  # about uniform at the start
    assert losses[-1] < losses[0] * 0.2, losses[::5]
