"""The metrics: accuracy, BIO chunk extraction and chunk precision/recall/F1 (as conlleval counts them:
a chunk is right only when its type, start and end all are)."""
import numpy as np


def bio_chunks(tags):
    """{(type, start, end)} of a BIO tag sequence (end exclusive). An I-X that does not continue an X chunk
    starts a new one, as conlleval reads it."""
    chunks, kind, start = set(), None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        if kind is not None and not (prefix == "I" and t == kind):
            chunks.add((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and kind is None):
            kind, start = t, i
    return chunks


class ChunkCounts:
    """Counts of predicted, gold and correct chunks; summed over batches (and ranks) before the F1."""

    def __init__(self):
        self.counts = np.zeros(3)

    def update(self, predicted_tags, gold_tags):
        p, g = bio_chunks(predicted_tags), bio_chunks(gold_tags)
        self.counts += (len(p), len(g), len(p & g))

    def summary(self, counts=None):
        pred, gold, right = self.counts if counts is None else counts
        precision = right / pred if pred else 0.0
        recall = right / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"f1": f1, "precision": precision, "recall": recall}
