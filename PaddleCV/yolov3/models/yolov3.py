"""YOLOv3 (https://arxiv.org/abs/1804.02767): a backbone's three feature maps, the YOLOv3 FPN neck
and the 1x1 detection head at strides 32, 16 and 8, with the nine COCO anchors, as PaddleDetection's
yolov3_darknet53_270e_coco builds it.

Training returns the three raw head maps; `loss()` scores them with paddle.vision.ops.yolo_loss
(ignore threshold 0.7, label smoothing, mixup scores). Evaluation decodes with
paddle.vision.ops.yolo_box into the original image's pixels and keeps the best boxes per class with
multi-class NMS; the output is PaddleDetection's: [K, 6] rows (class, score, x1, y1, x2, y2) and the
box count per image.
"""
import paddle
import paddle.nn as nn
from paddle.vision.ops import yolo_box, yolo_loss

from models.darknet import ConvBN

COCO_ANCHORS = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198], [373, 326]]
ANCHOR_MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]  # the large anchors go to the coarse (stride 32) map
STRIDES = [32, 16, 8]


class DetectionBlock(nn.Layer):
    """Five convolutions alternating 1x1 (to `channels`) and 3x3 (to 2 * channels): the route, which
    also feeds the next scale; then a 3x3 "tip" that feeds this scale's head."""

    def __init__(self, ch_in, channels):
        super().__init__()
        self.convs = nn.Sequential(ConvBN(ch_in, channels, 1), ConvBN(channels, 2 * channels, 3),
                                   ConvBN(2 * channels, channels, 1), ConvBN(channels, 2 * channels, 3),
                                   ConvBN(2 * channels, channels, 1))
        self.tip = ConvBN(channels, 2 * channels, 3)

    def forward(self, x):
        route = self.convs(x)
        return route, self.tip(route)


class YOLOv3FPN(nn.Layer):
    """From the coarsest map down: detection block, then a 1x1 transition halving the channels,
    2x nearest upsampling and concatenation with the next finer backbone map. `width` scales every
    channel count (1.0: the published neck)."""

    def __init__(self, in_channels=(256, 512, 1024), width=1.0):
        super().__init__()
        self.blocks, self.transitions = nn.LayerList(), nn.LayerList()
        self.out_channels = []
        for i, ch in enumerate(reversed(in_channels)):
            channels = int(512 * width) // 2 ** i
            self.blocks.append(DetectionBlock(ch + (channels if i else 0), channels))
            self.out_channels.append(2 * channels)
            if i < len(in_channels) - 1:
                self.transitions.append(ConvBN(channels, channels // 2, 1))

    def forward(self, feats):
        outs, route = [], None
        for i, feat in enumerate(reversed(feats)):
            if route is not None:
                feat = paddle.concat([route, feat], axis=1)
            route, tip = self.blocks[i](feat)
            outs.append(tip)
            if i < len(self.transitions):
                route = upsample2x(self.transitions[i](route))
        return outs


def upsample2x(x):
    """Nearest 2x upsampling by repeating rows and columns. F.interpolate(scale_factor=2) does the same,
    but its exported scale attribute stops Paddle Inference's oneDNN executor (Paddle 3.3.1:
    "ConvertPirAttribute2RuntimeAttribute not support ArrayAttribute<DoubleAttribute>")."""
    _, c, h, w = x.shape
    x = x.reshape([-1, c, h, 1, w, 1]).tile([1, 1, 1, 2, 1, 2])
    return x.reshape([-1, c, 2 * h, 2 * w])


class YOLOv3(nn.Layer):
    def __init__(self, backbone, num_classes=80, neck_width=1.0, anchors=COCO_ANCHORS, anchor_masks=ANCHOR_MASKS,
                 ignore_thresh=0.7, label_smooth=True, conf_thresh=0.005, nms_threshold=0.45,
                 score_threshold=0.01, nms_top_k=1000, keep_top_k=100):
        super().__init__()
        self.backbone = backbone
        self.neck = YOLOv3FPN(backbone.out_channels, neck_width)
        self.num_classes = num_classes
        self.anchors = [a for pair in anchors for a in pair]
        self.anchor_masks = anchor_masks
        self.mask_anchors = [[v for i in mask for v in anchors[i]] for mask in anchor_masks]
        self.heads = nn.LayerList([nn.Conv2D(ch, len(mask) * (5 + num_classes), 1)
                                   for ch, mask in zip(self.neck.out_channels, anchor_masks)])
        self.ignore_thresh, self.label_smooth = ignore_thresh, label_smooth
        self.conf_thresh, self.nms_threshold, self.score_threshold = conf_thresh, nms_threshold, score_threshold
        self.nms_top_k, self.keep_top_k = nms_top_k, keep_top_k
        # Two details in which PaddleDetection's YOLOv3 differs, which pretrained.use_suite_recipe sets
        # for its weights: the original size yolo_box scales to is rounded here, truncated by its
        # YOLOBox; NMS measures IoU with +1 pixel widths here (normalized=False), without by its
        # MultiClassNMS (normalized=True).
        self.truncate_origin = False
        self.nms_normalized = False

    def head_outputs(self, image):
        """The raw maps [N, 3 * (5 + C), H / s, W / s] for s = 32, 16, 8."""
        return [head(feat) for head, feat in zip(self.heads, self.neck(self.backbone(image)))]

    def forward(self, image, im_shape=None, scale_factor=None):
        outputs = self.head_outputs(image)
        if self.training:
            return outputs
        return self.decode(outputs, im_shape, scale_factor)

    def loss(self, outputs, gt_box, gt_label, gt_score):
        """Mean over the batch of the summed per-scale yolo_loss. gt_box: [N, B, 4] centre x, y, width,
        height as fractions of the input; padding rows are all zero and ignored by the op."""
        total = 0.0
        for out, mask, stride in zip(outputs, self.anchor_masks, STRIDES):
            total = total + yolo_loss(out, gt_box, gt_label, self.anchors, mask, self.num_classes,
                                      self.ignore_thresh, stride, gt_score=gt_score,
                                      use_label_smooth=self.label_smooth)
        return total.mean()

    def decode_boxes(self, outputs, im_shape, scale_factor):
        """Before NMS: [N, M, 4] boxes (x1, y1, x2, y2 in the original image's pixels) and [N, C, M]
        scores over the M = 3 * (H*W/32^2 + H*W/16^2 + H*W/8^2) anchors. im_shape is the input's
        (height, width) after resizing and scale_factor the resize ratio (y, x), as PaddleDetection's
        exports take them; their quotient is the original size that yolo_box scales and clips to."""
        origin = im_shape / scale_factor
        origin = (origin if self.truncate_origin else paddle.floor(origin + 0.5)).astype("int32")
        boxes, scores = [], []
        for out, anchors, stride in zip(outputs, self.mask_anchors, STRIDES):
            b, s = yolo_box(out, origin, anchors, self.num_classes, self.conf_thresh, stride, clip_bbox=True)
            boxes.append(b)
            scores.append(s)
        return paddle.concat(boxes, axis=1), paddle.concat(scores, axis=1).transpose([0, 2, 1])

    def decode(self, outputs, im_shape, scale_factor):
        """Boxes in the original image's pixels after multi-class NMS (decode_boxes, then NMS)."""
        boxes, scores = self.decode_boxes(outputs, im_shape, scale_factor)
        return multiclass_nms(boxes, scores, self.score_threshold, self.nms_top_k, self.keep_top_k,
                              self.nms_threshold, self.nms_normalized)


def multiclass_nms(boxes, scores, score_threshold, nms_top_k, keep_top_k, nms_threshold, normalized=False):
    """Per-class NMS over [N, M, 4] boxes and [N, C, M] scores: ([K, 6] rows of class, score, x1, y1,
    x2, y2 for all images in order, [N] row counts). The multiclass_nms3 kernel (what
    PaddleDetection's exports run); paddle.vision.ops.nms works on one image's boxes at a time and
    would need a Python loop over the batch, which the export could not hold."""
    out, _, counts = paddle._C_ops.multiclass_nms3(boxes, scores, None, score_threshold, nms_top_k, keep_top_k,
                                                  nms_threshold, normalized, 1.0, -1)
    return out, counts
