"""Tracking metrics: the VOT supervised protocol (accuracy, failures, EAO) and the OTB/GOT one-pass
protocol (success AUC, precision at 20 px).

VOT, as its toolkit computes them (simplifications stated):
- A run starts at frame 0; a frame whose predicted box does not overlap the ground truth is a
  failure; the tracker is re-initialised on the ground truth 5 frames later (`skip`).
- Accuracy: the mean overlap of the tracked frames, leaving out the first 10 frames after each
  (re-)initialisation (`burnin`), per sequence, then averaged over sequences.
- Robustness: the number of failures (and failures per 100 frames).
- EAO: every (re-)initialisation starts a fragment of per-frame overlaps; a fragment that ends in a
  failure is padded with zeros up to the longest sequence, one that reaches the end of the sequence
  is left open (it counts only for lengths it covers). Phi(N) is the mean, over the fragments that
  cover N frames, of their mean overlap over the first N frames; EAO is the mean of Phi(N) over
  N in [lo, hi]. The VOT toolkit takes [lo, hi] from a kernel density of the sequence lengths; here it
  is the 25th to 75th percentile of the test sequences' lengths (VOT2018's own is [100, 356]).
- Overlap is between the predicted box and the ground-truth polygon when the sequence has 8-value
  lines (shapely), else between boxes. The toolkit also clips both regions to the image bounds;
  here they are not clipped.

One-pass (OTB, GOT-10k): the tracker is initialised once and never reset; success is the fraction
of frames whose IoU exceeds each threshold of 0, 0.05, ..., 1, and AUC its mean; precision is the
fraction of frames whose centre error is at most 20 px. The first frame (the given box) is left out,
as GOT-10k does. Figures are per sequence, then averaged over sequences.
"""
import numpy as np

from reader import iou_xywh

THRESHOLDS = np.linspace(0, 1, 21)


def polygon_overlap(box, polygon):
    """IoU of a box (x, y, w, h) and a ground-truth polygon (8 values: 4 corners), by shapely (the
    VOT toolkit intersects the polygon itself; a self-intersecting one is split by make_valid)."""
    from shapely.geometry import Polygon, box as shapely_box
    from shapely.validation import make_valid
    x, y, w, h = (float(v) for v in box)
    pred = shapely_box(x, y, x + w, y + h)
    gt = Polygon(np.asarray(polygon, np.float64).reshape(-1, 2))
    if not gt.is_valid:
        gt = make_valid(gt)
    union = pred.union(gt).area
    return float(pred.intersection(gt).area / union) if union > 0 else 0.0


def run_vot(track_sequence_from, length, boxes, skip=5, polygons=None):
    """Drive a tracker through the supervised protocol. `track_sequence_from(start)` yields predicted
    boxes for frames start+1, start+2, ... after initialising on frame `start`; the overlap is with
    the ground-truth polygons when given (8 values per frame), else with the boxes. Returns
    (per-frame overlaps with NaN for untracked frames, init frames, failure frames)."""
    overlaps = np.full(length, np.nan)
    inits, failures = [], []
    start = 0
    while start < length:
        inits.append(start)
        overlaps[start] = 1.0  # the given box
        failed = None
        for frame, box in enumerate(track_sequence_from(start), start + 1):
            if frame >= length:
                break
            overlaps[frame] = (polygon_overlap(box, polygons[frame]) if polygons is not None
                               else iou_xywh(box, boxes[frame]))
            if overlaps[frame] <= 0:
                failed = frame
                break
        if failed is None:
            break
        failures.append(failed)
        start = failed + skip
    return overlaps, inits, failures


def vot_accuracy(overlaps, inits, burnin=10):
    """Mean overlap of the tracked frames, without the `burnin` frames after each initialisation."""
    keep = np.isfinite(overlaps)
    for s in inits:
        keep[s:s + burnin] = False
    return float(np.mean(overlaps[keep])) if keep.any() else float("nan")


def eao_fragments(overlaps, inits, failures, max_length):
    """One row per initialisation: its overlaps, zero-padded to max_length after a failure, NaN-padded
    when the sequence ended first."""
    rows = []
    for k, s in enumerate(inits):
        end = failures[k] if k < len(failures) else len(overlaps) - 1
        values = np.nan_to_num(overlaps[s:end + 1], nan=0.0)
        row = np.full(max_length, 0.0 if k < len(failures) else np.nan)
        row[:len(values)] = values
        if k < len(failures):
            row[len(values) - 1] = 0.0  # the failed frame
        rows.append(row)
    return rows


def eao_interval(lengths):
    lo, hi = np.percentile(lengths, [25, 75])
    return int(round(lo)), int(round(hi))


def expected_average_overlap(fragments, interval):
    """EAO from every sequence's fragments: mean of Phi(N) for N in the interval."""
    rows = np.array(fragments)
    lo, hi = interval
    phis = []
    for n in range(max(lo, 1), hi + 1):
        covered = np.isfinite(rows[:, n - 1])
        if covered.any():
            phis.append(np.mean(rows[covered, :n].mean(1)))
    return float(np.mean(phis)) if phis else float("nan")


def vot_summary(results, lengths):
    """results: [(overlaps, inits, failures)] per sequence -> accuracy, failures, robustness, EAO."""
    max_length = max(lengths)
    fragments = [f for o, i, fl in results for f in eao_fragments(o, i, fl, max_length)]
    failures = sum(len(fl) for _, _, fl in results)
    accs = [a for a in (vot_accuracy(o, i) for o, i, _ in results) if np.isfinite(a)]
    return {"accuracy": float(np.mean(accs)) if accs else float("nan"), "failures": int(failures),
            "failures_per_100": 100.0 * failures / sum(lengths),
            "eao": expected_average_overlap(fragments, eao_interval(lengths))}


def center_error(pred, gt):
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    return np.hypot(pred[..., 0] + pred[..., 2] / 2 - gt[..., 0] - gt[..., 2] / 2,
                    pred[..., 1] + pred[..., 3] / 2 - gt[..., 1] - gt[..., 3] / 2)


def one_pass(pred, gt):
    """Success AUC and precision@20 of one sequence's one-pass boxes (N, 4), the first frame left out."""
    iou = iou_xywh(pred[1:], gt[1:])
    success = np.array([(iou > t).mean() for t in THRESHOLDS])
    return {"auc": float(success.mean()), "precision20": float((center_error(pred[1:], gt[1:]) <= 20).mean())}


def one_pass_summary(per_sequence):
    return {k: float(np.mean([r[k] for r in per_sequence])) for k in ("auc", "precision20")}
