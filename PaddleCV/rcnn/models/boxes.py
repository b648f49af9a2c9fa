"""Box arithmetic shared by the detectors: anchors, box coding (PaddleDetection's delta2bbox /
bbox2delta with per-stage weights), IoU, and the sampling of training targets.

Target assignment runs in numpy on the host, one image at a time, drawing from a generator the
training loop seeds by (seed, step): a resumed run samples the same anchors and RoIs. Its anchors are
made on the host (HostAnchors), not copied from the device.
"""
import math

import numpy as np
import paddle

CLIP = math.log(1000.0 / 16)  # the largest log size change a delta may ask for


def base_anchors(sizes, ratios):
    """[A, 4] anchors centred on 0: for each size, each aspect ratio h/w, area size**2."""
    out = []
    for s in sizes:
        for r in ratios:
            w = math.sqrt(s * s / r)
            h = r * w
            out.append([-w / 2, -h / 2, w / 2, h / 2])
    return np.array(out, np.float32)


def grid_anchors(feat, stride, base):
    """[H, W, A, 4] anchors over a feature map (built from its runtime shape: the export takes any size)."""
    h, w = paddle.shape(feat)[2], paddle.shape(feat)[3]
    # arange in the shape's own integer type, then cast: a float arange over int bounds breaks the export
    ys = paddle.arange(0, h, 1, dtype=h.dtype).astype("float32") * stride
    xs = paddle.arange(0, w, 1, dtype=w.dtype).astype("float32") * stride
    yy, xx = paddle.meshgrid(ys, xs)
    shifts = paddle.stack([xx, yy, xx, yy], -1)
    return shifts.unsqueeze(2) + base.reshape([1, 1, -1, 4])


class HostAnchors:
    """The anchors of grid_anchors as numpy [M, 4] for the host-side target assignment, made on the
    host from the feature maps' shapes (which the host knows without asking the device) and cached
    per shape: the training step copies no anchors from the device. Level by level, each level's
    rows in grid_anchors' order (y, x, anchor), the same float32 arithmetic, so the same values."""

    def __init__(self, bases, strides):
        self.bases = [np.asarray(b, np.float32) for b in bases]
        self.strides = list(strides)
        self.cache = {}

    def __call__(self, shapes):
        key = tuple((int(h), int(w)) for h, w in shapes)
        if key not in self.cache:
            levels = []
            for (h, w), stride, base in zip(key, self.strides, self.bases):
                ys = np.arange(h, dtype=np.float32) * np.float32(stride)
                xs = np.arange(w, dtype=np.float32) * np.float32(stride)
                yy, xx = np.meshgrid(ys, xs, indexing="ij")
                shifts = np.stack([xx, yy, xx, yy], -1)
                levels.append((shifts[:, :, None, :] + base[None, None]).reshape(-1, 4))
            if len(self.cache) >= 32:  # a few input sizes in practice; bounded all the same
                self.cache.clear()
            self.cache[key] = np.concatenate(levels)
        return self.cache[key]


def decode(deltas, boxes, weights=(1.0, 1.0, 1.0, 1.0)):
    """Boxes moved by deltas (broadcasting over leading dims): centre by dx*w, size by exp(dw)."""
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    cx, cy = boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h
    dx, dy = deltas[..., 0] / weights[0], deltas[..., 1] / weights[1]
    dw = paddle.clip(deltas[..., 2] / weights[2], max=CLIP)
    dh = paddle.clip(deltas[..., 3] / weights[3], max=CLIP)
    px, py, pw, ph = dx * w + cx, dy * h + cy, paddle.exp(dw) * w, paddle.exp(dh) * h
    return paddle.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], -1)


def to_original_pixels(rows, counts, scale_factor, im_shape=None):
    """NMS rows [K, 6] (class, score, x1, y1, x2, y2 in input pixels) of pictures holding `counts`
    rows each, their boxes divided by each picture's scale factor [sy, sx]. With im_shape (the
    PaddleDetection recipe, its BBoxPostProcess.get_pred): then clipped to the original picture,
    floor(im_shape / scale_factor + 0.5)."""
    scale = paddle.repeat_interleave(scale_factor, counts, axis=0)
    box = rows[:, 2:] / paddle.concat([scale[:, 1:2], scale[:, 0:1], scale[:, 1:2], scale[:, 0:1]], 1)
    if im_shape is not None:
        origin = paddle.repeat_interleave(paddle.floor(im_shape / scale_factor + 0.5), counts, axis=0)
        h, w = origin[:, 0:1], origin[:, 1:2]
        zero = paddle.zeros_like(h)
        box = paddle.concat([paddle.maximum(paddle.minimum(box[:, 0:1], w), zero),
                             paddle.maximum(paddle.minimum(box[:, 1:2], h), zero),
                             paddle.maximum(paddle.minimum(box[:, 2:3], w), zero),
                             paddle.maximum(paddle.minimum(box[:, 3:4], h), zero)], 1)
    return paddle.concat([rows[:, :2], box], 1)


def encode(gt, boxes, weights=(1.0, 1.0, 1.0, 1.0)):
    """numpy: the deltas that move `boxes` onto `gt` (the inverse of decode)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
    w, h = np.maximum(w, 1e-3), np.maximum(h, 1e-3)
    return np.stack([weights[0] * (gx - cx) / w, weights[1] * (gy - cy) / h,
                     weights[2] * np.log(np.maximum(gw, 1e-3) / w),
                     weights[3] * np.log(np.maximum(gh, 1e-3) / h)], 1).astype(np.float32)


def iou(a, b):
    """numpy [M, 4] x [G, 4] -> [M, G]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), 2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), 1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), 1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def match(boxes, gt, pos, neg, low_quality):
    """Per box: the index of its best gt and a label 1 (IoU >= pos), 0 (< neg) or -1 (in between,
    ignored); with low_quality, each gt's best boxes are positive too."""
    labels = np.full(len(boxes), -1, np.int64)
    if len(gt) == 0:
        labels[:] = 0
        return np.zeros(len(boxes), np.int64), labels, np.zeros(len(boxes), np.float32)
    overlaps = iou(boxes, gt)
    best, best_iou = overlaps.argmax(1), overlaps.max(1)
    labels[best_iou < neg] = 0
    labels[best_iou >= pos] = 1
    if low_quality:
        gt_best = overlaps.max(0)
        rows = np.where((overlaps == gt_best[None]) & (gt_best[None] > 0))[0]
        labels[rows] = 1
    return best, labels, best_iou


def subsample(labels, total, fg_fraction, rng):
    """Indices of at most total * fg_fraction positives and the rest negatives, drawn at random."""
    fg, bg = np.where(labels == 1)[0], np.where(labels == 0)[0]
    n_fg = min(int(total * fg_fraction), len(fg))
    fg = rng.choice(fg, n_fg, replace=False) if len(fg) > n_fg else fg
    n_bg = min(total - n_fg, len(bg))
    bg = rng.choice(bg, n_bg, replace=False) if len(bg) > n_bg else bg
    return fg, bg
