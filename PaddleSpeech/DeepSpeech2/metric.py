"""WER and CER via jiwer, from error counts that can be summed over ranks and batches."""
import jiwer
import numpy as np


def error_counts(references, hypotheses):
    """[word errors, reference words, char errors, reference chars] summed over the pairs. An empty
    reference counts every hypothesis word (char) as an insertion (jiwer refuses empty references)."""
    counts = np.zeros(4, dtype=np.float64)
    for ref, hyp in zip(references, hypotheses):
        for k, (r, h) in enumerate(((ref.split(), hyp.split()), (list(ref), list(hyp)))):
            if not r:
                counts[2 * k] += len(h)
                continue
            out = (jiwer.process_words if k == 0 else jiwer.process_characters)(ref, hyp if h else "")
            counts[2 * k] += out.substitutions + out.deletions + out.insertions
            counts[2 * k + 1] += len(r)
    return counts


def rates(counts):
    return {"wer": counts[0] / max(counts[1], 1), "cer": counts[2] / max(counts[3], 1)}
