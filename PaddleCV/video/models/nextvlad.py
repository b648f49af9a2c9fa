"""NeXtVLAD (the release's NEXTVLAD for YouTube-8M, Lin et al. 2018): per modality, every frame is expanded
(x lambda), split into G groups, and each group softly assigned to K clusters (softmax over the clusters,
batch-normalised logits) and weighted by a sigmoid group attention; the VLAD is the sum over frames and
groups of assignment x (group feature - cluster centre), L2-normalised per cluster and batch-normalised.
Both modalities' VLADs are concatenated, dropped out, projected to the hidden size (no bias, batch norm)
and gated by a squeeze-and-excitation context gate (hidden/8, ReLU, sigmoid), then a logit layer.
Padded frames are masked out of the VLAD (the batch-norm statistics of the assignment include them).

Release config (configs/nextvlad.yaml): cluster_size 128, expansion 2, groups 8, hidden 2048, gating reduction 8,
dropout 0.5, 3862 classes.
"""
import contextlib

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.attention_lstm import length_mask

RELEASE = dict(cluster_size=128, expansion=2, groups=8, hidden=2048, gating_reduction=8, drop_rate=0.5)
DEMO = dict(cluster_size=16, expansion=2, groups=4, hidden=128, gating_reduction=4, drop_rate=0.2)


class NeXtVLADPooling(nn.Layer):
    def __init__(self, feature_dim, cluster_size, expansion, groups):
        super().__init__()
        self.k, self.g = cluster_size, groups
        self.d = expansion * feature_dim // groups
        init = nn.initializer.KaimingNormal()
        self.expand = nn.Linear(feature_dim, expansion * feature_dim)
        self.group_attention = nn.Linear(expansion * feature_dim, groups)
        self.assign = self.create_parameter([expansion * feature_dim, groups * cluster_size], default_initializer=init)
        self.assign_bn = nn.BatchNorm1D(groups * cluster_size)
        self.centres = self.create_parameter([cluster_size, self.d], default_initializer=init)
        self.vlad_bn = nn.BatchNorm1D(cluster_size * self.d)

    def forward(self, x, mask):
        b, t = x.shape[0], x.shape[1]
        x = self.expand(x)  # [B, T, lambda F]
        attention = F.sigmoid(self.group_attention(x)) * mask.unsqueeze(-1)  # [B, T, G]
        logits = paddle.matmul(x, self.assign)  # [B, T, G K]
        logits = self.assign_bn(logits.transpose([0, 2, 1])).transpose([0, 2, 1])
        assign = F.softmax(logits.reshape([b, t, self.g, self.k]), axis=-1) * attention.unsqueeze(-1)
        assign = assign.reshape([b, t * self.g, self.k])  # [B, T G, K]
        mass = assign.sum(axis=1)  # [B, K]
        vlad = paddle.matmul(assign, x.reshape([b, t * self.g, self.d]), transpose_x=True)  # [B, K, D]
        vlad = vlad - mass.unsqueeze(-1) * self.centres
        vlad = F.normalize(vlad, axis=-1)
        return self.vlad_bn(vlad.flatten(1))


class NeXtVLAD(nn.Layer):
    def __init__(self, num_classes, feature_dims=(1024, 128), cluster_size=128, expansion=2, groups=8, hidden=2048,
                 gating_reduction=8, drop_rate=0.5, lazy=False):
        super().__init__()
        with paddle.LazyGuard() if lazy else contextlib.nullcontext():
            self.rgb = NeXtVLADPooling(feature_dims[0], cluster_size, expansion, groups)
            self.audio = NeXtVLADPooling(feature_dims[1], cluster_size, expansion, groups)
            vlad_dim = cluster_size * expansion * sum(feature_dims) // groups
            self.dropout = nn.Dropout(drop_rate)
            self.hidden = nn.Linear(vlad_dim, hidden, bias_attr=False)
            self.hidden_bn = nn.BatchNorm1D(hidden)
            self.gate1 = nn.Linear(hidden, hidden // gating_reduction, bias_attr=False)
            self.gate_bn = nn.BatchNorm1D(hidden // gating_reduction)
            self.gate2 = nn.Linear(hidden // gating_reduction, hidden, bias_attr=False)
            self.logits = nn.Linear(hidden, num_classes)

    def forward(self, rgb, audio, lengths):
        mask = length_mask(lengths, rgb.shape[1])
        x = self.dropout(paddle.concat([self.rgb(rgb, mask), self.audio(audio, mask)], axis=1))
        h = self.hidden_bn(self.hidden(x))
        gates = F.sigmoid(self.gate2(F.relu(self.gate_bn(self.gate1(h)))))
        return self.logits(h * gates)
