"""The WIDER FACE evaluation, as the official evaluation code (eval_tools, and its Python port) does it.

- Ground truth: every face's box (face_bbx_list, x y w h) and, per subset, gt_list: the 1-based
  indices of the faces that count in that subset; every other face is "ignored". Read from
  ground_truth/wider_{easy,medium,hard}_val.mat with scipy.io.loadmat (read_mats).
- Scores are normalised over all detections of all images: (s - min) / (max - min) (when every score
  is equal, which the official code would divide by zero on, they all become 1).
- Per image, detections in descending score order (the official code assumes its input sorted):
  each one takes the face it overlaps most (IoU with the +1 pixel convention, boxes as x, y, x + w,
  y + h); at IoU >= 0.5 an ignored face makes the detection neither true nor false (it is not
  counted as a proposal), a counted face is recalled (a second detection on it is a false positive).
  An image without faces or without detections adds nothing (as the official code skips it).
- For each of 1000 thresholds t_k = 1 - (k + 1) / 1000, the proposals and recalled faces among the
  detections scored >= t_k are summed over images; precision = recalled / proposals, recall =
  recalled / counted faces, and AP is VOC's area under the precision envelope. (A threshold with no
  proposal gives 0/0; the official MATLAB's max() skips the NaN, np.fmax here does the same.)
"""
import os

import numpy as np

IOU = 0.5
THRESHOLDS = 1000
SUBSETS = ("easy", "medium", "hard")


def overlaps(boxes, gts):
    """IoU [D, G] of x1 y1 x2 y2 boxes with the +1 pixel convention of the official bbox_overlaps."""
    iw = np.minimum(boxes[:, None, 2], gts[None, :, 2]) - np.maximum(boxes[:, None, 0], gts[None, :, 0]) + 1
    ih = np.minimum(boxes[:, None, 3], gts[None, :, 3]) - np.maximum(boxes[:, None, 1], gts[None, :, 1]) + 1
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_b = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    area_g = (gts[:, 2] - gts[:, 0] + 1) * (gts[:, 3] - gts[:, 1] + 1)
    union = area_b[:, None] + area_g[None, :] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1e-12), 0.0)


def image_eval(dets, gts, counted, iou=IOU):
    """dets [D, 5] (x, y, w, h, score) sorted by score, gts [G, 4] (x, y, w, h), counted [G] bool.
    Returns (recalled faces after each detection [D], proposal flags [D]: 1 counts, -1 ignored)."""
    d = dets[:, :4].astype(np.float64).copy()
    g = gts.astype(np.float64).copy()
    d[:, 2:] += d[:, :2]
    g[:, 2:] += g[:, :2]
    iou_matrix = overlaps(d, g)
    recall = np.zeros(len(g))
    proposal = np.ones(len(d))
    recalled = np.zeros(len(d))
    for h in range(len(d)):
        best = int(iou_matrix[h].argmax())
        if iou_matrix[h, best] >= iou:
            if not counted[best]:
                recall[best] = -1
                proposal[h] = -1
            elif recall[best] == 0:
                recall[best] = 1
        recalled[h] = np.sum(recall == 1)
    return recalled, proposal


def image_pr(dets, proposal, recalled, thresholds=THRESHOLDS):
    """[T, 2]: (proposals, recalled faces) among the detections scored >= each threshold t_k. dets are
    sorted by descending score, so those are the first n_k; the official loop over thresholds, at once."""
    cuts = 1 - (np.arange(thresholds) + 1) / thresholds
    n = np.searchsorted(-dets[:, 4], -cuts, side="right")  # n_k: how many score >= t_k
    proposals = np.concatenate(([0], np.cumsum(proposal == 1)))
    return np.stack([proposals[n], np.concatenate(([0], recalled))[n]], axis=1).astype(np.float64)


def voc_ap(recall, precision):
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = np.fmax(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def normalise_scores(detections):
    scores = np.concatenate([d[:, 4] for d in detections if len(d)] or [np.zeros(0)])
    if not len(scores):
        return detections
    low, high = scores.min(), scores.max()
    out = []
    for d in detections:
        d = np.array(d, dtype=np.float64).reshape(-1, 5)
        d[:, 4] = (d[:, 4] - low) / (high - low) if high > low else 1.0
        out.append(d)
    return out


def average_precision(detections, gt_boxes, counted, iou=IOU, thresholds=THRESHOLDS):
    """AP of one subset. detections: per image [D, 5] (x, y, w, h, score), raw scores; gt_boxes: per
    image [G, 4] (x, y, w, h), every face; counted: per image [G] bool (the subset's gt_list)."""
    pr = np.zeros((thresholds, 2))
    faces = 0
    for dets, gts, keep in zip(normalise_scores(list(detections)), gt_boxes, counted):
        keep = np.asarray(keep, dtype=bool)
        faces += int(keep.sum())
        if len(gts) == 0 or len(dets) == 0:
            continue
        dets = dets[np.argsort(-dets[:, 4], kind="stable")]
        recalled, proposal = image_eval(dets, np.asarray(gts, dtype=np.float64).reshape(-1, 4), keep, iou)
        pr += image_pr(dets, proposal, recalled, thresholds)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = pr[:, 1] / pr[:, 0]
    recall = pr[:, 1] / max(faces, 1)
    return voc_ap(recall, precision)


def read_mats(gt_dir):
    """{subset: {(event, name): (boxes [G, 4], counted [G] bool)}} from the official .mat files."""
    import scipy.io
    out = {}
    for subset in SUBSETS:
        path = os.path.join(gt_dir, f"wider_{subset}_val.mat")
        if not os.path.isfile(path):
            raise FileNotFoundError(path)
        mat = scipy.io.loadmat(path)
        table = {}
        for i in range(len(mat["event_list"])):
            event = str(mat["event_list"][i][0][0])
            files, boxes, keeps = mat["file_list"][i][0], mat["face_bbx_list"][i][0], mat["gt_list"][i][0]
            for j in range(len(files)):
                gts = np.asarray(boxes[j][0], dtype=np.float64).reshape(-1, 4)
                counted = np.zeros(len(gts), dtype=bool)
                keep = np.asarray(keeps[j][0]).astype(np.int64).reshape(-1)
                counted[keep - 1] = True
                table[(event, str(files[j][0][0]))] = (gts, counted)
        out[subset] = table
    return out


def evaluate_subsets(detections_by_image, mats):
    """{subset: AP} over the images of the .mat files that have an entry in detections_by_image
    ({(event, name): [D, 5]}); an image left out (skipped as bad) is left out of every subset."""
    result = {}
    for subset, table in mats.items():
        keys = [k for k in table if k in detections_by_image]
        result[subset] = average_precision([detections_by_image[k] for k in keys], [table[k][0] for k in keys],
                                           [table[k][1] for k in keys])
    result["images"] = len([k for k in mats[SUBSETS[0]] if k in detections_by_image])
    return result
