"""TagSpace (Weston, Chopra and Adams, EMNLP 2014, https://aclanthology.org/D14-1194/): a text and
its tags are embedded in one space; a convolutional encoder maps the text's words to a vector, and
the tags are ranked by their cosine with it.

As the release's network (PaddlePaddle/models release/1.7 PaddleRec/tagspace/net.py):
- word embedding of emb_dim (10);
- a convolution over windows of win_size (5) words with hid_dim (1000) filters and a bias, tanh, max
  over time (fluid's sequence_conv_pool: a window at word t covers t - win//2 ... t - win//2 + win - 1,
  zeros beyond the text's ends);
- a linear layer (with bias) back to emb_dim: the text vector;
- tag embedding of emb_dim, shared by the true and the sampled tags;
- loss: max(0, margin - cos(text, true tag) + max over sampled negatives of cos(text, negative)).

Padding positions are zeroed before the convolution and never win the max, so a batch's padding
never changes a text's vector. `forward` scores every tag at once (one matrix product)."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


PAD_OFFSET = -1e4  # added before the tanh at padding positions: tanh gives exactly -1 there


def sequence_mask(lengths, max_len):
    """[B, T] bool, True at the real (non-padding) positions."""
    return paddle.arange(max_len, dtype=lengths.dtype).unsqueeze(0) < lengths.unsqueeze(1)


class SequenceConvPool(nn.Layer):
    """fluid's sequence_conv_pool on a padded batch: the words of each window concatenated
    ([x(t - win//2), ..., x(t - win//2 + win - 1)], zeros beyond the text), times a filter of
    [win * in_dim, num_filters] plus a bias (the release's very parameters), tanh, max over the
    text's own positions.

    Written as one matrix product over the unfolded windows: on the CPU that is several times faster
    than Conv1D. The bias and the padding mask ride in the same product (two extra input columns, a
    ones column and a padding flag whose fixed weight PAD_OFFSET drives the padding positions to
    tanh = -1, which no real position exceeds downwards), so no elementwise pass over the
    [batch, filters, time] activations is needed besides the tanh."""

    def __init__(self, in_dim, num_filters, win_size):
        super().__init__()
        self.win_size = win_size
        self.weight = self.create_parameter([win_size * in_dim, num_filters])
        self.bias = self.create_parameter([num_filters], is_bias=True)

    def forward(self, x, mask):
        """x [B, T, in_dim] (zero at padding), mask [B, T, 1] float (1 at real words) -> [B, num_filters]."""
        before, after = self.win_size // 2, self.win_size - 1 - self.win_size // 2
        zero = paddle.zeros_like(x[:, :1])  # (F.pad of a [B, T, D] tensor pads the wrong axis once exported)
        padded = paddle.concat([zero] * before + [x] + [zero] * after, axis=1)
        # window t = padded rows t .. t + win - 1, gathered in one op and laid side by side
        starts = paddle.arange(paddle.shape(x)[1], dtype="int64").unsqueeze(1)
        index = (starts + paddle.arange(self.win_size, dtype="int64").unsqueeze(0)).flatten()
        windows = paddle.gather(padded, index, axis=1).reshape([0, -1, self.win_size * x.shape[2]])
        inputs = paddle.concat([windows, paddle.ones_like(mask), 1.0 - mask], axis=-1)
        weight = paddle.concat([self.weight, self.bias.unsqueeze(0),
                                paddle.full([1, self.weight.shape[1]], PAD_OFFSET, dtype=self.weight.dtype)], axis=0)
        hidden = paddle.matmul(weight, inputs, transpose_x=True, transpose_y=True).tanh()  # [B, filters, T]
        return F.adaptive_max_pool1d(hidden, 1).squeeze(-1)


class TagSpace(nn.Layer):
    def __init__(self, num_words, num_tags, padding_idx=None, emb_dim=10, hid_dim=1000, win_size=5,
                 sparse=True):
        super().__init__()
        self.text_emb = nn.Embedding(num_words, emb_dim, padding_idx=padding_idx, sparse=sparse)
        self.cnn = SequenceConvPool(emb_dim, hid_dim, win_size)
        self.text_hid = nn.Linear(hid_dim, emb_dim)
        self.tag_emb = nn.Embedding(num_tags, emb_dim, sparse=sparse)
        self.num_tags = num_tags

    def encode(self, ids, lengths):
        """ids [B, T], lengths [B] (int64) -> text vectors [B, emb_dim]."""
        mask = sequence_mask(lengths, ids.shape[1]).astype("float32").unsqueeze(-1)
        return self.text_hid(self.cnn(self.text_emb(ids) * mask, mask))

    def forward(self, ids, lengths):
        """Cosine of each text with every tag: [B, num_tags], one matrix product."""
        text = F.normalize(self.encode(ids, lengths), axis=-1)
        return paddle.matmul(text, F.normalize(self.tag_emb.weight, axis=-1), transpose_y=True)


class MarginRankingLoss(nn.Layer):
    """The training objective around a TagSpace model (what DataParallel wraps): the hinge loss of
    the true tag against the hardest of the sampled negative tags."""

    def __init__(self, model, margin=0.1):
        super().__init__()
        self.model, self.margin = model, margin

    def forward(self, ids, lengths, pos_tags, neg_tags):
        """pos_tags [B], neg_tags [B, K] (int64) -> mean hinge loss (a scalar)."""
        text = F.normalize(self.model.encode(ids, lengths), axis=-1)
        tags = F.normalize(self.model.tag_emb(paddle.concat([pos_tags.unsqueeze(1), neg_tags], axis=1)), axis=-1)
        cos = (tags * text.unsqueeze(1)).sum(axis=-1)  # [B, 1 + K]
        return F.relu(self.margin - cos[:, 0] + cos[:, 1:].max(axis=1)).mean()


def sample_negatives(pos_tags, num_tags, neg_size):
    """neg_size tags per text drawn uniformly (with replacement) from the tags other than its own, as
    the release's reader drew them."""
    offset = paddle.randint(1, num_tags, [pos_tags.shape[0], neg_size], dtype="int64")
    return (pos_tags.unsqueeze(1) + offset) % num_tags
