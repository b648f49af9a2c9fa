"""PaddleDetection 2.6's WIDER FACE evaluation recipe, used by eval/export/infer for a PaddleDetection
`blazeface_1000e` file (pretrained.load returns pretrained.SUITE), so that its weights are evaluated as
PaddleDetection evaluated them. Written from the behaviour of its face-eval path
(`tools/eval.py -c configs/face_detection/blazeface_1000e.yml`: the WiderFace metric runs
ppdet/metrics/widerface_utils.py's face_eval_run on each val picture, one by one); none of its code.

Preprocessing (one picture, never batched): the picture at its ORIGINAL size times a scale `shrink`
(OpenCV's bilinear resize to int(h * shrink) x int(w * shrink), cv2.resize's default; no resize at
shrink 1), RGB, minus the mean (104, 117, 123) from R, G, B in that order, divided by 127.502231, CHW;
im_shape = the resized (h, w), scale_factor = (shrink, shrink). Note: that mean is what its face-eval
path subtracts; the config's EvalReader/TestReader (NormalizeImage mean [123, 117, 104]) are not used
by it, and our own models keep reader.resize_normalise (mean 123, 117, 104).

Post-processing (FaceDetector(..., recipe=SUITE), in the model and its export): the SSD decode
(variances 0.1, 0.1, 0.2, 0.2) scaled by im_shape / scale_factor, softmax, then the config's
MultiClassNMS: score >= 0.01, the 5000 best, IoU 0.3, at most 750, normalized=True (IoU without the +1
pixel); no clipping to the picture (ours clips).

Evaluation: single scale = one forward at shrink 1 (original size). `--multi_scale` (PaddleDetection's
default for WiderFace, `multi_scale_eval` unset = True, and how its model zoo's AP was measured):
  shrink, max_shrink = shrink_limits(h, w) (a memory cap on the picture's area);
  detections at shrink, and on the mirrored picture at shrink (mirrored back);
  a shrunk pass at 0.5 (0.5 * max_shrink if max_shrink < 0.75) kept for faces > 30 px;
  an enlarged pass at min(2, max_shrink) (or halfway between the shrunk scale and max_shrink when
  max_shrink <= 1), doubled while below max_shrink, and max_shrink itself, kept for faces < 100 px
  when enlarged (> 30 px otherwise);
  a pyramid: 0.25 (faces > 30 px), and 0.75, 1.25, 1.5, 1.75 when <= max_shrink (enlarged: faces <
  100 px; shrunk: > 30 px), "px" being max(w, h) + 1 or min(w, h) + 1 of the box as in the suite;
  all merged by box voting (vote): the best box and every box at IoU (+1 pixel) >= 0.3 with it
  become their score-weighted mean box with their best score; a box with no such neighbour is dropped
  unless it is the last one left (as the suite does); the 750 best, score >= 0.01.
The result, per picture, is written as the suite writes its txt files: x1, y1, x2 - x1 + 1, y2 - y1 + 1
(rounded to 0.1 px) and the score (rounded to 0.001), which widerface_eval.py scores.
"""
import numpy as np

MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)  # subtracted from R, G, B in this order (see above)
STD = np.float32(127.502231)
NMS = {"score_threshold": 0.01, "nms_top_k": 5000, "keep_top_k": 750, "nms_threshold": 0.3, "normalized": True}
VOTE_IOU, KEEP, MIN_SCORE = 0.3, 750, 0.01


def preprocess(image, shrink=1.0):
    """RGB uint8 [H, W, 3] -> (image [1, 3, h, w] float32, im_shape [1, 2], scale_factor [1, 2])."""
    h, w = image.shape[:2]
    if shrink != 1:
        import cv2
        h, w = int(h * shrink), int(w * shrink)
        image = cv2.resize(np.ascontiguousarray(image), (w, h))  # INTER_LINEAR, as the suite
    chw = ((image.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
    return (np.ascontiguousarray(chw[None]), np.array([[h, w]], dtype=np.float32),
            np.array([[shrink, shrink]], dtype=np.float32))


def detect(predict, image, shrink=1.0):
    """[k, 5] (x1, y1, x2, y2, score) in original pixels from one forward at `shrink`.
    predict(image, im_shape, scale_factor) -> (bbox [k, 6], bbox_num)."""
    bbox = np.asarray(predict(*preprocess(image, shrink))[0]).reshape(-1, 6)
    return np.concatenate([bbox[:, 2:6], bbox[:, 1:2]], axis=1).astype(np.float64)


def detect_flipped(predict, image, shrink):
    dets = detect(predict, np.ascontiguousarray(image[:, ::-1]), shrink)
    width = image.shape[1]
    return np.stack([width - dets[:, 2], dets[:, 1], width - dets[:, 0], dets[:, 3], dets[:, 4]], axis=1)


def _truncate_2(x):
    """The suite cuts its float's decimal text after two places (when it has three or more)."""
    whole, _, frac = repr(float(x)).partition(".")
    return float(f"{whole}.{frac[:2]}") if len(frac) >= 3 else x


def shrink_limits(height, width):
    """(shrink, max_shrink) of a picture: the largest scale its memory cap allows, less a margin."""
    area = height * width
    top = _truncate_2(min((0x7fffffff / 577.0 / area) ** 0.5, (678 * 1024 * 2.0 * 2.0 / area) ** 0.5)) - 0.3
    for low, high, margin in ((1.5, 2, 0.1), (2, 3, 0.2), (3, 4, 0.3), (4, 5, 0.4), (5, np.inf, 0.5)):
        if low <= top < high:
            top -= margin
            break
    else:
        if top <= 0.1:
            top = 0.1
    return (top if top < 1 else 1), top


def _sides(dets):
    return dets[:, 2] - dets[:, 0] + 1, dets[:, 3] - dets[:, 1] + 1


def big_faces(dets):
    w, h = _sides(dets)
    return dets[np.maximum(w, h) > 30]


def small_faces(dets):
    w, h = _sides(dets)
    return dets[np.minimum(w, h) < 100]


def multi_scale_detect(predict, image):
    """The suite's multi-scale test of one picture, merged by vote()."""
    shrink, top = shrink_limits(*image.shape[:2])
    parts = [detect(predict, image, shrink), detect_flipped(predict, image, shrink)]
    low = 0.5 if top >= 0.75 else 0.5 * top
    parts.append(big_faces(detect(predict, image, low)))
    high = min(2, top) if top > 1 else (low + top) / 2
    enlarged = [detect(predict, image, high)]
    if top > 2:
        high *= 2
        while high < top:
            enlarged.append(detect(predict, image, high))
            high *= 2
        enlarged.append(detect(predict, image, top))
    enlarged = np.concatenate(enlarged)
    parts.append(small_faces(enlarged) if high > 1 else big_faces(enlarged))
    parts.append(big_faces(detect(predict, image, 0.25)))
    for scale in (0.75, 1.25, 1.5, 1.75):
        if scale <= top:
            dets = detect(predict, image, scale)
            parts.append(small_faces(dets) if scale > 1 else big_faces(dets))
    return vote(np.concatenate(parts))


def vote(dets):
    """Box voting of [k, 5] detections -> merged [m, 5] (see the module docstring)."""
    dets = dets[np.argsort(dets[:, 4])[::-1]]
    merged = []
    while len(dets):
        w, h = _sides(dets)
        iw = np.maximum(0.0, np.minimum(dets[0, 2], dets[:, 2]) - np.maximum(dets[0, 0], dets[:, 0]) + 1)
        ih = np.maximum(0.0, np.minimum(dets[0, 3], dets[:, 3]) - np.maximum(dets[0, 1], dets[:, 1]) + 1)
        inter = iw * ih
        group = inter / (w[0] * h[0] + w * h - inter) >= VOTE_IOU
        members, dets = dets[group], dets[~group]
        if len(members) <= 1:
            if not len(dets):  # the suite keeps a lone box only when it is the last one
                merged.append(members)
            continue
        weights = members[:, 4:5]
        box = (members[:, :4] * weights).sum(0) / weights.sum()
        merged.append(np.append(box, members[:, 4].max())[None])
    out = np.concatenate(merged)[:KEEP] if merged else np.zeros((0, 5))
    return out[out[:, 4] >= MIN_SCORE]


def to_result(dets):
    """[k, 5] x1 y1 x2 y2 score -> the suite's written result [k, 5]: x, y, w + 1, h + 1, score (rounded
    as its txt files are), what widerface_eval.py scores."""
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
    xywh = np.stack([dets[:, 0], dets[:, 1], dets[:, 2] - dets[:, 0] + 1, dets[:, 3] - dets[:, 1] + 1], axis=1)
    return np.concatenate([np.round(xywh, 1), np.round(dets[:, 4:5], 3)], axis=1)
