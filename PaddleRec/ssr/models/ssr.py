"""Sequence Semantic Retrieval (PaddlePaddle/models release/1.7 PaddleRec/ssr), a two-tower model.

User tower: the embeddings of the clicked items -> a GRU (128) -> max-pooled over the valid steps ->
a linear layer (128). Item tower: the item's embedding (a bag of one word, as the release's
BowEncoder sums it) -> a linear layer (128). The two towers share the item embedding table, as in the
release ("emb.item"). The score of an item for a user is the cosine of their vectors; training pushes
the positive's cosine above each sampled negative's by a margin (pairwise hinge, margin 0.8).

The table has V + 1 rows: row V is the unknown item (ids outside vocab.txt), never a candidate.
Because each item's vector depends on the item only, the item vectors of the whole catalogue are
computed once (item_table) and retrieval is one matrix product with the unit user vectors.

Inputs (int64): items [B, T] (padded with anything past lengths), lengths [B]; targets [B] and
negatives [B, K] for training.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class GRUEncoder(nn.Layer):
    """GRU over the sequence, max-pooled over the valid steps (release: dynamic_gru + sequence_pool max)."""

    def __init__(self, emb_dim, hidden):
        super().__init__()
        self.gru = nn.GRU(emb_dim, hidden)
        self.out_dim = hidden

    def forward(self, emb, lengths, mask):
        out, _ = self.gru(emb, sequence_length=lengths.astype("int32"))
        return paddle.max(out - (1.0 - mask.unsqueeze(-1)) * 1e9, axis=1)


class BowEncoder(nn.Layer):
    """Sum of the embeddings over the valid steps (release: sequence_pool sum)."""

    def __init__(self, emb_dim):
        super().__init__()
        self.out_dim = emb_dim

    def forward(self, emb, lengths, mask):
        return (emb * mask.unsqueeze(-1)).sum(axis=1)


class SSR(nn.Layer):
    def __init__(self, vocab_size, encoder="gru", emb_dim=128, hidden=128, sparse=True):
        super().__init__()
        self.vocab_size = vocab_size
        # sparse=True: the table's gradient is a SelectedRows holding only the rows of the batch.
        self.emb = nn.Embedding(vocab_size + 1, emb_dim, sparse=sparse)
        self.encoder = GRUEncoder(emb_dim, hidden) if encoder == "gru" else BowEncoder(emb_dim)
        self.user_fc = nn.Linear(self.encoder.out_dim, hidden)
        self.item_fc = nn.Linear(emb_dim, hidden)

    def user_vector(self, items, lengths):
        """Unit user vectors [B, H]; an empty sequence gives a finite vector."""
        positions = paddle.arange(items.shape[1], dtype=lengths.dtype).unsqueeze(0)
        mask = (positions < lengths.unsqueeze(1)).astype("float32")
        hidden = self.user_fc(self.encoder(self.emb(items), lengths, mask))
        return F.normalize(hidden, axis=-1, epsilon=1e-8)

    def item_vector(self, ids):
        """Unit item vectors [..., H] of item ids of any shape."""
        return F.normalize(self.item_fc(self.emb(ids)), axis=-1, epsilon=1e-8)

    def item_table(self):
        """The unit vectors of all V items [V, H] (the unknown row left out)."""
        return self.item_vector(paddle.arange(self.vocab_size, dtype="int64"))

    def forward(self, items, lengths, targets, negatives):
        """(cosine with the target [B], cosines with the negatives [B, K])."""
        user = self.user_vector(items, lengths)
        pos = (user * self.item_vector(targets)).sum(-1)
        neg = (user.unsqueeze(1) * self.item_vector(negatives)).sum(-1)
        return pos, neg


def hinge_loss(pos, neg, margin=0.8):
    """Mean over samples and negatives of max(0, margin - cos(user, positive) + cos(user, negative))."""
    return F.relu(margin - pos.unsqueeze(1) + neg).mean()


def ssr(vocab_size, **kw):
    """The release's network: GRU user encoder, 128-d embeddings and hidden layers."""
    return SSR(vocab_size, encoder="gru", **kw)


def ssr_bow(vocab_size, **kw):
    """The user tower as a bag of words (sum of the sequence's embeddings), no recurrence."""
    return SSR(vocab_size, encoder="bow", **kw)
