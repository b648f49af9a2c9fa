"""The metrics, from a confusion matrix summed over batches and ranks.

Classification: overall accuracy and mean-class accuracy (the mean of per-class recall over the
classes that occur in the labels), as the PointNet++ paper reports on ModelNet40.
Segmentation: overall point accuracy and mIoU (the mean IoU over classes that occur in the labels
or the predictions), as reported on S3DIS.
"""
import numpy as np

import utils


class ConfusionMatrix:
    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)  # rows: label, columns: prediction

    def update(self, pred, label):
        pred, label = np.asarray(pred).ravel().astype(np.int64), np.asarray(label).ravel().astype(np.int64)
        self.matrix += np.bincount(label * self.num_classes + pred,
                                   minlength=self.num_classes ** 2).reshape(self.num_classes, -1)
        return self

    def all_reduce(self):
        self.matrix = utils.all_reduce_sum(self.matrix).astype(np.int64)
        return self

    def compute(self):
        m = self.matrix.astype(np.float64)
        tp, labelled, predicted = np.diag(m), m.sum(1), m.sum(0)
        union = labelled + predicted - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(labelled > 0, tp / labelled, np.nan)
            iou = np.where(union > 0, tp / union, np.nan)
        return {"acc": float(tp.sum() / max(m.sum(), 1)),
                "mean_class_acc": float(np.nanmean(recall)) if np.any(labelled > 0) else 0.0,
                "miou": float(np.nanmean(iou)) if np.any(union > 0) else 0.0,
                "samples": int(m.sum()), "class_iou": iou}


def majority_baseline(train_labels, eval_labels, num_classes):
    """The metrics of always answering the most frequent training class."""
    majority = int(np.bincount(np.asarray(train_labels).ravel(), minlength=num_classes).argmax())
    eval_labels = np.asarray(eval_labels).ravel()
    return majority, ConfusionMatrix(num_classes).update(np.full_like(eval_labels, majority), eval_labels).compute()
