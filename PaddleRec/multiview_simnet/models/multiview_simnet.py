"""Multiview-SimNet (PaddlePaddle/models release/1.7 PaddleRec/multiview_simnet, after MV-DNN:
Elkahky, Song and He, WWW 2015,
https://www.microsoft.com/en-us/research/wp-content/uploads/2016/02/frp1159-songA.pdf).

A query has Q views (slots) and a title T views. Every slot's ids go through ONE shared embedding
table, then through its side's encoder; the views of a side are concatenated and projected by that
side's linear layer (q_fc, t_fc); the score is the cosine of the two projections. Training is
pairwise: a hinge loss with margin 0.1 between the query's positive and negative title.

Encoders, as in the release:
- bow: the sum of the slot's embeddings (no parameters; its width is the embedding size);
- cnn: a window-3 convolution over the slot's ids with `encode_dim` filters, tanh, max over positions;
- gru: a GRU of `encode_dim` over the slot's ids (its input projection is the release's separate
  fc), max over positions.
The release named every CNN encoder "cnn" and every GRU encoder "grnn", so one set of encoder weights
serves all slots of both sides when they use the same encoder; here too (built once, shared).

Inputs: ids int64 [B, S, L] (S slots of a side, padded to L) and lengths int64 [B, S]; positions
at or past a length are padding and never change a score.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

NEG = -1e9  # fills the padded positions before a max over positions


def positions_mask(ids, lengths):
    """[N, L] bool: True at the real ids."""
    positions = paddle.arange(paddle.shape(ids)[1], dtype=lengths.dtype).unsqueeze(0)
    return positions < lengths.unsqueeze(1)


class BOWEncoder(nn.Layer):
    def __init__(self, emb_dim, encode_dim):
        super().__init__()
        self.out_dim = emb_dim  # the release's bow ignores the encode dim

    def forward(self, emb, mask, lengths):
        return (emb * mask.unsqueeze(-1).astype(emb.dtype)).sum(axis=1)


class CNNEncoder(nn.Layer):
    """sequence_conv_pool of the release: window 3 centred on each id (zeros past the ends), tanh, max."""

    def __init__(self, emb_dim, encode_dim, window=3):
        super().__init__()
        # channels first: Paddle Inference's oneDNN convolution fails on the channels-last layout
        self.conv = nn.Conv1D(emb_dim, encode_dim, window, padding=window // 2)
        self.out_dim = encode_dim

    def forward(self, emb, mask, lengths):
        m = mask.unsqueeze(1)  # [N, 1, L]
        features = paddle.tanh(self.conv((emb * mask.unsqueeze(-1).astype(emb.dtype)).transpose([0, 2, 1])))
        return paddle.where(m, features, paddle.full_like(features, NEG)).max(axis=2)


class GRUEncoder(nn.Layer):
    """The release's fc (3H, no bias) + dynamic_gru + max pooling; Paddle's fused nn.GRU holds the fc
    as its input weights (and adds an input bias of 3H)."""

    def __init__(self, emb_dim, encode_dim):
        super().__init__()
        self.gru = nn.GRU(emb_dim, encode_dim)
        self.out_dim = encode_dim

    def forward(self, emb, mask, lengths):
        out, _ = self.gru(emb, sequence_length=lengths)
        return paddle.where(mask.unsqueeze(-1), out, paddle.full_like(out, NEG)).max(axis=1)


ENCODERS = {"bow": BOWEncoder, "cnn": CNNEncoder, "gru": GRUEncoder}


class MultiviewSimnet(nn.Layer):
    def __init__(self, sparse_feature_dim=1000001, query_slots=1, title_slots=1, embedding_dim=128,
                 query_encoder="bow", title_encoder="bow", query_encode_dim=128, title_encode_dim=128,
                 hidden_size=128, sparse=True):
        super().__init__()
        self.query_slots, self.title_slots = query_slots, title_slots
        # sparse=True: the table's gradient is a SelectedRows holding only the rows of the batch
        self.embedding = nn.Embedding(sparse_feature_dim, embedding_dim, sparse=sparse)
        self.query_encoder = ENCODERS[query_encoder](embedding_dim, query_encode_dim)
        # one encoder for both sides when they are the same kind and size, as the release's shared names
        self.shared_encoder = query_encoder == title_encoder and (
            query_encoder == "bow" or query_encode_dim == title_encode_dim)
        if not self.shared_encoder:
            self.title_encoder = ENCODERS[title_encoder](embedding_dim, title_encode_dim)
        title_out = self.query_encoder.out_dim if self.shared_encoder else self.title_encoder.out_dim
        self.query_fc = nn.Linear(query_slots * self.query_encoder.out_dim, hidden_size)
        self.title_fc = nn.Linear(title_slots * title_out, hidden_size)

    def _encode(self, ids, lengths, encoder, fc, slots):
        flat_ids, flat_len = ids.flatten(0, 1), lengths.flatten()  # [B*S, L], [B*S]
        views = encoder(self.embedding(flat_ids), positions_mask(flat_ids, flat_len), flat_len)
        return fc(views.reshape([-1, slots * views.shape[-1]]))  # the views of a sample, concatenated

    def encode_query(self, query, query_len):
        return self._encode(query, query_len, self.query_encoder, self.query_fc, self.query_slots)

    def encode_title(self, title, title_len):
        encoder = self.query_encoder if self.shared_encoder else self.title_encoder
        return self._encode(title, title_len, encoder, self.title_fc, self.title_slots)

    def forward(self, query, query_len, title, title_len, neg_title=None, neg_title_len=None):
        """The cosine [B] of query and title; with a negative title (padded like the positive one),
        (cosine of the positive, cosine of the negative), both titles encoded in one pass."""
        q = self.encode_query(query, query_len)
        if neg_title is None:
            return F.cosine_similarity(q, self.encode_title(title, title_len), axis=1)
        t = self.encode_title(paddle.concat([title, neg_title]), paddle.concat([title_len, neg_title_len]))
        pos, neg = paddle.split(t, 2)
        return F.cosine_similarity(q, pos, axis=1), F.cosine_similarity(q, neg, axis=1)


def hinge_loss(cos_pos, cos_neg, margin=0.1):
    """The release's pairwise loss: mean of max(0, margin - cos(q, pos) + cos(q, neg))."""
    return F.relu(margin - cos_pos + cos_neg).mean()
