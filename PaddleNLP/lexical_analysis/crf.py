"""Linear-chain CRF: forward-algorithm negative log-likelihood and Viterbi decoding.

Score of a tag path y_0..y_{L-1} for a sentence of length L:

    start[y_0] + sum_t emission[t, y_t] + sum_{t>=1} transitions[y_{t-1}, y_t] + stop[y_{L-1}]

`transitions[i, j]` is the score of moving from tag i to tag j (row = previous tag).
The start and stop scores are folded into the emissions of the first and the last real
position (`potentials`), so the same tensors feed the loss and `paddle.text.ViterbiDecoder`
with `include_bos_eos_tag=False`. We do not use the decoder's own start/stop tags: with
`include_bos_eos_tag=True` it reads the start score from the LAST ROW and the stop score
from the SECOND-TO-LAST ROW of an (N+2)x(N+2) matrix, and lets a path pass through those two
extra tags in the middle of a sentence unless the caller masks them; folding avoids both traps.

`tied_start_stop=True` is PaddleNLP's layout (a run fine-tuned from its Taskflow LAC checkpoint,
pretrained.py): the last two tags are its CRF's stop and start tags, and the start and stop scores
are not parameters of their own but the LAST ROW (start) and the SECOND-TO-LAST ROW (stop) of the
transition matrix, read where PaddleNLP's ViterbiDecoder(include_bos_eos_tag=True) reads them. The
gradient of those scores then lands on those rows, so the fine-tuned matrix stays PaddleNLP's.
"""
import paddle
import paddle.nn as nn


def positions(scores, dtype):
    """[1, T] position index of every step of scores [B, T, N]. Reads T with paddle.shape so that
    it also traces when T is unknown (the exported model's dynamic length)."""
    return paddle.arange(paddle.shape(scores)[1], dtype=dtype).unsqueeze(0)


class LinearChainCRF(nn.Layer):
    def __init__(self, num_tags, lr_scale=1.0, tied_start_stop=False):
        super().__init__()
        self.num_tags, self.tied_start_stop = num_tags, tied_start_stop
        attr = paddle.ParamAttr(learning_rate=lr_scale, initializer=nn.initializer.Uniform(-0.1, 0.1))
        self.transitions = self.create_parameter([num_tags, num_tags], attr=attr)
        if not tied_start_stop:
            self.start = self.create_parameter([num_tags], attr=attr)
            self.stop = self.create_parameter([num_tags], attr=attr)
        # Kept out of the sub-layer registry so the transition matrix is stored once in the
        # state dict; the decoder only reads it.
        object.__setattr__(self, "_viterbi", paddle.text.ViterbiDecoder(self.transitions, include_bos_eos_tag=False))

    def start_stop(self):
        """(start scores [N], stop scores [N]): own parameters, or PaddleNLP's tied rows."""
        if self.tied_start_stop:  # start_idx = N - 1 (last row), stop_idx = N - 2 (second-to-last row)
            return self.transitions[self.num_tags - 1], self.transitions[self.num_tags - 2]
        return self.start, self.stop

    def potentials(self, emission, lengths):
        """emission [B, T, N] plus start scores at t=0 and stop scores at t=length-1."""
        steps = positions(emission, lengths.dtype)  # [1, T]
        is_first = (steps == 0).astype(emission.dtype).unsqueeze(-1)
        is_last = (steps == (lengths.unsqueeze(1) - 1)).astype(emission.dtype).unsqueeze(-1)
        start, stop = self.start_stop()
        return emission + is_first * start + is_last * stop

    def log_partition(self, potentials, lengths):
        """log Z per sentence by the forward algorithm; positions past `lengths` are ignored."""
        # alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + trans[i, j]) + potential_t[j], computed as
        # one [B, N] x [N, N] matmul in exp space with both operands shifted by their maximum:
        # the same value as a [B, N, N] logsumexp, at a fraction of the cost on a CPU.
        max_len = potentials.shape[1]
        trans_max = self.transitions.max()
        exp_trans = paddle.exp(self.transitions - trans_max)
        alive = (positions(potentials, lengths.dtype) < lengths.unsqueeze(1)).unsqueeze(2)  # [B, T, 1]
        alpha = potentials[:, 0]  # [B, N]
        for t in range(1, max_len):
            alpha_max = alpha.max(axis=1, keepdim=True)
            # The floor: a tag no path can reach with any weight (a score of -1e4, as in a checkpoint whose
            # extra tags are shut off) would give log(0) = -inf here and a NaN gradient; 1e-30 of the
            # largest term changes log Z by less than float32 can hold.
            step = paddle.log(paddle.clip(paddle.matmul(paddle.exp(alpha - alpha_max), exp_trans), min=1e-30))
            step = step + (alpha_max + trans_max) + potentials[:, t]
            alpha = paddle.where(alive[:, t], step, alpha)  # finished sentences keep their alpha
        return paddle.logsumexp(alpha, axis=1)

    def path_score(self, potentials, lengths, tags):
        """Score of the given tag paths (tags [B, T], padding ignored)."""
        mask = (positions(potentials, lengths.dtype) < lengths.unsqueeze(1)).astype(potentials.dtype)
        unary = paddle.take_along_axis(potentials, tags.unsqueeze(-1), axis=2).squeeze(-1)
        pair_index = tags[:, :-1] * self.num_tags + tags[:, 1:]
        pair = paddle.gather(self.transitions.flatten(), pair_index.flatten()).reshape(pair_index.shape)
        return (unary * mask).sum(1) + (pair * mask[:, 1:]).sum(1)

    def nll(self, emission, lengths, tags):
        """Per-sentence negative log-likelihood [B]."""
        pot = self.potentials(emission, lengths)
        return self.log_partition(pot, lengths) - self.path_score(pot, lengths, tags)

    def decode(self, emission, lengths):
        """Best paths [B, max(lengths)] (int64; zeros past each length) and their scores [B]."""
        scores, paths = self._viterbi(self.potentials(emission, lengths), lengths)
        return paths, scores
