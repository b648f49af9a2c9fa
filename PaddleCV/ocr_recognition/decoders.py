"""Decoding: CTC greedy (best path) and CTC prefix beam search over log-probabilities [T, V], and
beam search for the attention decoder over any `step` function (the dynamic graph's or the export's).
"""
import math

import numpy as np

NEG_INF = -float("inf")


def logsumexp(*values):
    top = max(values)
    if top == NEG_INF:
        return NEG_INF
    return top + math.log(sum(math.exp(v - top) for v in values))


def ctc_greedy(log_probs, blank):
    """Best path: the most probable label per frame, repeats merged, blanks removed -> label ids."""
    out, previous = [], None
    for label in np.asarray(log_probs).argmax(axis=1).tolist():
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return out


def ctc_prefix_beam_search(log_probs, blank, beam_size=10):
    """CTC prefix beam search: every prefix keeps the log-probability of its paths that end in a blank
    and of those that end in a label, so that "aa" needs a blank between the two a's. Returns (ids,
    log-probability of the best prefix)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    beams = {(): (0.0, NEG_INF)}  # prefix -> (ends in blank, ends in a label)
    for frame in log_probs:
        candidates = {}

        def add(prefix, p_blank, p_label):
            b, nb = candidates.get(prefix, (NEG_INF, NEG_INF))
            candidates[prefix] = (logsumexp(b, p_blank), logsumexp(nb, p_label))

        labels = np.argsort(frame)[::-1][:beam_size + 1].tolist()  # only the frame's likeliest labels
        for prefix, (p_b, p_nb) in beams.items():
            total = logsumexp(p_b, p_nb)
            add(prefix, total + frame[blank], NEG_INF)
            last = prefix[-1] if prefix else None
            for c in labels:
                if c == blank:
                    continue
                if c == last:
                    add(prefix, NEG_INF, p_nb + frame[c])  # a repeat merges into the same label
                    add(prefix + (c,), NEG_INF, p_b + frame[c])  # after a blank: a second label
                else:
                    add(prefix + (c,), NEG_INF, total + frame[c])
        beams = dict(sorted(candidates.items(), key=lambda kv: logsumexp(*kv[1]), reverse=True)[:beam_size])
    prefix, probs = max(beams.items(), key=lambda kv: logsumexp(*kv[1]))
    return list(prefix), logsumexp(*probs)


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def attention_beam_search(step, state, sos, eos, beam_size=1, max_len=32):
    """Beam search for one image. `step(prev_ids [K], states [K, D]) -> (logits [K, V], states, attention
    [K, T])` runs the decoder on K hypotheses of this image. A hypothesis ends at `eos`; the best
    finished one by total log-probability wins (beam 1 = greedy; unfinished ones count at max_len).
    Returns (ids, attention rows [len(ids), T])."""
    beams = [((), 0.0, np.asarray(state, dtype=np.float32), [])]  # (ids, log-prob, state, attention rows)
    finished = []
    for _ in range(max_len):
        prev = np.array([b[0][-1] if b[0] else sos for b in beams], dtype=np.int64)
        logits, states, attention = step(prev, np.stack([b[2] for b in beams]))
        scores = log_softmax(logits)
        candidates = []
        for k, (ids, score, _, rows) in enumerate(beams):
            for c in np.argsort(scores[k])[::-1][:beam_size].tolist():
                candidates.append((score + scores[k, c], k, c))
        candidates.sort(key=lambda x: x[0], reverse=True)
        next_beams = []
        for total, k, c in candidates[:beam_size]:
            ids, _, _, rows = beams[k]
            if c == eos:
                finished.append((ids, total, rows + [attention[k]]))
            else:
                next_beams.append((ids + (c,), total, states[k], rows + [attention[k]]))
        beams = next_beams
        if not beams or (finished and max(f[1] for f in finished) >= beams[0][1]):
            break  # log-probabilities only fall: no open hypothesis can overtake the best finished one
    finished += [(ids, score, rows) for ids, score, _, rows in beams] if not finished else []
    ids, _, rows = max(finished, key=lambda f: f[1])
    return [i for i in ids if i < sos], np.array(rows[:len(ids)]) if rows else np.zeros((0, 0))
