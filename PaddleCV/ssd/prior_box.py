"""SSD's prior (default) boxes, the box encoding, and the matching of priors to ground truth.

Priors, as PaddleDetection's `ssd_mobilenet_v1_300` config (and the release/1.7 `multi_box_head`)
define them for a 300-pixel input: per feature map a min size of 60/105/150/195/240/285 px and a
max size of -/150/195/240/285/300 px; aspect ratios {2} on the first map and {2, 3} on the others,
each flipped (1/2, 1/3); one prior per cell per ratio at the min size plus one square prior of side
sqrt(min*max). The step of each map is image size / feature size, centres at (cell + 0.5) * step,
no clipping; the order within a cell is [1, 2, 1/2, 3, 1/3, max] as Paddle's prior_box op writes it
(min_max_aspect_ratios_order false). Boxes are (x1, y1, x2, y2) normalised to [0, 1] by the input's
width and height. With an input of `image_size` other than 300 the pixel sizes scale by
image_size / 300, so the priors cover the same fractions of the picture.

Encoding is SSD's centre-size code with variances (0.1, 0.1, 0.2, 0.2). Matching, as the recipe's
bipartite + per-prediction match: each ground-truth box first takes the prior it overlaps most, then
every other prior whose best IoU with a ground-truth box is >= 0.5 takes that box; the rest are
background.
"""
import math

import numpy as np

MIN_SIZES = [60.0, 105.0, 150.0, 195.0, 240.0, 285.0]
MAX_SIZES = [None, 150.0, 195.0, 240.0, 285.0, 300.0]
ASPECT_RATIOS = [[2.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0]]
BASE_SIZE = 300.0
# the published priors above, and the demo model's (SSD_MobileNetV1_demo, models/__init__.py): its
# first map is at stride 8 and its sizes are chosen to cover the demo's objects (a fifth to three
# fifths of the picture's short side); it is not a published configuration
SSD300 = {"min_sizes": MIN_SIZES, "max_sizes": MAX_SIZES, "aspect_ratios": ASPECT_RATIOS}
DEMO = {"min_sizes": [60.0, 100.0, 140.0, 180.0, 220.0, 260.0],
        "max_sizes": [100.0, 140.0, 180.0, 220.0, 260.0, 300.0],
        "aspect_ratios": [[2.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0]]}
VARIANCES = np.array([0.1, 0.1, 0.2, 0.2], dtype=np.float32)
MATCH_IOU = 0.5


def expanded_ratios(ratios):
    out = [1.0]
    for r in ratios:
        for value in (r, 1.0 / r):
            if all(abs(value - o) > 1e-6 for o in out):
                out.append(value)
    return out


def priors_per_cell(config=None):
    config = config or SSD300
    return [len(expanded_ratios(r)) + (m is not None) for r, m in zip(config["aspect_ratios"], config["max_sizes"])]


def priors_for(feature_shapes, height, width, image_size=300, config=None):
    """[P, 4] float32 priors (x1, y1, x2, y2 in [0, 1] of an input of `height` x `width`) for the
    given feature-map shapes, cell by cell (row-major), the order of the head's outputs."""
    config = config or SSD300
    scale = image_size / BASE_SIZE
    out = []
    for (fh, fw), min_size, max_size, ratios in zip(feature_shapes, config["min_sizes"], config["max_sizes"],
                                                    config["aspect_ratios"]):
        min_size *= scale
        sizes = [(min_size * math.sqrt(r), min_size / math.sqrt(r)) for r in expanded_ratios(ratios)]
        if max_size is not None:
            side = math.sqrt(min_size * max_size * scale)
            sizes.append((side, side))
        sizes = np.array(sizes, dtype=np.float64)  # [K, 2] width, height in pixels
        step_w, step_h = width / fw, height / fh
        cy, cx = np.meshgrid((np.arange(fh) + 0.5) * step_h, (np.arange(fw) + 0.5) * step_w, indexing="ij")
        centres = np.stack([cx.ravel(), cy.ravel()], axis=1)[:, None, :]  # [H*W, 1, 2]
        half = sizes[None, :, :] / 2
        boxes = np.concatenate([centres - half, centres + half], axis=2).reshape(-1, 4)
        out.append(boxes / np.array([width, height, width, height]))
    return np.concatenate(out).astype(np.float32)


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


def match(gt_boxes, gt_labels, priors, threshold=MATCH_IOU):
    """(loc targets [P, 4], labels [P] with 0 = background) for one image. gt_labels are 1-based."""
    num_priors = len(priors)
    labels = np.zeros(num_priors, dtype=np.int64)
    loc = np.zeros((num_priors, 4), dtype=np.float32)
    if len(gt_boxes) == 0:
        return loc, labels
    iou = iou_matrix(gt_boxes, priors)  # [G, P]
    best_gt = iou.argmax(0)
    best_iou = iou.max(0)
    # bipartite step: greedily give each ground truth its own best prior, highest IoU first
    work = iou.copy()
    for _ in range(len(gt_boxes)):
        g, p = np.unravel_index(work.argmax(), work.shape)
        if work[g, p] <= 0:
            break
        best_gt[p], best_iou[p] = g, 2.0  # forced match
        work[g, :] = -1
        work[:, p] = -1
    positive = best_iou >= threshold
    labels[positive] = gt_labels[best_gt[positive]]
    loc[positive] = encode(gt_boxes[best_gt[positive]], priors[positive])
    return loc, labels


def decode(offsets, priors):
    """Inverse of encode, in Paddle (used by the model's post-processing and its export):
    offsets [N, P, 4], priors [P, 4] -> boxes [N, P, 4], normalised (x1, y1, x2, y2)."""
    import paddle
    pw, ph = priors[:, 2] - priors[:, 0], priors[:, 3] - priors[:, 1]
    px, py = priors[:, 0] + pw * 0.5, priors[:, 1] + ph * 0.5
    cx = px + offsets[:, :, 0] * VARIANCES[0] * pw
    cy = py + offsets[:, :, 1] * VARIANCES[1] * ph
    w = paddle.exp(offsets[:, :, 2] * VARIANCES[2]) * pw
    h = paddle.exp(offsets[:, :, 3] * VARIANCES[3]) * ph
    return paddle.stack([cx - w * 0.5, cy - h * 0.5, cx + w * 0.5, cy + h * 0.5], axis=-1)
