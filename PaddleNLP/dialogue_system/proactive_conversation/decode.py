"""Beam search and greedy decoding over one interface with two back ends:

- `ModelDecoder`: the dynamic-graph model (model.start / model.step);
- `PredictorDecoder`: the exported `start` and `step` programs under Paddle Inference.

The search runs in numpy around them, so both give the same replies by construction. As the
release's decoder (knowledge_seq2seq.py, run_type test): beam 10, at most --max_dec_len (30) words,
<unk> never generated, and with length_average (the release's default) hypotheses ranked by their
mean log-probability per word (the release's running average lp/i + score (1 - 1/i)); a hypothesis
that emitted <eos> is finished and stays. Beam 1 is greedy decoding.

The state after the log-probs: hidden [B, H] (changes every step), the encoder outputs [B, S, H],
their padding bias [B, S] and the prior knowledge vector [B, H] (fixed); batch on axis 0.
"""
import os

import numpy as np
import paddle

import utils
from reader import BOS_ID, EOS_ID, PAD_ID, UNK_ID

BANNED = (PAD_ID, UNK_ID, BOS_ID)


class ModelDecoder:
    def __init__(self, model):
        self.model = model

    def start(self, source):
        with paddle.no_grad():
            log_probs, *state = self.model.start(*[paddle.to_tensor(a) for a in source])
        return log_probs.numpy(), state

    def step(self, tokens, state):
        with paddle.no_grad():
            log_probs, hidden = self.model.step(paddle.to_tensor(tokens), *state)
        return log_probs.numpy(), [hidden] + state[1:]

    def reorder(self, state, rows):
        index = paddle.to_tensor(rows)
        return [paddle.gather(s, index, axis=0) for s in state]


class PredictorDecoder:
    def __init__(self, inference_dir):
        self.start_run = utils.create_predictor(os.path.join(inference_dir, "start"))
        self.step_run = utils.create_predictor(os.path.join(inference_dir, "step"))

    def start(self, source):
        log_probs, *state = self.start_run([np.asarray(a) for a in source])
        return log_probs, state

    def step(self, tokens, state):
        log_probs, hidden = self.step_run([np.asarray(tokens, dtype=np.int64), *state])
        return log_probs, [hidden] + state[1:]

    def reorder(self, state, rows):
        return [np.take(s, rows, axis=0) for s in state]


def _prepare(log_probs, at_limit):
    """Banned tokens get probability zero; rows at their length limit can only end."""
    log_probs = log_probs.astype(np.float64)
    log_probs[:, list(BANNED)] = -np.inf
    if at_limit.any():
        eos = log_probs[at_limit, EOS_ID]
        log_probs[at_limit] = -np.inf
        log_probs[at_limit, EOS_ID] = eos
    return log_probs


def beam_search(decoder, source, max_len, beam_size=10, length_average=True):
    """source arrays (batch first) -> B lists of word ids (without <eos>): each one's best finished
    hypothesis; max_len: words with <eos>."""
    log_probs, state = decoder.start(source)
    batch, k = len(log_probs), beam_size
    rows = np.repeat(np.arange(batch), k)
    state, log_probs = decoder.reorder(state, rows), log_probs[rows]
    scores = np.full((batch * k,), -np.inf)
    scores[::k] = 0.0  # the first step expands beam 0 only
    finished = np.zeros(batch * k, dtype=bool)
    lengths = np.zeros(batch * k, dtype=np.int64)
    tokens = np.zeros((batch * k, 0), dtype=np.int64)
    for t in range(max_len):
        if t > 0:
            log_probs, state = decoder.step(tokens[:, -1], state)
        log_probs = _prepare(log_probs, np.full(batch * k, t + 1 == max_len))
        vocab = log_probs.shape[1]
        raw = scores[:, None] + log_probs
        raw[finished] = -np.inf
        raw[finished, EOS_ID] = scores[finished]  # a finished hypothesis stays as it is
        cand_len = np.where(finished, lengths, t + 1)
        divisor = cand_len if length_average else np.ones_like(cand_len)
        ranked = (raw / divisor[:, None]).reshape(batch, k * vocab)
        top = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
        rows = (top // vocab + np.arange(batch)[:, None] * k).reshape(-1)
        new_tokens = (top % vocab).reshape(-1)
        scores = raw.reshape(batch, k * vocab)[np.arange(batch)[:, None], top].reshape(-1)
        was_finished = finished[rows]
        lengths = np.where(was_finished, lengths[rows], t + 1)
        finished = was_finished | (new_tokens == EOS_ID)
        tokens = np.concatenate([tokens[rows], new_tokens[:, None]], axis=1)
        state = decoder.reorder(state, rows)
        if finished.all():
            break
    divisor = lengths if length_average else np.ones_like(lengths)
    best = np.argmax((scores / np.maximum(divisor, 1)).reshape(batch, k), axis=1) + np.arange(batch) * k
    return [strip(tokens[row]) for row in best]


def greedy_search(decoder, source, max_len):
    log_probs, state = decoder.start(source)
    done = np.zeros(len(log_probs), dtype=bool)
    out = []
    for t in range(max_len):
        if t > 0:
            log_probs, state = decoder.step(out[-1], state)
        log_probs = _prepare(log_probs, np.full(len(done), t + 1 == max_len))
        token = np.where(done, EOS_ID, np.argmax(log_probs, axis=1))
        out.append(token)
        done |= token == EOS_ID
        if done.all():
            break
    return [strip(row) for row in np.stack(out, axis=1)]


def strip(row):
    row = list(map(int, row))
    return row[:row.index(EOS_ID)] if EOS_ID in row else row


def generate(decoder, data, indices, beam_size=10, max_len=30, batch_size=32, length_average=True, what="decode"):
    """Reply word ids for data's samples `indices`, in that order; batches of similar source length
    (a reply does not depend on its batch)."""
    indices = list(indices)
    order = sorted(range(len(indices)), key=lambda j: data.lengths[indices[j]])
    results = [None] * len(indices)
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    for chunk in utils.progress(chunks, len(chunks), what):
        source = data.source([indices[j] for j in chunk])
        if beam_size == 1:
            outputs = greedy_search(decoder, source, max_len)
        else:
            outputs = beam_search(decoder, source, max_len, beam_size, length_average)
        for j, out in zip(chunk, outputs):
            results[j] = out
    return results
