"""PASCAL VOC detection mAP at IoU 0.5, the folder's own code (no reference library is needed).

Per class: detections of all images sorted by score (a stable sort: ties keep their input order);
each is a true positive when its best-overlapping ground-truth box of that class in its image has
IoU > 0.5 and was not taken by a higher-scored detection, a false positive otherwise; a detection
whose best match is a `difficult` box counts as neither, and difficult boxes are not in the recall's
denominator (VOC's rule). IoU uses VOC's pixel convention (a box from x1 to x2 is x2 - x1 + 1 pixels
wide), as the VOC devkit and PaddleDetection's VOC metric do.

AP is then either
- "11point" (VOC2007): the mean over recall r in {0, 0.1, ..., 1} of the best precision at recall >= r;
- "area" (VOC2010 and later): the area under the precision envelope (precision made monotone).
mAP is the mean over the classes that have at least one non-difficult ground-truth box (a class
absent from the split is left out rather than counted as 0).
"""
import numpy as np

IOU_THRESHOLD = 0.5


def pixel_iou(box, boxes):
    """IoU of one box with each of boxes [K, 4], VOC's +1 pixel convention."""
    ix1 = np.maximum(boxes[:, 0], box[0])
    iy1 = np.maximum(boxes[:, 1], box[1])
    ix2 = np.minimum(boxes[:, 2], box[2])
    iy2 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(ix2 - ix1 + 1, 0, None) * np.clip(iy2 - iy1 + 1, 0, None)
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    return inter / (area + areas - inter)


def average_precision(recall, precision, method):
    if method == "11point":
        return float(np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0
                              for t in np.linspace(0, 1, 11)]))
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    changes = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[changes + 1] - r[changes]) * p[changes + 1]))


def evaluate_detections(ground_truth, detections, num_classes, iou_threshold=IOU_THRESHOLD):
    """ground_truth: per image a dict with boxes [G, 4], labels [G] (1-based), difficult [G];
    detections: per image (same order) an array [K, 6] of (label, score, x1, y1, x2, y2).
    Returns {"map_11point", "map_area", "ap_11point": {label: AP}, "ap_area": {...}, "images"}."""
    result = {"ap_11point": {}, "ap_area": {}}
    for label in range(1, num_classes + 1):
        gts, npos = [], 0
        for gt in ground_truth:
            mask = gt["labels"] == label
            gts.append((gt["boxes"][mask], gt["difficult"][mask], np.zeros(int(mask.sum()), dtype=bool)))
            npos += int((~gt["difficult"][mask]).sum())
        if npos == 0:
            continue
        found = [(float(d[1]), i, d[2:6]) for i, dets in enumerate(detections)
                 for d in np.asarray(dets, dtype=np.float64).reshape(-1, 6) if int(round(d[0])) == label]
        order = sorted(range(len(found)), key=lambda k: -found[k][0])
        tp, fp = np.zeros(len(found)), np.zeros(len(found))
        for rank, k in enumerate(order):
            _, image, box = found[k]
            boxes, difficult, taken = gts[image]
            if len(boxes) == 0:
                fp[rank] = 1
                continue
            iou = pixel_iou(box, boxes)
            best = int(iou.argmax())
            if iou[best] > iou_threshold:
                if difficult[best]:
                    continue
                if not taken[best]:
                    tp[rank], taken[best] = 1, True
                else:
                    fp[rank] = 1
            else:
                fp[rank] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        recall = tp / npos
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        for method in ("11point", "area"):
            result[f"ap_{method}"][label] = average_precision(recall, precision, method)
    for method in ("11point", "area"):
        aps = list(result[f"ap_{method}"].values())
        result[f"map_{method}"] = float(np.mean(aps)) if aps else 0.0
    result["images"] = len(ground_truth)
    return result
