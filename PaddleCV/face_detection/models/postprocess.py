"""The detectors' post-processing, part of the model so that eval.py and the exported inference model
run the same code: decode the offsets against the anchors, clip the boxes to the picture, scale the
normalised boxes to the original image (im_shape / scale_factor, the inputs PaddleDetection's exports
take; a box then lies within [0, width] x [0, height] of the original picture, and one that lay wholly
outside it, now of no area, gets score 0 and is dropped), softmax the scores and
run Paddle's multiclass NMS (the `multiclass_nms3` kernel, which runs on CPU and exports) with
blazeface_1000e's settings: score >= 0.01, the 5000 best, IoU 0.3, at most 750 per image.

With recipe="paddledet" (a PaddleDetection file, suite_recipe.py) it is PaddleDetection 2.6's
BBoxPostProcess of blazeface_1000e instead: the same decode and softmax, no clipping, and its
MultiClassNMS with normalized=True (IoU without the +1 pixel); its anchors are computed in the graph
from the input's height and width (anchors_like), so that its export takes pictures of any size.

forward(image, im_shape, scale_factor) -> (bbox [M, 6]: class id 1 (face), score, x1, y1, x2, y2 in
original-image pixels; bbox_num [N]: detections per image, in batch order)."""
import numpy as np
import paddle
import paddle.nn.functional as F

import anchors

NMS = {"score_threshold": 0.01, "nms_top_k": 5000, "keep_top_k": 750, "nms_threshold": 0.3}


class FaceDetector(paddle.nn.Layer):
    def __init__(self, net, spec, nms=None, recipe=None):
        super().__init__()
        self.net = net
        self.spec = spec
        self.recipe = recipe
        if recipe:
            import suite_recipe
            nms = dict(suite_recipe.NMS, **(nms or {}))
        self.nms = dict(dict(NMS, normalized=False), **(nms or {}))
        self._priors = {}

    @paddle.jit.not_to_static
    def _anchors(self, height, width):
        if (height, width) not in self._priors:
            self._priors[(height, width)] = anchors.anchors_for(self.spec.layout, height, width)
        return self._priors[(height, width)]

    def forward(self, image, im_shape, scale_factor):
        offsets, logits = self.net(image)[:2]
        if self.recipe:  # PaddleDetection's: anchors of the input's size in the graph (any size), no clipping
            shape = paddle.shape(image)
            boxes = anchors.decode(offsets, anchors_like(self.spec.layout, shape[2], shape[3]))
        else:
            priors = paddle.to_tensor(self._anchors(image.shape[2], image.shape[3]))
            boxes = paddle.clip(anchors.decode(offsets, priors), 0.0, 1.0)  # no face box beyond the picture
        origin = im_shape / scale_factor  # [N, 2] original (h, w)
        scale = paddle.concat([origin[:, 1:2], origin[:, 0:1], origin[:, 1:2], origin[:, 0:1]], axis=1)
        boxes = boxes * scale.unsqueeze(1)
        scores = F.softmax(logits, axis=-1)  # [N, P, 2]: background (ours: 0), face
        if not self.recipe:
            # a box wholly outside the picture is clipped to a line on its border: no face, dropped by NMS's threshold
            inside = ((boxes[:, :, 2] > boxes[:, :, 0]) & (boxes[:, :, 3] > boxes[:, :, 1])).astype(logits.dtype)
            scores = scores * paddle.stack([paddle.ones_like(inside), inside], axis=-1)
        scores = scores.transpose([0, 2, 1])  # [N, 2, P]
        bbox, _, bbox_num = paddle._C_ops.multiclass_nms3(
            boxes, scores, None, self.nms["score_threshold"], self.nms["nms_top_k"], self.nms["keep_top_k"],
            self.nms["nms_threshold"], self.nms["normalized"], 1.0, 0)
        return bbox, bbox_num


def anchors_like(layout, height, width):
    """anchors.anchors_for in Paddle ops, for a height and width known only when the graph runs (int
    tensors): [P, 4] normalised anchors in the same order."""
    out = []
    hf, wf = height.astype("float32"), width.astype("float32")
    for stride, sizes in layout:
        fh, fw = (height + stride - 1) // stride, (width + stride - 1) // stride
        cell = []
        for size, density in sizes:
            offsets = (np.arange(density) + 0.5) * stride / density - stride / 2
            oy, ox = np.meshgrid(offsets, offsets, indexing="ij")
            cell.append(np.stack([ox.ravel(), oy.ravel(), np.full(density * density, size)], axis=1))
        cell = paddle.to_tensor(np.concatenate(cell).astype("float32"))  # [K, 3]: dx, dy, size
        cy, cx = paddle.meshgrid((paddle.arange(fh, dtype="float32") + 0.5) * stride,
                                 (paddle.arange(fw, dtype="float32") + 0.5) * stride)
        centres = paddle.stack([cx.flatten(), cy.flatten()], axis=1).unsqueeze(1) + cell[:, :2].unsqueeze(0)
        half = (cell[:, 2:3] / 2).unsqueeze(0)
        boxes = paddle.concat([centres - half, centres + half], axis=2).reshape([-1, 4])
        out.append(boxes / paddle.stack([wf, hf, wf, hf]).reshape([1, 4]))
    return paddle.concat(out)


def split_per_image(bbox, bbox_num):
    """[M, 6] + counts -> a list of [k, 6] float arrays, one per image."""
    bbox, bbox_num = np.asarray(bbox), np.asarray(bbox_num).reshape(-1)
    ends = np.cumsum(bbox_num)
    return [bbox[e - n:e].reshape(-1, 6) for n, e in zip(bbox_num, ends)]


def to_xywh_score(dets):
    """[k, 6] (label, score, x1, y1, x2, y2) -> [k, 5] (x, y, w, h, score), WIDER FACE's result format."""
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 6)
    return np.stack([dets[:, 2], dets[:, 3], dets[:, 4] - dets[:, 2], dets[:, 5] - dets[:, 3], dets[:, 1]], axis=1)
