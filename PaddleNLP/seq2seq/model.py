"""The RNN encoder-decoder of the PaddlePaddle release (release/1.7 PaddleNLP/seq2seq/seq2seq), in
two variants registered by name:

- `seq2seq`: a multi-layer LSTM encoder whose final (h, c) of every layer start the multi-layer LSTM
  decoder (Sutskever et al. 2014, https://arxiv.org/abs/1409.3215);
- `attention_seq2seq`: the same, plus Luong-style attention with input feeding (Luong et al. 2015,
  https://arxiv.org/abs/1508.04025), as the release wrote it: the encoder outputs are projected once
  (W_mem, no bias); the top decoder output q scores them by dot product (padding masked); the context
  (the weighted sum of the projected outputs) and q are concatenated and projected (W_out, no bias)
  to the attentional output, which is both the input of the softmax layer and fed back next to the
  next word's embedding ("input feeding").

Every LSTM layer is the release's cell (fluid's LSTMCell): one weight [input + hidden, 4 hidden] and
one bias [4 hidden], gates i, j, f, o with forget bias 1.0; dropout (upscale in train) after every
layer's output; embeddings of the hidden size; the softmax layer without bias; every weight
uniform in [-init_scale, init_scale], biases zero. The release's sizes are the defaults: 2 layers
of 512, dropout 0.2, init_scale 0.1 (train.py flags; the demo uses smaller ones, README).

Decoding runs through two functions that decode.py drives and export.py saves:
    start(src, src_len) -> log-probs of the first target word [B, V], state
    step(token, *state) -> log-probs [B, V], the state's changing part
state: h, c [L, B, H] (and for attention: the fed-back output [B, H], the projected encoder outputs
[B, S, H] and the padding bias [B, S]).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

MODELS = ("seq2seq", "attention_seq2seq")
BOS_ID, EOS_ID = 1, 2


def uniform(scale):
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-scale, scale))


class LSTMStack(nn.Layer):
    """num_layers LSTM cells, each one weight [in + H, 4H] and one bias [4H] (the release's cell)."""

    def __init__(self, input_size, hidden_size, num_layers, dropout, init_scale, forget_bias=1.0):
        super().__init__()
        self.hidden_size, self.num_layers, self.dropout = hidden_size, num_layers, dropout
        self.forget_bias = forget_bias
        self.weights = nn.ParameterList([
            self.create_parameter([(input_size if i == 0 else hidden_size) + hidden_size, 4 * hidden_size],
                                  attr=uniform(init_scale)) for i in range(num_layers)])
        self.biases = nn.ParameterList([
            self.create_parameter([4 * hidden_size], is_bias=True,
                                  attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))
            for _ in range(num_layers)])

    def forward(self, x, h, c):
        """One time step: x [B, in], h and c [L, B, H] -> (top output after dropout, new h, new c)."""
        new_h, new_c = [], []
        for i in range(self.num_layers):
            gates = paddle.matmul(paddle.concat([x, h[i]], axis=1), self.weights[i]) + self.biases[i]
            gate_i, gate_j, gate_f, gate_o = paddle.split(gates, 4, axis=1)
            cell = F.sigmoid(gate_f + self.forget_bias) * c[i] + F.sigmoid(gate_i) * paddle.tanh(gate_j)
            hidden = F.sigmoid(gate_o) * paddle.tanh(cell)
            new_h.append(hidden)
            new_c.append(cell)
            x = F.dropout(hidden, self.dropout, training=self.training) if self.dropout > 0 else hidden
        return x, paddle.stack(new_h), paddle.stack(new_c)


class Seq2Seq(nn.Layer):
    def __init__(self, src_vocab_size, trg_vocab_size, hidden_size=512, num_layers=2, dropout=0.2,
                 init_scale=0.1, attention=False):
        super().__init__()
        self.hidden_size, self.num_layers, self.attention = hidden_size, num_layers, attention
        self.trg_vocab_size = trg_vocab_size
        self.src_embedding = nn.Embedding(src_vocab_size, hidden_size, weight_attr=uniform(init_scale))
        self.trg_embedding = nn.Embedding(trg_vocab_size, hidden_size, weight_attr=uniform(init_scale))
        self.encoder = LSTMStack(hidden_size, hidden_size, num_layers, dropout, init_scale)
        decoder_input = 2 * hidden_size if attention else hidden_size  # input feeding
        self.decoder = LSTMStack(decoder_input, hidden_size, num_layers, dropout, init_scale)
        if attention:
            self.memory_proj = nn.Linear(hidden_size, hidden_size, weight_attr=uniform(init_scale), bias_attr=False)
            self.attention_out = nn.Linear(2 * hidden_size, hidden_size, weight_attr=uniform(init_scale),
                                           bias_attr=False)
        self.output = nn.Linear(hidden_size, trg_vocab_size, weight_attr=uniform(init_scale), bias_attr=False)

    # ------------------------------------------------------------------------------------- encoder
    def encode(self, src, src_len):
        """src [B, S], src_len [B] -> encoder outputs [B, S, H], final h, c [L, B, H] (each sentence's
        state after its own last token: padding leaves the state alone)."""
        emb = self.src_embedding(src)
        shape = [self.num_layers, src.shape[0], self.hidden_size]
        h, c = paddle.zeros(shape, emb.dtype), paddle.zeros(shape, emb.dtype)
        outputs = []
        for t in range(src.shape[1]):
            out, new_h, new_c = self.encoder(emb[:, t], h, c)
            keep = (src_len > t).astype(emb.dtype).unsqueeze(-1)
            h = keep * new_h + (1.0 - keep) * h
            c = keep * new_c + (1.0 - keep) * c
            outputs.append(out)
        return paddle.stack(outputs, axis=1), h, c

    def initial_state(self, src, src_len):
        enc_out, h, c = self.encode(src, src_len)
        if not self.attention:
            return [h, c]
        memory = self.memory_proj(enc_out)
        positions = paddle.arange(src.shape[1], dtype=src_len.dtype).unsqueeze(0)
        bias = (positions >= src_len.unsqueeze(1)).astype(memory.dtype) * -1e9
        feed = paddle.zeros([src.shape[0], self.hidden_size], memory.dtype)
        return [h, c, feed, memory, bias]

    # ------------------------------------------------------------------------------------- decoder
    def decoder_step(self, emb, state):
        """emb [B, H] of the previous word -> (output [B, H] before the softmax layer, new state)."""
        if not self.attention:
            h, c = state
            out, h, c = self.decoder(emb, h, c)
            return out, [h, c]
        h, c, feed, memory, bias = state
        query, h, c = self.decoder(paddle.concat([emb, feed], axis=1), h, c)
        scores = paddle.matmul(memory, query.unsqueeze(-1)).squeeze(-1) + bias
        context = paddle.matmul(F.softmax(scores, axis=-1).unsqueeze(1), memory).squeeze(1)
        out = self.attention_out(paddle.concat([context, query], axis=1))
        return out, [h, c, out, memory, bias]

    def forward(self, src, src_len, trg_in):
        """Teacher forcing: logits [B, T, V] of every target position."""
        state = self.initial_state(src, src_len)
        emb = self.trg_embedding(trg_in)
        outputs = []
        for t in range(trg_in.shape[1]):
            out, state = self.decoder_step(emb[:, t], state)
            outputs.append(out)
        return self.output(paddle.stack(outputs, axis=1))

    # ------------------------------------------------------------------------------------ decoding
    def start(self, src, src_len):
        """Encode and run the first step (after <s>): (log-probs [B, V], *state)."""
        state = self.initial_state(src, src_len)
        bos = paddle.full([src.shape[0]], BOS_ID, dtype=src.dtype)
        out, state = self.decoder_step(self.trg_embedding(bos), state)
        return (F.log_softmax(self.output(out), axis=-1), *state)

    def step(self, token, *state):
        """One step from the previous token: (log-probs [B, V], h, c[, fed-back output]); the
        encoder outputs and padding bias do not change and are not returned."""
        out, state = self.decoder_step(self.trg_embedding(token), list(state))
        return (F.log_softmax(self.output(out), axis=-1), *state[:self.num_changing])

    @property
    def num_changing(self):
        return 3 if self.attention else 2


def sequence_loss(logits, labels, trg_len):
    """(the release's loss: cross-entropy summed over each sentence's tokens, averaged over the batch;
    the summed cross-entropy; the token count) for logits [B, T, V], labels [B, T], trg_len [B]."""
    ce = F.cross_entropy(logits.astype("float32"), labels.unsqueeze(-1), reduction="none").squeeze(-1)
    mask = (paddle.arange(labels.shape[1], dtype=trg_len.dtype).unsqueeze(0) < trg_len.unsqueeze(1)).astype("float32")
    total = (ce * mask).sum()
    return total / labels.shape[0], total, mask.sum()


def build_model(name, src_vocab_size, trg_vocab_size, hidden_size=512, num_layers=2, dropout=0.2, init_scale=0.1):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return Seq2Seq(src_vocab_size, trg_vocab_size, hidden_size, num_layers, dropout, init_scale,
                   attention=name == "attention_seq2seq")


def num_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def reference_num_parameters(name, src_vocab, trg_vocab, hidden=512, layers=2):
    """The count written out from the release's layers: two embeddings, 2 x layers LSTM cells of one
    weight [in + H, 4H] and one bias [4H], the output layer [H, V]; attention adds W_mem [H, H],
    W_out [2H, H] and the fed-back output to the first decoder cell's input."""
    cell = (2 * hidden) * 4 * hidden + 4 * hidden
    count = (src_vocab + trg_vocab) * hidden + 2 * layers * cell + hidden * trg_vocab
    if name == "attention_seq2seq":
        count += hidden * 4 * hidden + hidden * hidden + 2 * hidden * hidden
    return count
