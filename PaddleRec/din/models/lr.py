"""Logistic regression over the same ids: the baseline DIN has to beat.

logit = b + w[target_item] + v[target_cat] + mean over the history of (u[item] + s[cat]).
It sees which items and categories click well, but not whether the target matches the history:
that is an interaction, which is what DIN's attention adds.
"""
import paddle
import paddle.nn as nn


class LogisticRegression(nn.Layer):
    def __init__(self, item_count, cat_count, sparse=True):
        super().__init__()
        zeros = nn.initializer.Constant(0.0)
        self.target_item_w = nn.Embedding(item_count, 1, sparse=sparse, weight_attr=zeros)
        self.target_cat_w = nn.Embedding(cat_count, 1, sparse=sparse, weight_attr=zeros)
        self.hist_item_w = nn.Embedding(item_count, 1, sparse=sparse, weight_attr=zeros)
        self.hist_cat_w = nn.Embedding(cat_count, 1, sparse=sparse, weight_attr=zeros)
        self.bias = self.create_parameter([1], is_bias=True)

    def forward(self, hist_items, hist_cats, hist_len, target_item, target_cat):
        positions = paddle.arange(hist_items.shape[1], dtype=hist_len.dtype).unsqueeze(0)
        mask = (positions < hist_len.unsqueeze(1)).astype("float32")
        hist = (self.hist_item_w(hist_items) + self.hist_cat_w(hist_cats)).squeeze(-1) * mask
        hist_mean = hist.sum(1) / paddle.clip(hist_len.astype("float32"), min=1.0)
        return (self.target_item_w(target_item) + self.target_cat_w(target_cat)).squeeze(-1) + hist_mean + self.bias


def lr(item_count, cat_count, **kw):
    return LogisticRegression(item_count, cat_count, **kw)
