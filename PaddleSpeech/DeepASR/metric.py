"""WER and CER via jiwer, from error counts that can be summed over ranks and batches. The CER counts
the characters of the words without the spaces between them (Aishell's convention: its transcripts
are words of Chinese characters separated by spaces)."""
import jiwer
import numpy as np


def error_counts(references, hypotheses):
    """[word errors, reference words, char errors, reference chars] summed over the pairs. An empty
    reference counts every hypothesis word (char) as an insertion (jiwer refuses empty references)."""
    counts = np.zeros(4, dtype=np.float64)
    for ref, hyp in zip(references, hypotheses):
        ref_chars, hyp_chars = "".join(ref.split()), "".join(hyp.split())
        for k, (r, h) in enumerate(((ref.split(), hyp.split()), (list(ref_chars), list(hyp_chars)))):
            if not r:
                counts[2 * k] += len(h)
                continue
            out = (jiwer.process_words(" ".join(r), " ".join(h)) if k == 0
                   else jiwer.process_characters(ref_chars, hyp_chars))
            counts[2 * k] += out.substitutions + out.deletions + out.insertions
            counts[2 * k + 1] += len(r)
    return counts


def rates(counts):
    return {"wer": counts[0] / max(counts[1], 1), "cer": counts[2] / max(counts[3], 1)}
