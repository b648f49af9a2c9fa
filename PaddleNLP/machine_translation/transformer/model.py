"""The Transformer of Vaswani et al., "Attention Is All You Need" (https://arxiv.org/abs/1706.03762),
in the form of the PaddlePaddle models release (PaddleNLP/machine_translation/transformer, release/1.7,
transformer.yaml and transformer.py, read for this folder):

- one embedding matrix for the source words, the target words and the softmax weights, over one joint
  BPE vocabulary (weight_sharing: True), initialised N(0, d_model^-0.5) and scaled by sqrt(d_model);
- fixed sinusoid position encodings (sin half, then cos half, as the release lays them out);
- **pre-norm** layers (preprocess_cmd "n", postprocess_cmd "da": layer norm before each sub-layer,
  dropout and the residual after it) and one more layer norm at the top of each stack;
- attention projections without biases, the feed-forward layers with biases.

The configurations: base and big as the release (and the paper), plus two small ones for the demo
data and the tests. Decoding goes through `start` (encoder + the decoder's first step) and `step`
(one more target token with the keys and values of the earlier steps cached); decode.py runs the
search around them, and export.py saves exactly these two functions.
"""
import math
from dataclasses import dataclass

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn


@dataclass(frozen=True)
class TransformerConfig:
    n_layer: int
    n_head: int
    d_model: int
    d_inner: int
    dropout: float            # the release's prepostprocess_dropout (after embeddings and sub-layers)
    attention_dropout: float  # on the attention weights
    relu_dropout: float       # inside the feed-forward layer
    # the training recipe (release/1.7 transformer.yaml for base and big)
    lr: float = 2.0           # scale of the Noam schedule: lr * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)
    warmup_steps: int = 8000
    beta1: float = 0.9
    beta2: float = 0.997
    eps: float = 1e-9
    label_smooth: float = 0.1
    batch_size: int = 4096    # tokens per step and process: max(source, target length) x sentences
    epochs: int = 30
    max_length: int = 256     # longest sentence, counted with its <s> or <e>
    # PaddleNLP 2.8.1's TransformerModel (pretrained.py): nn.MultiHeadAttention's projections have
    # biases, and the embedding has pad_factor-rounded rows (33708 BPE tokens -> 33712)
    attn_bias: bool = False
    pad_factor: int = 1


CONFIGS = {
    "base": TransformerConfig(n_layer=6, n_head=8, d_model=512, d_inner=2048, dropout=0.1,
                              attention_dropout=0.1, relu_dropout=0.1),
    "big": TransformerConfig(n_layer=6, n_head=16, d_model=1024, d_inner=4096, dropout=0.3,
                             attention_dropout=0.1, relu_dropout=0.1),
    # demo-sized: what `bash train.sh` trains on the demo corpus in minutes on two CPU cores
    "small": TransformerConfig(n_layer=2, n_head=4, d_model=64, d_inner=256, dropout=0.1,
                               attention_dropout=0.0, relu_dropout=0.0, lr=0.5, warmup_steps=100,
                               batch_size=1024, epochs=2, max_length=64),
    # the tests' model
    "tiny": TransformerConfig(n_layer=1, n_head=2, d_model=32, d_inner=64, dropout=0.1,
                              attention_dropout=0.1, relu_dropout=0.1, lr=1.0, warmup_steps=50,
                              batch_size=512, epochs=2, max_length=64),
}
# PaddleNLP 2.8.1's WMT14 en-de checkpoints (configs/transformer.base.yaml / transformer.big.yaml: dropout
# 0.1 everywhere, warmup 4000 / 8000, 8192 / 4096 tokens): attention biases, vocabulary padded to x8
CONFIGS["base_paddlenlp"] = TransformerConfig(**{**CONFIGS["base"].__dict__, "attn_bias": True, "pad_factor": 8,
                                                 "warmup_steps": 4000, "batch_size": 8192})
CONFIGS["big_paddlenlp"] = TransformerConfig(**{**CONFIGS["big"].__dict__, "attn_bias": True, "pad_factor": 8,
                                                "dropout": 0.1})
# the tests' model in PaddleNLP's shape: train.py --pretrained with a PaddleNLP-layout file (slow test)
CONFIGS["tiny_paddlenlp"] = TransformerConfig(**{**CONFIGS["tiny"].__dict__, "attn_bias": True, "pad_factor": 8})
MODELS = CONFIGS  # --model looks its name up here

NEG_INF = -1e9


def log_softmax(x):
    """F.log_softmax over the last axis, written out: on the CPU, Paddle 3.3.1's log_softmax kernel took
    19 s for one [30, 33712] tensor (a beam of 5 over 6 sentences at PaddleNLP's vocabulary, measured
    under load 9), this 0.1 s, with the same values (max abs difference 0 on that tensor) except at a
    -1e9 entry (the never-output <s>), where that kernel returns a finite
    value (-64 to -71 on random rows) and this -1e9 (tests/test_model.py)."""
    shifted = x - x.max(axis=-1, keepdim=True)
    return shifted - paddle.log(paddle.exp(shifted).sum(axis=-1, keepdim=True))


def position_encoding(n_position, d_model):
    """[n_position, d_model] sinusoids: the first half sines, the second half cosines, with the
    timescales spread geometrically from 1 to 10^4 (the release's table)."""
    half = d_model // 2
    increment = math.log(1e4) / max(half - 1, 1)
    inv_timescales = np.exp(np.arange(half) * -increment)
    angles = np.arange(n_position)[:, None] * inv_timescales[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    return np.pad(table, [[0, 0], [0, d_model % 2]]).astype("float32")


class MultiHeadAttention(nn.Layer):
    def __init__(self, d_model, n_head, dropout, bias=False):
        super().__init__()
        self.n_head, self.d_head = n_head, d_model // n_head
        bias = None if bias else False  # None: a bias (PaddleNLP's nn.MultiHeadAttention), False: none (the release)
        self.q_proj = nn.Linear(d_model, d_model, bias_attr=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias_attr=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias_attr=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias_attr=bias)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x):  # [B, T, d] -> [B, H, T, d_head]
        return x.reshape([0, 0, self.n_head, self.d_head]).transpose([0, 2, 1, 3])

    def keys_values(self, x):
        return self.split_heads(self.k_proj(x)), self.split_heads(self.v_proj(x))

    def forward(self, x, k, v, bias=None):
        q = self.split_heads(self.q_proj(x))
        scores = paddle.matmul(q, k, transpose_y=True) * (self.d_head ** -0.5)
        if bias is not None:
            scores = scores + bias
        context = paddle.matmul(self.dropout(F.softmax(scores, axis=-1)), v)
        return self.out_proj(context.transpose([0, 2, 1, 3]).reshape([0, 0, self.n_head * self.d_head]))


class FeedForward(nn.Sequential):
    def __init__(self, d_model, d_inner, relu_dropout):
        super().__init__(nn.Linear(d_model, d_inner), nn.ReLU(), nn.Dropout(relu_dropout), nn.Linear(d_inner, d_model))


class EncoderLayer(nn.Layer):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_head, cfg.attention_dropout, cfg.attn_bias)
        self.ffn = FeedForward(cfg.d_model, cfg.d_inner, cfg.relu_dropout)
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, src_bias):
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, *self.self_attn.keys_values(h), src_bias))
        return x + self.dropout(self.ffn(self.norm2(x)))


class DecoderLayer(nn.Layer):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_head, cfg.attention_dropout, cfg.attn_bias)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.n_head, cfg.attention_dropout, cfg.attn_bias)
        self.ffn = FeedForward(cfg.d_model, cfg.d_inner, cfg.relu_dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, self_k, self_v, self_bias, cross_k, cross_v, src_bias):
        """self_k/self_v: the keys and values of every target position attended to, this one's included."""
        x = x + self.dropout(self.self_attn(self.norm1(x), self_k, self_v, self_bias))
        x = x + self.dropout(self.cross_attn(self.norm2(x), cross_k, cross_v, src_bias))
        return x + self.dropout(self.ffn(self.norm3(x)))


class Transformer(nn.Layer):
    """forward(src [B, S], trg_in [B, T]) -> logits [B, T, V]. Padding is the <s> id (`pad_id`): it
    never occurs inside a source sentence or as a label."""

    def __init__(self, cfg, vocab_size, bos_id=0, eos_id=1):
        super().__init__()
        vocab_size = -(-vocab_size // cfg.pad_factor) * cfg.pad_factor  # PaddleNLP's padded rows (their ids read as <unk>)
        self.cfg, self.vocab_size, self.bos_id, self.eos_id = cfg, vocab_size, bos_id, eos_id
        self.pad_id = bos_id
        self.n_layer, self.n_head, self.d_head = cfg.n_layer, cfg.n_head, cfg.d_model // cfg.n_head
        self.embedding = nn.Embedding(vocab_size, cfg.d_model, weight_attr=paddle.ParamAttr(
            initializer=nn.initializer.Normal(0.0, cfg.d_model ** -0.5)))
        # a fixed table, saved with the weights but not a parameter (it is not trained)
        self.register_buffer("pos_table", paddle.to_tensor(position_encoding(cfg.max_length + 1, cfg.d_model)))
        self.encoder_layers = nn.LayerList([EncoderLayer(cfg) for _ in range(cfg.n_layer)])
        self.decoder_layers = nn.LayerList([DecoderLayer(cfg) for _ in range(cfg.n_layer)])
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def positions(self, ids):
        """0, 1, 2, ... and 0 at padding (as PaddleNLP; a padded position is never attended to)."""
        return paddle.arange(paddle.shape(ids)[1]).unsqueeze(0) * (ids != self.pad_id).astype("int64")

    def embed(self, ids, positions):
        x = self.embedding(ids) * (self.cfg.d_model ** 0.5) + F.embedding(positions, self.pos_table)
        return self.dropout(x)

    def src_bias(self, src):
        return ((src == self.pad_id).astype("float32") * NEG_INF).unsqueeze([1, 2])  # [B, 1, 1, S]

    def encode(self, src):
        bias = self.src_bias(src)
        x = self.embed(src, self.positions(src))
        for layer in self.encoder_layers:
            x = layer(x, bias)
        return self.encoder_norm(x), bias

    def logits(self, x):
        return paddle.matmul(self.decoder_norm(x), self.embedding.weight, transpose_y=True)

    def decode(self, trg_in, enc_out, src_bias):
        """Teacher forcing over a whole target prefix (training, and the uncached decoder)."""
        length = paddle.shape(trg_in)[1]
        causal = paddle.triu(paddle.full([length, length], NEG_INF, "float32"), diagonal=1).unsqueeze([0, 1])
        x = self.embed(trg_in, self.positions(trg_in))
        for layer in self.decoder_layers:
            x = layer(x, *layer.self_attn.keys_values(layer.norm1(x)), causal,
                      *layer.cross_attn.keys_values(enc_out), src_bias)
        return self.logits(x)

    def forward(self, src, trg_in):
        enc_out, src_bias = self.encode(src)
        return self.decode(trg_in, enc_out, src_bias)

    # ---- cached decoding: the two functions export.py saves
    def start(self, src):
        """Encode, and run the decoder's first step from <s>. Returns the log-probabilities of the
        first target token [B, V], the self-attention cache (keys, values [L, B, H, 1, d_head]), the
        encoder-side keys and values of every decoder layer [L, B, H, S, d_head] and the source bias."""
        enc_out, src_bias = self.encode(src)
        cross = [layer.cross_attn.keys_values(enc_out) for layer in self.decoder_layers]
        cross_k, cross_v = paddle.stack([k for k, _ in cross]), paddle.stack([v for _, v in cross])
        token = paddle.full([paddle.shape(src)[0], 1], self.bos_id, "int64")
        log_probs, self_k, self_v = self._step(token, paddle.zeros([1], "int64"), None, None,
                                               cross_k, cross_v, src_bias)
        return log_probs, self_k, self_v, cross_k, cross_v, src_bias

    def step(self, token, self_k, self_v, cross_k, cross_v, src_bias):
        """One more target token [N] at position t = the cache's length; the cache grows by one."""
        position = paddle.shape(self_k)[3:4].astype("int64")
        return self._step(token.reshape([-1, 1]), position, self_k, self_v, cross_k, cross_v, src_bias)

    def _step(self, token, position, self_k, self_v, cross_k, cross_v, src_bias):
        x = self.embed(token, position)
        new_k, new_v = [], []
        for i, layer in enumerate(self.decoder_layers):
            k, v = layer.self_attn.keys_values(layer.norm1(x))
            if self_k is not None:
                k, v = paddle.concat([self_k[i], k], axis=2), paddle.concat([self_v[i], v], axis=2)
            new_k.append(k)
            new_v.append(v)
            x = layer(x, k, v, None, cross_k[i], cross_v[i], src_bias)
        # <s> is never an output (it is also the padding): its probability is zero
        never = F.one_hot(paddle.full([1], self.bos_id, "int64"), self.vocab_size) * NEG_INF
        log_probs = log_softmax(self.logits(x)[:, 0] + never)
        return log_probs, paddle.stack(new_k), paddle.stack(new_v)


def configure_threads(cfg, device="cpu"):
    """On the CPU, the demo-sized models run on one thread: their matrices (width <= 128) are too
    small to split, and two threads spinning on a shared machine took twice as long per decoding step
    (6.7 vs 13.3 ms for `tiny`, measured under load 10). base and big keep utils.setup's threads."""
    if device == "cpu" and cfg.d_model <= 128:
        paddle.base.core.set_num_threads(1)


def build_model(name, vocab_size, bos_id=0, eos_id=1, **overrides):
    """The named configuration's model; dropout and max_length can be overridden."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(CONFIGS)}")
    cfg = CONFIGS[name]
    if overrides:
        cfg = TransformerConfig(**{**cfg.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    return Transformer(cfg, vocab_size, bos_id, eos_id)


def num_parameters(model):
    """Trained parameters, counted from the shapes (works under paddle.LazyGuard)."""
    return sum(math.prod(p.shape) for p in model.parameters())


def reference_num_parameters(cfg, vocab_size):
    """The count worked out by hand from the configuration (README, Model):
    shared embedding V*d; per encoder layer 4 d^2 attention projections (no biases) + feed-forward
    2*d*f + f + d + 2 layer norms (2d each); per decoder layer one more attention (4 d^2) and one more
    layer norm; the two final layer norms. The position table is fixed, not a parameter."""
    d, f = cfg.d_model, cfg.d_inner
    vocab_size = -(-vocab_size // cfg.pad_factor) * cfg.pad_factor
    attention, ffn, norm = 4 * d * d + (4 * d if cfg.attn_bias else 0), 2 * d * f + f + d, 2 * d
    encoder_layer = attention + ffn + 2 * norm
    decoder_layer = 2 * attention + ffn + 3 * norm
    return vocab_size * d + cfg.n_layer * (encoder_layer + decoder_layer) + 2 * norm
