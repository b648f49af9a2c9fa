"""ADEM as in the release (ade_net.py): one word embedding and one LSTM shared by context and response,
the last real step's hidden state of each, and a bilinear tensor product of the two as the logit.

    ids -> embedding (Normal(0, 0.1)) -> LSTM -> h at the last real word     (context and response alike)
    logit = c^T W r + b                                                    (W: [1, H, H])

Stage 1 (matching) trains the logit with sigmoid cross-entropy, each example's loss clipped at 10;
stage 2 (fine-tuning) with the squared error of 2 * sigmoid(logit) against the 0..2 human score, / 4.

Differences from the release, none of which changes what is computed beyond the peepholes:
- the release projects the embedding with an fc to 4H, then runs fluid's dynamic_lstm, whose default
  use_peepholes=True adds 3H peephole weights; Paddle 3's fused nn.LSTM has the input projection
  inside (weight_ih + bias_ih = the fc) and no peepholes, so this model has 3H = 768 parameters fewer
  at H = 256 (tests/test_models.py counts both);
- the release's embedding was sparse (is_sparse=True); here it is dense, so that DataParallel and
  gradient clipping by value work on every parameter.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class ADEM(nn.Layer):
    def __init__(self, vocab_size, emb_size=256, hidden_size=256):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size,
                                      weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(std=0.1)))
        self.lstm = nn.LSTM(emb_size, hidden_size)
        self.bilinear = nn.Bilinear(hidden_size, hidden_size, 1)

    def encode(self, ids, lengths):
        """[B, T] ids, [B] lengths -> [B, H]: the hidden state after each text's last real word."""
        _, (h, _) = self.lstm(self.embedding(ids), sequence_length=lengths)
        return h[-1]

    def forward(self, context_ids, context_lengths, response_ids, response_lengths):
        """-> logits [B]."""
        context = self.encode(context_ids, context_lengths)
        response = self.encode(response_ids, response_lengths)
        return self.bilinear(context, response).squeeze(-1)


def score(logits, match):
    """What a user reads: P(match) for the matcher, the predicted 0..2 score for a fine-tuned model."""
    return F.sigmoid(logits) if match else 2 * F.sigmoid(logits)


def loss_fn(logits, labels, match, clip_value=10.0):
    if match:
        return paddle.clip(F.binary_cross_entropy_with_logits(logits, labels, reduction="none"),
                           max=clip_value).mean()
    return (((2 * F.sigmoid(logits) - labels) ** 2) / 4).mean()


class MatchScore(nn.Layer):
    """The network followed by `score`, for export: (ids, lengths, ids, lengths) -> scores [B]."""

    def __init__(self, model, match):
        super().__init__()
        self.model, self.match = model, match

    def forward(self, context_ids, context_lengths, response_ids, response_lengths):
        return score(self.model(context_ids, context_lengths, response_ids, response_lengths), self.match)


def count_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters())
