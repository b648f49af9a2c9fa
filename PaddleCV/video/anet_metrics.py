"""ActivityNet-1.3 evaluation, as the official ActivityNet evaluation kit computes it, and the release's
post-processing of proposals (soft-NMS). numpy only.

  proposal_metrics(ground_truth, proposals)   AR@AN for AN = 1..100 (average recall over the tIoU thresholds
                                              0.5:0.05:0.95 with AN proposals per video on average) and the
                                              AUC of the AR-AN curve (x100), as eval_proposal.py
  detection_map(ground_truth, detections)     interpolated AP per class at each tIoU of 0.5:0.05:0.95, the mAP
                                              per tIoU (mean over the classes of the ground truth) and their
                                              average, as eval_detection.py
  soft_nms(proposals, alpha, t1, t2, top_k)   the BMN/BSN release's Gaussian soft-NMS with a width-dependent
                                              threshold
  nms(segments, scores, threshold)            hard NMS, then gaussian_soft_nms: C-TCN's decoding

ground_truth: {video_id: [(start, end, label), ...]}; proposals: {video_id: [(start, end, score), ...]};
detections: {video_id: [(start, end, label, score), ...]}; times in any one unit (seconds here).
"""
import numpy as np

TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def segment_iou(target, candidates):
    """tIoU of one segment [start, end] with each row of candidates [n, 2]."""
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 2)
    left = np.maximum(target[0], candidates[:, 0])
    right = np.minimum(target[1], candidates[:, 1])
    inter = (right - left).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (target[1] - target[0]) - inter
    return inter / union


def proposal_metrics(ground_truth, proposals, max_avg_proposals=100, tiou_thresholds=TIOU_THRESHOLDS):
    """The official AR-AN evaluation. Returns {"auc": AUC x100, "ar@1": .., "ar@5": .., "ar@10": ..,
    "ar@100": .., "ar_curve": average recall at AN 1..100 (list), "an": the AN of each point}.
    Only videos of ground_truth count; a video without proposals counts its ground truth as missed.
    As the kit does, the proposals of all videos set the AN scale: AN = max_avg_proposals x (the fraction
    1..100 %) x (total proposals / (videos x max_avg_proposals)), each video keeping its top
    int(fraction x its own count) proposals."""
    videos = [v for v in ground_truth if ground_truth[v]]
    scores, total = [], 0
    for video in videos:
        gt = np.array([g[:2] for g in ground_truth[video]], dtype=np.float64)
        props = list(proposals.get(video, []))
        if not props:
            scores.append(np.zeros((len(gt), 1)))
            continue
        order = np.argsort([p[2] for p in props], kind="stable")[::-1]  # best first, as the kit sorts
        props = np.array([props[i][:2] for i in order], dtype=np.float64)
        total += len(props)
        scores.append(np.stack([segment_iou(g, props) for g in gt]))  # [n_gt, n_proposals]
    if total == 0:
        raise ValueError("no proposals for any video of the ground truth")
    ratio = max_avg_proposals * float(len(videos)) / total
    fractions = np.arange(1, 101) / 100.0 * ratio
    positives = np.array([s.shape[0] for s in scores], dtype=np.float64)
    recall = np.empty((len(tiou_thresholds), len(fractions)))
    for r, tiou in enumerate(tiou_thresholds):
        matches = np.empty((len(scores), len(fractions)))
        for i, score in enumerate(scores):
            hits = score >= tiou
            keep = np.minimum((score.shape[1] * fractions).astype(int), score.shape[1])
            for j, n in enumerate(keep):
                matches[i, j] = np.count_nonzero(hits[:, :n].sum(axis=1))
        recall[r] = matches.sum(axis=0) / positives.sum()
    avg_recall = recall.mean(axis=0)
    an = fractions * (float(total) / len(videos))
    auc = 100.0 * float(np.trapezoid(avg_recall, an)) / an[-1]
    return {"auc": auc, "ar@1": float(avg_recall[0]), "ar@5": float(avg_recall[4]), "ar@10": float(avg_recall[9]),
            "ar@100": float(avg_recall[-1]), "ar_curve": avg_recall.tolist(), "an": an.tolist()}


def interpolated_ap(precision, recall):
    """The kit's interpolated AP: precision made monotone from the right, summed over recall steps."""
    mprec = np.hstack([[0.0], precision, [0.0]])
    mrec = np.hstack([[0.0], recall, [1.0]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def class_ap(ground_truth, detections, tiou_thresholds=TIOU_THRESHOLDS):
    """AP at each threshold of one class. ground_truth: [(video, start, end)]; detections: [(video, start,
    end, score)]. Each prediction, best score first, takes the unmatched ground truth of its video with the
    highest tIoU >= the threshold (a ground truth already taken by a better one is passed over)."""
    ap = np.zeros(len(tiou_thresholds))
    if not detections or not ground_truth:
        return ap
    by_video = {}
    for index, (video, start, end) in enumerate(ground_truth):
        by_video.setdefault(video, []).append((index, start, end))
    order = np.argsort([d[3] for d in detections], kind="stable")[::-1]  # best first, as the kit sorts
    taken = -np.ones((len(tiou_thresholds), len(ground_truth)), dtype=np.int64)
    tp = np.zeros((len(tiou_thresholds), len(detections)))
    fp = np.zeros((len(tiou_thresholds), len(detections)))
    for rank, d in enumerate(order):
        video, start, end, _ = detections[d]
        gts = by_video.get(video)
        if not gts:
            fp[:, rank] = 1
            continue
        tiou = segment_iou((start, end), [(g[1], g[2]) for g in gts])
        best_first = tiou.argsort()[::-1]
        for t, threshold in enumerate(tiou_thresholds):
            for j in best_first:
                if tiou[j] < threshold:
                    fp[t, rank] = 1
                    break
                if taken[t, gts[j][0]] >= 0:
                    continue
                tp[t, rank] = 1
                taken[t, gts[j][0]] = rank
                break
            if tp[t, rank] == 0 and fp[t, rank] == 0:
                fp[t, rank] = 1
    tp_sum, fp_sum = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)
    recall = tp_sum / len(ground_truth)
    precision = tp_sum / (tp_sum + fp_sum)
    for t in range(len(tiou_thresholds)):
        ap[t] = interpolated_ap(precision[t], recall[t])
    return ap


def detection_map(ground_truth, detections, tiou_thresholds=TIOU_THRESHOLDS):
    """Returns {"map": the average over thresholds of the mAP, "map@0.5": .., "map@0.75": .., "map@0.95": ..,
    "ap": {label: [AP per threshold]}}; the classes are those of the ground truth (a detection of another
    class counts nowhere), the videos those of the ground truth."""
    gt_by_class, det_by_class = {}, {}
    for video, segments in ground_truth.items():
        for start, end, label in segments:
            gt_by_class.setdefault(label, []).append((video, start, end))
    for video, dets in detections.items():
        if video not in ground_truth:
            continue
        for start, end, label, score in dets:
            det_by_class.setdefault(label, []).append((video, start, end, score))
    if not gt_by_class:
        raise ValueError("no ground-truth segment")
    aps = {label: class_ap(gt_by_class[label], det_by_class.get(label, []), tiou_thresholds)
           for label in sorted(gt_by_class)}
    per_tiou = np.mean(np.stack(list(aps.values())), axis=0)
    out = {"map": float(per_tiou.mean())}
    for t, threshold in enumerate(tiou_thresholds):
        if round(threshold, 2) in (0.5, 0.75, 0.95):
            out[f"map@{round(threshold, 2):g}"] = float(per_tiou[t])
    out["ap"] = {label: ap.tolist() for label, ap in aps.items()}
    return out


def soft_nms(proposals, alpha=0.4, t1=0.5, t2=0.9, top_k=100):
    """The BMN/BSN release's soft-NMS. proposals: [(start, end, score)] with start, end in [0, 1] (the
    width enters the threshold). The best remaining proposal is kept; every other proposal whose tIoU with
    it exceeds t1 + (t2 - t1) x the kept one's width has its score multiplied by exp(-tIoU^2 / alpha).
    Stops after top_k kept proposals. (The release's loop also stops when one proposal is left, dropping
    it; here it is kept, so a video with a single candidate still gets a proposal.) Returns
    [(start, end, score)] in the order kept."""
    items = sorted(proposals, key=lambda p: -p[2])
    start = [float(p[0]) for p in items]
    end = [float(p[1]) for p in items]
    score = [float(p[2]) for p in items]
    kept = []
    while score and len(kept) < top_k:
        best = int(np.argmax(score))
        width = end[best] - start[best]
        tiou = segment_iou((start[best], end[best]), np.stack([start, end], axis=1))
        for i in range(len(score)):
            if i != best and tiou[i] > t1 + (t2 - t1) * width:
                score[i] *= float(np.exp(-tiou[i] ** 2 / alpha))
        kept.append((start.pop(best), end.pop(best), score.pop(best)))
    return kept


def nms(segments, scores, threshold):
    """Indices kept by hard NMS (tIoU above threshold with a better kept segment suppresses)."""
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        order = order[1:][segment_iou(segments[i], segments[order[1:]]) <= threshold]
    return keep


def gaussian_soft_nms(segments, scores, sigma, threshold):
    """C-TCN's decoding step after hard NMS: in score order, each kept segment multiplies the scores of the
    later ones by exp(-tIoU^2 / sigma); a score falling below threshold drops out. Returns (segments
    [k, 2], scores [k]) in the order kept."""
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2).copy()
    scores = np.asarray(scores, dtype=np.float64).copy()
    kept_seg, kept_score = [], []
    while len(scores):
        i = int(np.argmax(scores))
        kept_seg.append(segments[i])
        kept_score.append(scores[i])
        segments, scores = np.delete(segments, i, axis=0), np.delete(scores, i)
        if len(scores):
            scores = scores * np.exp(-segment_iou(kept_seg[-1], segments) ** 2 / sigma)
            segments, scores = segments[scores >= threshold], scores[scores >= threshold]
    return np.array(kept_seg).reshape(-1, 2), np.array(kept_score)
