"""DeepSpeech2 (Amodei et al. 2015, https://arxiv.org/abs/1512.02595) as the PaddlePaddle release built it.

    spectrogram [B, T, F] -> [B, 1, F, T]
    conv 41x11 (freq x time), stride 2x3, 32 channels, batch norm, clipped ReLU (0..20), padding zeroed
    conv 21x11, stride 2x1, 32 channels, batch norm, clipped ReLU, padding zeroed
    -> [B, T/3, 32 * F/4]
    num_rnn_layers x bidirectional layer:
        input projection (no bias) -> sequence-wise batch norm (over the real frames only)
        -> simple RNN (h = relu(x + W h + b)) or GRU, forward and backward
        simple RNN: one projection shared by both directions (share_rnn_weights), as in the release's
        LibriSpeech model; otherwise one projection and batch norm per direction
    -> fc to the characters + blank -> CTC

Registered configurations (the release's, and a small one for the demo data):
    deepspeech2          LibriSpeech: simple RNN 2048, shared input weights, 28 characters
    deepspeech2_aishell  Aishell: GRU 1024, unshared
    deepspeech2_tiny     the demo: 8 conv channels, simple RNN 96

The recurrence runs on Paddle's fused nn.SimpleRNN / nn.GRU kernel (one op over all time steps, and it
exports with a free time axis). That kernel multiplies its input by its own input weights; here these
are a fixed identity (learning rate 0, never updated) because the projection and batch norm come
first, so the trainable parameters are exactly the release's (`trainable_parameter_count`).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

CONFIGS = {
    "deepspeech2": dict(conv_channels=32, num_rnn_layers=3, rnn_size=2048, rnn_type="rnn", share_rnn_weights=True),
    "deepspeech2_aishell": dict(conv_channels=32, num_rnn_layers=3, rnn_size=1024, rnn_type="gru",
                                share_rnn_weights=False),
    "deepspeech2_tiny": dict(conv_channels=8, num_rnn_layers=3, rnn_size=96, rnn_type="rnn", share_rnn_weights=True),
}
MODELS = sorted(CONFIGS)
SHAPING = ("conv_channels", "num_rnn_layers", "rnn_size", "rnn_type", "share_rnn_weights")
CLIP = 20.0  # the release's brelu: min(max(x, 0), 20)


def out_lengths(lengths):
    """Frames after the convolutions: the first has a time stride of 3 (kernel 11, padding 5)."""
    return (lengths - 1) // 3 + 1


def sequence_mask(lengths, max_len):
    return paddle.arange(max_len, dtype=lengths.dtype).unsqueeze(0) < lengths.unsqueeze(1)


class SequenceBatchNorm(nn.Layer):
    """Batch norm of [B, T, C] over the real frames of every sequence (padding is left out of the
    statistics, as the release's batch norm over unpadded sequences did)."""

    def __init__(self, channels, momentum=0.9, epsilon=1e-5):
        super().__init__()
        self.momentum, self.epsilon = momentum, epsilon
        self.weight = self.create_parameter([channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([channels], is_bias=True)
        self.register_buffer("running_mean", paddle.zeros([channels]))
        self.register_buffer("running_var", paddle.ones([channels]))

    def forward(self, x, mask):
        if self.training:
            m = mask.unsqueeze(-1).astype(x.dtype)
            count = m.sum().clip(min=1.0)
            mean = (x * m).sum(axis=[0, 1]) / count
            var = (((x - mean) * m) ** 2).sum(axis=[0, 1]) / count
            with paddle.no_grad():  # paddle.assign into the buffer: works in dygraph and under to_static
                paddle.assign(self.momentum * self.running_mean + (1 - self.momentum) * mean.detach(),
                              self.running_mean)
                paddle.assign(self.momentum * self.running_var + (1 - self.momentum) * var.detach(), self.running_var)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / paddle.sqrt(var + self.epsilon) * self.weight + self.bias


class ConvBN(nn.Layer):
    def __init__(self, in_channels, out_channels, kernel, stride, padding):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel, stride, padding, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels)

    def forward(self, x, time_mask):
        return paddle.clip(self.bn(self.conv(x)), 0.0, CLIP) * time_mask


def _fixed(value):
    """A weight of the fused kernel that stays as initialised (learning rate 0)."""
    return paddle.ParamAttr(learning_rate=0.0, initializer=nn.initializer.Assign(value))


class BiRNNLayer(nn.Layer):
    """Projection + sequence-wise batch norm, then the fused bidirectional recurrence, whose own input
    weights select this layer's projection (identity, or [I 0] / [0 I] for unshared directions)."""

    def __init__(self, in_size, size, rnn_type, share):
        super().__init__()
        gates = 3 if rnn_type == "gru" else 1
        share = share and rnn_type == "rnn"  # the release shares only the simple RNN's projection
        projections = 1 if share else 2
        self.proj = nn.Linear(in_size, projections * gates * size, bias_attr=False)
        self.norm = SequenceBatchNorm(projections * gates * size)
        g = gates * size
        eye = np.eye(g, dtype=np.float32)
        if share:
            w_fw = w_bw = eye
        else:
            zero = np.zeros((g, g), dtype=np.float32)
            w_fw, w_bw = np.concatenate([eye, zero], 1), np.concatenate([zero, eye], 1)
        kwargs = dict(direction="bidirect", weight_ih_attr=None, bias_ih_attr=_fixed(np.zeros(g, np.float32)))
        if rnn_type == "gru":
            self.rnn = nn.GRU(projections * g, size, **kwargs)
        else:
            self.rnn = nn.SimpleRNN(projections * g, size, activation="relu", **kwargs)
        with paddle.no_grad():
            for name, param in self.rnn.named_parameters():
                if "weight_ih" in name:
                    param.set_value(w_fw if name.endswith("l0") else w_bw)
                    param.optimize_attr["learning_rate"] = 0.0
        self.frozen = [p for n, p in self.rnn.named_parameters() if "_ih" in n]

    def forward(self, x, lengths, mask):
        y, _ = self.rnn(self.norm(self.proj(x), mask), sequence_length=lengths)
        return y


class DeepSpeech2(nn.Layer):
    def __init__(self, feat_dim, vocab_size, conv_channels=32, num_rnn_layers=3, rnn_size=2048, rnn_type="rnn",
                 share_rnn_weights=True):
        super().__init__()
        c = conv_channels
        self.conv1 = ConvBN(1, c, (41, 11), (2, 3), (20, 5))
        self.conv2 = ConvBN(c, c, (21, 11), (2, 1), (10, 5))
        height = ((feat_dim - 1) // 2 + 1 - 1) // 2 + 1
        sizes = [c * height] + [2 * rnn_size] * num_rnn_layers
        self.rnns = nn.LayerList([BiRNNLayer(sizes[i], rnn_size, rnn_type, share_rnn_weights)
                                  for i in range(num_rnn_layers)])
        self.fc = nn.Linear(2 * rnn_size, vocab_size + 1)  # the characters and the CTC blank (last)

    def forward(self, feats, lengths):
        """feats [B, T, F], lengths [B] -> logits [B, T', vocab + 1], lengths [B] of T'."""
        x = feats.transpose([0, 2, 1]).unsqueeze(1)  # [B, 1, F, T]
        lengths = out_lengths(lengths)
        time = (x.shape[3] - 1) // 3 + 1
        mask = sequence_mask(lengths, time)
        time_mask = mask.astype(x.dtype).unsqueeze(1).unsqueeze(1)
        x = self.conv2(self.conv1(x, time_mask), time_mask)
        x = x.transpose([0, 3, 1, 2]).flatten(2)  # [B, T', C * F']
        for layer in self.rnns:
            x = layer(x, lengths, mask)
        return self.fc(x), lengths

    def frozen_parameters(self):
        return [p for layer in self.rnns for p in layer.frozen]

    def trainable_parameters(self):
        """What the optimizer updates: neither the fixed input weights of the fused recurrence nor the
        conv batch norms' running statistics (which Paddle keeps as parameters without gradient)."""
        frozen = {id(p) for p in self.frozen_parameters()}
        return [p for p in self.parameters() if id(p) not in frozen and not p.stop_gradient]


def build_model(name, feat_dim, vocab_size, **overrides):
    """A registered configuration; `overrides` (None values ignored) change its sizes."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(MODELS)}")
    config = {**CONFIGS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return DeepSpeech2(feat_dim, vocab_size, **config)


def model_config(args):
    """The size flags of a run (None: the registered configuration's)."""
    return {k: getattr(args, k, None) for k in SHAPING}


def ctc_loss(logits, lengths, labels, label_lengths, blank):
    """The release's CTC: per-utterance loss normalised by its frames (warpctc norm_by_times), averaged."""
    log_probs = logits.transpose([1, 0, 2])  # [T, B, V]: warpctc applies the softmax itself
    loss = F.ctc_loss(log_probs, labels, lengths, label_lengths, blank=blank, reduction="none")
    return (loss / lengths.astype(loss.dtype)).mean()


def input_spec(feat_dim):
    from paddle.static import InputSpec
    return [InputSpec([None, None, feat_dim], "float32", "feats"), InputSpec([None], "int64", "lengths")]
