"""DeepFM (Guo et al., IJCAI 2017, https://arxiv.org/abs/1703.04247): a factorization machine and a DNN
that share one embedding table, trained jointly; logit = first order + FM second order + DNN.

Every field is a "feature": the 13 dense fields have one row each in the tables, scaled by their
value; a categorical field's value has its own row, scaled by 1 (or by 0 when it is missing or out of
vocabulary, as in the PaddleRec recipe, so those contribute nothing). Initialisation follows the
recipe (PaddleRec release/1.7 network_conf.py): truncated normals of std 0.1, 0.1/sqrt(embedding_dim)
for the embeddings and 0.1/sqrt(10) for the hidden weights.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
from paddle.nn.initializer import TruncatedNormal


def _attr(std):
    return paddle.ParamAttr(initializer=TruncatedNormal(mean=0.0, std=std))


class DeepFM(nn.Layer):
    def __init__(self, vocab_sizes, num_dense=13, embedding_dim=10, dnn_sizes=(400, 400, 400), sparse=True,
                 init_std=0.1):
        super().__init__()
        self.num_fields = num_dense + len(vocab_sizes)
        # One table for all fields. Row 0 is padding (value 0), rows 1..num_dense the dense fields,
        # then each categorical field's values; a field's local id k >= 1 sits at offset + k.
        offsets = 1 + num_dense + np.concatenate([[0], np.cumsum(vocab_sizes)[:-1]]) - 1
        self.register_buffer("cat_offsets", paddle.to_tensor(offsets[None, :].astype("int64")), persistable=False)
        self.register_buffer("dense_rows", paddle.arange(1, num_dense + 1, dtype="int64")[None, :], persistable=False)
        rows = 1 + num_dense + int(sum(vocab_sizes))
        self.first_order = nn.Embedding(rows, 1, padding_idx=0, sparse=sparse, weight_attr=_attr(init_std))
        self.embedding = nn.Embedding(rows, embedding_dim, padding_idx=0, sparse=sparse,
                                      weight_attr=_attr(init_std / math.sqrt(embedding_dim)))
        layers, width = [], self.num_fields * embedding_dim
        for size in dnn_sizes:
            layers += [nn.Linear(width, size, weight_attr=_attr(init_std / math.sqrt(10)), bias_attr=_attr(init_std)),
                       nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1, weight_attr=_attr(init_std), bias_attr=_attr(init_std)))
        self.dnn = nn.Sequential(*layers)

    def forward(self, sparse_ids, dense):
        present = (sparse_ids > 0).astype(sparse_ids.dtype)
        cat_rows = (sparse_ids + self.cat_offsets) * present  # id 0 (missing, out of vocabulary) -> row 0
        dense_rows = self.dense_rows + sparse_ids[:, :1] * 0  # broadcast to [B, num_dense]
        rows = paddle.concat([dense_rows, cat_rows], axis=1)
        values = paddle.concat([dense, present.astype(dense.dtype)], axis=1).unsqueeze(-1)  # [B, F, 1]

        first_order = (self.first_order(rows) * values).sum(axis=1)  # [B, 1]
        embedded = self.embedding(rows) * values  # [B, F, D]
        # FM: sum over field pairs of <v_i x_i, v_j x_j> = ((sum)^2 - sum of squares) / 2. Written as
        # products: Paddle Inference 3.3.1 runs square() in place, corrupting `embedded` for the DNN.
        summed = embedded.sum(axis=1)
        second_order = 0.5 * (summed * summed - (embedded * embedded).sum(axis=1)).sum(axis=1, keepdim=True)
        deep = self.dnn(embedded.flatten(1))
        return first_order + second_order + deep  # the logit, [B, 1]
