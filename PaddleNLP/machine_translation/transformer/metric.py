"""BLEU, with sacrebleu:

- `detok BLEU`: case-sensitive BLEU of detokenized text with sacrebleu's own tokenization (13a), the
  field's comparable figure; its signature says exactly how it was computed;
- `tok BLEU`: BLEU of the tokenized text with no further tokenization (tokenize="none"), which is what
  the release's `multi-bleu.perl` computed on de-BPE'd output for its 26.35 / 27.07.

Under data parallel each rank scores its share of the sentences; BLEU's sufficient statistics (n-gram
matches and totals, lengths) are summed over ranks before the score is computed, so the figure is the
single-process one.
"""
import numpy as np

import utils


def _bleu(tokenize):
    from sacrebleu.metrics import BLEU
    return BLEU(tokenize=tokenize, force=True)


def statistics(hypotheses, references, tokenize):
    """Summed sufficient statistics of sentence pairs (a numpy vector)."""
    bleu = _bleu(tokenize)
    if not hypotheses:
        return np.zeros(2 + 2 * bleu.max_ngram_order)
    stats = bleu._extract_corpus_statistics(hypotheses, [references])
    return np.asarray(stats, dtype=np.float64).sum(axis=0)


def score(hypotheses, references, tokenize="13a", gather=False):
    """(BLEU, signature) of a corpus; with gather, the statistics of every rank are summed first."""
    bleu = _bleu(tokenize)
    stats = statistics(hypotheses, references, tokenize)
    if gather:
        stats = utils.all_reduce_sum(stats)
    result = bleu._compute_score_from_stats([int(round(x)) for x in stats])
    bleu.num_refs = 1  # what corpus_score would record; the signature needs it
    return result.score, str(bleu.get_signature())


def corpus_bleu(hyp_tok, hyp_raw, ref_tok, ref_raw, gather=False):
    """{"bleu": detok BLEU, "tok_bleu": tokenized BLEU, "signature": sacrebleu's signature}."""
    bleu, signature = score(hyp_raw, ref_raw, "13a", gather)
    tok_bleu, _ = score(hyp_tok, ref_tok, "none", gather)
    return {"bleu": bleu, "tok_bleu": tok_bleu, "signature": signature}
