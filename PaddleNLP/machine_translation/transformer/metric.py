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
    """BLEU's sufficient statistics of sentence pairs, from sacrebleu's public BLEUScore: a numpy
    vector [hypothesis length, reference length, n-gram matches.., n-gram totals..], additive over
    any split of the corpus."""
    bleu = _bleu(tokenize)
    if not hypotheses:
        return np.zeros(2 + 2 * bleu.max_ngram_order)
    s = bleu.corpus_score(hypotheses, [references])
    return np.array([s.sys_len, s.ref_len, *s.counts, *s.totals], dtype=np.float64)


def score(hypotheses, references, tokenize="13a", gather=False):
    """(BLEU, signature) of a corpus; with gather, the statistics of every rank are summed first."""
    bleu = _bleu(tokenize)
    stats = statistics(hypotheses, references, tokenize)
    if gather:
        stats = utils.all_reduce_sum(stats)
    stats, n = [int(round(x)) for x in stats], bleu.max_ngram_order
    result = bleu.compute_bleu(stats[2:2 + n], stats[2 + n:], stats[0], stats[1], smooth_method=bleu.smooth_method,
                               smooth_value=bleu.smooth_value, effective_order=bleu.effective_order,
                               max_ngram_order=n)
    bleu.num_refs = 1  # what corpus_score records (one reference per sentence); the signature needs it
    return result.score, str(bleu.get_signature())


def corpus_bleu(hyp_tok, hyp_raw, ref_tok, ref_raw, gather=False):
    """{"bleu": detok BLEU, "tok_bleu": tokenized BLEU, "signature": sacrebleu's signature}."""
    bleu, signature = score(hyp_raw, ref_raw, "13a", gather)
    tok_bleu, _ = score(hyp_tok, ref_tok, "none", gather)
    return {"bleu": bleu, "tok_bleu": tok_bleu, "signature": signature}
