"""Segmentation metrics from a confusion matrix that accumulates over batches and ranks: per-class
IoU, mIoU (the mean over classes that occur in the label or the prediction), pixel accuracy.
Pixels labelled with the ignore index count nowhere."""
import numpy as np

import utils

IGNORE_INDEX = 255


class ConfusionMatrix:
    def __init__(self, num_classes, ignore_index=IGNORE_INDEX):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)  # rows: label, cols: prediction

    def update(self, pred, label):
        pred, label = np.asarray(pred).ravel(), np.asarray(label).ravel()
        keep = label != self.ignore_index
        index = label[keep].astype(np.int64) * self.num_classes + pred[keep].astype(np.int64)
        self.matrix += np.bincount(index, minlength=self.num_classes ** 2).reshape(self.num_classes, -1)

    def all_reduce(self):
        """Sum the matrices of all ranks, so every rank reports the global figures."""
        self.matrix = utils.all_reduce_sum(self.matrix).astype(np.int64)
        return self

    def compute(self):
        m = self.matrix.astype(np.float64)
        tp = np.diag(m)
        union = m.sum(0) + m.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
        return {"miou": float(np.nanmean(iou)) if np.any(union > 0) else 0.0,
                "pixel_acc": float(tp.sum() / max(m.sum(), 1)),
                "class_iou": iou}
