"""Deep Interest Network (Zhou et al., KDD 2018, https://arxiv.org/abs/1706.06978).

An activation unit scores each item of the user's history against the target item (and category);
the history is pooled with those weights into one interest vector, which an MLP reads together
with the target to predict the click. One class for the family; the variants differ in the
activation (Dice, PReLU or sigmoid) and the sizes of the MLPs.

Inputs (all int64): hist_items [B, T], hist_cats [B, T], hist_len [B], target_item [B],
target_cat [B]; positions at or past hist_len are padding. Output: the click logit [B].
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Dice(nn.Layer):
    """Data-adaptive activation of the paper: p = sigmoid(batch-normalised x), out = p*x + (1-p)*alpha*x.
    Statistics are per channel (the last axis) over all other axes; alpha starts at 0."""

    def __init__(self, dim, epsilon=1e-8, momentum=0.9):
        super().__init__()
        self.epsilon, self.momentum = epsilon, momentum
        self.alpha = self.create_parameter([dim], default_initializer=nn.initializer.Constant(0.0))
        self.register_buffer("running_mean", paddle.zeros([dim]))
        self.register_buffer("running_var", paddle.ones([dim]))

    def forward(self, x):
        flat = x.reshape([-1, x.shape[-1]])
        if self.training:  # batch statistics, and the running ones updated
            normed = F.batch_norm(flat, self.running_mean, self.running_var, training=True,
                                  momentum=self.momentum, epsilon=self.epsilon)
        else:  # written out: Paddle Inference's oneDNN batch_norm crashes without scale and shift
            normed = (flat - self.running_mean) * paddle.rsqrt(self.running_var + self.epsilon)
        p = F.sigmoid(normed).reshape(x.shape)
        return p * x + (1 - p) * self.alpha * x


class ChannelPReLU(nn.Layer):
    """PReLU with one slope per channel of the last axis, for 2-D and 3-D inputs alike."""

    def __init__(self, dim):
        super().__init__()
        self.prelu = nn.PReLU(num_parameters=dim, init=0.25)

    def forward(self, x):
        return self.prelu(x.reshape([-1, x.shape[-1]])).reshape(x.shape)


def make_activation(name, dim):
    if name == "dice":
        return Dice(dim)
    if name == "prelu":
        return ChannelPReLU(dim)
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"unknown activation {name!r}")


def mlp(in_dim, hidden, out_dim, activation):
    layers = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), make_activation(activation, h)]
        in_dim = h
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class ActivationUnit(nn.Layer):
    """Weights of the history items for one target: an MLP over [h, t, h - t, h * t] per item.

    As in the reference implementations (the authors' released code and PaddlePaddle's), the scores are
    scaled by 1/sqrt(dim) and normalised with a softmax over the valid positions."""

    def __init__(self, dim, hidden, activation):
        super().__init__()
        self.mlp = mlp(4 * dim, hidden, 1, activation)
        self.scale = dim ** -0.5

    def forward(self, hist, target, mask):
        query = paddle.expand_as(target.unsqueeze(1), hist)
        scores = self.mlp(paddle.concat([hist, query, hist - query, hist * query], axis=-1)).squeeze(-1)
        valid = mask.astype(scores.dtype)
        weights = F.softmax(scores * self.scale - (1.0 - valid) * 1e9, axis=-1)
        # Multiplying by the mask again makes an empty history pool to zeros instead of to the padding.
        weights = weights * valid
        return paddle.matmul(weights.unsqueeze(1), hist).squeeze(1)


class DIN(nn.Layer):
    def __init__(self, item_count, cat_count, activation="dice", item_dim=64, cat_dim=64,
                 attention_hidden=(80, 40), dnn_hidden=(200, 80), num_outputs=2, sparse=True):
        super().__init__()
        dim = item_dim + cat_dim
        # sparse=True: the gradient of a table is a SelectedRows holding only the rows of the batch.
        self.item_emb = nn.Embedding(item_count, item_dim, sparse=sparse)
        self.cat_emb = nn.Embedding(cat_count, cat_dim, sparse=sparse)
        self.item_bias = nn.Embedding(item_count, 1, sparse=sparse,
                                      weight_attr=nn.initializer.Constant(0.0))
        self.attention = ActivationUnit(dim, attention_hidden, activation)
        self.interest_fc = nn.Linear(dim, dim)
        self.dnn = mlp(2 * dim, dnn_hidden, num_outputs, activation)
        self.num_outputs = num_outputs

    def forward(self, hist_items, hist_cats, hist_len, target_item, target_cat):
        hist = paddle.concat([self.item_emb(hist_items), self.cat_emb(hist_cats)], axis=-1)
        target = paddle.concat([self.item_emb(target_item), self.cat_emb(target_cat)], axis=-1)
        positions = paddle.arange(hist_items.shape[1], dtype=hist_len.dtype).unsqueeze(0)
        interest = self.attention(hist, target, positions < hist_len.unsqueeze(1))
        out = self.dnn(paddle.concat([self.interest_fc(interest), target], axis=-1))
        # A two-way softmax output (the paper's 200-80-2) is the sigmoid of the difference of its logits.
        logit = out[:, 1] - out[:, 0] if self.num_outputs == 2 else out[:, 0]
        return logit + self.item_bias(target_item).squeeze(-1)


def din(item_count, cat_count, **kw):
    """The paper's configuration: Dice, activation unit 80-40-1, MLP 200-80-2."""
    return DIN(item_count, cat_count, activation="dice", **kw)


def din_prelu(item_count, cat_count, **kw):
    """The paper's configuration with PReLU instead of Dice."""
    return DIN(item_count, cat_count, activation="prelu", **kw)


def din_sigmoid(item_count, cat_count, **kw):
    """The network of PaddlePaddle/models release/1.7 (the published 0.8638): sigmoid everywhere,
    activation unit 80-40-1, MLP 80-40-1."""
    return DIN(item_count, cat_count, activation="sigmoid", dnn_hidden=(80, 40), num_outputs=1, **kw)
