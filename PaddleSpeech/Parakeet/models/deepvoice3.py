"""Deep Voice 3 (Ping et al., 2018, https://arxiv.org/abs/1710.07654): characters -> log mel frames with a
fully convolutional encoder, decoder and converter, as in the release's Paddle 2 version (Parakeet v0.2,
`examples/deepvoice3/configs/ljspeech.yaml`).

Encoder: a character embedding (char_dim), a weight-normalised projection to encoder_dim, encoder_layers
non-causal convolution blocks (dropout, a convolution to twice the channels, a gated linear unit, the
residual, everything times sqrt(0.5)), a projection back to char_dim. The keys are its output, the values
sqrt(0.5) * (keys + embedding).

Decoder: one step makes `reduction` (r) mel frames and reads the last frame of the previous step (the go
frame, silence, first). A pre-net of weight-normalised ReLU layers (prenet_sizes, then char_dim), then
decoder_layers times: a CAUSAL convolution block (left padding only) and an attention block (query = the
block's output plus a sinusoidal position encoding of the decoder step at rate 1, key = the encoder keys
plus one of the character position at rate position_rate / r; scaled dot product over attention_dim, the
context times sqrt(text length), projected back, added to the block's output times sqrt(0.5)). A
weight-normalised projection gives the r frames of the step.

Converter (the release's "postnet"): the decoder's last hidden states, projected, repeated r times in
time, postnet_layers non-causal convolution blocks and a projection to the mel: the refined mel.

Loss (the release's v0.2 recipe): L1 of the decoder's mel plus L1 of the converter's mel. What this
folder adds: a "done" output (a linear layer on the decoder state, one probability per step, as the
release's v0.1 Deep Voice 3 has) trained with binary cross-entropy (weight --stop_weight on the positive),
used to stop free-running synthesis; and, with --guided_attention W > 0, the guided attention loss on every
attention block (the release does not use it; the demo does).

Inference: monotonic attention as the release's: the attention of decoder step s in each block may look
only at characters [p, p + window_ahead) where p is that block's attention peak at step s - 1 (0 first).
The window anchors are passed in as `peaks` [B, layers, S], so that a whole-sequence recompute (the
exported decoder step, acoustic.DeepVoice3Step) equals step-by-step decoding exactly.

Weight normalisation (w = g * v / ||v||, g per output channel) is written here (WNLinear, WNConv1D), so its
parameters are weight_v and weight_g; g starts at the expected norm of v's column (std * sqrt(fan_in)).
Single speaker: the release's speaker embedding and speaker-dependent position rates are not built.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.transformer_tts import MEL_MEAN, MEL_SCALE, guided_weights, sinusoid_table

SILENCE = float(np.log(1e-5))  # reader.MEL_PAD: the go frame

# The release's LJSpeech configuration (configs/ljspeech.yaml): char_dim 256, encoder_dim 64, kernel 5,
# 7 encoder and 8 decoder layers, prenet [128] (then char_dim), attention 128, postnet 5 x 256,
# reduction factor 4, position rate 5.54, position weight 1, dropout 0.05, window (backward 0, forward 4).
RELEASE = dict(char_dim=256, encoder_dim=64, kernel_size=5, encoder_layers=7, decoder_layers=8, prenet_sizes=(128,),
               attention_dim=128, postnet_layers=5, postnet_dim=256, reduction=4, position_rate=5.54)
DEMO = dict(char_dim=64, encoder_dim=32, kernel_size=5, encoder_layers=3, decoder_layers=3, prenet_sizes=(32,),
            attention_dim=32, postnet_layers=2, postnet_dim=64, reduction=4, position_rate=5.54)


class WNLinear(nn.Layer):
    """y = x (g * v / ||v||) + b, v [in, out], g [out]."""

    def __init__(self, cin, cout, std=None, init=None):
        super().__init__()
        std = std if std is not None else math.sqrt(1.0 / cin)
        weight_init = nn.initializer.Assign(init) if init is not None else nn.initializer.Normal(0.0, std)
        self.weight_v = self.create_parameter([cin, cout], default_initializer=weight_init)
        self.weight_g = self.create_parameter([cout], default_initializer=nn.initializer.Constant(std * math.sqrt(cin)))
        self.bias = self.create_parameter([cout], is_bias=True)

    def forward(self, x):
        v = self.weight_v
        w = v * (self.weight_g / paddle.sqrt((v * v).sum(axis=0) + 1e-12))
        return paddle.matmul(x, w) + self.bias


class WNConv1D(nn.Layer):
    """Weight-normalised Conv1D on NCL (v [out, in, k], g [out]); causal: the output at t sees inputs <= t."""

    def __init__(self, cin, cout, kernel, std, causal=False):
        super().__init__()
        self.weight_v = self.create_parameter([cout, cin, kernel], default_initializer=nn.initializer.Normal(0.0, std))
        self.weight_g = self.create_parameter([cout], default_initializer=nn.initializer.Constant(std * math.sqrt(cin * kernel)))
        self.bias = self.create_parameter([cout], is_bias=True)
        self.kernel, self.causal = kernel, causal

    def forward(self, x):
        v = self.weight_v
        w = v * (self.weight_g / paddle.sqrt((v * v).sum(axis=[1, 2]) + 1e-12)).reshape([-1, 1, 1])
        if self.causal:  # pad k-1 on both sides, keep the first T outputs: only the past is seen
            return F.conv1d(x, w, self.bias, padding=self.kernel - 1)[:, :, :x.shape[2]]
        return F.conv1d(x, w, self.bias, padding=self.kernel // 2)


class ConvBlock(nn.Layer):
    """dropout -> conv to 2C -> GLU -> (input + it) * sqrt(0.5), on NCL."""

    def __init__(self, channels, kernel, causal, dropout):
        super().__init__()
        std = math.sqrt(4 * (1 - dropout) / (kernel * channels))
        self.conv = WNConv1D(channels, 2 * channels, kernel, std, causal)
        self.channels, self.dropout = channels, dropout

    def forward(self, x):
        h = self.conv(F.dropout(x, self.dropout, training=self.training))
        content, gate = h[:, :self.channels], h[:, self.channels:]
        return (x + content * F.sigmoid(gate)) * math.sqrt(0.5)


class Encoder(nn.Layer):
    def __init__(self, char_dim, encoder_dim, kernel, layers, dropout):
        super().__init__()
        self.pre = WNLinear(char_dim, encoder_dim)
        self.convs = nn.LayerList([ConvBlock(encoder_dim, kernel, False, dropout) for _ in range(layers)])
        self.post = WNLinear(encoder_dim, char_dim)

    def forward(self, embedded, keep):
        """embedded [B, L, E], keep [B, L, 1] (0 at padding: padding never leaks into a sentence, so a batch
        encodes each sentence as it would alone) -> keys, values [B, L, E]."""
        x = (self.pre(embedded) * keep).transpose([0, 2, 1])
        keep_ncl = keep.transpose([0, 2, 1])
        for conv in self.convs:
            x = conv(x) * keep_ncl
        keys = self.post(x.transpose([0, 2, 1]))
        return keys, (keys + embedded) * math.sqrt(0.5)


class AttentionBlock(nn.Layer):
    def __init__(self, attention_dim, dim, dropout, seed):
        super().__init__()
        # the release starts the query and key projections from the same matrix (a better first attention)
        same = np.random.RandomState(seed).normal(0, math.sqrt(1.0 / dim), (dim, attention_dim)).astype(np.float32)
        self.query, self.key = WNLinear(dim, attention_dim, init=same), WNLinear(dim, attention_dim, init=same)
        self.value = WNLinear(dim, attention_dim)
        self.out = WNLinear(attention_dim, dim)
        self.attention_dim, self.dropout = attention_dim, dropout

    def forward(self, x, keys, values, bias, context_scale):
        """x [B, T, C] (positions added), keys [B, L, C] (positions added), values [B, L, C], bias [B, T or 1,
        L] (additive: padding and the monotonic window) -> (context [B, T, C], weights [B, T, L])."""
        scores = paddle.matmul(self.query(x), self.key(keys), transpose_y=True) / math.sqrt(self.attention_dim)
        weights = F.softmax(scores + bias, axis=-1)
        context = paddle.matmul(F.dropout(weights, self.dropout, training=self.training), self.value(values))
        return self.out(context * context_scale), weights


class DeepVoice3(nn.Layer):
    def __init__(self, num_symbols, n_mels=80, char_dim=256, encoder_dim=64, kernel_size=5, encoder_layers=7,
                 decoder_layers=8, prenet_sizes=(128,), attention_dim=128, postnet_layers=5, postnet_dim=256,
                 reduction=4, position_rate=5.54, position_weight=1.0, dropout=0.05, window=(0, 4), max_len=2048):
        super().__init__()
        self.n_mels, self.r, self.window, self.kernel = n_mels, reduction, window, kernel_size
        self.embedding = nn.Embedding(num_symbols, char_dim, padding_idx=0,
                                      weight_attr=nn.initializer.Normal(0.0, 0.1))
        self.encoder = Encoder(char_dim, encoder_dim, kernel_size, encoder_layers, dropout)
        sizes = [n_mels] + list(prenet_sizes) + [char_dim]
        self.prenet = nn.LayerList([WNLinear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)])
        self.convs = nn.LayerList([ConvBlock(char_dim, kernel_size, True, dropout) for _ in range(decoder_layers)])
        self.attentions = nn.LayerList([AttentionBlock(attention_dim, char_dim, dropout, seed=k)
                                        for k in range(decoder_layers)])
        self.mel_out = WNLinear(char_dim, reduction * n_mels)
        self.done = nn.Linear(char_dim, 1)
        self.post_in = WNLinear(char_dim, postnet_dim)
        self.postnet = nn.LayerList([ConvBlock(postnet_dim, kernel_size, False, dropout) for _ in range(postnet_layers)])
        self.post_out = WNLinear(postnet_dim, n_mels)
        self.dropout = dropout
        self.register_buffer("query_positions", paddle.to_tensor(position_weight * sinusoid_table(max_len, char_dim, 1.0)),
                             persistable=False)
        self.register_buffer("key_positions", paddle.to_tensor(
            position_weight * sinusoid_table(max_len, char_dim, position_rate / reduction)), persistable=False)

    def encode(self, ids):
        """(keys + their positions, values, key bias [B, 1, L], context scale sqrt(text length) [B, 1, 1])."""
        keep = (ids != 0).astype("float32")
        keys, values = self.encoder(self.embedding(ids), keep.unsqueeze(-1))
        bias = ((1.0 - keep) * -1e9).unsqueeze(1)
        scale = paddle.sqrt(keep.sum(axis=1)).reshape([-1, 1, 1])
        return keys + self.key_positions[:ids.shape[1]], values, bias, scale

    def window_bias(self, peaks, length):
        """[B, S, L] additive mask of the monotonic window [p - backward, p + ahead) of peaks [B, S]."""
        l = paddle.arange(length, dtype="int64").reshape([1, 1, -1])
        p = peaks.unsqueeze(-1)
        inside = paddle.logical_and(l >= p - self.window[0], l < p + self.window[1])
        return (1.0 - inside.astype("float32")) * -1e9

    def decode(self, memory, mel_in, peaks=None):
        """mel_in [B, S, n_mels] (log mel: the go frame, then each step's last true frame) -> (mel of the
        decoder [B, S * r, n_mels], mel of the converter [B, S * r, n_mels], done logits [B, S], attention of
        every block [B, 1, S, L]). peaks [B, layers, S] (int64): inference's monotonic windows."""
        keys, values, bias, scale = memory
        steps = mel_in.shape[1]
        x = (mel_in - MEL_MEAN) / MEL_SCALE
        for k, layer in enumerate(self.prenet):
            if k > 0:
                x = F.dropout(x, self.dropout, training=self.training)
            x = F.relu(layer(x))
        x = x.transpose([0, 2, 1])  # NCL for the convolutions
        positions = self.query_positions[:steps]
        attentions = []
        for k, (conv, attention) in enumerate(zip(self.convs, self.attentions)):
            x = conv(x).transpose([0, 2, 1])
            b = bias if peaks is None else bias + self.window_bias(peaks[:, k], keys.shape[1])
            context, weights = attention(x + positions, keys, values, b, scale)
            x = ((x + context) * math.sqrt(0.5)).transpose([0, 2, 1])
            attentions.append(weights.unsqueeze(1))
        hidden = x.transpose([0, 2, 1])  # [B, S, C]
        batch = hidden.shape[0]
        decoded = self.mel_out(hidden).reshape([batch, steps * self.r, self.n_mels])
        done = self.done(hidden).squeeze(-1)
        y = self.post_in(hidden)  # the converter: repeat each step r times in time
        y = y.unsqueeze(2).expand([batch, steps, self.r, y.shape[-1]]).reshape([batch, steps * self.r, y.shape[-1]])
        y = y.transpose([0, 2, 1])
        for conv in self.postnet:
            y = conv(y)
        refined = self.post_out(y.transpose([0, 2, 1]))
        return decoded * MEL_SCALE + MEL_MEAN, refined * MEL_SCALE + MEL_MEAN, done, attentions

    def forward(self, ids, mel_in, peaks=None):
        return self.decode(self.encode(ids), mel_in, peaks)

    @paddle.no_grad()
    def synthesize(self, ids, max_steps, min_steps=1, stop_threshold=0.5):
        """Free-running synthesis of ONE sentence (ids [1, L]) with monotonic attention: (mel [1, S * r,
        n_mels] of the converter, frames, alignment [1, S, L] (blocks averaged)). It ends at the first done
        probability above the threshold (or after max_steps steps)."""
        memory = self.encode(ids)
        mel_in = paddle.full([1, 1, self.n_mels], SILENCE, dtype="float32")
        peaks = paddle.zeros([1, len(self.convs), 1], dtype="int64")
        for step in range(max_steps):
            decoded, refined, done, attentions = self.decode(memory, mel_in, peaks)
            if (float(F.sigmoid(done[0, -1])) > stop_threshold and step + 1 >= min_steps) or step == max_steps - 1:
                break
            mel_in = paddle.concat([mel_in, decoded[:, -1:]], axis=1)
            last = paddle.stack([a[:, 0, -1].argmax(axis=-1) for a in attentions], axis=1)  # [1, layers]
            peaks = paddle.concat([peaks, last.unsqueeze(-1)], axis=2)
        alignment = paddle.concat(attentions, axis=1).mean(axis=1)
        return refined, (step + 1) * self.r, alignment


def teacher_inputs(mels, r):
    """The decoder's input in training: mels [B, T, N] padded with silence to a multiple of r, then the go
    frame and the last frame of every step but the last: [B, ceil(T / r), N]."""
    t = mels.shape[1]
    steps = -(-t // r)
    if steps * r > t:
        pad = paddle.full([mels.shape[0], steps * r - t, mels.shape[2]], SILENCE, dtype="float32")
        mels = paddle.concat([mels, pad], axis=1)
    last = mels.reshape([mels.shape[0], steps, r, mels.shape[2]])[:, :-1, r - 1]
    go = paddle.full([mels.shape[0], 1, mels.shape[2]], SILENCE, dtype="float32")
    return paddle.concat([go, last], axis=1)


def loss(model_out, mels, mel_lengths, text_lengths, r, stop_weight=5.0, guided=0.0, sigma=0.2):
    """(total, parts): L1 of the decoder's and the converter's mel (the release's two terms), the done
    output's weighted binary cross-entropy (positive: the step holding the last frame, and after), and with
    guided > 0 the guided attention loss on every block (models.transformer_tts.guided_weights)."""
    decoded, refined, done, attentions = model_out
    t = mels.shape[1]
    frame_mask = (paddle.arange(t).unsqueeze(0) < mel_lengths.unsqueeze(1)).astype("float32")
    count = frame_mask.sum() * mels.shape[2]
    l1 = lambda pred: (paddle.abs(pred[:, :t] - mels).sum(-1) * frame_mask).sum() / count
    steps = done.shape[1]
    step_lengths = (mel_lengths + r - 1) // r
    step_mask = (paddle.arange(steps).unsqueeze(0) < step_lengths.unsqueeze(1)).astype("float32")
    target = (paddle.arange(steps).unsqueeze(0) >= (step_lengths - 1).unsqueeze(1)).astype("float32")
    done_loss = (F.binary_cross_entropy_with_logits(done, target, reduction="none",
                                                    pos_weight=paddle.to_tensor(stop_weight)) * step_mask).sum() \
        / step_mask.sum()
    parts = {"mel_decoder": l1(decoded), "mel_converter": l1(refined), "done": done_loss}
    if guided > 0:
        weights = guided_weights(text_lengths, step_lengths, attentions[0].shape[-1], steps, sigma)
        valid = (weights >= 0).astype("float32")
        g = sum((a[:, 0] * weights * valid).sum() for a in attentions) / step_lengths.astype("float32").sum()
        parts["guided_attention"] = guided * g / len(attentions)
    return sum(parts.values()), parts
