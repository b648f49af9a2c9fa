"""MM-DNN, SimNet's interaction-based matcher (in the spirit of MatchPyramid,
https://arxiv.org/abs/1602.06359): both texts through a shared BiLSTM, their word-by-word dot-product
matrix, a 2-D convolution over it, max pooling to a dpool x dpool grid, then an MLP.

The texts are padded (or cut) to a fixed max_len (32 in the release config), since the grid pooling
needs one matrix size. The convolution's outputs outside the real words' block are set to a very
negative value before pooling (the release's match_mask), and the LSTM outputs are zero past each
text's end, so scores do not depend on how much padding there is.

One deliberate difference from the release code: it passes the max lengths (32 x 32) as the
convolution's kernel size although its config names a 3 x 3 window (window_size_left/right 3); here
the configured window is used.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .encoders import length_mask

MASKED = -2.0 ** 32 + 1  # the release's fill value for positions outside the texts


class MMDNN(nn.Layer):
    def __init__(self, vocab_size, task_mode, emb_dim=128, lstm_dim=128, num_filters=256, window=3,
                 dpool=2, hidden_dim=128, max_len=32):
        super().__init__()
        self.task_mode, self.fixed_len = task_mode, max_len
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, lstm_dim, direction="bidirect")
        self.conv = nn.Conv2D(1, num_filters, window, padding=window // 2)
        self.pool = nn.MaxPool2D(max_len // dpool, stride=max_len // dpool)
        self.fc = nn.Linear(num_filters * dpool * dpool, hidden_dim)
        # pointwise: logits of (dissimilar, similar); pairwise: one score, squashed to [-1, 1]
        self.out = nn.Linear(hidden_dim, 2 if task_mode == "pointwise" else 1)

    def encode(self, ids, lengths):
        out, _ = self.lstm(self.embedding(ids), sequence_length=lengths)
        return out  # zero past each length

    def forward(self, left, left_len, right, right_len, neg=None, neg_len=None):
        """Inputs are padded to max_len. Pointwise: logits [B, 2]; pairwise: score [B] in [-1, 1];
        with `neg`: (score of right, score of neg), both pairs in one batch."""
        if neg is not None:
            scores = self(paddle.concat([left, left]), paddle.concat([left_len, left_len]),
                          paddle.concat([right, neg]), paddle.concat([right_len, neg_len]))
            return tuple(paddle.split(scores, 2))
        cross = paddle.matmul(self.encode(left, left_len), self.encode(right, right_len), transpose_y=True)
        features = self.conv(cross.unsqueeze(1))  # [B, F, L, R]
        inside = length_mask(left, left_len).unsqueeze(2) * length_mask(right, right_len).unsqueeze(1)
        # Adding -2^32 outside the texts (one broadcast add over the big feature map, rather than a
        # select) keeps those cells far below any real one, so the max pooling never picks them.
        features = features + ((1 - inside) * MASKED).unsqueeze(1)
        hidden = paddle.tanh(self.fc(F.relu(self.pool(features)).flatten(1)))
        out = self.out(hidden)
        return out if self.task_mode == "pointwise" else paddle.tanh(out[:, 0])

    def similarity(self, left, left_len, right, right_len):
        """How similar the two texts are, in [0, 1]."""
        out = self(left, left_len, right, right_len)
        if self.task_mode == "pairwise":
            return (out + 1) / 2
        return F.softmax(out, axis=-1)[:, 1]
