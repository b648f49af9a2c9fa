"""KT-NET (Yang et al. 2019, "Enhancing Pre-Trained Language Representations with Rich Knowledge for
Machine Reading Comprehension", https://aclanthology.org/P19-1226/), as in the PaddlePaddle release:

1. BERT encodes [CLS] question [SEP] passage [SEP] -> h [B, L, H].
2. Knowledge integration: each token attends over its retrieved KB concepts (fixed KB embeddings
   [B, L, C, D]) plus a trainable sentinel vector (the "no useful knowledge" choice, zero at the
   start), with the bilinear score  (W h_i) . c_ij  (W: H -> D, no bias); padded concepts are masked
   out; the attended knowledge state k_i is zero for a token with no concepts. Output [h_i ; k_i].
3. Self-matching: trilinear self-attention over the fused sequence u (M = H + D),
   s_ij = w1.u_i + w2.u_j + (wm * u_i).u_j + b, padding keys masked; v = softmax(s) u, and the
   two-hop v2 = softmax(s) v; output [u, v, u*v, u-v, v2, u-v2] (6M), as the release's
   TriLinearTwoTimeSelfAttentionLayer with cat_mul, cat_sub, cat_twotime, cat_twotime_sub.
4. A linear layer gives the start and end logits.

The concept embeddings are a fixed (not trained) table, a persistable buffer of the model, so it
travels with checkpoints and the export; it is not counted among the trainable parameters.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .bert import BertModel


class MemoryLayer(nn.Layer):
    def __init__(self, hidden, concept_dim, initializer_range=0.02):
        super().__init__()
        self.projection = nn.Linear(hidden, concept_dim, bias_attr=False,
                                    weight_attr=nn.initializer.Normal(0.0, initializer_range))
        self.sentinel = self.create_parameter([concept_dim], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, hidden, memory, concept_ids):
        """hidden [B, L, H], memory [B, L, C, D], concept_ids [B, L, C] (0 = none) -> [B, L, H + D]."""
        query = self.projection(hidden).unsqueeze(2)                       # [B, L, 1, D]
        sentinel = paddle.zeros_like(memory[:, :, :1]) + self.sentinel      # [B, L, 1, D]
        extended = paddle.concat([sentinel, memory], axis=2)                # [B, L, 1 + C, D]
        score = (extended * query).sum(-1)                                  # [B, L, 1 + C]
        has = (concept_ids != 0).astype(score.dtype)
        valid = paddle.concat([paddle.ones_like(has[:, :, :1]), has], axis=-1)
        weights = F.softmax(score + (1.0 - valid) * -1e6, axis=-1)
        state = (weights.unsqueeze(-1) * extended).sum(2)                   # [B, L, D]
        state = state * (has.sum(-1, keepdim=True) > 0).astype(state.dtype)  # no concepts: no knowledge
        return paddle.concat([hidden, state], axis=-1)


class SelfMatching(nn.Layer):
    def __init__(self, size):
        super().__init__()
        xavier_w = math.sqrt(6.0 / (1 + size))  # the release's Xavier(fan_in=1, fan_out=size)
        self.weight1 = self.create_parameter([size], default_initializer=nn.initializer.Uniform(-xavier_w, xavier_w))
        self.weight2 = self.create_parameter([size], default_initializer=nn.initializer.Uniform(-xavier_w, xavier_w))
        xavier_m = math.sqrt(6.0 / (2 * size))
        self.weight_mul = self.create_parameter([size], default_initializer=nn.initializer.Uniform(-xavier_m, xavier_m))
        self.bias = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, u, key_mask):
        """u [B, L, M], key_mask [B, L] (1 = real token) -> [B, L, 6M]."""
        r1 = (u * self.weight1).sum(-1, keepdim=True)                   # [B, L, 1]
        r2 = (u * self.weight2).sum(-1).unsqueeze(1)                    # [B, 1, L]
        # (r1 + r2) first: Paddle Inference 3.3.1 adds a [B, L, 1] tensor to a matmul output about 30x
        # slower than the dynamic graph (0.7 s for 32 windows of 43 tokens on this CPU); [B, L, L] is fast
        scores = paddle.matmul(u * self.weight_mul, u, transpose_y=True) + (r1 + r2 + self.bias)
        scores = scores + (1.0 - key_mask.unsqueeze(1)) * -1e6
        attention = F.softmax(scores, axis=-1)
        v = paddle.matmul(attention, u)
        v2 = paddle.matmul(attention, v)                                # (A A) u, the two-hop summary
        return paddle.concat([u, v, u * v, u - v, v2, u - v2], axis=-1)


class KTNet(nn.Layer):
    """(start logits, end logits) [B, L] from input ids, token types [B, L] and concept ids [B, L, C]."""

    def __init__(self, cfg, num_concepts, concept_dim):
        super().__init__()
        self.cfg = cfg
        self.bert = BertModel(cfg)
        self.bert._sub_layers.pop("pooler")  # the release reads the sequence output only: no pooler
        self.register_buffer("concept_embeddings", paddle.zeros([num_concepts, concept_dim]), persistable=True)
        self.memory = MemoryLayer(cfg.hidden_size, concept_dim, cfg.initializer_range)
        size = cfg.hidden_size + concept_dim
        self.self_matching = SelfMatching(size)
        self.classifier = nn.Linear(6 * size, 2, weight_attr=nn.initializer.Normal(0.0, cfg.initializer_range),
                                    bias_attr=nn.initializer.Constant(0.0))

    def set_concept_embeddings(self, matrix):
        self.concept_embeddings.set_value(paddle.to_tensor(matrix, dtype="float32"))

    def forward(self, input_ids, token_type_ids, concept_ids):
        mask = (input_ids == self.cfg.pad_token_id).astype("float32").unsqueeze([1, 2]) * -1e4
        hidden = self.bert.encoder(self.bert.embeddings(input_ids, token_type_ids), mask)
        memory = F.embedding(concept_ids, self.concept_embeddings)
        fused = self.memory(hidden, memory, concept_ids)
        matched = self.self_matching(fused, (input_ids != self.cfg.pad_token_id).astype(fused.dtype))
        logits = self.classifier(matched)
        return logits[:, :, 0], logits[:, :, 1]
