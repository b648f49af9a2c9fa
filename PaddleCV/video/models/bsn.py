"""BSN: Boundary-Sensitive Network for temporal action proposal generation (Lin et al., ECCV 2018,
https://arxiv.org/abs/1806.02964), the PaddlePaddle release's configuration (configs/bsn_tem.yaml, bsn_pem).

  TEM  temporal evaluation module: features [B, feat_dim, T] -> three 1-D convolutions -> start, end and
       actionness probabilities [B, 3, T]
  PGM  proposal generation (numpy, between the two modules): candidate boundaries are the local maxima of
       the start / end curves and the points above pgm_threshold x their maximum; every start before an end
       makes a proposal scored start x end, the top_k kept; its boundary-sensitive feature (BSP) samples the
       actionness curve by linear interpolation at num_sample_start points over the start region
       [xmin - r L, xmin + r L], num_sample_action points over [xmin, xmax] and num_sample_end points over
       the end region (r = bsp_boundary_ratio, L = xmax - xmin): 8 + 16 + 8 = 32 values
  PEM  proposal evaluation module: BSP [P, 32] -> fc 256 -> fc 1 -> the proposal's confidence (its IoU)

The release trains TEM, runs PGM over the whole dataset offline, then trains PEM. Here one model holds both
and a training step does both: the TEM loss on the batch and the PEM loss on the proposals PGM makes from
the (detached) TEM outputs of the same batch.

Release configuration: feat_dim 400, hidden 256, tscale 100 (TEM: 505,091 parameters); PEM on 32-d BSP
features with a hidden layer of 256 (8,705). The release's PEM graph feeds its second fc from the input,
not from the hidden layer (bsn_net.py: `fluid.layers.fc(input=input, size=1)`), so its 8,481 parameters
include an unused hidden layer; here the hidden layer is used, as in the paper.
"""
import numpy as np
import paddle
import paddle.nn as nn

from models.bmn import binary_logistic, conv1d


def release_config():
    return dict(feat_dim=400, tscale=100, hidden_dim=256, pem_hidden=256, num_sample_start=8, num_sample_end=8,
                num_sample_action=16, bsp_boundary_ratio=0.25)


def demo_config():
    return dict(feat_dim=400, tscale=32, hidden_dim=64, pem_hidden=64, num_sample_start=8, num_sample_end=8,
                num_sample_action=16, bsp_boundary_ratio=0.25)


class BSN(nn.Layer):
    def __init__(self, feat_dim=400, tscale=100, hidden_dim=256, pem_hidden=256, num_sample_start=8,
                 num_sample_end=8, num_sample_action=16, bsp_boundary_ratio=0.25):
        super().__init__()
        self.tscale = tscale
        self.samples = (num_sample_start, num_sample_action, num_sample_end)
        self.bsp_boundary_ratio = bsp_boundary_ratio
        self.tem = nn.Sequential(conv1d(feat_dim, hidden_dim, 3), nn.ReLU(), conv1d(hidden_dim, hidden_dim, 3),
                                 nn.ReLU(), conv1d(hidden_dim, 3, 1), nn.Sigmoid())
        bsp_dim = sum(self.samples)
        self.pem_fc1 = nn.Linear(bsp_dim, pem_hidden)
        self.pem_fc2 = nn.Linear(pem_hidden, 1)

    def forward(self, features):
        """features [B, feat_dim, T] -> [B, 3, T]: start, end, actionness."""
        return self.tem(features)

    def pem(self, bsp):
        """BSP features [P, 32] -> confidence [P] (the release scales both fc outputs by 0.1)."""
        h = nn.functional.relu(0.1 * self.pem_fc1(bsp))
        return nn.functional.sigmoid(0.1 * self.pem_fc2(h)).squeeze(-1)

    def loss(self, features, gt_start, gt_end, gt_action, gt_segments, top_k=500, threshold=0.5):
        """TEM loss (three weighted binary logistic losses) + PEM loss on PGM's proposals of this batch
        (gt_segments: per video, an array [n, 2] of segments in [0, 1])."""
        tem_out = self(features)
        tem = sum(binary_logistic(tem_out[:, i], (g > 0.5).astype("float32"), (g <= 0.5).astype("float32"))
                  for i, g in enumerate((gt_start, gt_end, gt_action)))
        probs = tem_out.detach().numpy()
        bsp, iou = [], []
        for b in range(len(probs)):
            proposals = generate_proposals(probs[b, 0], probs[b, 1], top_k, threshold)
            if not len(proposals):
                continue
            bsp.append(bsp_features(probs[b, 2], proposals[:, :2], self.samples, self.bsp_boundary_ratio))
            iou.append(max_iou(proposals[:, :2], gt_segments[b]))
        if not bsp:
            return tem, {"tem": tem, "pem": paddle.zeros([])}
        pred = self.pem(paddle.to_tensor(np.concatenate(bsp)))
        pem = pem_loss(pred, paddle.to_tensor(np.concatenate(iou).astype(np.float32)))
        return tem + pem, {"tem": tem, "pem": pem}


def pem_loss(pred, gt_iou):
    """The release's PEM loss: MSE over all proposals of IoU > 0.6 and random samples of those of
    0.2 < IoU <= 0.6 (as many, in expectation) and of IoU <= 0.2 (twice as many)."""
    high = (gt_iou > 0.6).astype("float32")
    mid = ((gt_iou <= 0.6) & (gt_iou > 0.2)).astype("float32")
    low = (gt_iou <= 0.2).astype("float32")
    num_h = high.sum()
    keep_m = mid * (paddle.rand(gt_iou.shape) > 1.0 - num_h / paddle.clip(mid.sum(), min=1.0)).astype("float32")
    keep_l = low * (paddle.rand(gt_iou.shape) > 1.0 - 2.0 * num_h / paddle.clip(low.sum(), min=1.0)).astype("float32")
    weights = high + keep_m + keep_l
    return 0.5 * (paddle.square(pred - gt_iou) * weights).sum() / paddle.clip(weights.sum(), min=1.0)


def boundary_candidates(scores, threshold=0.5):
    """Indices of local maxima and of points above threshold x the maximum (the first and last point are
    always candidates, as in the release)."""
    scores = np.asarray(scores)
    peak = np.zeros(len(scores), dtype=bool)
    peak[[0, -1]] = True
    peak[1:-1] = (scores[1:-1] > scores[:-2]) & (scores[1:-1] > scores[2:])
    return np.nonzero(peak | (scores > threshold * scores.max()))[0]


def generate_proposals(start, end, top_k=1000, threshold=0.5):
    """PGM: [P, 4] rows (xmin, xmax, start score, end score) with xmin < xmax in [0, 1], best start x end
    first. Location t of a curve is the time t / T (the boundary between steps t - 1 and t)."""
    tscale = len(start)
    starts, ends = boundary_candidates(start, threshold), boundary_candidates(end, threshold)
    s, e = np.meshgrid(starts, ends, indexing="ij")
    ok = s < e
    s, e = s[ok], e[ok]
    rows = np.stack([s / tscale, e / tscale, start[s], end[e]], axis=1).astype(np.float32)
    order = np.argsort(-(rows[:, 2] * rows[:, 3]), kind="stable")[:top_k]
    return rows[order]


def _interp(curve, x):
    """Linear interpolation of curve (values at 0, 1/T, ..., (T-1)/T) at times x, 0 outside."""
    tscale = len(curve)
    pos = np.asarray(x) * tscale
    return np.interp(pos, np.arange(tscale), curve, left=0.0, right=0.0)


def bsp_features(action, segments, samples=(8, 16, 8), ratio=0.25):
    """[P, sum(samples)] actionness sampled over the start region, the proposal, and the end region."""
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    xmin, xmax = segments[:, :1], segments[:, 1:]
    length = xmax - xmin
    n_start, n_action, n_end = samples
    parts = [(xmin - ratio * length, xmin + ratio * length, n_start), (xmin, xmax, n_action),
             (xmax - ratio * length, xmax + ratio * length, n_end)]
    feats = [_interp(action, lo + (hi - lo) * np.linspace(0, 1, n)[None]) for lo, hi, n in parts]
    return np.concatenate(feats, axis=1).astype(np.float32)


def max_iou(segments, gt):
    """[P]: each segment's highest tIoU with the ground-truth segments gt [n, 2] (0 when there is none)."""
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 2)
    if not len(gt):
        return np.zeros(len(segments))
    left = np.maximum(segments[:, None, 0], gt[None, :, 0])
    right = np.minimum(segments[:, None, 1], gt[None, :, 1])
    inter = (right - left).clip(0)
    union = (segments[:, 1] - segments[:, 0])[:, None] + (gt[:, 1] - gt[:, 0])[None] - inter
    return (inter / union).max(axis=1)
