"""Skip-gram with negative sampling (Mikolov et al., 2013, https://arxiv.org/abs/1310.4546), as
PaddlePaddle/models release/1.7 PaddleRec/word2vec builds it.

Three tables over the vocabulary: the input embedding `emb` (uniform in +-0.5/dim: the word vectors
that are kept), the output embedding `emb_w` and a per-word output bias `emb_b` (both zero at the
start). For a (center, context) pair and neg_num negatives drawn from the noise distribution,
the loss is the sigmoid cross-entropy of the positive logit emb[center] . emb_w[context] +
emb_b[context] towards 1 plus that of each negative logit towards 0. Parameters: V * (2 * dim + 1).

AnalogyModel is what evaluation, export and inference use: 3CosAdd over the L2-normalised input
embeddings, one matrix product per batch and a top-k.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class SkipGram(nn.Layer):
    def __init__(self, vocab_size, dim=300, neg_num=5, sparse=True):
        super().__init__()
        self.vocab_size, self.dim, self.neg_num = vocab_size, dim, neg_num
        width = 0.5 / dim
        # sparse=True: a table's gradient is a SelectedRows with only the rows of the batch.
        self.emb = nn.Embedding(vocab_size, dim, sparse=sparse,
                                weight_attr=nn.initializer.Uniform(-width, width))
        self.emb_w = nn.Embedding(vocab_size, dim, sparse=sparse, weight_attr=nn.initializer.Constant(0.0))
        self.emb_b = nn.Embedding(vocab_size, 1, sparse=sparse, weight_attr=nn.initializer.Constant(0.0))

    def forward(self, center, context, negatives):
        """center [B], context [B], negatives [B, neg_num] (int64) -> the loss of each pair [B]."""
        targets = paddle.concat([context.unsqueeze(1), negatives], axis=1)  # [B, 1 + neg_num]
        logits = paddle.matmul(self.emb(center).unsqueeze(1), self.emb_w(targets), transpose_y=True).squeeze(1)
        logits = logits + self.emb_b(targets).squeeze(-1)
        labels = paddle.concat([paddle.ones_like(logits[:, :1]), paddle.zeros_like(logits[:, 1:])], axis=1)
        return F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(axis=1)


class AnalogyModel(nn.Layer):
    """a is to b as c is to ?: the k words whose normalised input embedding has the highest cosine
    with normalise(e_b) - normalise(e_a) + normalise(e_c) (3CosAdd), the question words a, b, c and
    <UNK> excluded. With a = b = c = w it gives the nearest neighbours of w (w excluded).

    Inputs a, b, c: int64 [B]. Outputs: ids [B, k], cosines [B, k], and the raw input embeddings of
    c [B, dim] (the round trip of an export is checked on them)."""

    def __init__(self, skipgram, top_k=10, unk_id=None):
        super().__init__()
        self.table = skipgram.emb
        self.top_k = min(top_k, skipgram.vocab_size)
        excluded = paddle.zeros([skipgram.vocab_size], dtype="float32")
        if unk_id is not None:
            excluded[unk_id] = 1.0
        self.register_buffer("excluded", excluded)

    def forward(self, a, b, c):
        unit = F.normalize(self.table.weight, axis=1)
        target = F.normalize(paddle.gather(unit, b) - paddle.gather(unit, a) + paddle.gather(unit, c), axis=1)
        scores = paddle.matmul(target, unit, transpose_y=True) - 4.0 * self.excluded  # cosines in [-1, 1]
        question = paddle.stack([a, b, c], axis=1)
        scores = paddle.put_along_axis(scores, question, paddle.full(question.shape, -4.0, scores.dtype), axis=1)
        values, ids = paddle.topk(scores, self.top_k, axis=1)
        return ids, values, paddle.gather(self.table.weight, c)


def skipgram(vocab_size, dim=300, neg_num=5, sparse=True):
    """The release's configuration: 300-dimensional tables, 5 negatives per pair."""
    return SkipGram(vocab_size, dim, neg_num, sparse)
