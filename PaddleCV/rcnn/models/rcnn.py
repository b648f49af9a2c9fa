"""The R-CNN family as PaddleDetection builds it: Faster R-CNN (C4 or FPN), Mask R-CNN and Cascade
R-CNN, sharing one backbone/neck/RPN and differing in their RoI heads.

- FPN: 1x1 lateral + 3x3 output convolutions on res2-res5, top-down nearest upsampling, P6 by a
  stride-2 subsampling of P5 (for the RPN only).
- Anchors: one size per level (32-512 on P2-P6; all five on C4), aspect ratios 0.5, 1, 2.
- RPN: a shared 3x3 conv, 1x1 objectness and delta convs; training samples 256 anchors per image
  (half positive at most; IoU >= 0.7 positive, < 0.3 negative, each gt's best anchors positive).
  Proposals: `generate_proposals` per level (NMS 0.7; training 2000 before / 1000 after NMS per
  level, then the top 1000 of the image over all levels; test 1000 / 1000 per level).
- RoIs: training samples 512 per image from the proposals and the gt boxes, at most 25% positive
  (IoU >= 0.5); each RoI goes to the FPN level k = floor(4 + log2(sqrt(area) / 224)) clipped to
  2-5 (`distribute_fpn_proposals`), RoIAlign 7x7 (`roi_align`, aligned, adaptive sampling).
- Box head: two FC layers of 1024, a class score (C + 1, background last) and class-specific
  deltas coded with weights 10, 10, 5, 5; cascade: three such heads with class-agnostic deltas,
  weights 10/10/5/5, 20/20/10/10, 30/30/15/15 and IoU 0.5/0.6/0.7, losses weighted 1, 0.5, 0.25,
  test scores averaged over the stages. C4: RoIAlign 14x14 on res4, res5 as the head, 7x7 pool.
- Mask head: RoIAlign 14x14, four 3x3 convs of 256, a 2x2 deconvolution, one 28x28 mask per class;
  targets are the gt masks (polygons or RLE, decoded by the reader) sampled inside each positive RoI.
- Output (eval, export): [K, 6] rows (class, score, x1, y1, x2, y2 in the original picture's
  pixels), [N] counts, and for Mask R-CNN [K, 28, 28] mask probabilities of each row's class.
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops
from paddle.vision.ops import distribute_fpn_proposals, generate_proposals, roi_align

from .boxes import HostAnchors, base_anchors, decode, encode, grid_anchors, match, subsample, to_original_pixels
from .resnet import Res5Head, ResNet

normal = nn.initializer.Normal


def upsample2x(x):
    """Nearest 2x upsampling (inputs are padded to a multiple of 32, so every level is exactly twice
    the next). F.interpolate does the same, but its exported scale attribute stops Paddle
    Inference's oneDNN executor (Paddle 3.3.1: "ConvertPirAttribute2RuntimeAttribute not support
    ArrayAttribute<DoubleAttribute>")."""
    return paddle.repeat_interleave(paddle.repeat_interleave(x, 2, axis=2), 2, axis=3)


class FPN(nn.Layer):
    """Lateral 1x1 and output 3x3 convs; `extra` levels after the last: 'pool' (P6 by subsampling,
    Faster R-CNN) or 'conv' (P6, P7 by stride-2 convs on P5's output, RetinaNet)."""

    def __init__(self, in_channels, out_channels=256, extra="pool", num_extra=1):
        super().__init__()
        self.lateral = nn.LayerList([nn.Conv2D(c, out_channels, 1) for c in in_channels])
        self.output = nn.LayerList([nn.Conv2D(out_channels, out_channels, 3, padding=1) for _ in in_channels])
        self.extra, self.num_extra = extra, num_extra
        if extra == "conv":
            self.extra_convs = nn.LayerList([nn.Conv2D(out_channels, out_channels, 3, 2, 1) for _ in range(num_extra)])

    def forward(self, feats):
        laterals = [conv(f) for conv, f in zip(self.lateral, feats)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + upsample2x(laterals[i])
        outs = [conv(x) for conv, x in zip(self.output, laterals)]
        if self.extra == "pool":
            outs.append(F.max_pool2d(outs[-1], 1, 2))
        else:
            x = outs[-1]
            for i, conv in enumerate(self.extra_convs):
                x = conv(F.relu(x) if i else x)
                outs.append(x)
        return outs


class RPN(nn.Layer):
    def __init__(self, channels, strides, sizes, ratios=(0.5, 1.0, 2.0)):
        super().__init__()
        per_level = len(sizes) == len(strides)  # FPN: one size per level; C4: all sizes on one map
        bases = [base_anchors([s], ratios) for s in sizes] if per_level else [base_anchors(sizes, ratios)]
        self.strides = strides
        self.host_anchors = HostAnchors(bases, strides)  # the loss's copy, made on the host
        for i, b in enumerate(bases):
            self.register_buffer(f"anchors{i}", paddle.to_tensor(b), persistable=False)
        a = len(bases[0])
        init = dict(weight_attr=paddle.ParamAttr(initializer=normal(std=0.01)),
                    bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))
        self.conv = nn.Conv2D(channels, channels, 3, padding=1, **init)
        self.score = nn.Conv2D(channels, a, 1, **init)
        self.delta = nn.Conv2D(channels, 4 * a, 1, **init)

    def forward(self, feats):
        scores, deltas, anchors = [], [], []
        for i, f in enumerate(feats):
            x = F.relu(self.conv(f))
            scores.append(self.score(x))
            deltas.append(self.delta(x))
            anchors.append(grid_anchors(f, self.strides[i], getattr(self, f"anchors{i}")))
        return scores, deltas, anchors

    @staticmethod
    def proposals(scores, deltas, anchors, im_shape, training, test_top_n=1000, test_pre_nms=None, collect_top_n=None):
        """Per level `generate_proposals`; returns (rois [R, 4] grouped by image, rois_num [N]). In
        training the host keeps the image's 1000 best over all levels. At test each level keeps
        test_top_n after NMS (test_pre_nms before it, default the same); with collect_top_n (the
        PaddleDetection recipe, RPNHead at test) each image then keeps its collect_top_n best over all
        levels, in descending score."""
        pre, post = (2000, 1000) if training else (test_pre_nms or test_top_n, test_top_n)
        rois, probs, nums = [], [], []
        for s, d, a in zip(scores, deltas, anchors):
            r, p, n = generate_proposals(s, d, im_shape, a, paddle.ones_like(a), pre_nms_top_n=pre,
                                         post_nms_top_n=post, nms_thresh=0.7, min_size=0.0, pixel_offset=False,
                                         return_rois_num=True)
            rois.append(r)
            probs.append(p.flatten())
            nums.append(n)
        if training:
            out = []
            starts = [np.concatenate([[0], np.cumsum(n.numpy())]) for n in nums]
            rois_np, probs_np = [r.numpy() for r in rois], [p.numpy() for p in probs]
            for i in range(len(nums[0])):
                r = np.concatenate([x[s[i]:s[i + 1]] for x, s in zip(rois_np, starts)])
                p = np.concatenate([x[s[i]:s[i + 1]] for x, s in zip(probs_np, starts)])
                out.append(r[np.argsort(-p, kind="stable")[:post]])
            return out
        if len(rois) == 1:
            return rois[0], nums[0]
        # group every level's rois by image: a stable sort on the image index keeps each level's order
        count = paddle.shape(nums[0])[0]
        image_index = paddle.concat([paddle.repeat_interleave(paddle.arange(0, count, 1, dtype=count.dtype), n)
                                     for n in nums])
        order = paddle.argsort(image_index, stable=True)
        # per-image totals counted from the index: in a static graph generate_proposals' rois_num is
        # declared float32 while holding int32 (Paddle 3.3.1), so adding the levels' counts fails
        images = paddle.arange(0, count, 1, dtype=count.dtype)
        total = (image_index.astype("int32").unsqueeze(0) == images.astype("int32").unsqueeze(1)).astype("int32").sum(1)
        if collect_top_n is None:
            return paddle.gather(paddle.concat(rois), order), total.astype("int32")
        # by descending score, then (stable) by image: each image's rois best first; keep the first
        # collect_top_n of each image (its rank: position minus the image's start)
        by_score = paddle.argsort(paddle.concat(probs), descending=True, stable=True)
        order = paddle.gather(by_score, paddle.argsort(paddle.gather(image_index, by_score), stable=True))
        starts = paddle.cumsum(total) - total
        sorted_image = paddle.gather(image_index, order).astype("int64")
        rank = paddle.arange(0, paddle.shape(order)[0], 1, dtype="int64") - paddle.gather(starts.astype("int64"),
                                                                                             sorted_image)
        keep = paddle.gather(order, paddle.nonzero(rank < collect_top_n).flatten())
        return paddle.gather(paddle.concat(rois), keep), paddle.minimum(total, paddle.full_like(total, collect_top_n)
                                                                        ).astype("int32")

    def loss(self, scores, deltas, gt_boxes, rng):
        """Objectness BCE and L1 delta loss over 256 sampled anchors per image, normalised by the
        number sampled. The anchors are the host's own (HostAnchors, from the maps' shapes)."""
        n = scores[0].shape[0]
        score = paddle.concat([s.transpose([0, 2, 3, 1]).reshape([n, -1]) for s in scores], 1)
        delta = paddle.concat([d.transpose([0, 2, 3, 1]).reshape([n, -1, 4]) for d in deltas], 1)
        all_anchors = self.host_anchors([s.shape[2:] for s in scores])
        m = all_anchors.shape[0]
        idx, lab, fg_idx, tgt = [], [], [], []
        for i, gt in enumerate(gt_boxes):
            best, labels, _ = match(all_anchors, gt, 0.7, 0.3, True)
            fg, bg = subsample(labels, 256, 0.5, rng)
            idx += [fg + i * m, bg + i * m]
            lab += [np.ones(len(fg), np.float32), np.zeros(len(bg), np.float32)]
            fg_idx.append(fg + i * m)
            if len(fg):
                tgt.append(encode(gt[best[fg]], all_anchors[fg]))
        idx, lab = np.concatenate(idx).astype(np.int64), np.concatenate(lab)
        norm = max(len(idx), 1)
        cls = F.binary_cross_entropy_with_logits(paddle.gather(score.flatten(), paddle.to_tensor(idx)),
                                                 paddle.to_tensor(lab), reduction="sum") / norm
        fg_idx = np.concatenate(fg_idx).astype(np.int64)
        if len(fg_idx):
            pred = paddle.gather(delta.reshape([-1, 4]), paddle.to_tensor(fg_idx))
            reg = (pred - paddle.to_tensor(np.concatenate(tgt))).abs().sum() / norm
        else:
            reg = (delta * 0).sum()
        return {"loss_rpn_cls": cls, "loss_rpn_reg": reg}


class TwoFCHead(nn.Layer):
    def __init__(self, channels, resolution, hidden):
        super().__init__()
        self.fc6 = nn.Linear(channels * resolution * resolution, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.out_channels = hidden

    def forward(self, x):
        return F.relu(self.fc7(F.relu(self.fc6(x.flatten(1)))))


class BoxPredictor(nn.Layer):
    """Class scores (C + 1, background last) and deltas (class-specific: 4C, or 4)."""

    def __init__(self, channels, num_classes, agnostic):
        super().__init__()
        self.score = nn.Linear(channels, num_classes + 1, weight_attr=paddle.ParamAttr(initializer=normal(std=0.01)))
        self.delta = nn.Linear(channels, 4 if agnostic else 4 * num_classes,
                               weight_attr=paddle.ParamAttr(initializer=normal(std=0.001)))

    def forward(self, x):
        return self.score(x), self.delta(x)


class MaskHead(nn.Layer):
    def __init__(self, channels, num_classes, hidden=256):
        super().__init__()
        layers, c = [], channels
        for _ in range(4):
            layers += [nn.Conv2D(c, hidden, 3, padding=1), nn.ReLU()]
            c = hidden
        self.convs = nn.Sequential(*layers)
        self.up = nn.Conv2DTranspose(hidden, hidden, 2, 2)
        self.logits = nn.Conv2D(hidden, num_classes, 1)

    def forward(self, x):
        return self.logits(F.relu(self.up(self.convs(x))))


def pick_class(x, labels):
    """Row i of x [R, C, ...] at class labels[i]."""
    rows = paddle.arange(paddle.shape(labels)[0], dtype=labels.dtype)
    return paddle.gather_nd(x, paddle.stack([rows, labels], 1))


def clip_boxes(boxes, im_shape, rois_num):
    """Boxes [R, ..., 4] of images given by rois_num, clipped to each image's [h, w]."""
    hw = paddle.repeat_interleave(im_shape, rois_num, axis=0)
    shape = [-1] + [1] * (len(boxes.shape) - 2)
    h, w = hw[:, 0].reshape(shape), hw[:, 1].reshape(shape)
    x1 = paddle.minimum(paddle.clip(boxes[..., 0], min=0), w)
    y1 = paddle.minimum(paddle.clip(boxes[..., 1], min=0), h)
    x2 = paddle.minimum(paddle.clip(boxes[..., 2], min=0), w)
    y2 = paddle.minimum(paddle.clip(boxes[..., 3], min=0), h)
    return paddle.stack([x1, y1, x2, y2], -1)


class RCNN(nn.Layer):
    """kind: 'fpn' (Faster R-CNN FPN), 'c4', 'cascade' or 'mask'. `width`, `fpn_channels` and
    `hidden` shrink the model for the demo."""

    STAGES = [((10.0, 10.0, 5.0, 5.0), 0.5), ((20.0, 20.0, 10.0, 10.0), 0.6), ((30.0, 30.0, 15.0, 15.0), 0.7)]

    def __init__(self, kind="fpn", num_classes=80, depth=50, width=1.0, fpn_channels=256, hidden=1024,
                 freeze_at=0, freeze_norm=True, rois_per_image=512, score_threshold=0.05, nms_threshold=0.5,
                 keep_top_k=100, test_proposals=1000, mask_hidden=256):
        super().__init__()
        self.kind, self.num_classes, self.test_proposals = kind, num_classes, test_proposals
        self.rois_per_image, self.score_threshold = rois_per_image, score_threshold
        self.nms_threshold, self.keep_top_k = nms_threshold, keep_top_k
        # test-time settings a PaddleDetection file switches (pretrained.use_suite_recipe): proposals
        # before NMS (None: test_proposals), each image's best over all levels (None: every level's),
        # NMS IoU without the +1 pixel, boxes clipped to the original picture after rescaling
        self.test_pre_nms, self.collect_top_n, self.nms_normalized, self.clip_original = None, None, False, False
        if kind == "c4":
            self.backbone = ResNet(depth, width, return_idx=[2], num_stages=3, freeze_at=freeze_at,
                                   freeze_norm=freeze_norm)
            channels = self.backbone.out_channels[0]
            self.neck = None
            self.rpn = RPN(channels, [16], [32, 64, 128, 256, 512])
            self.resolution, self.scales = 14, [1 / 16]
            self.head = Res5Head(self.backbone)
        else:
            self.backbone = ResNet(depth, width, freeze_at=freeze_at, freeze_norm=freeze_norm)
            self.neck = FPN(self.backbone.out_channels, fpn_channels)
            channels = fpn_channels
            self.rpn = RPN(channels, [4, 8, 16, 32, 64], [32, 64, 128, 256, 512])
            self.resolution, self.scales = 7, [1 / 4, 1 / 8, 1 / 16, 1 / 32]
            self.head = TwoFCHead(channels, 7, hidden)
        stages = 3 if kind == "cascade" else 1
        if kind == "cascade":
            self.head = nn.LayerList([self.head] + [TwoFCHead(channels, 7, hidden) for _ in range(2)])
        heads = self.head if kind == "cascade" else [self.head]
        self.predictor = nn.LayerList([BoxPredictor(h.out_channels, num_classes, kind == "cascade") for h in heads])
        self.num_stages = stages
        if kind == "mask":
            self.mask_head = MaskHead(channels, num_classes, mask_hidden)

    # ------------------------------------------------------------------------------- shared parts
    def features(self, image):
        feats = self.backbone(image)
        return feats if self.neck is None else self.neck(feats)

    def roi_features(self, feats, rois, rois_num, resolution):
        if len(self.scales) == 1:
            return roi_align(feats[0], rois, rois_num, resolution, self.scales[0], 0, True)
        multi, restore, nums = distribute_fpn_proposals(rois, 2, 5, 4, 224, pixel_offset=False, rois_num=rois_num)
        outs = [roi_align(f, r, n, resolution, s, 0, True) for f, r, n, s in zip(feats, multi, nums, self.scales)]
        return paddle.gather(paddle.concat(outs), restore.flatten())

    def stage(self, i, feats, rois, rois_num):
        x = self.roi_features(feats, rois, rois_num, self.resolution)
        head = self.head[i] if self.kind == "cascade" else self.head
        return self.predictor[i](head(x))

    def forward(self, image, im_shape, scale_factor, targets=None):
        feats = self.features(image)
        scores, deltas, anchors = self.rpn(feats)
        if self.training:
            return self.losses(feats, scores, deltas, anchors, im_shape, targets)
        return self.detect(feats, scores, deltas, anchors, im_shape, scale_factor)

    # ---------------------------------------------------------------------------------- training
    def losses(self, feats, scores, deltas, anchors, im_shape, targets):
        """targets: dict of gt_boxes and gt_labels (per image numpy, input pixels), rng, and for Mask
        R-CNN mask_targets(image index, gt indices, rois) -> [P, 28, 28] numpy."""
        gt_boxes, gt_labels, rng = targets["gt_boxes"], targets["gt_labels"], targets["rng"]
        losses = self.rpn.loss(scores, deltas, gt_boxes, rng)
        with paddle.no_grad():
            proposals = self.rpn.proposals(scores, deltas, anchors, im_shape, training=True)
        roi_feats = feats[:4] if self.neck is not None else feats
        rois, labels, matched, fg_rois = [], [], [], []
        for p, gt, lab in zip(proposals, gt_boxes, gt_labels):
            boxes = np.concatenate([p, gt]) if len(gt) else p
            best, flags, _ = match(boxes, gt, 0.5, 0.5, False)
            fg, bg = subsample(flags, self.rois_per_image, 0.25, rng)
            keep = np.concatenate([fg, bg])
            rois.append(boxes[keep])
            cls = np.full(len(keep), self.num_classes, np.int64)
            if len(gt):
                cls[:len(fg)] = lab[best[fg]]
                matched.append(gt[best[keep]])
            else:
                matched.append(np.zeros((len(keep), 4), np.float32))
            labels.append(cls)
            fg_rois.append((boxes[fg], best[fg], cls[:len(fg)]))
        for s, (weights, thresh) in enumerate(self.STAGES[:self.num_stages]):
            sizes = [len(r) for r in rois]  # kept on the host: the split below needs no read-back
            rois_num = paddle.to_tensor(sizes, "int32")
            roi_t = paddle.to_tensor(np.concatenate(rois).astype(np.float32))
            score, delta = self.stage(s, roi_feats, roi_t, rois_num)
            lab = np.concatenate(labels)
            fg = np.where(lab < self.num_classes)[0]
            loss_cls = F.cross_entropy(score, paddle.to_tensor(lab))
            if len(fg):
                pred = delta.reshape([len(lab), -1, 4])
                pred = pred[:, 0] if pred.shape[1] == 1 else pick_class(pred, paddle.to_tensor(lab.clip(
                    max=self.num_classes - 1)))
                tgt = encode(np.concatenate(matched), np.concatenate(rois), weights)
                loss_reg = (paddle.gather(pred, paddle.to_tensor(fg)) - paddle.to_tensor(tgt[fg])).abs().sum() / len(lab)
            else:
                loss_reg = (delta * 0).sum()
            w = [1.0, 0.5, 0.25][s] if self.kind == "cascade" else 1.0
            losses[f"loss_cls_{s}"] = loss_cls * w
            losses[f"loss_reg_{s}"] = loss_reg * w
            if s + 1 < self.num_stages:  # the next stage trains on this stage's refined boxes at a higher IoU
                with paddle.no_grad():
                    refined = decode(delta.reshape([-1, 4]), roi_t, weights)
                    refined = clip_boxes(refined, im_shape, rois_num).numpy()
                rois, labels, matched = [], [], []
                next_thresh = self.STAGES[s + 1][1]
                parts = np.split(refined, np.cumsum(sizes)[:-1])
                for r, gt, lab_i in zip(parts, gt_boxes, gt_labels):
                    r = r[(r[:, 2] > r[:, 0] + 1e-3) & (r[:, 3] > r[:, 1] + 1e-3)]
                    best, flags, _ = match(r, gt, next_thresh, next_thresh, False)
                    cls = np.full(len(r), self.num_classes, np.int64)
                    if len(gt):
                        cls[flags == 1] = lab_i[best[flags == 1]]
                    rois.append(r)
                    labels.append(cls)
                    matched.append(gt[best] if len(gt) else np.zeros((len(r), 4), np.float32))
        if self.kind == "mask":
            losses["loss_mask"] = self.mask_loss(roi_feats, fg_rois, targets)
        return losses

    def mask_loss(self, feats, fg_rois, targets):
        """BCE of each positive RoI's mask of its class against the gt mask sampled inside the RoI."""
        nums = [len(r) for r, _, _ in fg_rois]
        if sum(nums) == 0:
            return paddle.to_tensor(0.0)
        rois = paddle.to_tensor(np.concatenate([r for r, _, _ in fg_rois]).astype(np.float32))
        logits = self.mask_head(self.roi_features(feats, rois, paddle.to_tensor(nums, "int32"), 14))
        labels = np.concatenate([lab for _, _, lab in fg_rois])
        target = np.concatenate([targets["mask_targets"](i, gt, r, logits.shape[-1])
                                 for i, (r, gt, _) in enumerate(fg_rois)]).astype(np.float32)
        pred = pick_class(logits, paddle.to_tensor(labels))
        return F.binary_cross_entropy_with_logits(pred, paddle.to_tensor(target))

    # ---------------------------------------------------------------------------------- inference
    def detect(self, feats, scores, deltas, anchors, im_shape, scale_factor):
        rois, rois_num = self.rpn.proposals(scores, deltas, anchors, im_shape, False, self.test_proposals,
                                            self.test_pre_nms, self.collect_top_n)
        roi_feats = feats[:4] if self.neck is not None else feats
        probs = []
        for s in range(self.num_stages):
            weights = self.STAGES[s][0]
            score, delta = self.stage(s, roi_feats, rois, rois_num)
            probs.append(F.softmax(score, -1))
            if self.kind == "cascade":
                boxes = clip_boxes(decode(delta, rois, weights), im_shape, rois_num)
                if s + 1 < self.num_stages:
                    rois = boxes
            else:
                boxes = clip_boxes(decode(delta.reshape([paddle.shape(delta)[0], -1, 4]), rois.unsqueeze(1), weights),
                                   im_shape, rois_num)
        prob = paddle.add_n(probs) / len(probs)
        if self.kind == "cascade":
            boxes = paddle.tile(boxes.unsqueeze(1), [1, self.num_classes, 1])
        rows, _, counts = _C_ops.multiclass_nms3(boxes, prob[:, :-1], rois_num, self.score_threshold, -1,
                                                 self.keep_top_k, self.nms_threshold, self.nms_normalized, 1.0, -1)
        masks = None
        if self.kind == "mask":
            boxes_in = rows[:, 2:]
            logits = self.mask_head(self.roi_features(roi_feats, boxes_in, counts, 14))
            masks = F.sigmoid(pick_class(logits, paddle.clip(rows[:, 0], min=0).astype("int64")))
        rows = to_original_pixels(rows, counts, scale_factor, im_shape if self.clip_original else None)
        return (rows, counts) if masks is None else (rows, counts, masks)
