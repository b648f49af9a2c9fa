"""BiDAF as the DuReader baseline of the PaddlePaddle release (rc_model.py) builds it.

    embedding E (shared by question and passages)
    encoders:  a BiLSTM H for the passages and another for the question          -> [*, L, 2H] each
    attention flow per passage (dot-product similarity S = P Q^T):
        context-to-query  U~ = softmax_q(S) Q
        query-to-context  h~ = softmax_p(max_q S) P, tiled over the passage
        G = [P, U~, P*U~, P*h~]                                                   -> [*, Lp, 8H]
    modelling: a BiLSTM over G                                                     -> [*, Lp, 2H]
    the passages of a question are concatenated (each in a slot of Lp positions, padding masked)
    pointer-network decoder: the question pooled by attention (with a learnt query) gives the
        initial state; two pointer LSTMs of two steps each (a forward and a backward reader), each
        step attending over every passage position; start = (fw step 1 + bw step 2) / 2 and
        end = (fw step 2 + bw step 1) / 2, as probabilities.

Differences from the release, all in what Paddle 3 offers: nn.LSTM keeps two bias vectors per
direction (the release's dynamic_lstm one, with the input projection bias-free): 4H more parameters
per direction and BiLSTM; padding is masked instead of the release's variable-length LoD sequences.
The max over the question of S uses argmax + take_along_axis (the max backward is slow on CPU).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

NEG = -1e9  # additive mask; an all-masked row (a missing passage) stays finite


def sequence_mask(lengths, max_len):
    return paddle.arange(max_len, dtype=lengths.dtype).unsqueeze(0) < lengths.unsqueeze(-1)


def masked_softmax(logits, mask, axis=-1):
    return F.softmax(logits + (1.0 - mask.astype(logits.dtype)) * NEG, axis=axis)


class PointerLSTMStep(nn.Layer):
    """The release's lstm_step: four gates, each a Linear over [h_prev, x]."""

    def __init__(self, input_size, hidden):
        super().__init__()
        self.f = nn.Linear(hidden + input_size, hidden)
        self.i = nn.Linear(hidden + input_size, hidden)
        self.o = nn.Linear(hidden + input_size, hidden)
        self.c = nn.Linear(hidden + input_size, hidden)

    def forward(self, x, h, c):
        hx = paddle.concat([h, x], axis=-1)
        c = F.sigmoid(self.f(hx)) * c + F.sigmoid(self.i(hx)) * paddle.tanh(self.c(hx))
        return F.sigmoid(self.o(hx)) * paddle.tanh(c), c


class PointerReader(nn.Layer):
    """Two pointer steps over the passage positions; returns the two attention distributions."""

    def __init__(self, hidden):
        super().__init__()
        self.context = nn.Linear(2 * hidden, hidden)
        self.state = nn.Linear(hidden, hidden)
        self.logits = nn.Linear(hidden, 1)
        self.cell = PointerLSTMStep(2 * hidden, hidden)

    def forward(self, p_vec, mask, init_state, steps=2):
        ctx = self.context(p_vec)  # [B, T, H]
        h = c = init_state
        betas = []
        for _ in range(steps):
            scores = self.logits(paddle.tanh(ctx + self.state(h).unsqueeze(1))).squeeze(-1)
            beta = masked_softmax(scores, mask)
            attended = (p_vec * beta.unsqueeze(-1)).sum(axis=1)
            h, c = self.cell(attended, h, c)
            betas.append(beta)
        return betas


class BiDAF(nn.Layer):
    def __init__(self, vocab_size, embed_size=300, hidden_size=150, padding_idx=0):
        super().__init__()
        H = hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=padding_idx)
        self.p_encoder = nn.LSTM(embed_size, H, direction="bidirect")
        self.q_encoder = nn.LSTM(embed_size, H, direction="bidirect")
        self.fusion = nn.LSTM(8 * H, H, direction="bidirect")
        # pointer-network decoder (the release's point_network_decoder)
        self.random_attn = self.create_parameter([1, H], default_initializer=nn.initializer.Normal(0.0, 1.0))
        self.random_attn_fc = nn.Linear(H, H)
        self.q_proj = nn.Linear(2 * H, H, bias_attr=False)
        self.q_logits = nn.Linear(H, 1)
        self.init_state = nn.Linear(2 * H, H)
        self.fw = PointerReader(H)
        self.bw = PointerReader(H)

    def forward(self, q_ids, q_len, p_ids, p_len):
        """q_ids [B, Lq], q_len [B], p_ids [B, P, Lp], p_len [B, P] (int64) ->
        start_probs, end_probs [B, P * Lp] (probabilities over every passage position)."""
        B, P, Lp = p_ids.shape[0], p_ids.shape[1], p_ids.shape[2]
        Lq = q_ids.shape[1]
        q_mask = sequence_mask(q_len, Lq)  # [B, Lq]
        q_enc, _ = self.q_encoder(self.embedding(q_ids), sequence_length=q_len)  # [B, Lq, 2H]
        flat_len = p_len.reshape([-1])
        p_enc, _ = self.p_encoder(self.embedding(p_ids.reshape([-1, Lp])),
                                  sequence_length=paddle.clip(flat_len, min=1))  # [N, Lp, 2H], N = B * P
        p_mask = sequence_mask(flat_len, Lp)  # [N, Lp]
        # every passage attends to its question
        q_rep = q_enc.unsqueeze(1).expand([B, P, Lq, q_enc.shape[-1]]).reshape([-1, Lq, q_enc.shape[-1]])
        qm_rep = q_mask.unsqueeze(1).expand([B, P, Lq]).reshape([-1, Lq])
        sim = paddle.matmul(p_enc, q_rep, transpose_y=True)  # [N, Lp, Lq]
        sim = sim + (1.0 - qm_rep.unsqueeze(1).astype(sim.dtype)) * NEG
        c2q = paddle.matmul(F.softmax(sim, axis=-1), q_rep)  # [N, Lp, 2H]
        best_q = paddle.take_along_axis(sim, sim.argmax(axis=-1, keepdim=True), axis=-1, broadcast=False).squeeze(-1)
        b = masked_softmax(best_q, p_mask)  # [N, Lp]
        q2c = (p_enc * b.unsqueeze(-1)).sum(axis=1, keepdim=True)  # [N, 1, 2H]
        g = paddle.concat([p_enc, c2q, p_enc * c2q, p_enc * q2c.expand(p_enc.shape)], axis=-1)
        m, _ = self.fusion(g, sequence_length=paddle.clip(flat_len, min=1))  # [N, Lp, 2H]
        p_vec = m.reshape([B, P * Lp, m.shape[-1]])
        mask = p_mask.reshape([B, P * Lp])
        # decoder: the question pooled with a learnt query gives the initial state
        u = paddle.tanh(self.q_proj(q_enc) + self.random_attn_fc(self.random_attn))
        alpha = masked_softmax(self.q_logits(u).squeeze(-1), q_mask)
        pooled = (q_enc * alpha.unsqueeze(-1)).sum(axis=1)
        init = self.init_state(pooled)
        fw, bw = self.fw(p_vec, mask, init), self.bw(p_vec, mask, init)
        return (fw[0] + bw[1]) / 2, (fw[1] + bw[0]) / 2


def span_loss(start_probs, end_probs, start, end, eps=1e-9):
    """Mean over the batch of -log p(start) - log p(end) (the release's summed start and end NLL)."""
    ps = paddle.take_along_axis(start_probs, start.unsqueeze(-1), axis=-1, broadcast=False)
    pe = paddle.take_along_axis(end_probs, end.unsqueeze(-1), axis=-1, broadcast=False)
    return -(paddle.log(ps + eps) + paddle.log(pe + eps)).mean()
