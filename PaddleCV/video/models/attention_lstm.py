"""Attention LSTM (the release's AttentionLSTM for YouTube-8M): per modality (RGB 1024-d, audio 128-d) a tanh
embedding of every frame, a bidirectional LSTM over the frames, and attention pooling (a softmax over the
valid frames of a one-unit score); the pooled modalities are concatenated and classified by two fully
connected layers (ReLU, tanh) and a multi-label logit layer.

Release config (configs/attention_lstm.yaml): embedding 512, lstm 1024, fc 8192 and 4096, dropout 0.5,
3862 classes. The release's dynamic_lstm has peephole connections (3 x 1024 more weights per direction);
nn.LSTM has none, so this model has 12,288 fewer parameters than the release's.
"""
import contextlib

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

RELEASE = dict(embedding=512, lstm=1024, fc=(8192, 4096), drop_rate=0.5)
DEMO = dict(embedding=64, lstm=64, fc=(256, 128), drop_rate=0.2)


def length_mask(lengths, steps):
    """[B, T] float mask, 1 on the first lengths[b] frames."""
    return (paddle.arange(steps, dtype="int64").unsqueeze(0) < lengths.unsqueeze(1)).astype("float32")


class AttentionPooledBiLSTM(nn.Layer):
    def __init__(self, feature_dim, embedding, lstm, drop_rate, lazy=False):
        super().__init__()
        guard = paddle.LazyGuard if lazy else contextlib.nullcontext
        with guard():
            self.embed = nn.Linear(feature_dim, embedding)
            self.score = nn.Linear(2 * lstm, 1)
        self.lstm = nn.LSTM(embedding, lstm, direction="bidirect")  # cannot be built under LazyGuard
        self.dropout = nn.Dropout(drop_rate)

    def forward(self, x, lengths):
        h, _ = self.lstm(paddle.tanh(self.embed(x)), sequence_length=lengths)
        h = self.dropout(h)
        mask = length_mask(lengths, x.shape[1])
        scores = self.score(h).squeeze(-1) + (mask - 1.0) * 1e9  # padded frames get no weight
        weights = F.softmax(scores, axis=1)
        return (h * weights.unsqueeze(-1)).sum(axis=1)


class AttentionLSTM(nn.Layer):
    def __init__(self, num_classes, feature_dims=(1024, 128), embedding=512, lstm=1024, fc=(8192, 4096),
                 drop_rate=0.5, lazy=False):
        super().__init__()
        self.rgb = AttentionPooledBiLSTM(feature_dims[0], embedding, lstm, drop_rate, lazy)
        self.audio = AttentionPooledBiLSTM(feature_dims[1], embedding, lstm, drop_rate, lazy)
        with paddle.LazyGuard() if lazy else contextlib.nullcontext():
            self.fc1 = nn.Linear(4 * lstm, fc[0])
            self.fc2 = nn.Linear(fc[0], fc[1])
            self.logits = nn.Linear(fc[1], num_classes)

    def forward(self, rgb, audio, lengths):
        x = paddle.concat([self.rgb(rgb, lengths), self.audio(audio, lengths)], axis=1)
        return self.logits(paddle.tanh(self.fc2(F.relu(self.fc1(x)))))
