"""PointRCNN (Shi, Wang and Li, CVPR 2019, https://arxiv.org/abs/1812.04244), the release's
configuration (PaddleCV/3d_vision/PointRCNN, cfgs/default.yml).

Stage one (RPN): a PointNet++ MSG backbone gives every point a feature; one head segments the
foreground (points inside a car; sigmoid focal loss), the other regresses a 3D box from every point
with the bin-based loss: x and z offsets as a bin of LOC_BIN_SIZE within +-LOC_SCOPE plus a residual
inside the bin, the y offset as a residual, the heading as one of NUM_HEAD_BIN bins over 360 degrees
plus a residual, the size as a residual relative to the mean car. Proposals: the boxes of the points,
best foreground score first, rotated BEV NMS.

Stage two (RCNN): the points inside each proposal enlarged by POOL_EXTRA_WIDTH are pooled (a fixed
count), moved to the proposal's canonical frame (origin at its bottom centre, x along its heading),
and carry the RPN's segmentation mask, their depth and their RPN features; a small PointNet++
(XYZ_UP_LAYER, merge, three SA layers) gives a confidence and a refinement, again bin-based but
relative to the proposal and with the heading within +-45 degrees of it.

The networks are two Layers (RPN, RCNN) so that each exports on its own; what joins them (target
assignment, decoding, NMS, pooling) is numpy in this file and in geometry.py.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .pointnet2 import PointNet2MSG, SetAbstraction, SharedMLP

MEAN_SIZE = np.array([1.52, 1.63, 3.88], np.float32)  # h, w, l (the release's CLS_MEAN_SIZE for Car)

RELEASE = {
    "num_points": 16384,
    "rpn": {"npoints": [4096, 1024, 256, 64], "radius": [[0.1, 0.5], [0.5, 1.0], [1.0, 2.0], [2.0, 4.0]],
            "nsample": [[16, 32]] * 4,
            "mlps": [[[16, 16, 32], [32, 32, 64]], [[64, 64, 128], [64, 96, 128]],
                     [[128, 196, 256], [128, 196, 256]], [[256, 256, 512], [256, 384, 512]]],
            "fp_mlps": [[128, 128], [256, 256], [512, 512], [512, 512]], "cls_fc": [128], "reg_fc": [128],
            "dp_ratio": 0.5, "loc_scope": 3.0, "loc_bin_size": 0.5, "num_head_bin": 12,
            "pre_nms": 9000, "post_nms": 300, "train_post_nms": 512, "nms_thresh": 0.7},
    "rcnn": {"num_points": 512, "xyz_up": [128, 128], "npoints": [128, 32, None], "radius": [0.2, 0.4, 100],
             "nsample": [64, 64, 64], "mlps": [[128, 128, 128], [128, 128, 256], [256, 256, 512]],
             "cls_fc": [256, 256], "reg_fc": [256, 256], "loc_scope": 1.5, "loc_bin_size": 0.5, "num_head_bin": 9,
             "pool_extra_width": 1.0, "roi_per_image": 64, "fg_ratio": 0.5, "cls_fg_thresh": 0.6,
             "cls_bg_thresh": 0.45, "reg_fg_thresh": 0.55, "score_thresh": 0.3, "nms_thresh": 0.1},
}

# The CPU demo's light version: 1024 points with 256 first-level centres (one per 4 points, as the
# release's 16384 / 4096), radii x5 to x2 for the sparser points, a quarter of the SA widths, 64-d point
# features, 64 points per proposal, and each point's own x, y, z as its input feature (the release
# feeds none). The bin settings are the release's (x, z: 12 bins of 0.5 m within +-3 m; 12 heading
# bins). Not a published model.
LITE = {
    "num_points": 1024,
    "rpn": dict(RELEASE["rpn"], xyz_feature=True, npoints=[256, 64, 16, 4], radius=[[0.5, 1.0], [1.0, 2.0], [2.0, 4.0], [4.0, 8.0]],
                nsample=[[8, 16]] * 4,
                mlps=[[[4, 4, 8], [8, 8, 16]], [[16, 16, 32], [16, 24, 32]], [[32, 48, 64], [32, 48, 64]],
                      [[64, 64, 128], [64, 96, 128]]],
                fp_mlps=[[64, 64], [64, 64], [128, 128], [128, 128]], cls_fc=[64], reg_fc=[64],
                pre_nms=256, post_nms=32, train_post_nms=32),
    "rcnn": dict(RELEASE["rcnn"], num_points=64, xyz_up=[32, 32], npoints=[32, 8, None], radius=[0.4, 0.8, 100],
                 nsample=[16, 16, 16], mlps=[[32, 32, 32], [32, 32, 64], [64, 64, 128]], cls_fc=[64, 64],
                 reg_fc=[64, 64], roi_per_image=16),
}

CONFIGS = {"pointrcnn": RELEASE, "pointrcnn_lite": LITE}


def reg_channels(cfg):
    """The regression output's width: the end of the last field of the bin-based layout."""
    return _layout(cfg)[0]["size"][1]


def head(channels, out, bn, dp_ratio=0.0):
    """1x1 convolutions (Linear over the last axis) with ReLU, optional dropout after the first, and
    a plain output layer."""
    layers = []
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
        layers += [nn.Linear(a, b, bias_attr=False if bn else None)] + ([nn.BatchNorm1D(b)] if bn else []) + [nn.ReLU()]
        if i == 0 and dp_ratio > 0:
            layers.append(nn.Dropout(dp_ratio))
    layers.append(nn.Linear(channels[-1], out))
    return nn.Sequential(*layers)


class RPN(nn.Layer):
    """points [B, N, 3] -> (foreground logits [B, N], box regression [B, N, 76], features [B, N, C])."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.xyz_feature = cfg.get("xyz_feature", False)
        self.backbone = PointNet2MSG(cfg, in_channels=3 if self.xyz_feature else 0)
        c = self.backbone.out_channels
        self.cls_head = head([c] + cfg["cls_fc"], 1, True, cfg["dp_ratio"])
        self.reg_head = head([c] + cfg["reg_fc"], reg_channels(cfg), True, cfg["dp_ratio"])
        last = self.cls_head[-1]  # focal loss: start at a foreground probability of 0.01
        last.bias.set_value(paddle.full(last.bias.shape, -math.log(99.0)))
        self.out_channels = c

    def forward(self, points):
        features = self.backbone(points, points if self.xyz_feature else None)
        b, n, c = features.shape
        flat = features.reshape([-1, c])
        return (self.cls_head(flat).reshape([b, n]), self.reg_head(flat).reshape([b, n, -1]), features)


class RCNN(nn.Layer):
    """pooled points [R, P, 5 + C] (canonical xyz, segmentation mask, depth, RPN features) ->
    (confidence logits [R], box regression [R, 46])."""

    def __init__(self, cfg, rpn_channels):
        super().__init__()
        self.cfg = cfg
        up = cfg["xyz_up"]
        self.xyz_up = SharedMLP([5] + up, bn=False)
        self.merge_down = SharedMLP([up[-1] + rpn_channels, up[-1]], bn=False)
        self.sa = nn.LayerList()
        channels = up[-1]
        for npoint, radius, nsample, mlp in zip(cfg["npoints"], cfg["radius"], cfg["nsample"], cfg["mlps"]):
            layer = SetAbstraction(npoint, [radius], [nsample], [mlp], channels, bn=False)
            self.sa.append(layer)
            channels = layer.out_channels
        self.cls_head = head([channels] + cfg["cls_fc"], 1, False)
        self.reg_head = head([channels] + cfg["reg_fc"], reg_channels(cfg), False)

    def forward(self, pooled):
        xyz = pooled[:, :, :3]
        x = paddle.concat([self.xyz_up(pooled[:, :, :5]), pooled[:, :, 5:]], -1)
        x = self.merge_down(x)
        for layer in self.sa:
            xyz, x = layer(xyz, x)
        x = x.reshape([x.shape[0], -1])
        return self.cls_head(x).reshape([-1]), self.reg_head(x)


class PointRCNN(nn.Layer):
    """The two stages in one Layer (one checkpoint); `rpn` and `rcnn` run separately."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.rpn = RPN(cfg["rpn"])
        self.rcnn = RCNN(cfg["rcnn"], self.rpn.out_channels)


# ------------------------------------------------------------------------------ bin-based box coding

def _layout(cfg):
    per_loc = int(cfg["loc_scope"] / cfg["loc_bin_size"]) * 2
    nh = cfg["num_head_bin"]
    s = {"x_bin": (0, per_loc), "z_bin": (per_loc, 2 * per_loc), "x_res": (2 * per_loc, 3 * per_loc),
         "z_res": (3 * per_loc, 4 * per_loc), "y_res": (4 * per_loc, 4 * per_loc + 1)}
    start = 4 * per_loc + 1
    s["ry_bin"], s["ry_res"], s["size"] = (start, start + nh), (start + nh, start + 2 * nh), (start + 2 * nh, start + 2 * nh + 3)
    return s, per_loc


def encode(offsets, sizes, ry, cfg, fine_heading):
    """Targets of the bin-based loss for boxes at offsets [M, 3] (x, y, z from the reference point),
    sizes [M, 3] (h, w, l), headings ry [M] (relative to the reference's heading when fine_heading)."""
    scope, bin_size, nh = cfg["loc_scope"], cfg["loc_bin_size"], cfg["num_head_bin"]
    t = {}
    for axis, name in ((0, "x"), (2, "z")):
        shift = np.clip(offsets[:, axis] + scope, 0, 2 * scope - 1e-3)
        t[name + "_bin"] = np.floor(shift / bin_size).astype(np.int64)
        t[name + "_res"] = ((shift - (t[name + "_bin"] * bin_size + bin_size / 2)) / bin_size).astype(np.float32)
    t["y_res"] = offsets[:, 1].astype(np.float32)
    ry = np.mod(ry, 2 * np.pi)
    if fine_heading:  # within +-90 degrees of the proposal, a flip by 180 degrees being the same box
        flip = (ry > np.pi * 0.5) & (ry < np.pi * 1.5)
        ry = np.mod(np.where(flip, ry + np.pi, ry), 2 * np.pi)
        ry = np.where(ry > np.pi, ry - 2 * np.pi, ry)
        per = (np.pi / 2) / nh
        shift = np.clip(ry + np.pi / 4, 1e-3, np.pi / 2 - 1e-3)
    else:
        per = 2 * np.pi / nh
        shift = np.mod(ry + per / 2, 2 * np.pi)
    t["ry_bin"] = np.clip(np.floor(shift / per), 0, nh - 1).astype(np.int64)
    t["ry_res"] = ((shift - (t["ry_bin"] * per + per / 2)) / (per / 2)).astype(np.float32)
    t["size"] = ((sizes - MEAN_SIZE) / MEAN_SIZE).astype(np.float32)
    return t


def bin_loss(pred, targets, cfg):
    """The bin-based loss of pred [M, C]: cross-entropy over the x, z and heading bins, smooth L1 on the
    residuals (taken at the true bin), y and size. Returns (total, parts)."""
    s, _ = _layout(cfg)
    parts = {}
    for name in ("x", "z", "ry"):
        bins = pred[:, s[name + "_bin"][0]:s[name + "_bin"][1]]
        label = paddle.to_tensor(targets[name + "_bin"])
        parts[name + "_bin"] = F.cross_entropy(bins, label.unsqueeze(-1))
        res = pred[:, s[name + "_res"][0]:s[name + "_res"][1]]
        res = paddle.take_along_axis(res, label.unsqueeze(-1), 1).reshape([-1])
        parts[name + "_res"] = F.smooth_l1_loss(res, paddle.to_tensor(targets[name + "_res"]))
    parts["y_res"] = F.smooth_l1_loss(pred[:, s["y_res"][0]], paddle.to_tensor(targets["y_res"]))
    parts["size"] = F.smooth_l1_loss(pred[:, s["size"][0]:s["size"][1]], paddle.to_tensor(targets["size"])) * 3
    return sum(parts.values()), parts


def decode(pred, cfg, fine_heading):
    """numpy pred [M, C] -> offsets [M, 3] (x, y, z), sizes [M, 3] (h, w, l), ry [M]: the argmax bin plus
    its residual."""
    s, _ = _layout(cfg)
    scope, bin_size, nh = cfg["loc_scope"], cfg["loc_bin_size"], cfg["num_head_bin"]
    rows = np.arange(len(pred))
    out = []
    for name in ("x", "z"):
        b = pred[:, s[name + "_bin"][0]:s[name + "_bin"][1]].argmax(1)
        r = pred[:, s[name + "_res"][0]:s[name + "_res"][1]][rows, b]
        out.append(b * bin_size + bin_size / 2 - scope + r * bin_size)
    offsets = np.stack([out[0], pred[:, s["y_res"][0]], out[1]], 1)
    b = pred[:, s["ry_bin"][0]:s["ry_bin"][1]].argmax(1)
    r = pred[:, s["ry_res"][0]:s["ry_res"][1]][rows, b]
    if fine_heading:
        per = (np.pi / 2) / nh
        ry = b * per + per / 2 + r * per / 2 - np.pi / 4
    else:
        per = 2 * np.pi / nh
        ry = np.mod(b * per + r * per / 2, 2 * np.pi)
        ry = np.where(ry > np.pi, ry - 2 * np.pi, ry)
    sizes = pred[:, s["size"][0]:s["size"][1]] * MEAN_SIZE + MEAN_SIZE
    return offsets.astype(np.float32), sizes.astype(np.float32), ry.astype(np.float32)

