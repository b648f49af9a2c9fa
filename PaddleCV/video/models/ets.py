"""ETS: the release's dense-captioning model for ActivityNet Captions (PaddleCV/video, configs/ets.yaml):
an event's frame features -> a bidirectional GRU encoder -> a GRU decoder with additive attention over the
encoded frames, trained with teacher forcing, decoded by beam search (3 beams, at most 80 words).

Encoder: FC feat_size -> fc_dim with tanh; per direction an input projection fc_dim -> 3 x H (no bias) and a
GRU (hidden weights H x 3H and one 3H bias, the fluid dynamic_gru's), forward and backward concatenated
([T, 2H]); the event vector is the attention-pooled sequence (a bias-free 2H -> 1 score, softmax over time)
and the attention keys are a bias-free 2H -> D projection. Decoder: the state starts at tanh(FC(event
vector)) (no bias); each step attends (a bias-free D -> D projection of the state added to the keys, a
bias-free D -> 1 score, softmax over the frames), takes [word embedding, context] through a bias-free FC to
3D and a GRU unit (D x 3D and a 3D bias), and the next word's distribution is an FC D -> V with bias.
The GRU is fluid's: u, r = sigmoid(x_u,r + h W_u,r + b), c = tanh(x_c + (r * h) W_c + b_c),
h' = (1 - u) * h + u * c; written out here (nn.GRUCell has two biases and applies r after the product).

The release says "LSTM" nowhere: its decoder is a GRU, and so is this one.

Release configuration: feat_size 2048, fc_dim 1024, H 512, D 512, word embedding 512, with V words:
11,279,360 + 1,025 x V parameters (tested; V is the size of the vocabulary built from the training
captions, words seen at least 3 times plus <s>, <e>, <unk>).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

START, END, UNK = 0, 1, 2  # the release's dict.txt starts with <s>, <e>, <unk>; padding reuses <e>


class GRUWeights(nn.Layer):
    """The recurrent half of a fluid GRU: hidden weights [H, 3H] (gates u, r, then candidate) and a bias."""

    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden
        self.weight = self.create_parameter([hidden, 3 * hidden])
        self.bias = self.create_parameter([3 * hidden], is_bias=True)

    def forward(self, x, h):
        """x [B, 3H] (the projected input), h [B, H] -> h'."""
        hid = self.hidden
        x = x + self.bias
        gates = F.sigmoid(x[:, :2 * hid] + paddle.matmul(h, self.weight[:, :2 * hid]))
        u, r = gates[:, :hid], gates[:, hid:]
        c = paddle.tanh(x[:, 2 * hid:] + paddle.matmul(r * h, self.weight[:, 2 * hid:]))
        return (1.0 - u) * h + u * c


class ETS(nn.Layer):
    def __init__(self, vocab_size, feat_size=2048, fc_dim=1024, gru_hidden=512, decoder_size=512, word_emb_dim=512):
        super().__init__()
        self.vocab_size, self.decoder_size = vocab_size, decoder_size
        self.input_fc = nn.Linear(feat_size, fc_dim)
        self.fwd_proj = nn.Linear(fc_dim, 3 * gru_hidden, bias_attr=False)
        self.fwd_gru = GRUWeights(gru_hidden)
        self.bwd_proj = nn.Linear(fc_dim, 3 * gru_hidden, bias_attr=False)
        self.bwd_gru = GRUWeights(gru_hidden)
        self.pool_score = nn.Linear(2 * gru_hidden, 1, bias_attr=False)
        self.key_proj = nn.Linear(2 * gru_hidden, decoder_size, bias_attr=False)
        self.boot = nn.Linear(2 * gru_hidden, decoder_size, bias_attr=False)
        self.embedding = nn.Embedding(vocab_size, word_emb_dim)
        self.state_proj = nn.Linear(decoder_size, decoder_size, bias_attr=False)
        self.att_score = nn.Linear(decoder_size, 1, bias_attr=False)
        self.cell_in = nn.Linear(word_emb_dim + 2 * gru_hidden, 3 * decoder_size, bias_attr=False)
        self.cell = GRUWeights(decoder_size)
        self.out = nn.Linear(decoder_size, vocab_size)

    @staticmethod
    def release_config():
        return dict(feat_size=2048, fc_dim=1024, gru_hidden=512, decoder_size=512, word_emb_dim=512)

    @staticmethod
    def demo_config():
        return dict(feat_size=32, fc_dim=64, gru_hidden=48, decoder_size=64, word_emb_dim=32)

    # ------------------------------------------------------------------------------------------ encoder
    def encode(self, feats, mask):
        """feats [B, T, F], mask [B, T] (1 = a frame) -> (sequence [B, T, 2H], keys [B, T, D], state [B, D])."""
        x = paddle.tanh(self.input_fc(feats))
        forward = run_gru(self.fwd_gru, self.fwd_proj(x), mask)
        backward = paddle.flip(run_gru(self.bwd_gru, paddle.flip(self.bwd_proj(x), [1]), paddle.flip(mask, [1])), [1])
        seq = paddle.concat([forward, backward], axis=-1)
        weights = masked_softmax(self.pool_score(seq).squeeze(-1), mask)
        vector = (seq * weights.unsqueeze(-1)).sum(axis=1)
        return seq, self.key_proj(seq), paddle.tanh(self.boot(vector))

    # ------------------------------------------------------------------------------------------ decoder
    def step(self, words, state, seq, keys, mask):
        """One decoder step: words [B] -> (log-probabilities [B, V], new state [B, D])."""
        # the release's simple_attention scores the sum of the projections with no tanh in between
        scores = self.att_score(keys + self.state_proj(state).unsqueeze(1)).squeeze(-1)
        context = (seq * masked_softmax(scores, mask).unsqueeze(-1)).sum(axis=1)
        x = self.cell_in(paddle.concat([self.embedding(words), context], axis=-1))
        state = self.cell(x, state)
        return F.log_softmax(self.out(state), axis=-1), state

    def forward(self, feats, mask, words):
        """Teacher forcing: words [B, L] (starting with <s>) -> log-probabilities [B, L, V]."""
        seq, keys, state = self.encode(feats, mask)
        outputs = []
        for t in range(words.shape[1]):
            logp, state = self.step(words[:, t], state, seq, keys, mask)
            outputs.append(logp)
        return paddle.stack(outputs, 1)


def run_gru(gru, x, mask):
    """x [B, T, 3H] (projected inputs), mask [B, T] -> states [B, T, H]; a padded step keeps the state, so
    the backward direction (run on the flipped sequence) starts at its last real frame."""
    h = paddle.zeros([x.shape[0], gru.hidden], x.dtype)
    states = []
    for t in range(x.shape[1]):
        m = mask[:, t:t + 1]
        h = m * gru(x[:, t], h) + (1.0 - m) * h
        states.append(h)
    return paddle.stack(states, 1)


def masked_softmax(scores, mask):
    scores = scores + (mask - 1.0) * 1e9
    return F.softmax(scores, axis=-1)


def caption_loss(logp, targets, target_mask):
    """Mean cross entropy over the real target words (their count, not all positions)."""
    nll = -paddle.take_along_axis(logp, targets.unsqueeze(-1), axis=-1).squeeze(-1)
    return (nll * target_mask).sum() / target_mask.sum().clip(min=1.0)


def beam_search(step_fn, state, batch, beam_size=3, max_length=80):
    """Beam search (the release's: scores are summed log-probabilities, no length normalisation, a beam ends
    at <e>). step_fn(words [B*K] int64 numpy, state, beam order [B*K] or None) -> (log-probs [B*K, V] numpy,
    state); the states of beams that survive are reordered by step_fn through the order it is given.
    Returns B lists of word ids (without <s> and <e>)."""
    k = beam_size
    scores = np.full((batch, k), -np.inf)
    scores[:, 0] = 0.0
    words = np.full(batch * k, START, np.int64)
    history = np.zeros((batch, k, 0), np.int64)
    finished = np.zeros((batch, k), bool)
    order = None
    for _ in range(max_length):
        logp, state = step_fn(words, state, order)
        vocab = logp.shape[-1]
        logp = logp.reshape(batch, k, vocab).astype(np.float64)
        total = scores[:, :, None] + logp
        total[finished] = -np.inf
        total[finished, END] = scores[finished]  # a finished beam carries on unchanged
        flat = total.reshape(batch, k * vocab)
        best = np.argsort(-flat, axis=1, kind="stable")[:, :k]
        beam, word = best // vocab, best % vocab
        scores = np.take_along_axis(flat, best, axis=1)
        history = np.concatenate([np.take_along_axis(history, beam[:, :, None], axis=1), word[:, :, None]], axis=2)
        finished = np.take_along_axis(finished, beam, axis=1) | (word == END)
        order = (beam + np.arange(batch)[:, None] * k).reshape(-1)
        words = word.reshape(-1).astype(np.int64)
        if finished.all():
            break
    best = np.argmax(scores, axis=1)
    out = []
    for b in range(batch):
        ids = history[b, best[b]].tolist()
        out.append(ids[:ids.index(END)] if END in ids else ids)
    return out
