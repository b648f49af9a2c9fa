"""BLEU with sacrebleu, on the target text as the files hold it (IWSLT15 en-vi is tokenized):

- `BLEU`: sacrebleu's corpus BLEU with its default 13a tokenization; its signature says exactly how
  it was computed;
- `tokenized BLEU`: tokenize="none", BLEU over the tokens as they are, which is what the release's
  multi-bleu.perl computed for its ~11 / ~25.5 on tst2013.

Under data parallel each rank scores its share of the sentences; BLEU's sufficient statistics
(n-gram matches and totals, lengths) are summed over ranks before the score is computed, so the
figure is the single-process one.
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


def corpus_bleu(hypotheses, references, gather=False):
    """{"bleu": 13a BLEU, "tok_bleu": tokenized BLEU, "signature": sacrebleu's signature}."""
    bleu, signature = score(hypotheses, references, "13a", gather)
    tok_bleu, _ = score(hypotheses, references, "none", gather)
    return {"bleu": bleu, "tok_bleu": tok_bleu, "signature": signature}
