"""ERNIE 1.0: the BERT architecture (post-norm Transformer encoder, ReLU feed-forward) with a 18,000-row
Chinese character vocabulary, plus the three heads this folder trains: masked LM (pre-training),
sequence classification and sequence labelling.

Parameter names follow the usual layout (ernie.embeddings.word_embeddings, ernie.encoder.layers.N.
self_attn.q_proj, ..., ernie.pooler.dense), so that released ERNIE 1.0 weights can be mapped in by name.
Every model reads its shape from a config dict, which travels with the weights as model_config.json.

Attention goes through paddle.nn.functional.scaled_dot_product_attention ([B, T, H, D] layout, the
padding mask added to the scores); set_attention(model, "plain") switches to the same computation
written as matmul + softmax (tests/test_model.py checks both give the same outputs and gradients).
"""
import copy
import json
import os

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# ERNIE 1.0 as published (config of the released `ernie-1.0` weights). `ernie-demo` is the small
# configuration the demo data, the smoke run and the tests train; its vocabulary is the demo's.
CONFIGS = {
    "ernie-1.0": dict(vocab_size=18000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, hidden_act="relu", hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1, max_position_embeddings=513, type_vocab_size=2,
                      initializer_range=0.02, pad_token_id=0),
    "ernie-demo": dict(vocab_size=18000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=512, hidden_act="relu", hidden_dropout_prob=0.1,
                       attention_probs_dropout_prob=0.1, max_position_embeddings=513, type_vocab_size=2,
                       initializer_range=0.02, pad_token_id=0),
}
MODELS = sorted(CONFIGS)
CONFIG_FILE = "model_config.json"


def make_config(name, vocab_size=None):
    """The named configuration; the embedding follows the vocabulary file actually used."""
    config = copy.deepcopy(CONFIGS[name])
    if vocab_size is not None:
        config["vocab_size"] = vocab_size
    return config


def save_config(config, folder):
    with open(os.path.join(folder, CONFIG_FILE), "w") as f:
        json.dump(config, f, indent=1, sort_keys=True)


class ErnieEmbeddings(nn.Layer):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.layer_norm = nn.LayerNorm(c["hidden_size"], epsilon=1e-12)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, ids, token_type_ids):
        positions = paddle.arange(ids.shape[1], dtype="int64").unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
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
        """x [B, T, hidden]; mask [B, 1, 1, T], added to the scores (0 or -1e4)."""
        q, k, v = (proj(x).reshape([0, 0, self.num_heads, self.head_dim]) for proj in (self.q_proj, self.k_proj, self.v_proj))
        mask = mask.astype(q.dtype)  # fp16 under AMP O2
        if self.attention == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout, training=self.training)
        else:
            q, k, v = (t.transpose([0, 2, 1, 3]) for t in (q, k, v))  # [B, H, T, D]
            scores = paddle.matmul(q * self.head_dim ** -0.5, k, transpose_y=True) + mask
            weights = F.dropout(F.softmax(scores, axis=-1), self.dropout, training=self.training)
            out = paddle.matmul(weights, v).transpose([0, 2, 1, 3])
        return self.out_proj(out.reshape([0, 0, self.num_heads * self.head_dim]))


class EncoderLayer(nn.Layer):
    """Post-norm Transformer layer with nn.TransformerEncoderLayer's parameter names (self_attn, linear1,
    linear2, norm1, norm2), created in its order, so a seed gives the same weights as that layer did."""

    def __init__(self, c):
        super().__init__()
        hidden = c["hidden_size"]
        self.self_attn = SelfAttention(hidden, c["num_attention_heads"], c["attention_probs_dropout_prob"])
        self.linear1 = nn.Linear(hidden, c["intermediate_size"])
        self.linear2 = nn.Linear(c["intermediate_size"], hidden)
        eps = c.get("encoder_norm_eps", 1e-5)  # nn.TransformerEncoderLayer's; PaddleNLP's weights: 1e-12
        self.norm1 = nn.LayerNorm(hidden, epsilon=eps)
        self.norm2 = nn.LayerNorm(hidden, epsilon=eps)
        self.dropout1 = nn.Dropout(c["hidden_dropout_prob"])
        self.dropout2 = nn.Dropout(c["hidden_dropout_prob"])
        self.activation = getattr(F, c["hidden_act"])

    def forward(self, x, mask):
        x = self.norm1(x + self.dropout1(self.self_attn(x, mask)))
        return self.norm2(x + self.dropout2(self.linear2(self.activation(self.linear1(x)))))


class Encoder(nn.Layer):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.LayerList([EncoderLayer(c) for _ in range(c["num_hidden_layers"])])

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


class ErnieModel(nn.Layer):
    """The encoder: embeddings, post-norm Transformer layers, and the [CLS] pooler (dense + tanh).

    Attention is F.scaled_dot_product_attention (or matmul + softmax, set_attention): padding is an
    additive mask of shape [batch, 1, 1, time] built from the ids, so neither padding nor a new length
    recompiles a to_static graph (both dimensions stay free in the input spec)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.pad_token_id = c["pad_token_id"]
        self.embeddings = ErnieEmbeddings(c)
        self.encoder = Encoder(c)
        self.pooler = ErniePooler(c["hidden_size"])
        init = nn.initializer.TruncatedNormal(std=c["initializer_range"])
        for p in self.parameters():
            if p.ndim == 2:  # embeddings and linear weights; biases 0 and norms 1 keep their defaults
                init(p)

    def forward(self, ids, token_type_ids=None):
        if token_type_ids is None:
            token_type_ids = paddle.zeros_like(ids)
        mask = (ids == self.pad_token_id).astype("float32").unsqueeze([1, 2]) * -1e4
        sequence = self.encoder(self.embeddings(ids, token_type_ids), mask)
        return sequence, self.pooler(sequence)


class ErniePooler(nn.Layer):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, sequence):
        return paddle.tanh(self.dense(sequence[:, 0]))


class MaskedLMHead(nn.Layer):
    """Transform (dense, activation, layer norm), then the word embedding transposed (tied) plus a bias."""

    def __init__(self, c, word_embeddings):
        super().__init__()
        self.transform = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.activation = c["hidden_act"]
        self.layer_norm = nn.LayerNorm(c["hidden_size"], epsilon=1e-12)
        self.tied = [word_embeddings]  # in a list: shared, not registered (and saved) a second time
        self.decoder_bias = self.create_parameter([c["vocab_size"]], is_bias=True)

    def forward(self, hidden):
        hidden = self.layer_norm(getattr(F, self.activation)(self.transform(hidden)))
        return paddle.matmul(hidden, self.tied[0].weight, transpose_y=True) + self.decoder_bias


class ErnieForPretraining(nn.Layer):
    """Masked LM over every position (the loss keeps only the masked ones)."""

    def __init__(self, config, num_classes=None):
        super().__init__()
        self.ernie = ErnieModel(config)
        self.predictions = MaskedLMHead(config, self.ernie.embeddings.word_embeddings)

    def forward(self, ids, token_type_ids=None):
        sequence, _ = self.ernie(ids, token_type_ids)
        return self.predictions(sequence)


class ErnieForSequenceClassification(nn.Layer):

    def __init__(self, config, num_classes=2):
        super().__init__()
        self.ernie = ErnieModel(config)
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])
        self.classifier = nn.Linear(config["hidden_size"], num_classes)

    def forward(self, ids, token_type_ids=None):
        _, pooled = self.ernie(ids, token_type_ids)
        return self.classifier(self.dropout(pooled))


class ErnieForTokenClassification(nn.Layer):

    def __init__(self, config, num_classes=7):
        super().__init__()
        self.ernie = ErnieModel(config)
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])
        self.classifier = nn.Linear(config["hidden_size"], num_classes)

    def forward(self, ids, token_type_ids=None):
        sequence, _ = self.ernie(ids, token_type_ids)
        return self.classifier(self.dropout(sequence))


TASKS = {"pretrain": ErnieForPretraining, "classify": ErnieForSequenceClassification,
         "ner": ErnieForTokenClassification}


def build_model(task, config, num_classes=None):
    return TASKS[task](config) if num_classes is None else TASKS[task](config, num_classes)


def input_spec():
    """ids [batch, time]: both free, so one exported graph serves every batch size and length."""
    return [paddle.static.InputSpec([None, None], "int64", name="ids")]
