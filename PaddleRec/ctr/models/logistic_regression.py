"""The logistic-regression baseline: one weight per categorical value (a field's missing or
out-of-vocabulary id has its own weight), one per dense feature, and a bias. It sees exactly the
inputs the folder's model sees, so the comparison isolates what feature interactions add."""
import numpy as np
import paddle
import paddle.nn as nn


class LogisticRegression(nn.Layer):
    def __init__(self, vocab_sizes, num_dense=13, sparse=True):
        super().__init__()
        # Field f's ids 0..size_f occupy rows offset_f .. offset_f + size_f of one table.
        offsets = np.concatenate([[0], np.cumsum(np.asarray(vocab_sizes) + 1)[:-1]])
        self.register_buffer("offsets", paddle.to_tensor(offsets[None, :].astype("int64")), persistable=False)
        zeros = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))
        self.weights = nn.Embedding(int(sum(vocab_sizes)) + len(vocab_sizes), 1, sparse=sparse, weight_attr=zeros)
        self.dense = nn.Linear(num_dense, 1, weight_attr=zeros)

    def forward(self, sparse_ids, dense):
        return self.weights(sparse_ids + self.offsets).sum(axis=1) + self.dense(dense)  # the logit, [B, 1]
