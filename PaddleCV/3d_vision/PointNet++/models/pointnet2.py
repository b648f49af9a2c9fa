"""PointNet++ (Qi et al. 2017, https://arxiv.org/abs/1706.02413): set abstraction (single- and
multi-scale grouping), feature propagation, and the classification and segmentation networks with
the layer configuration of the PaddlePaddle release (models/pointnet2_cls.py, pointnet2_seg.py).

Shared point-wise MLPs are Linear layers without bias + BatchNorm + ReLU on channel-last tensors
(the release's 1x1 conv2d + batch_norm, the same parameters). `width` scales every MLP's channels
and `npoint_scale` every layer's centre count, for small CPU runs; 1.0 is the release's network.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from . import ops

# (npoint, radii, nsamples, mlps) per set abstraction; npoint None groups all points.
CLS_SSG = [(512, [0.2], [64], [[64, 64, 128]]),
           (128, [0.4], [64], [[128, 128, 256]]),
           (None, [None], [None], [[256, 512, 1024]])]
CLS_MSG = [(512, [0.1, 0.2, 0.4], [16, 32, 128], [[32, 32, 64], [64, 64, 128], [64, 96, 128]]),
           (128, [0.2, 0.4, 0.8], [32, 64, 128], [[64, 64, 128], [128, 128, 256], [128, 128, 256]]),
           (None, [None], [None], [[256, 512, 1024]])]
SEG_SSG = [(1024, [0.1], [32], [[32, 32, 64]]),
           (256, [0.2], [32], [[64, 64, 128]]),
           (64, [0.4], [32], [[128, 128, 256]]),
           (16, [0.8], [32], [[256, 256, 512]])]
SEG_SSG_FP = [[128, 128, 128], [256, 128], [256, 256], [256, 256]]  # FP i brings level i+1 to level i
SEG_MSG = [(1024, [0.05, 0.1], [16, 32], [[16, 16, 32], [32, 32, 64]]),
           (256, [0.1, 0.2], [16, 32], [[64, 64, 128], [64, 96, 128]]),
           (64, [0.2, 0.4], [16, 32], [[128, 196, 256], [128, 196, 256]]),
           (16, [0.4, 0.8], [16, 32], [[256, 256, 512], [256, 384, 512]])]
SEG_MSG_FP = [[128, 128], [256, 256], [512, 512], [512, 512]]


def scaled(channels, width):
    return [max(4, int(round(c * width))) for c in channels]


class SharedMLP(nn.Layer):
    """Point-wise Linear (no bias) + BatchNorm + ReLU layers over the last axis of any [..., C] tensor."""

    def __init__(self, in_channels, channels, bn_momentum=0.99):
        super().__init__()
        layers = []
        for c in channels:
            layers += [nn.Linear(in_channels, c, bias_attr=False), nn.BatchNorm1D(c, momentum=bn_momentum), nn.ReLU()]
            in_channels = c
        self.layers = nn.Sequential(*layers)
        self.out_channels = in_channels

    def forward(self, x):
        shape = x.shape
        y = self.layers(x.reshape([-1, shape[-1]]))
        return y.reshape(list(shape[:-1]) + [self.out_channels]) if len(shape) > 2 else y


def max_over_neighbours(x):
    """[B, S, K, C] -> [B, S, C], the max over K. adaptive_max_pool2d, because the backward of
    paddle.max/amax over an inner axis takes seconds on the CPU (measured: 5 s vs 0.02 s)."""
    s, k, c = x.shape[1], x.shape[2], x.shape[3]
    return F.adaptive_max_pool2d(x.reshape([-1, 1, k, c]), [1, c]).reshape([-1, s, c])


class SetAbstraction(nn.Layer):
    """Sample npoint centres by farthest point sampling, group each radius's neighbours (multi-scale
    when several radii), run each scale's MLP and max-pool over the neighbours; npoint None groups
    all points around the origin (the global feature)."""

    def __init__(self, npoint, radii, nsamples, mlps, in_channels, use_xyz=True, bn_momentum=0.99):
        super().__init__()
        self.npoint, self.radii, self.nsamples, self.use_xyz = npoint, radii, nsamples, use_xyz
        extra = 3 if use_xyz or in_channels == 0 else 0
        self.mlps = nn.LayerList([SharedMLP(in_channels + extra, mlp, bn_momentum) for mlp in mlps])
        self.out_channels = sum(m.out_channels for m in self.mlps)

    def forward(self, xyz, features=None):
        if self.npoint is None:
            grouped = xyz if features is None else (
                paddle.concat([xyz, features], -1) if self.use_xyz else features)
            return None, paddle.concat([max_over_neighbours(m(grouped).unsqueeze(1))[:, 0] for m in self.mlps], -1)
        centres = ops.gather_points(xyz, ops.farthest_point_sample(xyz, self.npoint))
        outs = []
        for radius, nsample, mlp in zip(self.radii, self.nsamples, self.mlps):
            idx = ops.ball_query(xyz, centres, radius, nsample)
            outs.append(max_over_neighbours(mlp(ops.group(xyz, centres, idx, features, self.use_xyz))))
        return centres, paddle.concat(outs, -1)


class FeaturePropagation(nn.Layer):
    """Interpolate the coarse level's features onto the finer level's points (three nearest
    neighbours, inverse distance), concatenate the finer level's own features, run the MLP."""

    def __init__(self, in_channels, mlp, bn_momentum=0.99):
        super().__init__()
        self.mlp = SharedMLP(in_channels, mlp, bn_momentum)
        self.out_channels = self.mlp.out_channels

    def forward(self, unknown, known, unknown_features, known_features):
        x = ops.three_nn_interpolate(unknown, known, known_features)
        if unknown_features is not None:
            x = paddle.concat([x, unknown_features], -1)
        return self.mlp(x)


def _abstractions(config, in_channels, width, npoint_scale, bn_momentum):
    layers, channels = [], in_channels
    for npoint, radii, nsamples, mlps in config:
        npoint = None if npoint is None else max(1, int(round(npoint * npoint_scale)))
        layer = SetAbstraction(npoint, radii, nsamples, [scaled(m, width) for m in mlps], channels,
                               bn_momentum=bn_momentum)
        layers.append(layer)
        channels = layer.out_channels
    return nn.LayerList(layers)


class PointNet2Cls(nn.Layer):
    """points [B, N, 3 + in_channels] (xyz first) -> class logits [B, num_classes]."""
    task = "cls"

    def __init__(self, config, num_classes=40, in_channels=0, width=1.0, npoint_scale=1.0, bn_momentum=0.99):
        super().__init__()
        self.in_channels = in_channels
        self.sa = _abstractions(config, in_channels, width, npoint_scale, bn_momentum)
        c1, c2 = scaled([512, 256], width)
        self.head = nn.Sequential(
            nn.Linear(self.sa[-1].out_channels, c1, bias_attr=False), nn.BatchNorm1D(c1, momentum=bn_momentum),
            nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(c1, c2, bias_attr=False), nn.BatchNorm1D(c2, momentum=bn_momentum), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(c2, num_classes))

    def forward(self, points):
        xyz = points[:, :, :3]
        features = points[:, :, 3:3 + self.in_channels] if self.in_channels else None
        for sa in self.sa:
            xyz, features = sa(xyz, features)
        return self.head(features)


class PointNet2Seg(nn.Layer):
    """points [B, N, 3 + in_channels] (xyz first) -> per-point logits [B, N, num_classes]."""
    task = "seg"

    def __init__(self, config, fp_config, num_classes=13, in_channels=6, width=1.0, npoint_scale=1.0,
                 bn_momentum=0.99):
        super().__init__()
        self.in_channels = in_channels
        self.sa = _abstractions(config, in_channels, width, npoint_scale, bn_momentum)
        level_channels = [in_channels] + [sa.out_channels for sa in self.sa]
        fps, coarse = [None] * len(fp_config), level_channels[-1]
        for i in reversed(range(len(fp_config))):  # from the coarsest level down to the input points
            fps[i] = FeaturePropagation(coarse + level_channels[i], scaled(fp_config[i], width), bn_momentum)
            coarse = fps[i].out_channels
        self.fp = nn.LayerList(fps)
        c = scaled([128], width)[0]
        self.head = nn.Sequential(nn.Linear(coarse, c, bias_attr=False), nn.BatchNorm1D(c, momentum=bn_momentum),
                                  nn.ReLU(), nn.Dropout(0.5), nn.Linear(c, num_classes))

    def forward(self, points):
        xyz = points[:, :, :3]
        features = points[:, :, 3:3 + self.in_channels] if self.in_channels else None
        xyzs, feats = [xyz], [features]
        for sa in self.sa:
            xyz, features = sa(xyz, features)
            xyzs.append(xyz)
            feats.append(features)
        for i in reversed(range(len(self.fp))):
            feats[i] = self.fp[i](xyzs[i], xyzs[i + 1], feats[i], feats[i + 1])
        shape = feats[0].shape
        return self.head(feats[0].reshape([-1, shape[-1]])).reshape([-1, shape[1], self.head[-1].weight.shape[1]])
