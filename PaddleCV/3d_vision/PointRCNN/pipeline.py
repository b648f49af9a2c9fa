"""What joins PointRCNN's two networks, in numpy: the RPN's targets and loss, proposals (decoding and
rotated NMS), point pooling with the canonical transformation, the RCNN's RoI sampling, targets and
loss, and `detect`, the one inference path of eval.py, infer.py and the export (which runs the two
exported networks in its place)."""
import numpy as np
import paddle
import paddle.nn.functional as F

import geometry
from models.pointrcnn import decode, encode, bin_loss

FOCAL_ALPHA, FOCAL_GAMMA = 0.25, 2.0
FG_ENLARGE = 0.2  # points this close outside a car are neither foreground nor background (the release's)
SEG_THRESH = 0.3  # the release's RPN.SCORE_THRESH: foreground mask given to the RCNN


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


# --------------------------------------------------------------------------------------------- stage 1

def rpn_targets(points, boxes, counts):
    """points [B, N, 3], boxes [B, MAX, 7], counts [B] -> seg labels [B, N] (1 car, 0 background,
    -1 ignored), and for the foreground points their (batch, point) index and bin-based targets."""
    b, n, _ = points.shape
    labels = np.zeros((b, n), np.int64)
    where, offsets, sizes, headings = [], [], [], []
    for i in range(b):
        gt = boxes[i, :counts[i]]
        if not len(gt):
            continue
        inside = geometry.points_in_boxes(points[i], gt)
        near = geometry.points_in_boxes(points[i], gt, extra=FG_ENLARGE).any(0)
        fg = inside.any(0)
        labels[i, near & ~fg] = -1
        labels[i, fg] = 1
        idx = np.where(fg)[0]
        owner = gt[inside[:, idx].argmax(0)]
        centre = owner[:, :3].copy()
        centre[:, 1] -= owner[:, 3] / 2  # regress the box's centre, not its bottom
        where += [(i, j) for j in idx]
        offsets.append(centre - points[i, idx])
        sizes.append(owner[:, 3:6])
        headings.append(owner[:, 6])
    if not where:
        return labels, np.zeros((0, 2), np.int64), None
    return labels, np.array(where, np.int64), (np.concatenate(offsets), np.concatenate(sizes), np.concatenate(headings))


def rpn_loss(cls_logits, reg, targets, cfg):
    """Sigmoid focal loss over the labelled points (normalised by the foreground count) plus the
    bin-based loss averaged over the foreground points."""
    labels, where, boxes = targets
    labels_t = paddle.to_tensor(labels)
    valid = (labels_t >= 0).astype("float32")
    target = (labels_t > 0).astype("float32")
    focal = F.sigmoid_focal_loss(cls_logits, target, normalizer=None, alpha=FOCAL_ALPHA, gamma=FOCAL_GAMMA,
                                 reduction="none")
    num_fg = max(float((labels > 0).sum()), 1.0)
    cls_loss = (focal * valid).sum() / num_fg
    if boxes is None:
        return cls_loss, {"rpn_cls": cls_loss}
    pred = paddle.gather_nd(reg, paddle.to_tensor(where))
    reg_loss, bins = bin_loss(pred, encode(*boxes, cfg, fine_heading=False), cfg)
    parts = {"rpn_cls": cls_loss, "rpn_reg": reg_loss}
    parts.update({"rpn_" + k: v for k, v in bins.items()})  # rpn_x_bin, rpn_z_bin, rpn_ry_bin, ... (not summed again)
    return cls_loss + reg_loss, parts


def decode_rpn(points, reg, cfg):
    """Every point's box [N, 7] (bottom centre, h, w, l, ry)."""
    offsets, sizes, ry = decode(reg, cfg, fine_heading=False)
    centre = points[:, :3] + offsets
    centre[:, 1] += sizes[:, 0] / 2
    return np.concatenate([centre, sizes, ry[:, None]], 1).astype(np.float32)


def proposals(points, cls_logits, reg, cfg, train=False):
    """One frame's proposals: boxes [K, 7] and foreground scores [K], the best pre_nms points' boxes
    through rotated BEV NMS, at most post_nms kept."""
    scores = sigmoid(cls_logits)
    order = np.argsort(-scores, kind="stable")[:cfg["pre_nms"]]
    boxes = decode_rpn(points[order], reg[order], cfg)
    keep = geometry.nms(boxes, scores[order], cfg["nms_thresh"], cfg["train_post_nms"] if train else cfg["post_nms"])
    return boxes[keep], scores[order][keep]


# --------------------------------------------------------------------------------------------- stage 2

def canonical(xyz, rois):
    """xyz [R, P, 3] in the rectified frame -> each roi's frame (origin at its bottom centre, x along its
    heading, z across)."""
    rel = xyz - rois[:, None, :3]
    c, s = np.cos(rois[:, 6])[:, None], np.sin(rois[:, 6])[:, None]
    return np.stack([rel[..., 0] * c - rel[..., 2] * s, rel[..., 1], rel[..., 0] * s + rel[..., 2] * c], -1)


def from_canonical(boxes, rois):
    """Boxes [R, 7] given in their roi's frame -> the rectified frame."""
    c, s = np.cos(rois[:, 6]), np.sin(rois[:, 6])
    out = boxes.copy()
    out[:, 0] = rois[:, 0] + boxes[:, 0] * c + boxes[:, 2] * s
    out[:, 2] = rois[:, 2] - boxes[:, 0] * s + boxes[:, 2] * c
    out[:, 1] = rois[:, 1] + boxes[:, 1]
    out[:, 6] = np.mod(boxes[:, 6] + rois[:, 6] + np.pi, 2 * np.pi) - np.pi
    return out


def pool(points, seg_scores, features, rois, cfg, rng):
    """The points inside each roi enlarged by pool_extra_width, num_points of them (drawn at random,
    repeated when fewer): [R, P, 5 + C] = canonical xyz, foreground mask, depth, RPN features; and
    [R] True where the roi holds no point (its row is zeros)."""
    p = cfg["num_points"]
    out = np.zeros((len(rois), p, 5 + features.shape[1]), np.float32)
    if not len(rois):
        return out, np.zeros(0, bool)
    inside = geometry.points_in_boxes(points, rois, extra=cfg["pool_extra_width"])
    key = np.where(inside, rng.random(inside.shape), 2.0)
    order = np.argsort(key, 1, kind="stable")
    count = inside.sum(1)
    pick = np.take_along_axis(order, np.arange(p)[None] % np.maximum(count, 1)[:, None], 1)
    xyz = canonical(points[pick, :3], rois)
    depth = np.linalg.norm(points[pick, :3], axis=-1) / 70.0 - 0.5
    mask = (seg_scores[pick] > SEG_THRESH).astype(np.float32)
    out[:] = np.concatenate([xyz, mask[..., None], depth[..., None], features[pick]], -1)
    empty = count == 0
    out[empty] = 0
    return out, empty


def jitter(gt, rng, times=4):
    """Copies of the true boxes, moved, resized and turned a little: RoIs the RCNN can learn from while
    the RPN is still poor (the release adds such RoIs too, ROI_FG_AUG_TIMES)."""
    if not len(gt):
        return np.zeros((0, 7), np.float32)
    boxes = np.repeat(gt, times, 0).copy()
    boxes[:, [0, 2]] += rng.normal(0, 0.3, (len(boxes), 2))
    boxes[:, 1] += rng.normal(0, 0.1, len(boxes))
    boxes[:, 3:6] *= rng.uniform(0.9, 1.1, (len(boxes), 3))
    boxes[:, 6] += rng.normal(0, 0.2, len(boxes))
    return boxes.astype(np.float32)


def sample_rois(rois, gt, cfg, rng):
    """roi_per_image RoIs, half foreground (3D IoU >= reg_fg_thresh) when there are enough; their
    classification labels (1 above cls_fg_thresh, 0 below cls_bg_thresh, -1 between) and, for the
    foreground, the matched true boxes."""
    n = cfg["roi_per_image"]
    if len(gt):
        iou = geometry.iou_3d(rois, gt)
        best, match = iou.max(1), iou.argmax(1)
    else:
        best, match = np.zeros(len(rois)), np.zeros(len(rois), np.int64)
    fg, bg = np.where(best >= cfg["reg_fg_thresh"])[0], np.where(best < cfg["reg_fg_thresh"])[0]
    n_fg = min(len(fg), int(n * cfg["fg_ratio"])) if len(bg) else min(len(fg), n)
    picked = list(rng.choice(fg, n_fg, replace=False)) if n_fg else []
    rest = n - len(picked)
    pool_ = bg if len(bg) else fg
    picked += list(rng.choice(pool_, rest, replace=len(pool_) < rest))
    picked = np.array(picked, np.int64)
    labels = np.where(best[picked] > cfg["cls_fg_thresh"], 1, np.where(best[picked] < cfg["cls_bg_thresh"], 0, -1))
    reg_mask = best[picked] >= cfg["reg_fg_thresh"]
    matched = gt[match[picked]] if len(gt) else np.zeros((len(picked), 7), np.float32)
    return rois[picked], labels, reg_mask, matched


def rcnn_targets(rois, matched, cfg):
    """Bin-based targets of the matched true boxes in their RoI's frame (heading within +-45 degrees)."""
    c, s = np.cos(rois[:, 6]), np.sin(rois[:, 6])
    rel = matched[:, :3] - rois[:, :3]
    offsets = np.stack([rel[:, 0] * c - rel[:, 2] * s, rel[:, 1], rel[:, 0] * s + rel[:, 2] * c], 1)
    return encode(offsets, matched[:, 3:6], matched[:, 6] - rois[:, 6], cfg, fine_heading=True)


def rcnn_loss(cls_logits, reg, labels, reg_mask, targets, cfg):
    valid = paddle.to_tensor((labels >= 0).astype(np.float32))
    bce = F.binary_cross_entropy_with_logits(cls_logits, paddle.to_tensor(np.maximum(labels, 0).astype(np.float32)),
                                             reduction="none")
    cls_loss = (bce * valid).sum() / max(float((labels >= 0).sum()), 1.0)
    if not reg_mask.any():
        return cls_loss, {"rcnn_cls": cls_loss}
    idx = np.where(reg_mask)[0]
    picked = {k: v[idx] for k, v in targets.items()}
    reg_loss, _ = bin_loss(paddle.gather(reg, paddle.to_tensor(idx)), picked, cfg)
    return cls_loss + reg_loss, {"rcnn_cls": cls_loss, "rcnn_reg": reg_loss}


def decode_rcnn(reg, rois, cfg):
    offsets, sizes, ry = decode(reg, cfg, fine_heading=True)
    return from_canonical(np.concatenate([offsets, sizes, ry[:, None]], 1), rois).astype(np.float32)


def rcnn_batch(points, cls_logits, reg, features, boxes, counts, cfg, rng):
    """Training inputs of the RCNN for a batch: pooled points of the sampled RoIs (proposals of the
    current RPN plus jittered true boxes), labels, regression mask and targets, and the RoIs."""
    pooled, labels, masks, rois, matched = [], [], [], [], []
    seg = sigmoid(cls_logits)
    for i in range(len(points)):
        gt = boxes[i, :counts[i]]
        props, _ = proposals(points[i], cls_logits[i], reg[i], cfg["rpn"], train=True)
        candidates = np.concatenate([props, jitter(gt, rng)]).astype(np.float32)
        r, lab, m, mat = sample_rois(candidates, gt, cfg["rcnn"], rng)
        x, empty = pool(points[i], seg[i], features[i], r, cfg["rcnn"], rng)
        lab = np.where(empty, -1, lab)  # nothing to classify
        pooled.append(x), labels.append(lab), masks.append(m & ~empty), rois.append(r), matched.append(mat)
    rois, matched = np.concatenate(rois), np.concatenate(matched)
    masks = np.concatenate(masks)
    return (np.concatenate(pooled), np.concatenate(labels), masks,
            rcnn_targets(rois, matched, cfg["rcnn"]) if masks.any() else {}, rois)


# ------------------------------------------------------------------------------------------ inference

def detect(points, run_rpn, run_rcnn, cfg, frame_seeds, score_thresh=None):
    """points [B, N, 3] -> per frame a dict: proposals (boxes, scores) and detections (boxes, scores).
    run_rpn(points) -> (cls [B, N], reg [B, N, C], features [B, N, F]) and run_rcnn(pooled) ->
    (cls [R], reg [R, C']) are the dynamic networks or the exported ones."""
    cls, reg, features = run_rpn(points)
    rcfg = cfg["rcnn"]
    thresh = rcfg["score_thresh"] if score_thresh is None else score_thresh
    frames, pooled, counts = [], [], []
    for i in range(len(points)):
        props, prop_scores = proposals(points[i], cls[i], reg[i], cfg["rpn"])
        x, empty = pool(points[i], sigmoid(cls[i]), features[i], props, rcfg, np.random.default_rng(frame_seeds[i]))
        frames.append({"proposals": props, "proposal_scores": prop_scores, "empty": empty})
        pooled.append(x)
        counts.append(len(props))
    all_pooled = np.concatenate(pooled) if pooled else np.zeros((0, rcfg["num_points"], 5 + features.shape[-1]))
    if len(all_pooled):
        rcnn_cls, rcnn_reg = run_rcnn(all_pooled.astype(np.float32))
    start = 0
    for frame, n in zip(frames, counts):
        if n == 0:
            frame["boxes"], frame["scores"] = np.zeros((0, 7), np.float32), np.zeros(0, np.float32)
            continue
        scores = sigmoid(rcnn_cls[start:start + n])
        boxes = decode_rcnn(rcnn_reg[start:start + n], frame["proposals"], rcfg)
        start += n
        ok = (scores >= thresh) & ~frame["empty"]
        boxes, scores = boxes[ok], scores[ok]
        keep = geometry.nms(boxes, scores, rcfg["nms_thresh"])
        frame["boxes"], frame["scores"] = boxes[keep], scores[keep].astype(np.float32)
    return frames
