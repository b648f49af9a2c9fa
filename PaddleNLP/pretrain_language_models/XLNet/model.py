"""XLNet (Yang et al. 2019, https://arxiv.org/abs/1906.08237): a Transformer-XL encoder with relative
positional encodings, relative segment encodings and segment recurrence (memory), run as two streams
(content and query) for the permutation language model, plus the heads this folder trains.

Layout is batch first everywhere: hidden states [B, T, d_model], attention scores [B, heads, Q, K].
Layer names follow the release's XLNet (`word_embedding`, `mask_emb`, per layer `rel_attn` with
`q k v o r`, `r_w_bias r_r_bias r_s_bias seg_embed`, and `ff` with `layer_1 layer_2`); the biases are
untied (one set per layer), as in the published checkpoints.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# The published configurations (xlnet_config.json of the released checkpoints) and the small ones
# this folder trains on the CPU. vocab_size is not part of a configuration: it comes from spiece.model
# (32000 for the released models).
CONFIGS = {
    "xlnet-large": dict(n_layer=24, d_model=1024, n_head=16, d_head=64, d_inner=4096),
    "xlnet-base": dict(n_layer=12, d_model=768, n_head=12, d_head=64, d_inner=3072),
    "xlnet-mini": dict(n_layer=4, d_model=128, n_head=4, d_head=32, d_inner=512),
    "xlnet-tiny": dict(n_layer=2, d_model=32, n_head=2, d_head=16, d_inner=64),
}
SEG_A, SEG_B, SEG_CLS, SEG_PAD = 0, 1, 2, 4  # segment ids of the release's classification inputs
NEG_INF = -1e30


def model_config(name, vocab_size, **overrides):
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(sorted(CONFIGS))}")
    return {**CONFIGS[name], "vocab_size": vocab_size, "dropout": 0.1, "dropatt": 0.1, **overrides}


def rel_shift(x, klen):
    """[B, H, Q, Q+K] scores against relative positions klen ... -qlen+1 -> [B, H, Q, K] scores against
    the keys: row i is shifted left by Q - i (the padded-reshape trick of Transformer-XL)."""
    s = paddle.shape(x)
    x = x.reshape([s[0], s[1], s[3], s[2]])[:, :, 1:]
    return x.reshape([s[0], s[1], s[2], s[3] - 1])[:, :, :, :klen]


def relative_positions(qlen, klen, d_model, clamp_len=-1):
    """Sinusoid encodings of the relative distances klen, klen-1, ..., -qlen+1: [klen+qlen, d_model].
    """
    pos = klen - paddle.arange(0, klen + qlen, dtype="int64").astype("float32")
    if clamp_len > 0:
        pos = pos.clip(-clamp_len, clamp_len)
    inv_freq = paddle.to_tensor(1.0 / (10000 ** (np.arange(0, d_model, 2, dtype="float32") / d_model)))
    # two products, one per function: Paddle Inference's inplace pass runs sin() in place on a tensor
    # that cos() still reads, when both read the same one (the exported model's outputs were off)
    sin = (pos.unsqueeze(1) * inv_freq.unsqueeze(0)).sin()
    cos = (pos.unsqueeze(1) * inv_freq.unsqueeze(0)).cos()
    return paddle.concat([sin, cos], axis=-1)


class RelativeAttention(nn.Layer):
    """Multi-head attention with XLNet's three score terms: content (q + r_w_bias)·k, position
    (q + r_r_bias)·r and segment (q + r_s_bias)·seg_embed[same or different segment]."""

    def __init__(self, d_model, n_head, d_head, dropout, dropatt):
        super().__init__()
        self.n_head, self.d_head, self.scale = n_head, d_head, 1.0 / math.sqrt(d_head)
        for name in ("q", "k", "v", "r"):
            setattr(self, name, nn.Linear(d_model, n_head * d_head, bias_attr=False))
        self.o = nn.Linear(n_head * d_head, d_model, bias_attr=False)
        init = nn.initializer.Normal(std=0.02)
        self.r_w_bias = self.create_parameter([n_head, d_head], default_initializer=init)
        self.r_r_bias = self.create_parameter([n_head, d_head], default_initializer=init)
        self.r_s_bias = self.create_parameter([n_head, d_head], default_initializer=init)
        self.seg_embed = self.create_parameter([2, n_head, d_head], default_initializer=init)
        self.layer_norm = nn.LayerNorm(d_model, epsilon=1e-12)
        self.dropout, self.dropatt = nn.Dropout(dropout), nn.Dropout(dropatt)

    def heads(self, x, proj):
        s = paddle.shape(x)
        return proj(x).reshape([s[0], s[1], self.n_head, self.d_head])  # [B, T, H, D]

    def core(self, q, k, v, k_r, seg_diff, attend):
        """q [B,Q,H,D], k/v [B,K,H,D], k_r [R,H,D], seg_diff [B,Q,K] bool, attend [B,Q|1,K] bool."""
        klen = paddle.shape(k)[1]
        ac = paddle.matmul((q + self.r_w_bias).transpose([0, 2, 1, 3]), k.transpose([0, 2, 3, 1]))
        q_r = (q + self.r_r_bias).transpose([0, 2, 1, 3])  # [B, H, Q, D]
        # the batch broadcast made explicit: matmul's backward fails on a [B,H,Q,D] x [H,D,R] broadcast
        bd = paddle.matmul(q_r, k_r.transpose([1, 2, 0]).unsqueeze(0).expand([paddle.shape(q_r)[0], -1, -1, -1]))
        bd = rel_shift(bd, klen)
        q_s = (q + self.r_s_bias).transpose([0, 2, 1, 3])
        ef = paddle.matmul(q_s, self.seg_embed.transpose([1, 2, 0]).unsqueeze(0).expand([paddle.shape(q_s)[0], -1, -1, -1]))
        same, other = ef[:, :, :, 0:1], ef[:, :, :, 1:2]
        ef = same + seg_diff.unsqueeze(1).astype(ef.dtype) * (other - same)  # where() fails in backward here
        score = (ac + bd + ef) * self.scale
        score = score + (1.0 - attend.unsqueeze(1).astype(score.dtype)) * NEG_INF
        prob = self.dropatt(F.softmax(score, axis=-1))
        out = paddle.matmul(prob, v.transpose([0, 2, 1, 3])).transpose([0, 2, 1, 3])  # [B,Q,H,D]
        s = paddle.shape(out)
        return out.reshape([s[0], s[1], self.n_head * self.d_head])

    def forward(self, h, g, pos_emb, mem, seg_diff, content_attend, query_attend):
        cat = h if mem is None else paddle.concat([mem, h], axis=1)
        k, v = self.heads(cat, self.k), self.heads(cat, self.v)
        k_r = self.r(pos_emb).reshape([-1, self.n_head, self.d_head])
        out_h = self.core(self.heads(h, self.q), k, v, k_r, seg_diff, content_attend)
        h = self.layer_norm(h + self.dropout(self.o(out_h)))
        if g is not None:  # the query stream reads the content stream's keys and values, never its own token
            out_g = self.core(self.heads(g, self.q), k, v, k_r, seg_diff, query_attend)
            g = self.layer_norm(g + self.dropout(self.o(out_g)))
        return h, g


class FeedForward(nn.Layer):
    def __init__(self, d_model, d_inner, dropout):
        super().__init__()
        self.layer_1, self.layer_2 = nn.Linear(d_model, d_inner), nn.Linear(d_inner, d_model)
        self.layer_norm = nn.LayerNorm(d_model, epsilon=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        y = self.dropout(self.layer_2(self.dropout(F.gelu(self.layer_1(x)))))
        return self.layer_norm(x + y)


class XLNetLayer(nn.Layer):
    def __init__(self, d_model, n_head, d_head, d_inner, dropout, dropatt):
        super().__init__()
        self.rel_attn = RelativeAttention(d_model, n_head, d_head, dropout, dropatt)
        self.ff = FeedForward(d_model, d_inner, dropout)

    def forward(self, h, g, *args):
        h, g = self.rel_attn(h, g, *args)
        return self.ff(h), (self.ff(g) if g is not None else None)


class XLNetModel(nn.Layer):
    """The encoder. forward returns the content stream, the query stream (when `query_attend` is given)
    and the new memory: each layer's input over this segment, detached, for the next segment."""

    def __init__(self, vocab_size, n_layer, d_model, n_head, d_head, d_inner, dropout=0.1, dropatt=0.1,
                 clamp_len=-1):
        super().__init__()
        self.d_model, self.clamp_len = d_model, clamp_len
        self.word_embedding = nn.Embedding(vocab_size, d_model,
                                           weight_attr=nn.initializer.Normal(std=0.02))
        self.mask_emb = self.create_parameter([1, 1, d_model], default_initializer=nn.initializer.Normal(std=0.02))
        self.layers = nn.LayerList([XLNetLayer(d_model, n_head, d_head, d_inner, dropout, dropatt)
                                    for _ in range(n_layer)])
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids, seg_ids, content_attend, query_attend=None, mems=None):
        """ids, seg_ids [B, T] int64; content_attend / query_attend [B, T|1, M+T] bool (True: may attend);
        mems: None or one [B, M, d_model] tensor per layer (always visible, segment id 0)."""
        qlen = paddle.shape(ids)[1]
        mlen = 0 if mems is None else paddle.shape(mems[0])[1]
        seg_k = seg_ids if mems is None else paddle.concat(
            [paddle.zeros([paddle.shape(ids)[0], mlen], seg_ids.dtype), seg_ids], axis=1)
        seg_diff = seg_ids.unsqueeze(2) != seg_k.unsqueeze(1)  # [B, T, M+T]
        pos_emb = self.dropout(relative_positions(qlen, qlen + mlen, self.d_model, self.clamp_len))
        h = self.dropout(self.word_embedding(ids))
        g = None
        if query_attend is not None:
            g = self.dropout(self.mask_emb.expand([paddle.shape(ids)[0], qlen, self.d_model]))
        new_mems = []
        for i, layer in enumerate(self.layers):
            new_mems.append(h.detach())
            h, g = layer(h, g, pos_emb, None if mems is None else mems[i], seg_diff, content_attend, query_attend)
        return self.dropout(h), (self.dropout(g) if g is not None else None), new_mems


class XLNetPretrain(nn.Layer):
    """Permutation language model: logits at the query stream's positions, with the output embedding
    tied to the input one (plus a bias, `lm_bias`)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = XLNetModel(**config)
        self.lm_bias = self.create_parameter([config["vocab_size"]], is_bias=True)

    def forward(self, ids, seg_ids, content_attend, query_attend, mems=None):
        _, g, new_mems = self.transformer(ids, seg_ids, content_attend, query_attend, mems)
        logits = paddle.matmul(g, self.transformer.word_embedding.weight, transpose_y=True) + self.lm_bias
        return logits, new_mems


class XLNetForSequence(nn.Layer):
    """Sequence classification (num_labels > 1) or regression (num_labels == 1) from the last token,
    <cls>, which XLNet places at the end of the input (inputs are padded on the left). Padding is told
    by its segment id, SEG_PAD, so the exported model takes just (ids, seg_ids)."""

    def __init__(self, config, num_labels):
        super().__init__()
        self.config, self.num_labels = config, num_labels
        self.transformer = XLNetModel(**config)
        d = config["d_model"]
        self.summary = nn.Linear(d, d)
        self.classifier = nn.Linear(d, num_labels)
        self.dropout = nn.Dropout(config["dropout"])

    def encode(self, ids, seg_ids):
        """The sequence output [B, T, d_model] and the pooled output (the summary of <cls>, the last)."""
        # [B, T, T]: every query sees the real tokens, and a padding position itself (as XLNet and
        # PaddleNLP do: a padding position's output is then theirs too; the real tokens never see it)
        real = (seg_ids != SEG_PAD).unsqueeze(1)
        pos = paddle.arange(paddle.shape(ids)[1])
        attend = paddle.logical_or(real, (pos.unsqueeze(1) == pos.unsqueeze(0)).unsqueeze(0))
        h, _, _ = self.transformer(ids, seg_ids, attend)
        return h, paddle.tanh(self.summary(h[:, -1]))

    def forward(self, ids, seg_ids):
        out = self.classifier(self.dropout(self.encode(ids, seg_ids)[1]))
        return out.squeeze(-1) if self.num_labels == 1 else out


def build_model(task, config, num_labels=None):
    return XLNetPretrain(config) if task == "pretrain" else XLNetForSequence(config, num_labels)


def input_spec():
    from paddle.static import InputSpec
    return [InputSpec([None, None], "int64", "ids"), InputSpec([None, None], "int64", "seg_ids")]
