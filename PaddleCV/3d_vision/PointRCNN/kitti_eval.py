"""The KITTI object benchmark's 3D AP, as its devkit (and the release's tools/kitti_object_eval_python)
computes it, for one class (Car) at one IoU threshold (0.7).

Difficulties, from the ground-truth labels: easy = 2D box height >= 40 px, fully visible (occluded 0),
truncation <= 0.15; moderate = >= 25 px, occluded <= 1, truncation <= 0.3; hard = >= 25 px,
occluded <= 2, truncation <= 0.5. A car outside the difficulty, and every Van (for Car), is "ignored":
a detection matched to it counts neither as a true nor as a false positive. A detection whose 2D box is
lower than the difficulty's minimum height is ignored too. DontCare regions only matter to the 2D
(bbox) metric and are not used by the 3D one. A detection matches the unmatched ground truth of highest
score with 3D IoU > 0.7 (strictly). Scores are thresholded at the recall positions the devkit picks
(41 of them); precision is made monotone from the right; R11 averages the precision at recall
0, 0.1, ..., 1 (every 4th of the 41 points), R40 at 1/40, 2/40, ..., 1.
"""
import numpy as np

import geometry

MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
DIFFICULTIES = ("easy", "moderate", "hard")
SIMILAR = {"car": "van", "pedestrian": "person_sitting"}


def clean(gt, dt, difficulty, current="car"):
    """(ignored_gt, ignored_dt, valid gt count): 0 counts, 1 is ignored, -1 is another class."""
    ignored_gt, valid = [], 0
    for name, bbox, occluded, truncated in zip(gt["name"], gt["bbox"], gt["occluded"], gt["truncated"]):
        name = name.lower()
        height = bbox[3] - bbox[1]
        if name == current:
            valid_class = 1
        elif SIMILAR.get(current) == name:
            valid_class = 0
        else:
            valid_class = -1
        ignore = (occluded > MAX_OCCLUSION[difficulty] or truncated > MAX_TRUNCATION[difficulty]
                  or height <= MIN_HEIGHT[difficulty])
        if valid_class == 1 and not ignore:
            ignored_gt.append(0)
            valid += 1
        elif valid_class == 0 or (ignore and valid_class == 1):
            ignored_gt.append(1)
        else:
            ignored_gt.append(-1)
    ignored_dt = []
    for name, bbox in zip(dt["name"], dt["bbox"]):
        height = bbox[3] - bbox[1]
        if height < MIN_HEIGHT[difficulty]:
            ignored_dt.append(1)
        elif name.lower() == current:
            ignored_dt.append(0)
        else:
            ignored_dt.append(-1)
    return np.array(ignored_gt, np.int64), np.array(ignored_dt, np.int64), valid


def statistics(overlaps, scores, ignored_gt, ignored_dt, min_overlap, thresh=0.0, compute_fp=False):
    """The devkit's per-frame matching: (tp, fp, fn, scores of the true positives)."""
    num_dt, num_gt = len(scores), len(ignored_gt)
    assigned = np.zeros(num_dt, bool)
    below = scores < thresh if compute_fp else np.zeros(num_dt, bool)
    tp = fp = fn = 0
    tp_scores = []
    no_detection = -1e7
    for i in range(num_gt):
        if ignored_gt[i] == -1:
            continue
        det, best, max_overlap, to_ignored = -1, no_detection, 0.0, False
        for j in range(num_dt):
            if ignored_dt[j] == -1 or assigned[j] or below[j]:
                continue
            overlap = overlaps[j, i]
            if not compute_fp and overlap > min_overlap and scores[j] > best:
                det, best = j, scores[j]
            elif compute_fp and overlap > min_overlap and (overlap > max_overlap or to_ignored) and ignored_dt[j] == 0:
                max_overlap, det, best, to_ignored = overlap, j, 1, False
            elif compute_fp and overlap > min_overlap and best == no_detection and ignored_dt[j] == 1:
                det, best, to_ignored = j, 1, True
        if best == no_detection and ignored_gt[i] == 0:
            fn += 1
        elif best != no_detection and (ignored_gt[i] == 1 or ignored_dt[det] == 1):
            assigned[det] = True
        elif best != no_detection:
            tp += 1
            tp_scores.append(scores[det])
            assigned[det] = True
    if compute_fp:
        fp = int(sum(1 for j in range(num_dt) if not (assigned[j] or ignored_dt[j] != 0 or below[j])))
    return tp, fp, fn, tp_scores


def thresholds(scores, num_gt, points=41):
    """The devkit's score thresholds: one per recall step of 1/(points - 1)."""
    scores = np.sort(np.asarray(scores))[::-1]
    out, current = [], 0.0
    for i, score in enumerate(scores):
        left = (i + 1) / num_gt
        right = (i + 2) / num_gt if i < len(scores) - 1 else left
        if right - current < current - left and i < len(scores) - 1:
            continue
        out.append(score)
        current += 1 / (points - 1)
    return out


def average_precision(gt_frames, dt_frames, min_overlap=0.7, current="car"):
    """{"easy": {"R11": ..., "R40": ...}, ...} in percent. Each frame: dict with name, bbox [N, 4],
    occluded, truncated, box [N, 7] (ground truth), or name, bbox, box, score (detections)."""
    overlaps = [geometry.iou_3d(d["box"], g["box"]) for g, d in zip(gt_frames, dt_frames)]
    result = {}
    for difficulty, label in enumerate(DIFFICULTIES):
        cleaned = [clean(g, d, difficulty, current) for g, d in zip(gt_frames, dt_frames)]
        num_valid = sum(c[2] for c in cleaned)
        if num_valid == 0:
            result[label] = {"R11": 0.0, "R40": 0.0, "num_gt": 0}
            continue
        tp_scores = []
        for o, d, (ig, idt, _) in zip(overlaps, dt_frames, cleaned):
            tp_scores += statistics(o, np.asarray(d["score"], np.float64), ig, idt, min_overlap)[3]
        cuts = thresholds(tp_scores, num_valid)
        counts = np.zeros((len(cuts), 3))
        for k, cut in enumerate(cuts):
            for o, d, (ig, idt, _) in zip(overlaps, dt_frames, cleaned):
                tp, fp, fn, _ = statistics(o, np.asarray(d["score"], np.float64), ig, idt, min_overlap, cut, True)
                counts[k] += (tp, fp, fn)
        precision = np.zeros(41)
        if len(cuts):
            p = counts[:, 0] / np.maximum(counts[:, 0] + counts[:, 1], 1e-12)
            precision[:len(cuts)] = np.maximum.accumulate(p[::-1])[::-1]
        result[label] = {"R11": float(precision[0::4].sum() / 11 * 100), "R40": float(precision[1:].sum() / 40 * 100),
                         "num_gt": num_valid}
    return result


def label_frame(objects):
    """A frame of reader.read_labels objects as the dict average_precision takes."""
    return {"name": [o["type"] for o in objects], "bbox": np.array([o["bbox"] for o in objects]).reshape(-1, 4),
            "occluded": [o["occluded"] for o in objects], "truncated": [o["truncated"] for o in objects],
            "box": np.array([o["box"] for o in objects]).reshape(-1, 7),
            "score": np.array([o["score"] for o in objects], np.float64)}
