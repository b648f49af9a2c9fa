"""Deep & Cross Network (Wang et al., ADKDD 2017, https://arxiv.org/abs/1708.05123): a cross network
that builds explicit feature crosses of growing degree, x_{l+1} = x0 * (x_l . w_l) + b_l + x_l, next
to a DNN, both over x0 = [dense features, embeddings]; their outputs are concatenated into one logit.

As in PaddleRec release/1.7 ctr/dcn (network.py): each categorical field has its own embedding table
of size 6 * int(n ** 0.25) for its n kept values (plus row 0, missing or out of vocabulary), the
dense features enter x0 directly (log-scaled by the reader), the DNN is Linear -> BatchNorm -> ReLU
per layer, Xavier-uniform initialisation everywhere (cross weights and biases included), and the
loss adds l2_cross times the squared norm of the cross weights.
"""
import paddle
import paddle.nn as nn


def embedding_dim(vocab_size):
    """The paper's rule, 6 x (cardinality)^(1/4); at least 6 for a field that kept no value."""
    return 6 * max(1, int(vocab_size ** 0.25))


class DCN(nn.Layer):
    def __init__(self, vocab_sizes, num_dense=13, cross_layers=6, dnn_sizes=(1024, 1024), use_bn=True,
                 l2_cross=1e-5, sparse=True):
        super().__init__()
        dims = [embedding_dim(n) for n in vocab_sizes]
        xavier = paddle.ParamAttr(initializer=nn.initializer.XavierUniform())
        self.embeddings = nn.LayerList([nn.Embedding(n + 1, d, sparse=sparse, weight_attr=xavier)
                                        for n, d in zip(vocab_sizes, dims)])
        width = num_dense + sum(dims)  # of x0
        bound = (3.0 / width) ** 0.5  # Xavier-uniform for a [width] vector (fan in = fan out = width)
        self.cross_weight = self.create_parameter([cross_layers, width],
                                                  default_initializer=nn.initializer.Uniform(-bound, bound))
        self.cross_bias = self.create_parameter([cross_layers, width],
                                                default_initializer=nn.initializer.Uniform(-bound, bound))
        layers, hidden = [], width
        for size in dnn_sizes:
            layers += [nn.Linear(hidden, size)] + ([nn.BatchNorm1D(size)] if use_bn else []) + [nn.ReLU()]
            hidden = size
        self.dnn = nn.Sequential(*layers)
        self.out = nn.Linear(hidden + width, 1)
        self.cross_layers, self.l2_cross = cross_layers, l2_cross

    def forward(self, sparse_ids, dense):
        fields = [table(sparse_ids[:, f]) for f, table in enumerate(self.embeddings)]
        x0 = paddle.concat([dense] + fields, axis=1)  # [B, width]
        x = x0
        for i in range(self.cross_layers):
            x = x0 * (x * self.cross_weight[i]).sum(axis=1, keepdim=True) + self.cross_bias[i] + x
        return self.out(paddle.concat([self.dnn(x0), x], axis=1))  # the logit, [B, 1]

    def regularization(self):
        """Added to the loss by train.py: l2_cross * sum of the squared cross weights."""
        return self.l2_cross * (self.cross_weight * self.cross_weight).sum()
