"""Classification metrics from a confusion matrix: accuracy (the published Senta/EmoTect metric),
per-class precision/recall/F1 and their macro average. Counts are plain integers, so they can be
summed over ranks before the figures are computed."""
import numpy as np


class ClassificationMetric:
    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)  # [gold, predicted]

    def update(self, predictions, labels):
        """predictions, labels: 1-D integer arrays of class ids."""
        np.add.at(self.confusion, (np.asarray(labels).ravel(), np.asarray(predictions).ravel()), 1)

    def accuracy(self):
        return float(np.trace(self.confusion) / max(self.confusion.sum(), 1))

    def per_class(self):
        """(precision, recall, f1) arrays; a class never predicted (or never present) scores 0."""
        tp = np.diag(self.confusion).astype(np.float64)
        predicted, gold = self.confusion.sum(axis=0), self.confusion.sum(axis=1)
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, gold, out=np.zeros_like(tp), where=gold > 0)
        total = precision + recall
        f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
        return precision, recall, f1

    def summary(self):
        return {"acc": self.accuracy(), "macro_f1": float(self.per_class()[2].mean())}
