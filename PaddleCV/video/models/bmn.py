"""BMN: Boundary-Matching Network for temporal action proposal generation (Lin et al., ICCV 2019,
https://arxiv.org/abs/1907.09702), the PaddlePaddle release's configuration (configs/bmn.yaml).

features [B, feat_dim, T] -> base module (two grouped 1-D convolutions)
  -> temporal evaluation module: start and end probabilities [B, T]
  -> proposal evaluation module: a 1-D convolution, the boundary-matching layer (one matmul with the fixed
     sampling-mask matrix [T, N x D x T]: for every proposal (start t, duration d+1) N points sampled over
     the proposal extended by prop_boundary_ratio of its length at each side, each point the mean of
     num_sample_perbin linear interpolations), a 3-D convolution over the N points, 2-D convolutions
  -> the boundary-matching confidence map [B, 2, D, T] (channel 0: regression target = IoU, channel 1:
     classification), entry (d, t) for the proposal [t, t + d + 1] in units of T.

Release configuration: tscale = dscale = 100, feat_dim 400, hidden 256 / 128 / 512, num_sample 32,
num_sample_perbin 3, prop_boundary_ratio 0.5: 2,782,980 parameters (tests/test_localization.py).
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def release_config():
    return dict(feat_dim=400, tscale=100, dscale=100, hidden_1d=256, hidden_2d=128, hidden_3d=512,
                num_sample=32, num_sample_perbin=3, prop_boundary_ratio=0.5, groups=4)


def demo_config():
    return dict(feat_dim=400, tscale=32, dscale=32, hidden_1d=64, hidden_2d=32, hidden_3d=64,
                num_sample=8, num_sample_perbin=3, prop_boundary_ratio=0.5, groups=4)


def sampling_mask(tscale, dscale, prop_boundary_ratio, num_sample, per_bin):
    """The boundary-matching layer's fixed matrix [tscale, num_sample * dscale * tscale], laid out so that
    features [B, C, T] @ mask reshapes to [B, C, num_sample, dscale, tscale].

    Proposal (d, t) spans [t, t + d] (d + 1 steps); it is extended by prop_boundary_ratio x (d + 1) at each
    side, num_sample x per_bin points are spaced evenly over that span (both ends included), and sample k is
    the mean of the linear interpolations at its per_bin points. As the release (math.modf), a point x is
    split between trunc(x) (weight 1 - frac) and ceil(x) (weight frac), frac = x - trunc(x), indices outside
    [0, tscale) dropped: a point in (-1, 0) puts its whole weight on 0. Proposals running past the end
    (t + d >= tscale) have all-zero columns."""
    t, d = np.meshgrid(np.arange(tscale), np.arange(dscale), indexing="ij")  # [T, D]
    length = d + 1.0
    xmin = t - length * prop_boundary_ratio
    xmax = t + d + length * prop_boundary_ratio
    points = num_sample * per_bin
    x = xmin[..., None] + (xmax - xmin)[..., None] / (points - 1.0) * np.arange(points)  # [T, D, points]
    low, high = np.trunc(x), np.ceil(x)
    frac = x - low
    k = np.broadcast_to(np.arange(points) // per_bin, x.shape)
    tt = np.broadcast_to(t[..., None], x.shape)
    dd = np.broadcast_to(d[..., None], x.shape)
    valid = np.broadcast_to((t + d < tscale)[..., None], x.shape)
    mask = np.zeros([tscale, num_sample, dscale, tscale], dtype=np.float32)
    for index, weight in ((low, 1.0 - frac), (high, frac)):
        ok = valid & (index >= 0) & (index <= tscale - 1)
        np.add.at(mask, (index[ok].astype(np.int64), k[ok], dd[ok], tt[ok]), weight[ok])
    return (mask / per_bin).reshape(tscale, -1)


def valid_map(tscale, dscale):
    """[dscale, tscale]: 1 where the proposal (d, t) ends inside the sequence (t + d < tscale)."""
    d, t = np.meshgrid(np.arange(dscale), np.arange(tscale), indexing="ij")
    return (t + d < tscale).astype(np.float32)


def _uniform_init(fan_in):
    k = 1.0 / math.sqrt(fan_in)
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-k, k))


def conv1d(cin, cout, k, groups=1):
    """The release's 1-D convolution: U(-1/sqrt(cin k), 1/sqrt(cin k)) for the weight and the bias."""
    return nn.Conv1D(cin, cout, k, padding=k // 2, groups=groups, weight_attr=_uniform_init(cin * k),
                     bias_attr=_uniform_init(cin * k))


class BMN(nn.Layer):
    def __init__(self, feat_dim=400, tscale=100, dscale=100, hidden_1d=256, hidden_2d=128, hidden_3d=512,
                 num_sample=32, num_sample_perbin=3, prop_boundary_ratio=0.5, groups=4, build_mask=True):
        """build_mask=False skips the sampling matrix (128 MB at the release size; a parameter count needs
        no forward)."""
        super().__init__()
        self.tscale, self.dscale, self.num_sample = tscale, dscale, num_sample
        self.base = nn.Sequential(conv1d(feat_dim, hidden_1d, 3, groups), nn.ReLU(),
                                  conv1d(hidden_1d, hidden_1d, 3, groups), nn.ReLU())
        self.tem_start = nn.Sequential(conv1d(hidden_1d, hidden_1d, 3, groups), nn.ReLU(),
                                       conv1d(hidden_1d, 1, 1), nn.Sigmoid())
        self.tem_end = nn.Sequential(conv1d(hidden_1d, hidden_1d, 3, groups), nn.ReLU(),
                                     conv1d(hidden_1d, 1, 1), nn.Sigmoid())
        self.pem_1d = nn.Sequential(conv1d(hidden_1d, hidden_2d, 3), nn.ReLU())
        self.pem_3d = nn.Sequential(nn.Conv3D(hidden_2d, hidden_3d, (num_sample, 1, 1), stride=(num_sample, 1, 1)),
                                    nn.ReLU())
        self.pem_2d = nn.Sequential(nn.Conv2D(hidden_3d, hidden_2d, 1), nn.ReLU(),
                                    nn.Conv2D(hidden_2d, hidden_2d, 3, padding=1), nn.ReLU(),
                                    nn.Conv2D(hidden_2d, hidden_2d, 3, padding=1), nn.ReLU(),
                                    nn.Conv2D(hidden_2d, 2, 1), nn.Sigmoid())
        # buffers, not parameters: rebuilt from the configuration, so not saved either
        if build_mask:
            self.register_buffer("sample_mask", paddle.to_tensor(
                sampling_mask(tscale, dscale, prop_boundary_ratio, num_sample, num_sample_perbin)),
                persistable=False)
        self.register_buffer("bm_mask", paddle.to_tensor(valid_map(tscale, dscale)), persistable=False)

    def forward(self, features):
        """features [B, feat_dim, T] -> (confidence map [B, 2, D, T], start [B, T], end [B, T])."""
        x = self.base(features)
        start = self.tem_start(x).squeeze(1)
        end = self.tem_end(x).squeeze(1)
        p = self.pem_1d(x)
        p = paddle.matmul(p, self.sample_mask).reshape([0, 0, self.num_sample, self.dscale, self.tscale])
        p = self.pem_3d(p).squeeze(2)
        return self.pem_2d(p), start, end

    def loss(self, features, gt_iou_map, gt_start, gt_end):
        """The release's BMN loss: TEM (weighted binary logistic on start and end) + 10 x PEM regression
        (weighted MSE on the IoU map) + PEM classification (weighted binary logistic at IoU > 0.9)."""
        bm, start, end = self(features)
        tem = tem_loss(start, gt_start) + tem_loss(end, gt_end)
        reg = pem_reg_loss(bm[:, 0], gt_iou_map, self.bm_mask)
        cls = pem_cls_loss(bm[:, 1], gt_iou_map, self.bm_mask)
        return tem + 10.0 * reg + cls, {"tem": tem, "pem_reg": reg, "pem_cls": cls}


def binary_logistic(pred, positive, negative, eps=1e-6):
    """-(coef_1 sum(log p) over positives + coef_0 sum(log(1 - p)) over negatives) / entries, with
    ratio = entries / positives, coef_1 = ratio / 2 and coef_0 = ratio / 2 / (ratio - 1): both classes weigh
    half, whatever their frequency."""
    entries = positive.sum() + negative.sum()
    num_pos = paddle.clip(positive.sum(), min=1.0)
    ratio = entries / num_pos
    coef_0 = 0.5 * ratio / paddle.clip(ratio - 1.0, min=1e-6)
    coef_1 = 0.5 * ratio
    loss = coef_1 * positive * paddle.log(pred + eps) + coef_0 * negative * paddle.log(1.0 - pred + eps)
    return -loss.sum() / entries


def tem_loss(pred, gt):
    positive = (gt > 0.5).astype("float32")
    return binary_logistic(pred, positive, 1.0 - positive)


def pem_cls_loss(pred, gt_iou, mask):
    positive = (gt_iou > 0.9).astype("float32")
    return binary_logistic(pred, positive, (gt_iou <= 0.9).astype("float32") * mask)


def pem_reg_loss(pred, gt_iou, mask):
    """MSE over all proposals of IoU > 0.7 and random samples, as many in expectation, of those of
    0.3 < IoU <= 0.7 and of those of IoU <= 0.3, as the release samples them."""
    gt_iou = gt_iou * mask
    high = (gt_iou > 0.7).astype("float32")
    mid = ((gt_iou <= 0.7) & (gt_iou > 0.3)).astype("float32")
    low = (gt_iou <= 0.3).astype("float32") * mask
    num_h, num_m, num_l = high.sum(), mid.sum(), low.sum()
    keep_m = mid * (paddle.rand(gt_iou.shape) > 1.0 - num_h / paddle.clip(num_m, min=1.0)).astype("float32")
    keep_l = low * (paddle.rand(gt_iou.shape) > 1.0 - num_h / paddle.clip(num_l, min=1.0)).astype("float32")
    weights = (high + keep_m + keep_l).detach()
    return 0.5 * (paddle.square(pred - gt_iou) * weights).sum() / paddle.clip(weights.sum(), min=1.0)
