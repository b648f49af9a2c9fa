"""PointNet++ in plain Paddle ops, vectorised over points (no Python loop over points; farthest point
sampling loops over the samples it picks, each step vectorised over every point): farthest point
sampling, ball query, grouping, three-nearest-neighbour interpolation, and the set-abstraction (SA,
multi-scale grouping) and feature-propagation (FP) layers built on them.

Tensors are channels-last: xyz [B, N, 3], features [B, N, C]. The shared MLPs are 1x1 convolutions,
written as Linear layers over the last axis (the same weights: C_in x C_out, no bias when BatchNorm
follows, as the release's SharedMLP).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def farthest_point_sample(xyz, npoint):
    """[B, npoint] int64 indices: start at point 0 (as the CUDA op does), then repeatedly the point
    farthest from those picked. A while loop on a tensor counter, so that paddle.jit.to_static makes it
    one while op rather than npoint unrolled copies."""
    if paddle.in_dynamic_mode() and xyz.place.is_cpu_place():
        # the same picks in numpy: 4-5x faster on a CPU than a loop of small Paddle ops (a GPU keeps the loop)
        return paddle.to_tensor(_fps_numpy(xyz.numpy(), npoint))
    b, n = xyz.shape[0], xyz.shape[1]
    distance = paddle.full([b, n], 1e10, dtype=xyz.dtype)
    farthest = paddle.zeros([b], dtype="int64")
    picked = paddle.zeros([b, npoint], dtype="int64")
    i = paddle.zeros([1], dtype="int64")
    while i < npoint:
        picked = paddle.put_along_axis(picked, i.expand([b]).unsqueeze(1), farthest.unsqueeze(1), 1)
        centre = paddle.take_along_axis(xyz, farthest.reshape([-1, 1, 1]).expand([b, 1, 3]), 1)
        distance = paddle.minimum(distance, ((xyz - centre) ** 2).sum(-1))
        farthest = paddle.argmax(distance, -1)
        i = i + 1
    return picked


def _fps_numpy(xyz, npoint):
    """farthest_point_sample on a numpy [B, N, 3] array (float32 throughout, as the Paddle loop)."""
    b, n = xyz.shape[0], xyz.shape[1]
    rows = np.arange(b)
    distance = np.full((b, n), 1e10, np.float32)
    farthest = np.zeros(b, np.int64)
    picked = np.zeros((b, npoint), np.int64)
    for i in range(npoint):
        picked[:, i] = farthest
        centre = xyz[rows, farthest][:, None]
        distance = np.minimum(distance, ((xyz - centre) ** 2).sum(-1))
        farthest = distance.argmax(-1)
    return picked


def square_distance(a, b):
    """[B, S, N] squared distances between a [B, S, 3] and b [B, N, 3], as |a|^2 + |b|^2 - 2 a.b (one
    matrix product; clipped at 0 against rounding)."""
    d = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(1) - 2 * paddle.matmul(a, b, transpose_y=True)
    return paddle.clip(d, min=0.0)


def ball_query(radius, nsample, xyz, new_xyz, d2=None):
    """[B, S, nsample] indices of points of xyz within radius of each new_xyz centre, the first
    nsample in index order (as the CUDA op), the first one repeated when there are fewer. d2: the
    centres' square distances to the points, when already computed."""
    n = xyz.shape[1]
    d2 = square_distance(new_xyz, xyz) if d2 is None else d2
    index = paddle.arange(n, dtype="int64").reshape([1, 1, n]).expand(d2.shape)
    key = paddle.where(d2 < radius * radius, index, paddle.full_like(index, n))
    first, _ = paddle.topk(key, nsample, axis=-1, largest=False)
    return paddle.where(first == n, first[:, :, :1].expand(first.shape), first)


def gather_points(features, idx):
    """features [B, N, C] at idx [B, ...] -> [B, ..., C]."""
    b, n, c = features.shape
    offset = (paddle.arange(b, dtype="int64") * n).reshape([b] + [1] * (len(idx.shape) - 1))
    flat = paddle.gather(features.reshape([-1, c]), (idx + offset).reshape([-1]))
    return flat.reshape(list(idx.shape) + [c])


def three_nn_interpolate(unknown, known, known_features):
    """Features at unknown [B, n, 3] from the three nearest known [B, m, 3] points, weighted by the
    inverse of their distance (normalised): [B, n, C]."""
    d2 = square_distance(unknown, known)
    d2, idx = paddle.topk(d2, 3, axis=-1, largest=False)
    weight = 1.0 / (paddle.sqrt(paddle.clip(d2, min=0)) + 1e-8)
    weight = weight / weight.sum(-1, keepdim=True)
    return (gather_points(known_features, idx) * weight.unsqueeze(-1)).sum(2)


def max_over(x, axis):
    """The maximum over an axis, as argmax + take_along_axis: the same values and gradient, but on the
    CPU Paddle 3.3.1's max/amax backward is 15x slower (2 s for a [64, 32, 16, 64] tensor, measured)."""
    idx = paddle.argmax(x, axis, keepdim=True)
    return paddle.take_along_axis(x, idx, axis).squeeze(axis)


class SharedMLP(nn.Layer):
    """1x1 convolutions over the last axis, each with BatchNorm and ReLU (bn), or with a bias and ReLU."""

    def __init__(self, channels, bn=True):
        super().__init__()
        self.bn = bn
        self.linears = nn.LayerList([nn.Linear(a, b, bias_attr=False if bn else None)
                                     for a, b in zip(channels[:-1], channels[1:])])
        self.norms = nn.LayerList([nn.BatchNorm1D(b) for b in channels[1:]]) if bn else None

    def forward(self, x):
        shape = x.shape
        x = x.reshape([-1, shape[-1]])
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if self.bn:
                x = self.norms[i](x)
            x = F.relu(x)
        return x.reshape(list(shape[:-1]) + [x.shape[-1]])


class SetAbstraction(nn.Layer):
    """Sample npoint centres by FPS (npoint None: one centre at the origin, grouping every point),
    group the points within each radius (their xyz relative to the centre, plus their features), run
    the scale's shared MLP and max-pool over the group; the scales' outputs are concatenated."""

    def __init__(self, npoint, radii, nsamples, mlps, in_channels, bn=True):
        super().__init__()
        self.npoint, self.radii, self.nsamples = npoint, radii, nsamples
        self.mlps = nn.LayerList([SharedMLP([in_channels + 3] + list(m), bn) for m in mlps])
        self.out_channels = sum(m[-1] for m in mlps)

    def forward(self, xyz, features):
        if self.npoint is None:
            new_xyz = paddle.zeros([xyz.shape[0], 1, 3], xyz.dtype)
            grouped = xyz.unsqueeze(1)
            grouped = grouped if features is None else paddle.concat([grouped, features.unsqueeze(1)], -1)
            return new_xyz, max_over(self.mlps[0](grouped), 2)
        new_xyz = gather_points(xyz, farthest_point_sample(xyz, self.npoint))
        outs, d2 = [], square_distance(new_xyz, xyz)  # shared by the scales
        for radius, nsample, mlp in zip(self.radii, self.nsamples, self.mlps):
            idx = ball_query(radius, nsample, xyz, new_xyz, d2)
            grouped = gather_points(xyz, idx) - new_xyz.unsqueeze(2)
            if features is not None:
                grouped = paddle.concat([grouped, gather_points(features, idx)], -1)
            outs.append(max_over(mlp(grouped), 2))
        return new_xyz, paddle.concat(outs, -1)


class FeaturePropagation(nn.Layer):
    """Interpolate the coarse level's features to the finer points, concatenate the finer level's own
    features, shared MLP."""

    def __init__(self, channels, bn=True):
        super().__init__()
        self.mlp = SharedMLP(channels, bn)

    def forward(self, unknown, known, unknown_features, known_features):
        x = three_nn_interpolate(unknown, known, known_features)
        if unknown_features is not None:
            x = paddle.concat([x, unknown_features], -1)
        return self.mlp(x)


class PointNet2MSG(nn.Layer):
    """The RPN backbone (the release's pointnet2_msg): four MSG set abstractions, four feature
    propagations back to every input point; returns per-point features [B, N, FP_MLPS[0][-1]]."""

    def __init__(self, cfg, in_channels=0):
        super().__init__()
        self.sa = nn.LayerList()
        skip, channels = [in_channels], in_channels
        for npoint, radii, nsamples, mlps in zip(cfg["npoints"], cfg["radius"], cfg["nsample"], cfg["mlps"]):
            layer = SetAbstraction(npoint, radii, nsamples, mlps, channels)
            self.sa.append(layer)
            channels = layer.out_channels
            skip.append(channels)
        fp = cfg["fp_mlps"]
        self.fp = nn.LayerList()
        for k in range(len(fp)):
            before = fp[k + 1][-1] if k + 1 < len(fp) else channels
            self.fp.append(FeaturePropagation([before + skip[k]] + list(fp[k])))
        self.out_channels = fp[0][-1]

    def forward(self, xyz, features=None):
        xyzs, feats = [xyz], [features]
        for layer in self.sa:
            new_xyz, new_features = layer(xyzs[-1], feats[-1])
            xyzs.append(new_xyz)
            feats.append(new_features)
        for i in range(len(self.fp) - 1, -1, -1):
            feats[i] = self.fp[i](xyzs[i], xyzs[i + 1], feats[i], feats[i + 1])
        return feats[0]
