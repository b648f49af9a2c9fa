"""CTC decoding: greedy (best path), and prefix beam search with an optional character n-gram language
model, scored as in the release's decoder: log P_ctc + alpha * log P_lm + beta * words.

The release decoded with KenLM word n-grams through a C++ decoder (swig_decoders); KenLM is not
available here, so the LM is a character n-gram with Witten-Bell interpolation that build_lm.py
estimates from text (make_demo_data.py writes one from the demo's training transcripts).
"""
import json
import math

import numpy as np

NEG_INF = -float("inf")


def logsumexp(*values):
    top = max(values)
    if top == NEG_INF:
        return NEG_INF
    return top + math.log(sum(math.exp(v - top) for v in values))


def greedy_decode(log_probs, blank):
    """Best path: the most probable label per frame, repeats merged, blanks removed -> label ids."""
    best = np.asarray(log_probs).argmax(axis=1)
    out, previous = [], None
    for label in best.tolist():
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return out


def greedy_alignment(log_probs):
    """The per-frame argmax (for the alignment drawn by infer.py)."""
    return np.asarray(log_probs).argmax(axis=1)


class CharNgramLM:
    """Character n-gram LM, interpolated Witten-Bell. Sentences are scored with a start context of
    `<s>` symbols and an end symbol `</s>`; `order` counts the predicted character."""

    BOS, EOS = "\x02", "\x03"

    def __init__(self, order, counts, chars):
        self.order, self.counts, self.chars = order, counts, chars  # counts: context -> {char: count}
        self.totals = {h: sum(c.values()) for h, c in counts.items()}
        self.uniform = 1.0 / (len(chars) + 1)  # + EOS
        self._cache = {}

    @classmethod
    def train(cls, sentences, order=5):
        counts, chars = {}, set()
        for s in sentences:
            chars.update(s)
            padded = cls.BOS * (order - 1) + s + cls.EOS
            for i in range(order - 1, len(padded)):
                for n in range(order):  # contexts of length 0 .. order-1
                    h = padded[i - n:i]
                    counts.setdefault(h, {})
                    counts[h][padded[i]] = counts[h].get(padded[i], 0) + 1
        return cls(order, counts, sorted(chars))

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"order": self.order, "chars": self.chars, "counts": self.counts}, f, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return cls(d["order"], d["counts"], d["chars"])

    def prob(self, context, char):
        """P(char | the last order-1 characters of context)."""
        context = (self.BOS * (self.order - 1) + context)[-(self.order - 1):] if self.order > 1 else ""
        key = (context, char)
        if key not in self._cache:
            p = self.uniform
            for n in range(0, self.order):  # from the empty context up to the longest
                h = context[len(context) - n:] if n else ""
                seen = self.counts.get(h)
                if not seen:
                    break
                total, types = self.totals[h], len(seen)
                p = (seen.get(char, 0) + types * p) / (total + types)
            self._cache[key] = p
        return self._cache[key]

    def log_prob(self, context, char):
        return math.log(self.prob(context, char))

    def sentence_log_prob(self, text):
        return sum(self.log_prob(text[:i], c) for i, c in enumerate(text)) + self.log_prob(text, self.EOS)


def prefix_beam_search(log_probs, blank, beam_size=10, chars=None, lm=None, alpha=0.0, beta=0.0, space=" "):
    """CTC prefix beam search over log_probs [T, V] (natural log). Each prefix keeps the probability of
    its paths ending in blank and in a label; the beam keeps the `beam_size` prefixes of highest
    score = log P_ctc + alpha * log P_lm(prefix) + beta * words(prefix). Returns (label ids, score)
    of the best finished prefix (the LM's end-of-sentence term added)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    use_lm = lm is not None and alpha != 0.0

    def text_of(prefix):
        return "".join(chars[i] for i in prefix)

    lm_cache = {(): 0.0}

    def lm_score(prefix):  # alpha * log P_lm(prefix) + beta * words, built one character at a time
        if prefix not in lm_cache:
            base = lm_score(prefix[:-1])
            extra = 0.0
            if use_lm:
                extra += alpha * lm.log_prob(text_of(prefix[:-1]), chars[prefix[-1]])
            if beta and chars is not None and chars[prefix[-1]] != space and (
                    len(prefix) == 1 or chars[prefix[-2]] == space):
                extra += beta  # a new word starts
            lm_cache[prefix] = base + extra
        return lm_cache[prefix]

    beams = {(): (0.0, NEG_INF)}  # prefix -> (log P ending in blank, log P ending in a label)
    for frame in log_probs:
        candidates = {}

        def add(prefix, p_blank, p_label):
            b, nb = candidates.get(prefix, (NEG_INF, NEG_INF))
            candidates[prefix] = (logsumexp(b, p_blank), logsumexp(nb, p_label))

        # only labels that can matter: the most probable ones of this frame
        labels = np.argsort(frame)[::-1][:max(beam_size, 1) + 1]
        for prefix, (p_b, p_nb) in beams.items():
            total = logsumexp(p_b, p_nb)
            add(prefix, total + frame[blank], NEG_INF)  # a blank keeps the prefix
            last = prefix[-1] if prefix else None
            for c in labels.tolist():
                if c == blank:
                    continue
                p = frame[c]
                if c == last:
                    add(prefix, NEG_INF, p_nb + p)  # the repeat collapses into the same label
                    add(prefix + (c,), NEG_INF, p_b + p)  # a blank in between: a second label
                else:
                    add(prefix + (c,), NEG_INF, total + p)
        ranked = sorted(candidates.items(), key=lambda kv: logsumexp(*kv[1]) + lm_score(kv[0]), reverse=True)
        beams = dict(ranked[:beam_size])

    def final(item):
        prefix, probs = item
        score = logsumexp(*probs) + lm_score(prefix)
        if use_lm:
            score += alpha * lm.log_prob(text_of(prefix), lm.EOS)
        return score

    best = max(beams.items(), key=final)
    return list(best[0]), final(best)
