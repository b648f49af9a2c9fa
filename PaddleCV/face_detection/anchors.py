"""Anchors (prior boxes) of the three detectors, the box encoding, and the matching of anchors to faces.

Anchors are squares in pixels of the network input, centred at (cell + 0.5) * stride, given per
feature map as a list of (size, density) pairs: a density d places d x d anchors of that size in each
cell, shifted by stride / d (FaceBoxes' anchor densification, Paddle's density_prior_box order:
size by size, then rows, then columns); density 1 is one anchor at the cell centre (SSD's prior_box
with aspect ratio 1). Boxes are (x1, y1, x2, y2) normalised to [0, 1] by the input's width and height.

- BlazeFace (PaddleDetection blazeface_1000e, AnchorGeneratorSSD): strides 8 and 16, sizes 16, 24 on
  the first map and 32, 48, 64, 80, 96, 128 on the second (2 + 6 anchors per cell).
- FaceBoxes (paper, sec. 3.3): strides 32, 64, 128; 32 (density 4), 64 (2), 128 (1) on the first map,
  256 and 512 on the others (21, 1, 1 per cell).
- PyramidBox (release/1.7): strides 4, 8, ..., 128 with sizes 16, 32, ..., 512 (1 per cell).

Encoding is SSD's centre-size code with variances (0.1, 0.1, 0.2, 0.2). Matching as the recipes'
SSDLoss with overlap_threshold 0.35: each face first takes the anchor it overlaps most, then every
other anchor whose best IoU with a face is >= 0.35 takes that face; the rest are background.
"""
import numpy as np

VARIANCES = np.array([0.1, 0.1, 0.2, 0.2], dtype=np.float32)


def ceil_div(a, b):
    return -(-a // b)


def anchors_for(layout, height, width):
    """[P, 4] float32 anchors for an input of height x width. layout: [(stride, [(size, density), ...])]
    per feature map; the feature map of stride s is ceil(height / s) x ceil(width / s)."""
    out = []
    for stride, sizes in layout:
        fh, fw = ceil_div(height, stride), ceil_div(width, stride)
        cells = []
        for size, density in sizes:
            shift = stride / density
            offsets = (np.arange(density) + 0.5) * shift - stride / 2  # sub-cell centres
            oy, ox = np.meshgrid(offsets, offsets, indexing="ij")
            cells.append(np.stack([ox.ravel(), oy.ravel(), np.full(density * density, size)], axis=1))
        cell = np.concatenate(cells)  # [K, 3]: dx, dy, size
        cy, cx = np.meshgrid((np.arange(fh) + 0.5) * stride, (np.arange(fw) + 0.5) * stride, indexing="ij")
        centres = np.stack([cx.ravel(), cy.ravel()], axis=1)[:, None, :] + cell[None, :, :2]  # [HW, K, 2]
        half = cell[None, :, 2:3] / 2
        boxes = np.concatenate([centres - half, centres + half], axis=2).reshape(-1, 4)
        out.append(boxes / np.array([width, height, width, height]))
    return np.concatenate(out).astype(np.float32)


def anchors_per_cell(layout):
    return [sum(d * d for _, d in sizes) for _, sizes in layout]


def iou_matrix(a, b):
    """IoU of every box of a [A, 4] with every box of b [B, 4] (continuous coordinates)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def encode(gt, priors):
    """Centre-size offsets of boxes gt [P, 4] relative to priors [P, 4], divided by the variances."""
    pw, ph = priors[:, 2] - priors[:, 0], priors[:, 3] - priors[:, 1]
    px, py = priors[:, 0] + pw / 2, priors[:, 1] + ph / 2
    gw = np.maximum(gt[:, 2] - gt[:, 0], 1e-6)
    gh = np.maximum(gt[:, 3] - gt[:, 1], 1e-6)
    gx, gy = gt[:, 0] + gw / 2, gt[:, 1] + gh / 2
    code = np.stack([(gx - px) / pw, (gy - py) / ph, np.log(gw / pw), np.log(gh / ph)], axis=1)
    return (code / VARIANCES).astype(np.float32)


def match(gt_boxes, gt_labels, priors, threshold=0.35):
    """(loc targets [P, 4], labels [P] with 0 = background) for one image. gt_labels are 1-based."""
    labels = np.zeros(len(priors), dtype=np.int64)
    loc = np.zeros((len(priors), 4), dtype=np.float32)
    if len(gt_boxes) == 0:
        return loc, labels
    iou = iou_matrix(gt_boxes, priors)  # [G, P]
    best_gt = iou.argmax(0)
    best_iou = iou.max(0)
    work = iou.copy()  # bipartite step: each face its own best anchor, highest IoU first
    for _ in range(len(gt_boxes)):
        g, p = np.unravel_index(work.argmax(), work.shape)
        if work[g, p] <= 0:
            break
        best_gt[p], best_iou[p] = g, 2.0
        work[g, :] = -1
        work[:, p] = -1
    positive = best_iou >= threshold
    labels[positive] = gt_labels[best_gt[positive]]
    loc[positive] = encode(gt_boxes[best_gt[positive]], priors[positive])
    return loc, labels


def decode(offsets, priors):
    """Inverse of encode, in Paddle (the detector's post-processing and its export):
    offsets [N, P, 4], priors [P, 4] -> boxes [N, P, 4], normalised (x1, y1, x2, y2)."""
    import paddle
    pw, ph = priors[:, 2] - priors[:, 0], priors[:, 3] - priors[:, 1]
    px, py = priors[:, 0] + pw * 0.5, priors[:, 1] + ph * 0.5
    cx = px + offsets[:, :, 0] * VARIANCES[0] * pw
    cy = py + offsets[:, :, 1] * VARIANCES[1] * ph
    w = paddle.exp(offsets[:, :, 2] * VARIANCES[2]) * pw
    h = paddle.exp(offsets[:, :, 3] * VARIANCES[3]) * ph
    return paddle.stack([cx - w * 0.5, cy - h * 0.5, cx + w * 0.5, cy + h * 0.5], axis=-1)


def coverage(boxes, priors, threshold=0.35):
    """Share of the boxes (normalised) whose best anchor IoU reaches the threshold (a check of a layout)."""
    if len(boxes) == 0:
        return 1.0
    return float(np.mean(iou_matrix(boxes, priors).max(1) >= threshold))

