"""A simple, HMM-free decoder from frame posteriors to words (the release used Kaldi's WFST decoder in
C++, which is out of reach here):

1. best state per frame (argmax of the posteriors), put back on its frame (the label delay undone);
2. collapse: repeated states merge; a new phone starts where the phone changes or its state position
   goes back (so `m m` across two words stays two phones); silence states end a chunk;
3. lexicon lookup: each chunk's phones are split into words by dynamic programming, the split whose
   pronunciations are closest to the phones (edit distance, plus a small cost per word) winning; a
   chunk that spells words exactly costs nothing.
"""
import numpy as np


def collapse(states, lang):
    """Frame states -> chunks of phones: [[phone, ...], ...], silence separating chunks."""
    chunks, current, previous = [], [], None
    last_phone, last_position = None, None
    for s in states:
        s = int(s)
        if s == previous:
            continue
        previous = s
        if s in lang.silence:
            if current:
                chunks.append(current)
            current, last_phone, last_position = [], None, None
            continue
        phone, position = lang.states[s]
        if phone != last_phone or position <= last_position:
            current.append(phone)
        last_phone, last_position = phone, position
    if current:
        chunks.append(current)
    return chunks


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (x != y))
    return row[-1]


class LexiconDecoder:
    """Phones -> words with the lexicon (see the module docstring). `word_cost` keeps the split from
    cutting one slightly wrong word into two short ones."""

    def __init__(self, lang, word_cost=0.5):
        self.lang, self.word_cost = lang, word_cost
        self.exact = {}
        for word, phones in lang.lexicon.items():
            self.exact.setdefault(phones, word)
        self.by_length = {}
        for phones, word in self.exact.items():
            self.by_length.setdefault(len(phones), []).append((phones, word))
        self.longest = max(self.by_length)

    def best_word(self, span):
        """(cost, word) of the lexicon entry closest to a span of phones (lengths within 1)."""
        span = tuple(span)
        if span in self.exact:
            return 0.0, self.exact[span]
        best = (float("inf"), None)
        for length in (len(span) - 1, len(span), len(span) + 1):
            for phones, word in self.by_length.get(length, ()):
                cost = edit_distance(span, phones)
                if cost < best[0]:
                    best = (cost, word)
        return best

    def words(self, chunk):
        """The cheapest split of a chunk of phones into lexicon words (a phone may also be dropped, at
        cost 1)."""
        n = len(chunk)
        cost = [0.0] + [float("inf")] * n
        back = [None] * (n + 1)
        for j in range(1, n + 1):
            if cost[j - 1] + 1 < cost[j]:  # drop phone j-1
                cost[j], back[j] = cost[j - 1] + 1, (j - 1, None)
            for i in range(max(0, j - self.longest - 1), j):
                c, word = self.best_word(chunk[i:j])
                if word is not None and cost[i] + c + self.word_cost < cost[j]:
                    cost[j], back[j] = cost[i] + c + self.word_cost, (i, word)
        out, j = [], n
        while j > 0:
            i, word = back[j]
            if word is not None:
                out.append(word)
            j = i
        return out[::-1]

    def __call__(self, states):
        """Frame states (already on their frames) -> transcript."""
        return " ".join(w for chunk in collapse(states, self.lang) for w in self.words(chunk))


def best_states(posteriors, delay):
    """[T, classes] posteriors (or logits) of the delayed model -> the best state of every frame."""
    import reader
    return reader.undelay(np.asarray(posteriors).argmax(axis=-1), delay)
