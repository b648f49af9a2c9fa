"""Decoding: beam search with a length penalty, and greedy decoding, over one interface that three
back ends implement:

- `CachedDecoder`: the dynamic-graph model; `start` encodes and runs the first step, each `step` feeds
  one token and reuses the keys and values of earlier steps (model.start / model.step);
- `UncachedDecoder`: the dynamic-graph model re-run over the whole target prefix at every step (what
  the cache saves; a test checks both give the same tokens);
- `PredictorDecoder`: the exported `start` and `step` programs under Paddle Inference.

The search runs in numpy around them, so all three give the same translations by construction.
`reorder(state, rows)` gathers the state's rows (beam search's first expansion: every part);
with cache_only, only what depends on the hypothesis (the self-attention cache, the prefix): the
encoder-side parts are the same for every beam of a sentence, and beams only move inside it.
Beam search keeps `beam` hypotheses per sentence; a hypothesis that emitted <e> is finished and stays
as it is. Candidates are ranked by log-probability / lp(length), lp = ((5 + length) / 6) ** alpha
(Wu et al. 2016; length counts the <e>), so with beam 1 the search is exactly greedy decoding.
"""
import numpy as np
import paddle

import utils
from model import log_softmax


class CachedDecoder:
    def __init__(self, model):
        self.model = model

    def start(self, src):
        with paddle.no_grad():
            log_probs, *state = self.model.start(paddle.to_tensor(src))
        return log_probs.numpy(), state

    def step(self, tokens, state):
        self_k, self_v, cross_k, cross_v, bias = state
        with paddle.no_grad():
            log_probs, self_k, self_v = self.model.step(paddle.to_tensor(tokens), self_k, self_v, cross_k, cross_v, bias)
        return log_probs.numpy(), [self_k, self_v, cross_k, cross_v, bias]

    def reorder(self, state, rows, cache_only=False):
        index = paddle.to_tensor(rows)
        self_k, self_v, *source = state
        if not cache_only:
            cross_k, cross_v, bias = source
            source = [paddle.gather(cross_k, index, axis=1), paddle.gather(cross_v, index, axis=1),
                      paddle.gather(bias, index, axis=0)]
        return [paddle.gather(self_k, index, axis=1), paddle.gather(self_v, index, axis=1), *source]


class UncachedDecoder:
    """Every step runs the decoder over the whole prefix <s> y1 .. yt and keeps the last position."""

    def __init__(self, model):
        self.model = model

    def start(self, src):
        with paddle.no_grad():
            enc_out, bias = self.model.encode(paddle.to_tensor(src))
        prefix = np.full((len(src), 1), self.model.bos_id, dtype=np.int64)
        return self._last(prefix, enc_out, bias), [prefix, enc_out, bias]

    def _last(self, prefix, enc_out, bias):
        with paddle.no_grad():
            logits = self.model.decode(paddle.to_tensor(prefix), enc_out, bias)[:, -1]
            never = paddle.nn.functional.one_hot(paddle.full([1], self.model.bos_id, "int64"), logits.shape[-1])
            return log_softmax(logits + never * -1e9).numpy()

    def step(self, tokens, state):
        prefix, enc_out, bias = state
        prefix = np.concatenate([prefix, tokens[:, None]], axis=1)
        return self._last(prefix, enc_out, bias), [prefix, enc_out, bias]

    def reorder(self, state, rows, cache_only=False):
        prefix, enc_out, bias = state
        if not cache_only:
            index = paddle.to_tensor(rows)
            enc_out, bias = paddle.gather(enc_out, index, axis=0), paddle.gather(bias, index, axis=0)
        return [prefix[rows], enc_out, bias]


class PredictorDecoder:
    """The export: `start` (src -> log-probs, caches) and `step` (token + caches -> log-probs, caches)."""

    def __init__(self, inference_dir):
        import os
        self.start_run = utils.create_predictor(os.path.join(inference_dir, "start"))
        self.step_run = utils.create_predictor(os.path.join(inference_dir, "step"))

    def start(self, src):
        log_probs, *state = self.start_run([np.asarray(src, dtype=np.int64)])
        return log_probs, state

    def step(self, tokens, state):
        log_probs, self_k, self_v = self.step_run([np.asarray(tokens, dtype=np.int64), *state])
        return log_probs, [self_k, self_v, *state[2:]]

    def reorder(self, state, rows, cache_only=False):
        self_k, self_v, *source = state
        if not cache_only:
            cross_k, cross_v, bias = source
            source = [cross_k[:, rows], cross_v[:, rows], bias[rows]]
        return [self_k[:, rows], self_v[:, rows], *source]


def length_penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def force_end(log_probs, rows, eos_id):
    """Rows at their length limit can only end: every token but <e> gets probability zero."""
    if rows.any():
        log_probs = log_probs.copy()
        eos = log_probs[rows, eos_id]
        log_probs[rows] = -np.inf
        log_probs[rows, eos_id] = eos
    return log_probs


def top_k(scores, k):
    """Column indices of the k largest entries of each row, largest first, ties to the lower index:
    the first k of a stable argsort of -scores, without sorting whole rows (beam x vocabulary
    candidates per sentence and step; about 5x faster at a 32000-token vocabulary)."""
    neg = -scores
    bounds = np.partition(neg, k - 1, axis=1)[:, k - 1]
    top = np.empty((len(neg), k), dtype=np.int64)
    for i, (row, bound) in enumerate(zip(neg, bounds)):
        candidates = np.flatnonzero(row <= bound)  # every entry tied with the k-th, in index order
        if len(candidates) < k:  # NaN scores: rank the whole row as argsort would
            candidates = np.arange(len(row))
        top[i] = candidates[np.argsort(row[candidates], kind="stable")[:k]]
    return top


def beam_search(decoder, src, max_steps, eos_id, beam_size=5, alpha=0.6, force_eos=True):
    """src [B, S] int64 -> B lists of target ids (without <e>): the best finished hypothesis of each.
    max_steps: an int, or one limit per sentence (tokens with <e>), so that a sentence's translation
    does not depend on the batch it is decoded in. force_eos=False: the last step is not forced to
    <e> (PaddleNLP's v1 search: max_out_len steps, then the best hypothesis, finished or not)."""
    batch, k = len(src), beam_size
    limits = np.broadcast_to(np.asarray(max_steps), (batch,)).repeat(k)
    log_probs, state = decoder.start(src)
    rows = np.repeat(np.arange(batch), k)
    state, log_probs = decoder.reorder(state, rows), log_probs[rows]
    scores = np.full((batch * k,), -np.inf)
    scores[::k] = 0.0  # the first step expands beam 0 only
    finished = np.zeros(batch * k, dtype=bool)
    lengths = np.zeros(batch * k, dtype=np.int64)
    tokens = np.zeros((batch * k, 0), dtype=np.int64)
    for t in range(int(limits.max())):
        if t > 0:
            log_probs, state = decoder.step(tokens[:, -1], state)
        if force_eos:
            log_probs = force_end(log_probs, limits == t + 1, eos_id)
        vocab = log_probs.shape[1]
        raw = scores[:, None] + log_probs.astype(np.float64)
        raw[finished] = -np.inf
        raw[finished, eos_id] = scores[finished]  # a finished hypothesis stays as it is
        cand_len = np.where(finished, lengths, t + 1)
        ranked = (raw / length_penalty(cand_len, alpha)[:, None]).reshape(batch, k * vocab)
        top = top_k(ranked, k)  # ties: the lower beam, then the lower id
        rows = (top // vocab + np.arange(batch)[:, None] * k).reshape(-1)
        new_tokens = (top % vocab).reshape(-1)
        scores = raw.reshape(batch, k * vocab)[np.arange(batch)[:, None], top].reshape(-1)
        was_finished = finished[rows]
        lengths = np.where(was_finished, lengths[rows], t + 1)
        finished = was_finished | (new_tokens == eos_id)
        tokens = np.concatenate([tokens[rows], new_tokens[:, None]], axis=1)
        state = decoder.reorder(state, rows, cache_only=True)  # rows stay within their sentence
        if finished.all():
            break
    lengths = np.where(finished, lengths, tokens.shape[1])
    final = (scores / length_penalty(lengths, alpha)).reshape(batch, k)
    best = np.argmax(final, axis=1) + np.arange(batch) * k
    return [strip(tokens[row], eos_id) for row in best]


def greedy_search(decoder, src, max_steps, eos_id):
    """The likeliest token at every step; max_steps as for beam_search."""
    limits = np.broadcast_to(np.asarray(max_steps), (len(src),))
    log_probs, state = decoder.start(src)
    done = np.zeros(len(src), dtype=bool)
    out = []
    for t in range(int(limits.max())):
        if t > 0:
            log_probs, state = decoder.step(out[-1], state)
        log_probs = force_end(log_probs, limits == t + 1, eos_id)
        token = np.where(done, eos_id, np.argmax(log_probs, axis=1))
        out.append(token)
        done |= token == eos_id
        if done.all():
            break
    tokens = np.stack(out, axis=1)
    return [strip(row, eos_id) for row in tokens]


def strip(row, eos_id):
    row = list(map(int, row))
    return row[:row.index(eos_id)] if eos_id in row else row


def max_steps_for(src_len, max_length):
    """How many target tokens (with <e>) to decode at most for a source of src_len tokens (with <e>):
    twice that, at most 50 more than that, and never past the position table. The last one is <e>."""
    return int(min(2 * src_len, src_len + 50, max_length))


def translate(decoder, sources, eos_id, max_length, beam_size=5, alpha=0.6, batch_size=64, pad_id=0,
              what="decode", max_out_len=None):
    """Target ids for every source id array (each ending with <e>), in input order. Sentences are
    decoded in batches of similar length. max_out_len: PaddleNLP's limit instead of max_steps_for
    (that many tokens for every sentence, the last not forced to <e>)."""
    order = np.argsort([len(s) for s in sources], kind="stable")
    results = [None] * len(sources)
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for chunk in utils.progress(chunks, len(chunks), what):
        width = max(len(sources[i]) for i in chunk)
        src = np.full((len(chunk), width), pad_id, dtype=np.int64)
        for row, i in enumerate(chunk):
            src[row, :len(sources[i])] = sources[i]
        steps = np.array([max_out_len or max_steps_for(len(sources[i]), max_length) for i in chunk])
        if beam_size == 1 and not max_out_len:
            outputs = greedy_search(decoder, src, steps, eos_id)
        else:
            outputs = beam_search(decoder, src, steps, eos_id, beam_size, alpha, force_eos=not max_out_len)
        for i, out in zip(chunk, outputs):
            results[i] = out
    return results
