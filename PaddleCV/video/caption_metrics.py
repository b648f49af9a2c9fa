"""Caption metrics for dense captioning (ETS): BLEU-4 and CIDEr-D, on lower-case tokenised captions.

BLEU-4: sacrebleu's corpus BLEU (its 13a tokeniser; one or several reference streams), reported on the
0-1 scale of the coco-caption toolkit the release evaluated with (sacrebleu prints 0-100).

CIDEr-D (Vedantam et al. 2015), written out as the coco-caption toolkit computes it (the "CIDEr" of
pycocoevalcap is its CIDEr-D): n-grams of 1..4 words, tf-idf vectors whose document frequencies are counted
over the reference sets of the corpus being scored, per n the cosine with each reference after clipping the
candidate's weights at the reference's (min), times a Gaussian length penalty exp(-delta^2 / (2 * 6^2)),
averaged over n and over the references, times 10. Like the toolkit, the "length" in the penalty is the
number of bigrams (its quirk, kept so that the figures compare).

METEOR is not computed: no implementation on the package index runs offline without a download at run time
(nltk's needs the WordNet corpus fetched by nltk.download; pycocoevalcap's calls a Java jar).
"""
import math
from collections import Counter, defaultdict


def ngrams(words, n_max=4):
    counts = Counter()
    for n in range(1, n_max + 1):
        for i in range(len(words) - n + 1):
            counts[tuple(words[i:i + n])] += 1
    return counts


def bleu4(hypotheses, references):
    """Corpus BLEU-4 (0-1). hypotheses: [str]; references: [[str, ...]] (one list of references per
    hypothesis; every hypothesis must have the same number, as sacrebleu's reference streams)."""
    try:
        import sacrebleu
    except ImportError:
        raise ImportError("BLEU-4 needs sacrebleu: pip install sacrebleu (requirements.txt)") from None
    if not hypotheses:
        return 0.0
    streams = [list(refs) for refs in zip(*references)]
    return sacrebleu.corpus_bleu(list(hypotheses), streams).score / 100.0


def _vector(counts, document_frequency, log_docs):
    vec, norm, length = [defaultdict(float) for _ in range(4)], [0.0] * 4, 0
    for gram, tf in counts.items():
        n = len(gram) - 1
        df = math.log(max(1.0, document_frequency[gram]))
        vec[n][gram] = float(tf) * (log_docs - df)
        norm[n] += vec[n][gram] ** 2
        if n == 1:
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def _similarity(hyp, ref, sigma=6.0):
    (vh, nh, lh), (vr, nr, lr) = hyp, ref
    delta = float(lh - lr)
    out = [0.0] * 4
    for n in range(4):
        for gram, value in vh[n].items():
            out[n] += min(value, vr[n].get(gram, 0.0)) * vr[n].get(gram, 0.0)
        if nh[n] != 0 and nr[n] != 0:
            out[n] /= nh[n] * nr[n]
        out[n] *= math.e ** (-(delta ** 2) / (2 * sigma ** 2))
    return out


def cider_d(hypotheses, references):
    """(corpus CIDEr-D, per-caption scores). hypotheses: [str]; references: [[str, ...]]."""
    if not hypotheses:
        return 0.0, []
    hyp_counts = [ngrams(h.split()) for h in hypotheses]
    ref_counts = [[ngrams(r.split()) for r in refs] for refs in references]
    document_frequency = Counter()
    for refs in ref_counts:
        for gram in set(g for r in refs for g in r):
            document_frequency[gram] += 1
    log_docs = math.log(float(len(ref_counts)))
    scores = []
    for hc, refs in zip(hyp_counts, ref_counts):
        hv = _vector(hc, document_frequency, log_docs)
        total = [0.0] * 4
        for rc in refs:
            total = [a + b for a, b in zip(total, _similarity(hv, _vector(rc, document_frequency, log_docs)))]
        scores.append(sum(total) / 4.0 / len(refs) * 10.0)
    return sum(scores) / len(scores), scores
