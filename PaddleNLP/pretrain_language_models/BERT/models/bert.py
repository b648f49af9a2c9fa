"""BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805): token, position and segment
embeddings, a post-norm Transformer encoder with GELU, a tanh pooler over [CLS], and the heads of
pre-training (masked LM tied to the word embeddings, next-sentence prediction), sequence-pair
classification and SQuAD span extraction.

Parameter names follow the usual Paddle BERT layout (embeddings.word_embeddings, encoder.layers.N.
self_attn.q_proj, ..., pooler.dense), so PaddleNLP's bert-base-uncased weights map onto this model
key for key (under the `bert.` prefix the task models add).

Attention goes through paddle.nn.functional.scaled_dot_product_attention ([B, L, H, D] layout, the
padding mask added to the scores); `set_attention(model, "plain")` switches to the same computation
written as matmul + softmax (tests/test_models.py checks both give the same outputs and gradients).
"""
import dataclasses
import json

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


@dataclasses.dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    pad_token_id: int = 0
    layer_norm_eps: float = 1e-12    # the embeddings' and the MLM head's LayerNorm
    encoder_norm_eps: float = 1e-5   # the encoder layers' (nn.TransformerEncoderLayer's default); PaddleNLP: 1e-12

    def to_json(self, path):
        with open(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=1)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls(**json.load(f))


# The published configurations, and small ones for CPU demo runs and tests (Turc et al. 2019's compact BERTs).
CONFIGS = {
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "bert-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    "bert-mini": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "bert-tiny": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512),
}


def config_for(name, vocab_size, max_seq_len=512, dropout=None):
    """The BertConfig of a registry name at a vocabulary size. Small models keep position tables
    just long enough for the run's sequences (the published ones keep 512)."""
    cfg = BertConfig(vocab_size=vocab_size, **CONFIGS[name])
    if name in ("bert-mini", "bert-tiny"):
        cfg.max_position_embeddings = max(max_seq_len, 128)
    if dropout is not None:
        cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = dropout
    return cfg


class BertEmbeddings(nn.Layer):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, epsilon=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        positions = paddle.arange(input_ids.shape[1], dtype="int64").unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.layer_norm(x))


ATTENTION = ("sdpa", "plain")


class SelfAttention(nn.Layer):
    """Multi-head self-attention with nn.MultiHeadAttention's parameters (q_proj, k_proj, v_proj,
    out_proj), computed by F.scaled_dot_product_attention or, with attention="plain", by matmul + softmax."""

    def __init__(self, hidden, heads, dropout):
        super().__init__()
        self.num_heads, self.head_dim, self.dropout = heads, hidden // heads, dropout
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)
        self.attention = "sdpa"

    def forward(self, x, mask):
        """x [B, L, hidden]; mask [B, 1, 1, L], added to the scores (0 or -1e4)."""
        q, k, v = (proj(x).reshape([0, 0, self.num_heads, self.head_dim]) for proj in (self.q_proj, self.k_proj, self.v_proj))
        mask = mask.astype(q.dtype)  # fp16 under AMP O2
        if self.attention == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout, training=self.training)
        else:
            q, k, v = (t.transpose([0, 2, 1, 3]) for t in (q, k, v))  # [B, H, L, D]
            scores = paddle.matmul(q * self.head_dim ** -0.5, k, transpose_y=True) + mask
            weights = F.dropout(F.softmax(scores, axis=-1), self.dropout, training=self.training)
            out = paddle.matmul(weights, v).transpose([0, 2, 1, 3])
        return self.out_proj(out.reshape([0, 0, self.num_heads * self.head_dim]))


class EncoderLayer(nn.Layer):
    """Post-norm Transformer layer with nn.TransformerEncoderLayer's parameter names (self_attn, linear1,
    linear2, norm1, norm2), created in its order, so a seed gives the same weights as that layer did."""

    def __init__(self, cfg):
        super().__init__()
        hidden = cfg.hidden_size
        self.self_attn = SelfAttention(hidden, cfg.num_attention_heads, cfg.attention_probs_dropout_prob)
        self.linear1 = nn.Linear(hidden, cfg.intermediate_size)
        self.linear2 = nn.Linear(cfg.intermediate_size, hidden)
        self.norm1 = nn.LayerNorm(hidden, epsilon=cfg.encoder_norm_eps)
        self.norm2 = nn.LayerNorm(hidden, epsilon=cfg.encoder_norm_eps)
        self.dropout1 = nn.Dropout(cfg.hidden_dropout_prob)
        self.dropout2 = nn.Dropout(cfg.hidden_dropout_prob)

    def forward(self, x, mask):
        x = self.norm1(x + self.dropout1(self.self_attn(x, mask)))
        return self.norm2(x + self.dropout2(self.linear2(F.gelu(self.linear1(x)))))


class Encoder(nn.Layer):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.LayerList([EncoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x, mask):
        for layer in self.layers:
            x = layer(x, mask)
        return x


def set_attention(model, kind):
    """"sdpa" (F.scaled_dot_product_attention) or "plain" (matmul + softmax) in every layer of a model."""
    if kind not in ATTENTION:
        raise ValueError(f"attention {kind!r} is not one of {ATTENTION}")
    for layer in model.sublayers():
        if isinstance(layer, SelfAttention):
            layer.attention = kind
    return model


class BertPooler(nn.Layer):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, hidden):
        return paddle.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Layer):
    """(sequence output [B, L, H], pooled [CLS] output [B, H]). Padding (input id == pad id) is masked
    out of attention by an additive mask computed from the ids, so batches of any length and padded
    fixed-shape batches (--to_static) give the same outputs on the real tokens."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = Encoder(cfg)
        self.pooler = BertPooler(cfg)
        self.apply(self._init_weights)

    def _init_weights(self, layer):
        """BERT's initialisation: N(0, 0.02) weights (Paddle's default Xavier is too large for deep stacks)."""
        if isinstance(layer, (nn.Linear, nn.Embedding)) and layer.weight._is_initialized():
            layer.weight.set_value(paddle.normal(0.0, self.cfg.initializer_range, layer.weight.shape))

    def forward(self, input_ids, token_type_ids):
        mask = (input_ids == self.cfg.pad_token_id).astype("float32").unsqueeze([1, 2]) * -1e4  # [B, 1, 1, L]
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids), mask)
        return hidden, self.pooler(hidden)


class BertPretrainingHeads(nn.Layer):
    def __init__(self, cfg, word_embeddings):
        super().__init__()
        self.transform = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, epsilon=cfg.layer_norm_eps)
        self.decoder_weight = word_embeddings.weight  # tied: the MLM output layer is the input embedding
        self.decoder_bias = self.create_parameter([cfg.vocab_size], is_bias=True)
        self.seq_relationship = nn.Linear(cfg.hidden_size, 2)

    def forward(self, hidden, pooled, masked_positions):
        h = hidden.reshape([-1, hidden.shape[-1]]).gather(masked_positions)
        h = self.layer_norm(F.gelu(self.transform(h)))
        return paddle.matmul(h, self.decoder_weight, transpose_y=True) + self.decoder_bias, self.seq_relationship(pooled)


class BertForPretraining(nn.Layer):
    """Masked LM logits at the masked positions (flat indices into [B * L]) and NSP logits."""

    def __init__(self, cfg):
        super().__init__()
        self.bert = BertModel(cfg)
        self.cls = BertPretrainingHeads(cfg, self.bert.embeddings.word_embeddings)

    def forward(self, input_ids, token_type_ids, masked_positions):
        hidden, pooled = self.bert(input_ids, token_type_ids)
        return self.cls(hidden, pooled, masked_positions)


class BertForSequenceClassification(nn.Layer):
    def __init__(self, cfg, num_classes):
        super().__init__()
        self.bert = BertModel(cfg)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        self.classifier = nn.Linear(cfg.hidden_size, num_classes)

    def forward(self, input_ids, token_type_ids):
        return self.classifier(self.dropout(self.bert(input_ids, token_type_ids)[1]))


class BertForQuestionAnswering(nn.Layer):
    """Start and end logits [B, L] of the answer span."""

    def __init__(self, cfg):
        super().__init__()
        self.bert = BertModel(cfg)
        self.classifier = nn.Linear(cfg.hidden_size, 2)

    def forward(self, input_ids, token_type_ids):
        logits = self.classifier(self.bert(input_ids, token_type_ids)[0])
        return logits[:, :, 0], logits[:, :, 1]
