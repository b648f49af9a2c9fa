"""Decoding: beam search and greedy decoding over one interface that two back ends implement:

- `ModelDecoder`: the dynamic-graph model (model.start / model.step);
- `UncachedDecoder`: the dynamic-graph model re-run over the whole target prefix at every step
  (what carrying the LSTM state saves; a test checks both give the same tokens);
- `PredictorDecoder`: the exported `start` and `step` programs under Paddle Inference.

The search runs in numpy around them, so both give the same translations by construction. Beam
search keeps `beam` hypotheses per sentence (the release: 10); a hypothesis that emitted </s> is
finished and stays as it is. Hypotheses are ranked by their summed log-probability, as the release's
beam search did; `alpha` > 0 divides it by ((5 + length) / 6) ** alpha (Wu et al. 2016) instead.
With beam 1 the search is exactly greedy decoding (a test checks it).

The decoder state: h, c [L, B, H] (batch on axis 1), then for attention the fed-back output
[B, H], the projected encoder outputs [B, S, H] and the padding bias [B, S] (batch on axis 0).
"""
import os

import numpy as np
import paddle

import utils
from model import BOS_ID

BATCH_AXIS = (1, 1, 0, 0, 0)  # of h, c, feed, memory, bias


class ModelDecoder:
    def __init__(self, model):
        self.model = model

    def start(self, src, src_len):
        with paddle.no_grad():
            log_probs, *state = self.model.start(paddle.to_tensor(src), paddle.to_tensor(src_len))
        return log_probs.numpy(), state

    def step(self, tokens, state):
        with paddle.no_grad():
            log_probs, *changed = self.model.step(paddle.to_tensor(tokens), *state)
        return log_probs.numpy(), changed + state[len(changed):]

    def reorder(self, state, rows):
        index = paddle.to_tensor(rows)
        return [paddle.gather(s, index, axis=axis) for s, axis in zip(state, BATCH_AXIS)]


class UncachedDecoder:
    """Every step runs the model (encoder and decoder) over the source and the whole prefix
    <s> y1 .. yt, and keeps the last position's log-probabilities."""

    def __init__(self, model):
        self.model = model

    def _last(self, src, src_len, prefix):
        with paddle.no_grad():
            logits = self.model(paddle.to_tensor(src), paddle.to_tensor(src_len), paddle.to_tensor(prefix))
            return paddle.nn.functional.log_softmax(logits[:, -1], axis=-1).numpy()

    def start(self, src, src_len):
        prefix = np.full((len(src), 1), BOS_ID, dtype=np.int64)
        return self._last(src, src_len, prefix), [src, src_len, prefix]

    def step(self, tokens, state):
        src, src_len, prefix = state
        prefix = np.concatenate([prefix, np.asarray(tokens, dtype=np.int64)[:, None]], axis=1)
        return self._last(src, src_len, prefix), [src, src_len, prefix]

    def reorder(self, state, rows):
        return [s[rows] for s in state]


class PredictorDecoder:
    """The export: `start` (src, src_len -> log-probs, state) and `step` (token, state -> log-probs,
    the changing part of the state)."""

    def __init__(self, inference_dir):
        self.start_run = utils.create_predictor(os.path.join(inference_dir, "start"))
        self.step_run = utils.create_predictor(os.path.join(inference_dir, "step"))

    def start(self, src, src_len):
        log_probs, *state = self.start_run([np.asarray(src, dtype=np.int64), np.asarray(src_len, dtype=np.int64)])
        return log_probs, state

    def step(self, tokens, state):
        log_probs, *changed = self.step_run([np.asarray(tokens, dtype=np.int64), *state])
        return log_probs, changed + state[len(changed):]

    def reorder(self, state, rows):
        return [np.take(s, rows, axis=axis) for s, axis in zip(state, BATCH_AXIS)]


def length_penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha if alpha else np.ones_like(length, dtype=np.float64)


def force_end(log_probs, rows, eos_id):
    """Rows at their length limit can only end: every token but </s> gets probability zero."""
    if rows.any():
        log_probs = log_probs.copy()
        eos = log_probs[rows, eos_id]
        log_probs[rows] = -np.inf
        log_probs[rows, eos_id] = eos
    return log_probs


def beam_search(decoder, src, src_len, max_steps, eos_id, beam_size=10, alpha=0.0):
    """src [B, S] int64 -> B lists of target ids (without </s>): the best finished hypothesis of
    each. max_steps: an int, or one limit per sentence (tokens with </s>)."""
    batch, k = len(src), beam_size
    limits = np.broadcast_to(np.asarray(max_steps), (batch,)).repeat(k)
    log_probs, state = decoder.start(src, src_len)
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
        log_probs = force_end(log_probs, limits == t + 1, eos_id)
        vocab = log_probs.shape[1]
        raw = scores[:, None] + log_probs.astype(np.float64)
        raw[finished] = -np.inf
        raw[finished, eos_id] = scores[finished]  # a finished hypothesis stays as it is
        cand_len = np.where(finished, lengths, t + 1)
        ranked = (raw / length_penalty(cand_len, alpha)[:, None]).reshape(batch, k * vocab)
        top = np.argsort(-ranked, axis=1, kind="stable")[:, :k]  # ties: the lower beam, then the lower id
        rows = (top // vocab + np.arange(batch)[:, None] * k).reshape(-1)
        new_tokens = (top % vocab).reshape(-1)
        scores = raw.reshape(batch, k * vocab)[np.arange(batch)[:, None], top].reshape(-1)
        was_finished = finished[rows]
        lengths = np.where(was_finished, lengths[rows], t + 1)
        finished = was_finished | (new_tokens == eos_id)
        tokens = np.concatenate([tokens[rows], new_tokens[:, None]], axis=1)
        state = decoder.reorder(state, rows)
        if finished.all():
            break
    lengths = np.where(finished, lengths, tokens.shape[1])
    final = (scores / length_penalty(lengths, alpha)).reshape(batch, k)
    best = np.argmax(final, axis=1) + np.arange(batch) * k
    return [strip(tokens[row], eos_id) for row in best]


def greedy_search(decoder, src, src_len, max_steps, eos_id):
    """The likeliest token at every step; max_steps as for beam_search."""
    limits = np.broadcast_to(np.asarray(max_steps), (len(src),))
    log_probs, state = decoder.start(src, src_len)
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
    return [strip(row, eos_id) for row in np.stack(out, axis=1)]


def strip(row, eos_id):
    row = list(map(int, row))
    return row[:row.index(eos_id)] if eos_id in row else row


def max_steps_for(src_len, max_out_len=100):
    """Target tokens (with </s>) to decode at most for a source of src_len tokens (with </s>): twice
    that plus 10, and at most the release's 100."""
    return int(min(2 * src_len + 10, max_out_len))


def translate(decoder, sources, eos_id, beam_size=10, alpha=0.0, batch_size=64, pad_id=2, max_out_len=100,
              what="decode"):
    """Target ids for every source id array (each ending with </s>), in input order; sentences are
    decoded in batches of similar length (a sentence's result does not depend on its batch)."""
    order = np.argsort([len(s) for s in sources], kind="stable")
    results = [None] * len(sources)
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for chunk in utils.progress(chunks, len(chunks), what):
        src_len = np.array([len(sources[i]) for i in chunk], dtype=np.int64)
        src = np.full((len(chunk), src_len.max()), pad_id, dtype=np.int64)
        for row, i in enumerate(chunk):
            src[row, :len(sources[i])] = sources[i]
        steps = np.array([max_steps_for(n, max_out_len) for n in src_len])
        if beam_size == 1:
            outputs = greedy_search(decoder, src, src_len, steps, eos_id)
        else:
            outputs = beam_search(decoder, src, src_len, steps, eos_id, beam_size, alpha)
        for i, out in zip(chunk, outputs):
            results[i] = out
    return results
