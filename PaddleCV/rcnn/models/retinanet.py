"""RetinaNet as PaddleDetection's retinanet_r50_fpn_1x_coco: ResNet50 res3-res5, FPN P3-P5 plus P6,
P7 by stride-2 convs (P6 on P5's output), four 3x3 convs of 256 with ReLU in each of the class and
box towers (shared over levels), 9 anchors per place (3 octave scales x 3 aspect ratios, base size
4 x stride), sigmoid focal loss (alpha 0.25, gamma 2; `paddle.nn.functional.sigmoid_focal_loss`)
and an L1 box loss, both over the positives' count; anchors IoU >= 0.5 positive, < 0.4 negative,
each gt's best anchors positive. Test: sigmoid scores over all levels, multi-class NMS (score 0.05,
IoU 0.5, 100 kept; this folder's models keep each class's 1000 best over all levels, clipped to the
picture). A PaddleDetection file switches to its RetinaHead's test (detect_suite): each level's 1000
best anchors first, no clipping, NMS without the +1 pixel.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops

from .boxes import HostAnchors, base_anchors, decode, encode, grid_anchors, match, to_original_pixels
from .rcnn import FPN
from .resnet import ResNet


class RetinaNet(nn.Layer):
    def __init__(self, num_classes=80, depth=50, width=1.0, fpn_channels=256, freeze_at=0, freeze_norm=True,
                 score_threshold=0.05, nms_threshold=0.5, keep_top_k=100, nms_top_k=1000):
        super().__init__()
        self.num_classes = num_classes
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        self.keep_top_k, self.nms_top_k = keep_top_k, nms_top_k
        self.suite_post = False  # PaddleDetection's RetinaHead.post_process instead (pretrained.use_suite_recipe)
        self.backbone = ResNet(depth, width, return_idx=[1, 2, 3], freeze_at=freeze_at, freeze_norm=freeze_norm)
        self.neck = FPN(self.backbone.out_channels, fpn_channels, extra="conv", num_extra=2)
        self.strides = [8, 16, 32, 64, 128]
        bases = [base_anchors([4 * stride * 2 ** (k / 3) for k in range(3)], [0.5, 1.0, 2.0]) for stride in self.strides]
        for i, base in enumerate(bases):
            self.register_buffer(f"anchors{i}", paddle.to_tensor(base), persistable=False)
        self.host_anchors = HostAnchors(bases, self.strides)  # the loss's copy, made on the host
        a = 9
        init = paddle.ParamAttr(initializer=nn.initializer.Normal(std=0.01))

        def tower():
            layers = []
            for _ in range(4):
                layers += [nn.Conv2D(fpn_channels, fpn_channels, 3, padding=1, weight_attr=init), nn.ReLU()]
            return nn.Sequential(*layers)
        self.cls_tower, self.reg_tower = tower(), tower()
        prior = -math.log((1 - 0.01) / 0.01)
        self.cls = nn.Conv2D(fpn_channels, a * num_classes, 3, padding=1, weight_attr=init,
                             bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(prior)))
        self.reg = nn.Conv2D(fpn_channels, a * 4, 3, padding=1, weight_attr=init)

    def forward(self, image, im_shape, scale_factor, targets=None):
        feats = self.neck(self.backbone(image))
        n = paddle.shape(image)[0]
        logits, deltas, anchors = [], [], []
        for i, f in enumerate(feats):
            logits.append(self.cls(self.cls_tower(f)).transpose([0, 2, 3, 1]).reshape([n, -1, self.num_classes]))
            deltas.append(self.reg(self.reg_tower(f)).transpose([0, 2, 3, 1]).reshape([n, -1, 4]))
            if not self.training:
                anchors.append(grid_anchors(f, self.strides[i], getattr(self, f"anchors{i}")).reshape([-1, 4]))
        if not self.training and self.suite_post:
            return self.detect_suite(logits, deltas, anchors, im_shape, scale_factor)
        logits, deltas = paddle.concat(logits, 1), paddle.concat(deltas, 1)
        if self.training:  # the loss's anchors are made on the host from the maps' shapes
            return self.losses(logits, deltas, self.host_anchors([f.shape[2:] for f in feats]), targets)
        anchors = paddle.concat(anchors)
        boxes = decode(deltas, anchors.unsqueeze(0))
        h, w = im_shape[:, 0].reshape([-1, 1]), im_shape[:, 1].reshape([-1, 1])
        boxes = paddle.stack([paddle.minimum(paddle.clip(boxes[..., 0], min=0), w),
                              paddle.minimum(paddle.clip(boxes[..., 1], min=0), h),
                              paddle.minimum(paddle.clip(boxes[..., 2], min=0), w),
                              paddle.minimum(paddle.clip(boxes[..., 3], min=0), h)], -1)
        scores = F.sigmoid(logits).transpose([0, 2, 1])
        rows, _, counts = _C_ops.multiclass_nms3(boxes, scores, None, self.score_threshold, self.nms_top_k,
                                                 self.keep_top_k, self.nms_threshold, False, 1.0, -1)
        return to_original_pixels(rows, counts, scale_factor), counts

    def detect_suite(self, logits, deltas, anchors, im_shape, scale_factor):
        """PaddleDetection's test for its weights: per level and picture the nms_top_k anchors of the
        highest class logit (a level of no more anchors: all, in anchor order), decoded without
        clipping, divided by the scale factor (original pixels, not clipped either), then multi-class
        NMS with IoU without the +1 pixel (normalized)."""
        n = paddle.shape(logits[0])[0]
        boxes, scores = [], []
        for lg, dl, an in zip(logits, deltas, anchors):
            m = paddle.shape(lg)[1]
            k = paddle.minimum(m, paddle.full([], self.nms_top_k, m.dtype))
            _, idx = paddle.topk(lg.max(-1), k, axis=1)  # [n, k]
            # as its get_bboxes_single, a level of at most nms_top_k anchors is not top-k'ed but kept in
            # anchor order: the order in which NMS takes equal scores
            few = (m <= self.nms_top_k).astype(idx.dtype)
            idx = idx * (1 - few) + paddle.sort(idx, axis=1) * few
            flat = (idx + paddle.arange(0, n, 1, dtype=idx.dtype).unsqueeze(1) * m.astype(idx.dtype)).flatten()
            picked = paddle.gather(lg.reshape([-1, self.num_classes]), flat).reshape([n, -1, self.num_classes])
            delta = paddle.gather(dl.reshape([-1, 4]), flat).reshape([n, -1, 4])
            boxes.append(decode(delta, paddle.gather(an, idx.flatten()).reshape([n, -1, 4])))
            scores.append(F.sigmoid(picked))
        scale = paddle.concat([scale_factor[:, 1:2], scale_factor[:, 0:1]] * 2, 1).unsqueeze(1)
        # its test does not clip, so im_shape is not needed; an export refuses an input its graph does
        # not use (Paddle 3.3.1), so it enters as a zero term
        boxes = paddle.concat(boxes, 1) / scale + (im_shape[:, :1] * 0).unsqueeze(1)
        scores = paddle.concat(scores, 1).transpose([0, 2, 1])
        rows, _, counts = _C_ops.multiclass_nms3(boxes, scores, None, self.score_threshold, self.nms_top_k,
                                                 self.keep_top_k, self.nms_threshold, True, 1.0, -1)
        return rows, counts

    def losses(self, logits, deltas, all_anchors, targets):
        """all_anchors: numpy [M, 4], the host's own (HostAnchors)."""
        labels, keep, fg_rows, tgt = [], [], [], []
        m = len(all_anchors)
        for i, (gt, lab) in enumerate(zip(targets["gt_boxes"], targets["gt_labels"])):
            best, flags, _ = match(all_anchors, gt, 0.5, 0.4, True)
            onehot = np.zeros((m, self.num_classes), np.float32)
            fg = np.where(flags == 1)[0]
            if len(fg):
                onehot[fg, lab[best[fg]]] = 1
                tgt.append(encode(gt[best[fg]], all_anchors[fg]))
            labels.append(onehot)
            keep.append(np.where(flags >= 0)[0] + i * m)
            fg_rows.append(fg + i * m)
        keep, fg_rows = np.concatenate(keep), np.concatenate(fg_rows)
        num_pos = paddle.to_tensor(max(len(fg_rows), 1), "float32")
        flat = logits.reshape([-1, self.num_classes])
        target = paddle.to_tensor(np.concatenate(labels)[keep])
        cls = F.sigmoid_focal_loss(paddle.gather(flat, paddle.to_tensor(keep)), target, normalizer=num_pos,
                                   alpha=0.25, gamma=2.0, reduction="sum")
        if len(fg_rows):
            pred = paddle.gather(deltas.reshape([-1, 4]), paddle.to_tensor(fg_rows))
            reg = (pred - paddle.to_tensor(np.concatenate(tgt))).abs().sum() / num_pos
        else:
            reg = (deltas * 0).sum()
        return {"loss_cls": cls, "loss_reg": reg}
