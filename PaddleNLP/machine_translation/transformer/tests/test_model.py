"""The model: parameter counts against the hand computation, shapes, the cached decoder against the
uncached one, beam search against greedy and against a hand-made case, and learning on a fixed batch."""
import itertools
import math

import numpy as np
import paddle
import pytest

import decode
import train
from model import CONFIGS, build_model, log_softmax, num_parameters, position_encoding, reference_num_parameters


@pytest.mark.parametrize("name, vocab, expected", [
    # the paper's shared BPE vocabulary of 37000 tokens: 63.0M / 214.2M here, the paper says 65M / 213M
    ("base", 37000, 63_047_680), ("big", 37000, 214_175_744),
    # a 32000-token joint BPE vocabulary, the size the release's file is named after
    ("base", 32000, 60_487_680), ("big", 32000, 209_055_744)])
def test_parameter_count_of_the_real_models_matches_the_hand_computation(name, vocab, expected):
    with paddle.LazyGuard():
        model = build_model(name, vocab)
    assert num_parameters(model) == reference_num_parameters(CONFIGS[name], vocab) == expected
    # 6 + 6 layers, shared embedding: the only [V, d] matrix is the embedding
    assert sum(1 for p in model.parameters() if p.shape[0] == vocab) == 1
    assert len(model.encoder_layers) == len(model.decoder_layers) == 6


def test_written_out_log_softmax_gives_paddles_values():
    # the decoder step's log_softmax (model.log_softmax) against F.log_softmax, with a -1e9 column (<s>)
    x = np.random.default_rng(0).normal(0, 8, (6, 301)).astype("float32")
    x[:, 0] = -1e9
    ours, theirs = log_softmax(paddle.to_tensor(x)).numpy(), paddle.nn.functional.log_softmax(paddle.to_tensor(x), -1).numpy()
    np.testing.assert_allclose(ours[:, 1:], theirs[:, 1:], rtol=0, atol=1e-5)
    # at -1e9 Paddle 3.3.1's CPU kernel returns a finite -64 or so; the written-out form keeps -1e9 (exact)
    assert (ours[:, 0] < -1e8).all()
    assert np.allclose(np.exp(ours).sum(-1), 1, atol=1e-5)


def test_hand_computation_of_base_written_out():
    d, f, v = 512, 2048, 37000
    encoder = 6 * (4 * d * d + (d * f + f + f * d + d) + 2 * 2 * d)
    decoder = 6 * (8 * d * d + (d * f + f + f * d + d) + 3 * 2 * d)
    assert reference_num_parameters(CONFIGS["base"], v) == v * d + encoder + decoder + 2 * 2 * d


def test_position_table_is_the_release_layout():
    table = position_encoding(10, 8)
    assert table.shape == (10, 8)
    np.testing.assert_allclose(table[0], [0, 0, 0, 0, 1, 1, 1, 1])
    # timescales 1, 10^(4/3), 10^(8/3), 10^4 for 4 sine channels
    np.testing.assert_allclose(table[3, :4], np.sin(3 / np.array([1, 10 ** (4 / 3), 10 ** (8 / 3), 1e4])), rtol=1e-5)


def tiny_model(vocab=40, seed=0):
    paddle.seed(seed)
    model = build_model("tiny", vocab)
    model.eval()
    return model


def random_sources(rng, vocab, count=6):
    sources = []
    for _ in range(count):
        ids = rng.integers(3, vocab, rng.integers(2, 9)).tolist()
        sources.append(np.array(ids + [1]))
    return sources


def test_shapes_and_the_cache_give_the_teacher_forced_distribution():
    model = tiny_model()
    src = paddle.to_tensor(np.array([[5, 6, 7, 1], [8, 9, 1, 0]]))
    trg = paddle.to_tensor(np.array([[0, 3, 4, 5, 6], [0, 6, 7, 0, 0]]))
    logits = model(src, trg)
    assert logits.shape == [2, 5, 40]
    never = np.zeros(40, dtype="float32")
    never[model.bos_id] = -1e9  # <s> is never an output
    full = paddle.nn.functional.log_softmax(logits + paddle.to_tensor(never), -1).numpy()
    log_probs, self_k, self_v, cross_k, cross_v, bias = model.start(src)
    assert self_k.shape == [1, 2, 2, 1, 16] and cross_k.shape == [1, 2, 2, 4, 16] and bias.shape == [2, 1, 1, 4]
    np.testing.assert_allclose(log_probs.numpy()[:, 1:], full[:, 0, 1:], atol=1e-5)
    assert (log_probs.numpy()[:, 0] < -50).all()
    for t in range(1, 5):
        log_probs, self_k, self_v = model.step(trg[:, t], self_k, self_v, cross_k, cross_v, bias)
        assert self_k.shape[3] == t + 1
        real = trg.numpy()[:, t] != model.pad_id  # padding sits at position 0 (as PaddleNLP), the cache at t
        np.testing.assert_allclose(log_probs.numpy()[real, 1:], full[real, t, 1:], atol=1e-5)


def test_cached_decoding_gives_the_tokens_of_uncached_decoding():
    model, rng = tiny_model(vocab=40), np.random.default_rng(0)
    sources = random_sources(rng, 40)
    for beam in (1, 5):
        cached = decode.translate(decode.CachedDecoder(model), sources, 1, 64, beam_size=beam)
        uncached = decode.translate(decode.UncachedDecoder(model), sources, 1, 64, beam_size=beam)
        assert cached == uncached
        assert len({len(c) for c in cached}) >= 3  # many steps were compared, up to each sentence's limit


def test_beam_1_is_greedy():
    model, rng = tiny_model(vocab=8, seed=3), np.random.default_rng(1)  # 8 words: <e> comes now and then
    sources = random_sources(rng, 8, count=10)
    src = np.zeros((len(sources), max(map(len, sources))), dtype=np.int64)
    for row, s in enumerate(sources):
        src[row, :len(s)] = s
    greedy = decode.greedy_search(decode.CachedDecoder(model), src, 20, 1)
    beam1 = decode.beam_search(decode.CachedDecoder(model), src, 20, 1, beam_size=1, alpha=0.6)
    assert beam1 == greedy
    limits = np.array([min(2 * len(s), 64) for s in sources])  # each sentence's own limit
    assert decode.translate(decode.CachedDecoder(model), sources, 1, 64, beam_size=1) == \
        decode.greedy_search(decode.CachedDecoder(model), src, limits, 1) == \
        decode.beam_search(decode.CachedDecoder(model), src, limits, 1, beam_size=1)
    wider = decode.beam_search(decode.CachedDecoder(model), src, 20, 1, beam_size=4, alpha=0.6)
    assert wider != beam1  # the test can miss: a wider beam finds other translations


def test_top_k_is_the_head_of_a_stable_argsort():
    rng = np.random.default_rng(0)
    scores = rng.integers(-3, 3, (50, 40)).astype(np.float64)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[0, :] = -np.inf
    scores[1, 5] = np.nan
    for k in (1, 4, 7):
        np.testing.assert_array_equal(decode.top_k(scores, k), np.argsort(-scores, axis=1, kind="stable")[:, :k])


class PrefixDecoder:
    """Pseudo-random next-token log-probabilities that depend on the source row and the whole prefix:
    sentences of every length, <e> (id 1) included."""

    def start(self, src):
        state = [(int(row.sum()),) for row in src]
        return self.log_probs(state), state

    def log_probs(self, state):
        out = []
        for prefix in state:
            logits = np.random.default_rng(abs(hash(prefix)) % 2 ** 32).normal(0, 2, 6)
            logits[0] = -1e9
            out.append(logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max())
        return np.array(out)

    def step(self, tokens, state):
        state = [prefix + (int(t),) for prefix, t in zip(state, tokens)]
        return self.log_probs(state), state

    def reorder(self, state, rows, cache_only=False):
        return [state[r] for r in rows]


def test_beam_1_is_greedy_on_sentences_of_every_length():
    src = np.arange(40).reshape(40, 1)
    greedy = decode.greedy_search(PrefixDecoder(), src, 12, 1)
    assert len({len(g) for g in greedy}) >= 5  # the comparison covers short, long and unfinished ones
    assert decode.beam_search(PrefixDecoder(), src, 12, 1, beam_size=1, alpha=0.6) == greedy
    assert decode.beam_search(PrefixDecoder(), src, 12, 1, beam_size=4, alpha=0.6) != greedy


class TableDecoder:
    """A decoder whose next-token probabilities depend only on the last token: 2 = a, 3 = b, 1 = <e>."""

    TABLE = {None: {2: 0.6, 3: 0.4}, 2: {1: 0.3, 2: 0.35, 3: 0.35}, 3: {1: 0.9, 2: 0.05, 3: 0.05}, 1: {1: 1.0}}

    def row(self, last):
        p = np.full(4, 1e-12)
        for token, prob in self.TABLE.get(last, {1: 1.0}).items():
            p[token] = prob
        return np.log(p)

    def start(self, src):
        return np.stack([self.row(None)] * len(src)), None

    def step(self, tokens, state):
        return np.stack([self.row(int(t)) for t in tokens]), None

    def reorder(self, state, rows, cache_only=False):
        return None


def test_beam_search_on_a_hand_computed_case():
    src = np.zeros((1, 2), dtype=np.int64)
    # greedy: a (0.6), then a or b (0.35, the lower id wins), ...; the best sentence is "b <e>" (0.36)
    assert decode.greedy_search(TableDecoder(), src, 3, 1)[0][:2] == [2, 2]
    assert decode.beam_search(TableDecoder(), src, 6, 1, beam_size=2, alpha=0.0) == [[3]]
    # "a <e>" (0.18) loses to "b <e>" at any alpha: equal lengths
    assert decode.beam_search(TableDecoder(), src, 6, 1, beam_size=3, alpha=2.0) == [[3]]
    assert decode.length_penalty(np.array([1, 5]), 0.6) == pytest.approx([1.0, (10 / 6) ** 0.6])


def test_an_exhaustive_beam_returns_the_best_length_normalised_sentence():
    """Beam 16 over at most 4 tokens keeps every hypothesis of TableDecoder alive or finished, so the
    search must return the sentence with the highest log p / lp(length) found by enumeration; a large
    alpha favours a longer sentence than the likeliest one."""
    table, src = TableDecoder(), np.zeros((1, 2), dtype=np.int64)

    def best_by_enumeration(alpha):
        scored = []
        for n in range(4):
            for words in itertools.product([2, 3], repeat=n):
                last, log_p = None, 0.0
                for token in list(words) + [1]:
                    log_p, last = log_p + table.row(last)[token], token
                scored.append((log_p / decode.length_penalty(n + 1, alpha), list(words)))
        return max(scored)[1]

    for alpha in (0.0, 0.6, 2.0, 5.0):
        assert decode.beam_search(table, src, 4, 1, beam_size=16, alpha=alpha) == [best_by_enumeration(alpha)]
    assert best_by_enumeration(0.6) == [3] and best_by_enumeration(5.0) == [2, 2, 3]


def test_label_smoothed_loss_on_a_hand_computed_case():
    logits = paddle.to_tensor(np.log(np.array([[[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]]], dtype="float32")))
    labels = paddle.to_tensor(np.array([[1, 0]]))  # the second position is padding (pad id 0)
    loss, tokens = train.smoothed_loss(logits, labels, 0.1, pad_id=0)
    expected = 0.9 * -math.log(0.25) + 0.1 * -(math.log(0.5) + 2 * math.log(0.25)) / 3
    assert tokens.item() == 1 and loss.item() == pytest.approx(expected, rel=1e-5)


def test_noam_schedule_peaks_at_the_warmup_step():
    args = train.get_args(["--model", "base"])
    assert (args.lr, args.warmup_steps, args.beta2, args.eps, args.label_smooth) == (2.0, 8000, 0.997, 1e-9, 0.1)
    schedule = train.noam_schedule(args, 512)
    lrs = []
    for _ in range(9000):
        lrs.append(schedule())
        schedule.step()
    assert int(np.argmax(lrs)) + 1 == 8000
    assert max(lrs) == pytest.approx(2.0 * 512 ** -0.5 * 8000 ** -0.5, rel=1e-6)
    assert lrs[0] == pytest.approx(2.0 * 512 ** -0.5 * 8000 ** -1.5, rel=1e-6)


def test_loss_drops_on_a_fixed_batch():
    paddle.seed(0)
    model = build_model("tiny", 30, dropout=0.0)
    optimizer = paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    rng = np.random.default_rng(0)
    src = paddle.to_tensor(rng.integers(3, 30, (4, 6)))
    trg = rng.integers(3, 30, (4, 6))
    trg_in = paddle.to_tensor(np.concatenate([np.zeros((4, 1), dtype=np.int64), trg], axis=1))
    labels = paddle.to_tensor(np.concatenate([trg, np.ones((4, 1), dtype=np.int64)], axis=1))
    history = [train.train_step(model, optimizer, scaler, [(src, trg_in, labels)], 0.0, 0).item() for _ in range(60)]
    assert history[0] > math.log(30)  # the tied, sqrt(d)-scaled output layer starts far from uniform
    assert history[-1] < 0.2 * history[0], history


def test_gradient_accumulation_averages_the_batches():
    """An update from batches [A, B] equals one from the mean of their gradients: here A = B, so it
    equals the update from A alone, and differs from the update from [A, C]."""
    rng = np.random.default_rng(0)

    def batch():
        src = paddle.to_tensor(rng.integers(3, 30, (3, 5)))
        trg = rng.integers(3, 30, (3, 4))
        return (src, paddle.to_tensor(np.concatenate([np.zeros((3, 1), dtype=np.int64), trg], axis=1)),
                paddle.to_tensor(np.concatenate([trg, np.ones((3, 1), dtype=np.int64)], axis=1)))

    a, c = batch(), batch()

    def updated(micro_batches):
        paddle.seed(0)
        model = build_model("tiny", 30, dropout=0.0)
        for layer in model.sublayers():
            if isinstance(layer, paddle.nn.Dropout):
                layer.p = 0.0
        optimizer = paddle.optimizer.SGD(learning_rate=0.5, parameters=model.parameters())
        loss = train.train_step(model, optimizer, paddle.amp.GradScaler(enable=False), micro_batches, 0.1, 0)
        return model.embedding.weight.numpy(), loss.item()

    single, loss_single = updated([a])
    twice, loss_twice = updated([a, a])
    other, _ = updated([a, c])
    np.testing.assert_allclose(twice, single, rtol=1e-5, atol=1e-6)
    assert loss_twice == pytest.approx(loss_single, rel=1e-6)
    assert np.abs(other - single).max() > 1e-4
