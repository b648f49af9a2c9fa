"""SSD's post-processing, part of the model so that eval.py and the exported inference model run
the same code: decode the offsets against the priors, scale the normalised boxes to the original
image (im_shape / scale_factor, the inputs PaddleDetection's exports take), softmax the scores and
run Paddle's multiclass NMS (the `multiclass_nms3` kernel, which runs on CPU and exports) with the
recipe's settings: score >= 0.01, the 400 best per class, IoU 0.45, at most 200 per image.

forward(image, im_shape, scale_factor) -> (bbox [M, 6]: class id (1-based), score, x1, y1, x2, y2
in original-image pixels; bbox_num [N]: detections per image, in batch order)."""
import numpy as np
import paddle
import paddle.nn.functional as F

import prior_box

# normalized=False: the IoU of pixel boxes counts +1 pixel per side (this folder's training and eval);
# a PaddleDetection checkpoint's recipe sets True, as its MultiClassNMS does (pretrained.SUITE_RECIPE)
NMS = {"score_threshold": 0.01, "nms_top_k": 400, "keep_top_k": 200, "nms_threshold": 0.45, "normalized": False}


class SSDDetector(paddle.nn.Layer):
    def __init__(self, ssd, nms=None):
        super().__init__()
        self.ssd = ssd
        self.nms = dict(NMS, **(nms or {}))
        self._priors = {}

    def priors(self, height, width):
        if (height, width) not in self._priors:
            self._priors[(height, width)] = self.ssd.priors(height, width)
        return paddle.to_tensor(self._priors[(height, width)])

    def decode(self, image, im_shape, scale_factor):
        """(boxes [N, P, 4] in original-image pixels, class probabilities [N, C+1, P]) before NMS."""
        offsets, logits = self.ssd(image)
        boxes = prior_box.decode(offsets, self.priors(image.shape[2], image.shape[3]))
        origin = im_shape / scale_factor  # [N, 2] original (h, w)
        scale = paddle.concat([origin[:, 1:2], origin[:, 0:1], origin[:, 1:2], origin[:, 0:1]], axis=1)
        boxes = boxes * scale.unsqueeze(1)
        return boxes, F.softmax(logits, axis=-1).transpose([0, 2, 1])

    def forward(self, image, im_shape, scale_factor):
        boxes, scores = self.decode(image, im_shape, scale_factor)
        bbox, _, bbox_num = paddle._C_ops.multiclass_nms3(
            boxes, scores, None, self.nms["score_threshold"], self.nms["nms_top_k"], self.nms["keep_top_k"],
            self.nms["nms_threshold"], self.nms["normalized"], 1.0, 0)
        return bbox, bbox_num


def split_per_image(bbox, bbox_num):
    """[M, 6] + counts -> a list of [k, 6] float arrays, one per image."""
    bbox, bbox_num = np.asarray(bbox), np.asarray(bbox_num).reshape(-1)
    ends = np.cumsum(bbox_num)
    return [bbox[e - n:e].reshape(-1, 6) for n, e in zip(bbox_num, ends)]
