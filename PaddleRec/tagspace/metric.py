"""Tag metrics from the scores of every tag: precision@1 over tags (is the top-scored tag the text's
tag; found with paddle.topk over the [batch, tags] scores of one matrix product), accuracy and macro
F1 from the confusion matrix of the top tag. With one tag per text, as in AG News, precision@1 and
accuracy are the same figure reached two ways; the tests check both on hand-made scores. Counts are
integers, summed over ranks before the figures are computed."""
import numpy as np
import paddle

import utils


class TagMetric:
    def __init__(self, num_tags):
        self.num_tags = num_tags
        self.confusion = np.zeros((num_tags, num_tags), dtype=np.int64)  # [true tag, top tag]
        self.hits_at_1 = 0

    def update(self, scores, tags):
        """scores [B, num_tags] (Tensor or array), tags [B] (true tag indices)."""
        scores = paddle.to_tensor(scores) if not isinstance(scores, paddle.Tensor) else scores
        tags = np.asarray(tags.numpy() if isinstance(tags, paddle.Tensor) else tags).reshape(-1)
        top = paddle.topk(scores, k=1, axis=-1).indices.numpy()[:, 0]
        self.hits_at_1 += int((top == tags).sum())
        np.add.at(self.confusion, (tags, top), 1)

    def merge_ranks(self):
        """Sum the counts over the ranks of a distributed evaluation (each rank saw its own texts)."""
        self.confusion = utils.all_reduce_sum(self.confusion).astype(np.int64)
        self.hits_at_1 = int(utils.all_reduce_sum([self.hits_at_1])[0])
        return self

    @property
    def count(self):
        return int(self.confusion.sum())

    def summary(self):
        tp = np.diag(self.confusion).astype(np.float64)
        predicted, gold = self.confusion.sum(axis=0), self.confusion.sum(axis=1)
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, gold, out=np.zeros_like(tp), where=gold > 0)
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
        n = max(self.count, 1)
        return {"acc": float(tp.sum() / n), "p_at_1": self.hits_at_1 / n, "macro_f1": float(f1.mean()),
                "samples": self.count}


def majority_baseline(train_tag_counts, eval_tags):
    """The trivial baseline: the most frequent training tag for every text. Returns (tag, summary)."""
    num_tags = len(train_tag_counts)
    tag = int(np.argmax(train_tag_counts))
    metric = TagMetric(num_tags)
    scores = np.zeros((len(eval_tags), num_tags), dtype=np.float32)
    scores[:, tag] = 1.0
    metric.update(scores, np.asarray(eval_tags))
    return tag, metric.summary()
