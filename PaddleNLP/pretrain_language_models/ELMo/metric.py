"""Chunk-level precision / recall / F1 over IOB2 tags written the LAC way (`n-B`, `PER-I`, `O`).

A chunk starts at `X-B`, or at an `X-I` that does not continue a chunk of type X (the
conlleval convention), and runs over the following `X-I` tags. A predicted chunk counts as
correct only when its type, start and end all equal a gold chunk's.
"""


def split_tag(tag):
    """'PER-B' -> ('PER', 'B'); 'O' -> (None, 'O')."""
    if tag == "O":
        return None, "O"
    kind, _, pos = tag.rpartition("-")
    if pos not in ("B", "I") or not kind:
        raise ValueError(f"not an IOB2 tag: {tag!r}")
    return kind, pos


def get_chunks(tags):
    """List of (type, start, end_exclusive) for one tag sequence."""
    chunks = []
    kind_open, start = None, 0
    for i, tag in enumerate(tags):
        kind, pos = split_tag(tag)
        continues = pos == "I" and kind == kind_open
        if not continues:
            if kind_open is not None:
                chunks.append((kind_open, start, i))
            kind_open, start = kind, i
    if kind_open is not None:
        chunks.append((kind_open, start, len(tags)))
    return chunks


class ChunkEvaluator:
    """Accumulates chunk counts over sentences; `accumulate()` gives (precision, recall, f1)."""

    def __init__(self, id2tag=None):
        self.id2tag = id2tag
        self.reset()

    def reset(self):
        self.num_infer = self.num_label = self.num_correct = 0

    def update(self, pred_tags, gold_tags):
        """One sentence: tag strings, or ids when the evaluator was given `id2tag`."""
        if self.id2tag is not None:
            pred_tags = [self.id2tag[int(t)] for t in pred_tags]
            gold_tags = [self.id2tag[int(t)] for t in gold_tags]
        pred, gold = set(get_chunks(pred_tags)), set(get_chunks(gold_tags))
        self.num_infer += len(pred)
        self.num_label += len(gold)
        self.num_correct += len(pred & gold)

    def update_batch(self, pred_ids, gold_ids, lengths):
        """Padded id arrays [B, T] plus lengths [B] (numpy)."""
        for pred, gold, n in zip(pred_ids, gold_ids, lengths):
            self.update(pred[:n], gold[:n])

    def counts(self):
        return [self.num_infer, self.num_label, self.num_correct]

    def add_counts(self, counts):
        self.num_infer += int(counts[0])
        self.num_label += int(counts[1])
        self.num_correct += int(counts[2])

    def accumulate(self):
        precision = self.num_correct / self.num_infer if self.num_infer else 0.0
        recall = self.num_correct / self.num_label if self.num_label else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1
