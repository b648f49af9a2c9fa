"""The text encoders of SimNet's representation models: ids [B, T] + lengths [B] -> vector [B, D].

Each one reads only up to each text's length, so the padding of a batch never changes a vector:
BOW sums the embeddings of the real words, CNN zeroes the padded positions before its convolution
(as the original sequence_conv saw zeros past a text's end) and max-pools over real positions only,
and the recurrent encoders run Paddle's fused nn.GRU / nn.LSTM with sequence_length and take the
state at each text's last word.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def length_mask(ids, lengths):
    """[B, T] float mask: 1 at the real words, 0 at the padding."""
    positions = paddle.arange(paddle.shape(ids)[1], dtype=lengths.dtype).unsqueeze(0)
    return (positions < lengths.unsqueeze(1)).astype("float32")


class BOWEncoder(nn.Layer):
    """Softsign of the sum of word embeddings."""

    def __init__(self, vocab_size, emb_dim=128):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.out_dim = emb_dim

    def forward(self, ids, lengths):
        emb = self.embedding(ids) * length_mask(ids, lengths).unsqueeze(-1)
        return F.softsign(emb.sum(axis=1))


class CNNEncoder(nn.Layer):
    """A width-`filter_size` convolution over the words, ReLU, max over the text's positions."""

    def __init__(self, vocab_size, emb_dim=128, filter_size=3, num_filters=256):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.conv = nn.Conv1D(emb_dim, num_filters, filter_size, padding=filter_size // 2, data_format="NLC")
        self.out_dim = num_filters

    def forward(self, ids, lengths):
        mask = length_mask(ids, lengths).unsqueeze(-1)
        features = F.relu(self.conv(self.embedding(ids) * mask))
        # ReLU outputs are >= 0, so zeroing the padded positions leaves the max over real ones.
        return (features * mask).max(axis=1)


class RNNEncoder(nn.Layer):
    """A one-layer GRU or LSTM; the vector is the hidden state after the text's last word."""

    def __init__(self, vocab_size, cell="gru", emb_dim=128, hidden_dim=128):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.cell = cell
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(emb_dim, hidden_dim)
        self.out_dim = hidden_dim

    def forward(self, ids, lengths):
        _, state = self.rnn(self.embedding(ids), sequence_length=lengths)
        hidden = state[0] if self.cell == "lstm" else state  # LSTM returns (h, c)
        return hidden[-1]
