"""GRU4Rec (Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016,
https://arxiv.org/abs/1511.06939), as PaddlePaddle/models release/1.7 PaddleRec/gru4rec builds it.

The release's network (net.py, all_vocab_network): an item embedding of HIDDEN = 100, a linear layer
to 3 x 100 (the GRU's input projection, with bias), dynamic_gru of size 100 (recurrent weights
100 x 300 and a bias of 300), and a fully connected layer to the item vocabulary with a softmax;
every weight starts uniform in [-0.04, 0.04], biases at 0, and the embedding learns 10x faster. That
is 201 * V + 60,600 parameters for V items.

Here the input projection and the recurrence are one paddle.nn.GRU: its weight_ih/bias_ih are the
release's fc0 (300 x 100 and 300) and weight_hh/bias_hh are dynamic_gru's (300 x 100 and 300), so the
tensors and the count are the release's. One difference in the cell: Paddle's GRU applies the reset
gate after the recurrent product (r * (W_hc h + b_hc), the cuDNN form), dynamic_gru before it
(W_hc (r * h)). The output layer is kept as a table of V rows (weights and a bias per item), so
that the sampled BPR loss looks up only the rows of a batch (sparse gradients); the full softmax and
the evaluation use it whole, as one matrix product. The tables have one extra row, the unknown item
(index V), which is never recommended.

Inputs (int64): item_ids [B, T], lengths [B]. Position t reads item t and predicts item t + 1.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

HIDDEN = 100
INIT_SCALE = 0.04
EMB_LR = 10.0
TOPK = 20


def uniform(scale, lr=1.0):
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-scale, scale), learning_rate=lr)


def zeros():
    return paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))


class GRU4Rec(nn.Layer):
    def __init__(self, num_items, hidden_size=HIDDEN, init_scale=INIT_SCALE, emb_lr=EMB_LR, dropout=0.0,
                 sparse=True, sparse_output=False, topk=TOPK):
        """num_items: table rows (the vocabulary and the unknown item). sparse: the input embedding's
        gradient holds only the rows of the batch; sparse_output: the same for the output table (only
        for a loss that looks rows up, the sampled BPR; the full softmax uses the whole table)."""
        super().__init__()
        self.num_items, self.topk = num_items, topk
        self.item_emb = nn.Embedding(num_items, hidden_size, sparse=sparse, weight_attr=uniform(init_scale, emb_lr))
        self.gru = nn.GRU(hidden_size, hidden_size, weight_ih_attr=uniform(init_scale),
                          weight_hh_attr=uniform(init_scale), bias_ih_attr=zeros(), bias_hh_attr=zeros())
        self.out_weight = nn.Embedding(num_items, hidden_size, sparse=sparse_output, weight_attr=uniform(init_scale))
        self.out_bias = nn.Embedding(num_items, 1, sparse=sparse_output, weight_attr=zeros())
        self.dropout = nn.Dropout(dropout) if dropout else None

    def hidden(self, item_ids, lengths):
        """The GRU's state after each item [B, T, H]; positions at or past a row's length are padding."""
        x = self.item_emb(item_ids)
        if self.dropout is not None:
            x = self.dropout(x)
        h, _ = self.gru(x, sequence_length=lengths)
        return self.dropout(h) if self.dropout is not None else h

    def scores(self, h):
        """Scores of every item for states h [..., H]: one matrix product with the output table."""
        return paddle.matmul(h, self.out_weight.weight, transpose_y=True) + self.out_bias.weight.reshape([-1])

    def recommend(self, item_ids, lengths):
        """(scores, items) of the top-k next items after every position [B, T, k]; the unknown item
        (the last row) is never among them."""
        s = self.scores(self.hidden(item_ids, lengths))
        unknown = (paddle.arange(self.num_items) == self.num_items - 1).astype(s.dtype) * -1e30
        return paddle.topk(s + unknown, self.topk, axis=-1)

    def forward(self, item_ids, lengths, targets=None, loss="ce", num_negatives=10):
        """Without targets: recommend() (what the export serves). With targets [B, T]: the mean loss
        over the valid positions, 'ce' (softmax over every item) or 'bpr' (sampled, see bpr_loss)."""
        if targets is None:
            return self.recommend(item_ids, lengths)
        h = self.hidden(item_ids, lengths)
        valid = paddle.arange(item_ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        index = paddle.nonzero(valid.flatten()).squeeze(-1)
        h = paddle.gather(h.reshape([-1, h.shape[-1]]), index)
        targets = paddle.gather(targets.flatten(), index)
        if loss == "ce":
            return F.cross_entropy(self.scores(h), targets)
        return self.bpr_loss(h, targets, num_negatives)

    def bpr_loss(self, h, targets, num_negatives):
        """BPR with in-batch negatives, as the release samples them: each prediction's negatives are
        the targets of num_negatives random predictions of the same batch (a draw that hits the
        prediction's own target is left out). loss = -mean log sigmoid(s_pos - s_neg)."""
        n = targets.shape[0]
        draw = paddle.randint(0, n, [n, num_negatives])
        negatives = paddle.gather(targets, draw.flatten()).reshape([n, num_negatives])
        pos = (h * self.out_weight(targets)).sum(-1) + self.out_bias(targets).squeeze(-1)
        neg = (h.unsqueeze(1) * self.out_weight(negatives)).sum(-1) + self.out_bias(negatives).squeeze(-1)
        keep = (negatives != targets.unsqueeze(1)).astype(h.dtype)
        return -(F.log_sigmoid(pos.unsqueeze(1) - neg) * keep).sum() / paddle.clip(keep.sum(), min=1.0)


def gru4rec(num_items, **kw):
    """The release's configuration: hidden 100, uniform +-0.04, embedding LR x10."""
    return GRU4Rec(num_items, **kw)

