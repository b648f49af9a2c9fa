"""Attention Cluster (the release's AttentionCluster for YouTube-8M): per modality, a cluster of C attention
units over the frames; each unit's attention-weighted sum of the frames is shifted (a learnt scale and
bias per unit), L2-normalised and divided by sqrt(C) ("shifting attention"); the units' outputs of both
modalities are concatenated, dropped out, and classified by two tanh layers (1024, 4096) and a logit layer.
The model sees --seg_num frames sampled from the video (random offsets in training, segment centres in
evaluation), as the release's reader does; the order of the frames does not matter to it.

Release config (configs/attention_cluster.yaml): cluster_nums [32, 32], seg_num 100, dropout 0.5, 3862 classes.
"""
import contextlib
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.attention_lstm import length_mask

RELEASE = dict(clusters=(32, 32), fc=(1024, 4096), drop_rate=0.5)
DEMO = dict(clusters=(4, 4), fc=(128, 128), drop_rate=0.2)


class ShiftingAttention(nn.Layer):
    def __init__(self, feature_dim, clusters):
        super().__init__()
        self.clusters = clusters
        self.score = nn.Linear(feature_dim, clusters)  # the release's 1x1 convolution over the frames
        std = math.sqrt(1.0 / math.sqrt(clusters))
        self.scale = self.create_parameter([clusters], default_initializer=nn.initializer.Normal(0.0, std))
        self.shift = self.create_parameter([clusters], default_initializer=nn.initializer.Normal(0.0, std))

    def forward(self, x, mask):
        scores = self.score(x) + (mask.unsqueeze(-1) - 1.0) * 1e9  # [B, T, C]
        weights = F.softmax(scores, axis=1)
        pooled = paddle.matmul(weights, x, transpose_x=True)  # [B, C, F]
        shifted = pooled * self.scale.unsqueeze(-1) + self.shift.unsqueeze(-1)
        out = F.normalize(shifted, axis=-1) / math.sqrt(self.clusters)
        return out.flatten(1)


class AttentionCluster(nn.Layer):
    def __init__(self, num_classes, feature_dims=(1024, 128), clusters=(32, 32), fc=(1024, 4096), drop_rate=0.5,
                 lazy=False):
        super().__init__()
        with paddle.LazyGuard() if lazy else contextlib.nullcontext():
            self.rgb = ShiftingAttention(feature_dims[0], clusters[0])
            self.audio = ShiftingAttention(feature_dims[1], clusters[1])
            self.dropout = nn.Dropout(drop_rate)
            self.fc1 = nn.Linear(feature_dims[0] * clusters[0] + feature_dims[1] * clusters[1], fc[0])
            self.fc2 = nn.Linear(fc[0], fc[1])
            self.logits = nn.Linear(fc[1], num_classes)

    def forward(self, rgb, audio, lengths):
        mask = length_mask(lengths, rgb.shape[1])
        x = self.dropout(paddle.concat([self.rgb(rgb, mask), self.audio(audio, mask)], axis=1))
        return self.logits(paddle.tanh(self.fc2(paddle.tanh(self.fc1(x)))))
