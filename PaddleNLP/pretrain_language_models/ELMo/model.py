"""ELMo (Peters et al., "Deep contextualized word representations", https://arxiv.org/abs/1802.05365):
a character-CNN token encoder under a 2-layer bidirectional LSTM language model with projections,
and the tagger that reads its layer mixture (the BiGRU-CRF of lexical analysis, copied in).

Token encoder (per token, from its UTF-8 bytes):
    char ids [max_chars] -> embedding (262 x char_dim) -> one Conv1D per (width, filters) of the bank,
    max over positions, ReLU -> concat (sum of filters) -> highway layers (ReLU, carry gate)
    -> linear projection to proj_dim
BiLM: two independent directions, each `num_layers` LSTMP layers (cell_dim cells, recurrent projection to
proj_dim), a residual connection around every layer after the first; one softmax over the word vocabulary,
shared by both directions. The forward direction predicts the next token, the backward one the previous.

Registered configurations:
    elmo        the published ELMo options (bilm-tf `options.json` of the "original" model): char_dim 16,
                filters [[1,32],[2,32],[3,64],[4,128],[5,256],[6,512],[7,1024]], 2 highway layers,
                projection 512, LSTM 4096 cells / 512 projection, 2 layers, residual, 50 bytes a token
    elmo_small  the demo's: the same structure at char_dim 8, filters [[1,16],[2,16],[3,32],[4,32]],
                cells 256, projection 64, 12 bytes a token
    bigru_crf, bigru_crf_elmo   the downstream tagger without / with the frozen ELMo mixture

Differences from the published biLM, all forced by Paddle's fused LSTM kernel or by the CPU budget:
the LSTMP runs on the fused kernel with recurrent weight W_rh @ W_proj (as PaddleSpeech/DeepASR does;
nn.LSTM(proj_size=...) loops in Python per step, about 16x slower here, and its export hangs Paddle
Inference 3.3.1), so the cell and projection clipping (3.0 each) are not applied and each gate has two bias
vectors (4 x cell_dim more parameters a layer); the softmax is the full one, not the sampled softmax.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops

from crf import LinearChainCRF

CHAR_VOCAB = 262  # 256 bytes, begin/end of sentence, begin/end of word, padding (id 0), as published

CONFIGS = {
    "elmo": dict(char_dim=16, filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)),
                 highway_layers=2, proj_dim=512, cell_dim=4096, num_layers=2, max_chars=50),
    "elmo_small": dict(char_dim=8, filters=((1, 16), (2, 16), (3, 32), (4, 32)),
                       highway_layers=2, proj_dim=64, cell_dim=256, num_layers=2, max_chars=12),
}
TAGGERS = {"bigru_crf": False, "bigru_crf_elmo": True}
MODELS = sorted(CONFIGS) + sorted(TAGGERS)
SHAPING = ("proj_dim", "cell_dim", "num_layers")  # size flags of a pre-training run (None: the configuration's)


def is_tagger(name):
    return name in TAGGERS


def reverse_padded(x, lengths):
    """Reverse each row's first lengths[b] steps of x [B, T, D]; the padding stays where it is."""
    shape = paddle.shape(x)  # read at run time: the export keeps batch and length free
    steps = paddle.arange(shape[1], dtype=lengths.dtype).unsqueeze(0)  # [1, T]
    last = lengths.unsqueeze(1) - 1
    index = paddle.where(steps <= last, last - steps, steps)  # [B, T]
    rows = paddle.arange(shape[0], dtype=lengths.dtype).unsqueeze(1) * shape[1].astype(lengths.dtype)
    # A gather over the flattened rows: take_along_axis's broadcast fails in Paddle Inference 3.3.1.
    return paddle.gather(x.reshape([-1, x.shape[-1]]), (rows + index).flatten()).reshape(shape)


class CharCNN(nn.Layer):
    """Token byte ids [B, T, max_chars] -> token vectors [B, T, proj_dim]."""

    def __init__(self, char_dim, filters, highway_layers, proj_dim):
        super().__init__()
        self.embedding = nn.Embedding(CHAR_VOCAB, char_dim, padding_idx=0)
        self.convs = nn.LayerList([nn.Conv1D(char_dim, n, w) for w, n in filters])
        width = sum(n for _, n in filters)
        # One [d, 2d] matrix per highway layer: the transform half and the carry-gate half.
        self.highways = nn.LayerList([nn.Linear(width, 2 * width) for _ in range(highway_layers)])
        self.projection = nn.Linear(width, proj_dim)

    def forward(self, chars):
        batch, steps, max_chars = chars.shape[0], chars.shape[1], chars.shape[2]
        x = self.embedding(chars.reshape([-1, max_chars])).transpose([0, 2, 1])  # [B*T, char_dim, C]
        x = paddle.concat([F.relu(conv(x).max(axis=2)) for conv in self.convs], axis=1)
        for highway in self.highways:
            transform, gate = paddle.chunk(highway(x), 2, axis=1)
            gate = F.sigmoid(gate)
            x = gate * x + (1 - gate) * F.relu(transform)
        return self.projection(x).reshape([batch, steps, -1])


class LSTMP(nn.Layer):
    """One direction of one layer: gates = W_ih x + b_ih + W_rh r_{t-1} + b_hh, c and h as an LSTM, and
    r_t = W_proj h_t is both the output and what the gates see at the next step. Runs Paddle's fused LSTM
    kernel with the recurrent weight W_rh @ W_proj (the gradient reaches both factors)."""

    def __init__(self, input_size, cell_dim, proj_dim):
        super().__init__()
        self.input_size, self.cell_dim, self.proj_dim = input_size, cell_dim, proj_dim
        bound = 1.0 / math.sqrt(cell_dim)
        init = nn.initializer.Uniform(-bound, bound)
        self.weight_ih = self.create_parameter([4 * cell_dim, input_size], default_initializer=init)
        self.bias_ih = self.create_parameter([4 * cell_dim], is_bias=True, default_initializer=init)
        self.weight_rh = self.create_parameter([4 * cell_dim, proj_dim], default_initializer=init)
        self.bias_hh = self.create_parameter([4 * cell_dim], is_bias=True, default_initializer=init)
        self.weight_proj = self.create_parameter([proj_dim, cell_dim], default_initializer=init)
        self.register_buffer("dropout_state", paddle.zeros([0], dtype="uint8"), persistable=False)

    def forward(self, x, lengths):
        """x [B, T, input_size], lengths [B] -> [B, T, proj_dim] (padding steps hold garbage)."""
        zeros = paddle.zeros([1, x.shape[0], self.cell_dim], dtype=x.dtype)
        weight_hh = paddle.matmul(self.weight_rh, self.weight_proj)  # [4C, C]: the recurrence through r
        out, _, _ = _C_ops.rnn(x.transpose([1, 0, 2]), [zeros, zeros],
                               [self.weight_ih, weight_hh, self.bias_ih, self.bias_hh], lengths.astype("int32"),
                               self.dropout_state, 0.0, False, self.input_size, self.cell_dim, 1, "LSTM", 0,
                               not self.training)
        return paddle.matmul(out.transpose([1, 0, 2]), self.weight_proj, transpose_y=True)


class ELMo(nn.Layer):
    """forward(chars [B, T, max_chars], lengths [B]) -> the three layers [B, T, 2 proj_dim] each: the token
    vectors (repeated for both directions, as published), then each LSTM layer's [forward, backward]."""

    def __init__(self, vocab_size, char_dim, filters, highway_layers, proj_dim, cell_dim, num_layers,
                 max_chars, dropout=0.1):
        super().__init__()
        self.vocab_size, self.proj_dim, self.max_chars, self.num_layers = vocab_size, proj_dim, max_chars, num_layers
        self.token_encoder = CharCNN(char_dim, filters, highway_layers, proj_dim)
        self.forward_lstms = nn.LayerList([LSTMP(proj_dim, cell_dim, proj_dim) for _ in range(num_layers)])
        self.backward_lstms = nn.LayerList([LSTMP(proj_dim, cell_dim, proj_dim) for _ in range(num_layers)])
        self.dropout = nn.Dropout(dropout)
        self.softmax = nn.Linear(proj_dim, vocab_size)  # shared by both directions, as bilm-tf

    def directions(self, chars, lengths):
        """(token vectors, [forward outputs per layer], [backward outputs per layer]), all [B, T, proj_dim]."""
        tokens = self.token_encoder(chars)
        outputs = []
        for lstms, reverse in ((self.forward_lstms, False), (self.backward_lstms, True)):
            x = reverse_padded(tokens, lengths) if reverse else tokens
            layers = []
            for i, lstm in enumerate(lstms):
                y = lstm(self.dropout(x), lengths)
                if i > 0:  # residual connection around every layer after the first
                    y = y + x
                layers.append(y)
                x = y
            outputs.append([reverse_padded(y, lengths) for y in layers] if reverse else layers)
        return tokens, outputs[0], outputs[1]

    def forward(self, chars, lengths, words=None):
        """The three layers; with words, lm_losses instead (training goes through forward for DataParallel)."""
        if words is not None:
            return self.lm_losses(chars, words, lengths)
        tokens, fwd, bwd = self.directions(chars, lengths)
        return [paddle.concat([tokens, tokens], axis=-1)] + [paddle.concat([f, b], axis=-1) for f, b in zip(fwd, bwd)]

    def lm_losses(self, chars, words, lengths):
        """Summed forward and backward cross-entropy and the number of predicted tokens per direction.
        words [B, T] include <S> and </S>: the forward LM predicts words[t + 1] from step t, the backward LM
        words[t - 1]."""
        _, fwd, bwd = self.directions(chars, lengths)
        steps = paddle.arange(words.shape[1], dtype=lengths.dtype).unsqueeze(0)
        mask = (steps < lengths.unsqueeze(1) - 1).astype("float32")[:, :-1]  # [B, T-1]: one per target
        nll_f = F.cross_entropy(self.softmax(self.dropout(fwd[-1][:, :-1])), words[:, 1:].unsqueeze(-1),
                                reduction="none").squeeze(-1)
        nll_b = F.cross_entropy(self.softmax(self.dropout(bwd[-1][:, 1:])), words[:, :-1].unsqueeze(-1),
                                reduction="none").squeeze(-1)
        return (nll_f * mask).sum(), (nll_b * mask).sum(), mask.sum()


class ScalarMix(nn.Layer):
    """gamma * sum_k softmax(s)_k * layer_k: the task's learned combination of the ELMo layers."""

    def __init__(self, num_layers):
        super().__init__()
        self.scalars = self.create_parameter([num_layers], default_initializer=nn.initializer.Constant(0.0))
        self.gamma = self.create_parameter([1], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, layers):
        weights = F.softmax(self.scalars)
        return self.gamma * sum(weights[k] * layer for k, layer in enumerate(layers))


class BiGruCrf(nn.Layer):
    """The LAC tagger (embedding 128, 2 bidirectional GRU layers of 128, linear-chain CRF), copied from
    PaddleNLP/lexical_analysis; with `elmo` the frozen ELMo's layer mixture is concatenated to the character
    embedding. forward(chars, lengths, elmo_chars=None, tags=None): the mean CRF NLL with tags, else the
    Viterbi paths. elmo_chars [B, T + 2, max_chars] hold <S> and </S> around the sentence."""

    def __init__(self, vocab_size, num_tags, emb_dim=128, hidden_size=128, num_layers=2, elmo=None,
                 emb_lr_scale=2.0, crf_lr_scale=0.2):
        super().__init__()
        init = nn.initializer.Uniform(-0.1, 0.1)
        decay = paddle.regularizer.L2Decay(1e-4)
        self.embedding = nn.Embedding(vocab_size, emb_dim,
                                      weight_attr=paddle.ParamAttr(learning_rate=emb_lr_scale, initializer=init))
        self.elmo = elmo
        in_dim = emb_dim
        if elmo is not None:
            for p in elmo.parameters():
                p.stop_gradient = True
            self.mix = ScalarMix(elmo.num_layers + 1)
            in_dim += 2 * elmo.proj_dim
        self.gru = nn.GRU(in_dim, hidden_size, num_layers=num_layers, direction="bidirect",
                          weight_ih_attr=paddle.ParamAttr(initializer=init, regularizer=decay),
                          weight_hh_attr=paddle.ParamAttr(initializer=init, regularizer=decay))
        self.emission = nn.Linear(2 * hidden_size, num_tags,
                                  weight_attr=paddle.ParamAttr(initializer=init, regularizer=decay))
        self.crf = LinearChainCRF(num_tags, lr_scale=crf_lr_scale)

    def train(self):
        super().train()
        if self.elmo is not None:
            self.elmo.eval()  # frozen: no dropout either
        return self

    def emissions(self, chars, lengths, elmo_chars=None):
        x = self.embedding(chars)
        if self.elmo is not None:
            with paddle.no_grad():
                layers = self.elmo(elmo_chars, lengths + 2)
            x = paddle.concat([x, self.mix([layer[:, 1:-1].detach() for layer in layers])], axis=-1)
        hidden, _ = self.gru(x, sequence_length=lengths)
        return self.emission(hidden)

    def forward(self, chars, lengths, elmo_chars=None, tags=None):
        emissions = self.emissions(chars, lengths, elmo_chars)
        if tags is not None:
            return self.crf.nll(emissions, lengths, tags).mean()
        paths, _ = self.crf.decode(emissions, lengths)
        return paths


def build_elmo(name, vocab_size, dropout=0.1, **overrides):
    """A registered ELMo configuration; `overrides` (None values ignored) change its sizes."""
    if name not in CONFIGS:
        raise ValueError(f"unknown ELMo configuration {name!r}; one of: {', '.join(CONFIGS)}")
    config = {**CONFIGS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return ELMo(vocab_size, dropout=dropout, **config)


def num_parameters(model):
    """Counted from the shapes, so it also works under paddle.LazyGuard()."""
    return sum(math.prod(p.shape) for p in model.parameters())


def published_num_parameters(char_dim, filters, highway_layers, proj_dim, cell_dim, num_layers, max_chars=None,
                             vocab_size=0):
    """bilm-tf's count by hand: char embedding, filter bank (weights and biases), highway and projection
    layers, per direction and layer an LSTMP with ONE gate bias, and the shared softmax (vocab_size rows)."""
    width = sum(n for _, n in filters)
    cnn = CHAR_VOCAB * char_dim + sum(w * char_dim * n + n for w, n in filters)
    cnn += highway_layers * (width * 2 * width + 2 * width) + width * proj_dim + proj_dim
    lstm = 2 * num_layers * (4 * cell_dim * (proj_dim + proj_dim) + 4 * cell_dim + cell_dim * proj_dim)
    return cnn + lstm + (vocab_size * proj_dim + vocab_size if vocab_size else 0)
