"""LAC: character embedding, two bidirectional GRU layers and a linear-chain CRF.

Jiao, Sun and Sun, "Chinese Lexical Analysis with Deep Bi-GRU-CRF Network", 2018,
https://arxiv.org/abs/1807.01882. Sizes follow the PaddlePaddle models release/1.7 dygraph
recipe: embedding 128, GRU hidden 128 per direction, uniform(-0.1, 0.1) initialisation, L2 1e-4
on the GRU and output weights, learning-rate scales 2.0 (embedding) and 0.2 (CRF).
"""
import paddle
import paddle.nn as nn

from crf import LinearChainCRF


class BiGruEncoder(nn.Layer):
    """Characters -> per-character tag scores (the CRF's emissions) [B, T, num_tags]."""

    def __init__(self, vocab_size, num_tags, emb_dim, hidden_size, num_layers, emb_lr_scale):
        super().__init__()
        init = nn.initializer.Uniform(-0.1, 0.1)
        decay = paddle.regularizer.L2Decay(1e-4)
        self.embedding = nn.Embedding(vocab_size, emb_dim,
                                      weight_attr=paddle.ParamAttr(learning_rate=emb_lr_scale, initializer=init))
        # Paddle's fused GRU, not a Python loop over time steps; `sequence_length` makes the
        # backward direction start at each sentence's own last character, not at the padding.
        self.gru = nn.GRU(emb_dim, hidden_size, num_layers=num_layers, direction="bidirect",
                          weight_ih_attr=paddle.ParamAttr(initializer=init, regularizer=decay),
                          weight_hh_attr=paddle.ParamAttr(initializer=init, regularizer=decay))
        self.emission = nn.Linear(2 * hidden_size, num_tags,
                                  weight_attr=paddle.ParamAttr(initializer=init, regularizer=decay))

    def forward(self, chars, lengths):
        hidden, _ = self.gru(self.embedding(chars), sequence_length=lengths)
        return self.emission(hidden)


class BiGruCrf(nn.Layer):
    def __init__(self, vocab_size, num_tags, emb_dim=128, hidden_size=128, num_layers=2,
                 emb_lr_scale=2.0, crf_lr_scale=0.2, tied_start_stop=False):
        super().__init__()
        self.encoder = BiGruEncoder(vocab_size, num_tags, emb_dim, hidden_size, num_layers, emb_lr_scale)
        # tied_start_stop: PaddleNLP's CRF layout (start/stop = the last two transition rows), crf.py
        self.crf = LinearChainCRF(num_tags, lr_scale=crf_lr_scale, tied_start_stop=tied_start_stop)

    def emissions(self, chars, lengths):
        """Per-character tag scores [B, T, num_tags]."""
        return self.encoder(chars, lengths)

    def forward(self, chars, lengths, tags=None):
        """With gold tags: the mean CRF negative log-likelihood per sentence (training goes through
        forward so that DataParallel sees it). Without: Viterbi tag ids [B, max(lengths)], zeros
        past each length."""
        emissions = self.encoder(chars, lengths)
        if tags is not None:
            return self.crf.nll(emissions, lengths, tags).mean()
        paths, _ = self.crf.decode(emissions, lengths)
        return paths


MODELS = {"bigru_crf": BiGruCrf}


def build_model(name, vocab_size, num_tags, **kwargs):
    return MODELS[name](vocab_size, num_tags, **kwargs)
