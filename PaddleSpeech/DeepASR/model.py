"""The DeepASR acoustic model as PaddlePaddle's release built it (model_utils/model.py,
`stacked_lstmp_model`), frame by frame:

    spliced frame [11 frames x (fbank 80, delta 80, delta-delta 80)] -> [3 channels, 11, 80]
    conv 3x3, 32 filters, padding 1, bias, ReLU -> max pool 3x3, stride 2           -> [32, 5, 39]
    stacked_num x:  fc to 4 x hidden_dim  -> LSTMP (hidden_dim cells, recurrent projection to proj_dim)
                    -> batch norm over the projection (momentum 0.9, eps 1e-5; the real frames only)
    fc to class_num states -> softmax; frame-level cross-entropy against the (delayed) alignment

Registered configurations:
    deepasr       the release's: hidden 1024, proj 512, 5 layers, 32 conv filters (train.py defaults;
                  class_num comes from states.txt, 3040 for the release's Aishell tree)
    deepasr_tiny  the demo: hidden 96, proj 48, 2 layers, 4 conv filters

The LSTMP runs on Paddle's fused LSTM kernel (`rnn` op: one op over all time steps, exports with a free
time axis). Its recurrent weight is the product W_rh @ W_proj of the two trainable LSTMP matrices,
so the recurrence goes through the projection as in an LSTMP. Two differences from the release's
`dynamic_lstmp`, which the fused kernel cannot express: no peephole connections (3 x hidden_dim weights a
layer) and a linear projection where the release applied tanh to it. paddle.nn.LSTM's own proj_size
runs a Python loop per time step (about 16x slower here) and its export hangs Paddle Inference 3.3.1.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import _C_ops

import reader

CONFIGS = {
    "deepasr": dict(conv_channels=32, hidden_dim=1024, proj_dim=512, stacked_num=5),
    "deepasr_tiny": dict(conv_channels=4, hidden_dim=96, proj_dim=48, stacked_num=2),
}
MODELS = sorted(CONFIGS)
SHAPING = ("conv_channels", "hidden_dim", "proj_dim", "stacked_num", "context", "label_delay")


def sequence_mask(lengths, max_len):
    return paddle.arange(max_len, dtype=lengths.dtype).unsqueeze(0) < lengths.unsqueeze(1)


class SequenceBatchNorm(nn.Layer):
    """Batch norm of [B, T, C] over the real frames (the release's batch norm ran over the frames of
    unpadded sequences)."""

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


class LSTMP(nn.Layer):
    """The release's fc + LSTMP pair: gates = W_ih x + b_ih + W_rh r_{t-1} + b_hh; c, h as an LSTM;
    r_t = W_proj h_t is the output and what the gates see next step. Runs the fused LSTM kernel with the
    recurrent weight W_rh @ W_proj (gradients reach both factors)."""

    def __init__(self, input_size, hidden_dim, proj_dim):
        super().__init__()
        self.input_size, self.hidden_dim, self.proj_dim = input_size, hidden_dim, proj_dim
        bound = 1.0 / math.sqrt(hidden_dim)
        init = nn.initializer.Uniform(-bound, bound)
        self.weight_ih = self.create_parameter([4 * hidden_dim, input_size], default_initializer=init)
        self.bias_ih = self.create_parameter([4 * hidden_dim], is_bias=True, default_initializer=init)
        self.weight_rh = self.create_parameter([4 * hidden_dim, proj_dim], default_initializer=init)
        self.bias_hh = self.create_parameter([4 * hidden_dim], is_bias=True, default_initializer=init)
        self.weight_proj = self.create_parameter([proj_dim, hidden_dim],
                                                 default_initializer=nn.initializer.Uniform(-bound, bound))
        self.register_buffer("dropout_state", paddle.zeros([0], dtype="uint8"), persistable=False)

    def forward(self, x, lengths):
        """x [B, T, input_size], lengths [B] -> [B, T, proj_dim] (padding frames hold garbage)."""
        zeros = paddle.zeros([1, x.shape[0], self.hidden_dim], dtype=x.dtype)
        weight_hh = paddle.matmul(self.weight_rh, self.weight_proj)  # [4H, H]: the recurrence through r
        out, _, _ = _C_ops.rnn(x.transpose([1, 0, 2]), [zeros, zeros],
                               [self.weight_ih, weight_hh, self.bias_ih, self.bias_hh], lengths.astype("int32"),
                               self.dropout_state, 0.0, False, self.input_size, self.hidden_dim, 1, "LSTM", 0,
                               not self.training)
        return paddle.matmul(out.transpose([1, 0, 2]), self.weight_proj, transpose_y=True)


class DeepASR(nn.Layer):
    def __init__(self, class_num, num_mels=reader.NUM_MELS, context=5, conv_channels=32, hidden_dim=1024,
                 proj_dim=512, stacked_num=5, label_delay=5):
        super().__init__()
        self.num_mels, self.frames = num_mels, 2 * context + 1
        self.conv = nn.Conv2D(3, conv_channels, 3, padding=1)
        self.pool = nn.MaxPool2D(3, stride=2)
        pooled = conv_channels * ((self.frames - 3) // 2 + 1) * ((num_mels - 3) // 2 + 1)
        sizes = [pooled] + [proj_dim] * stacked_num
        self.lstmps = nn.LayerList([LSTMP(sizes[i], hidden_dim, proj_dim) for i in range(stacked_num)])
        self.norms = nn.LayerList([SequenceBatchNorm(proj_dim) for _ in range(stacked_num)])
        self.fc = nn.Linear(proj_dim, class_num)

    def forward(self, feats, lengths):
        """feats [B, T, (2 context + 1) * 3 * num_mels] (spliced, normalised), lengths [B] -> logits
        [B, T, class_num]."""
        batch, time = feats.shape[0], feats.shape[1]
        x = feats.reshape([-1, self.frames, 3, self.num_mels]).transpose([0, 2, 1, 3])  # [B*T, 3, 11, 80]
        x = self.pool(F.relu(self.conv(x))).reshape([batch, time, -1])
        mask = sequence_mask(lengths, time)
        for lstmp, norm in zip(self.lstmps, self.norms):
            x = norm(lstmp(x, lengths), mask)
        return self.fc(x)


def build_model(name, class_num, **overrides):
    """A registered configuration; `overrides` (None values ignored) change its sizes."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(MODELS)}")
    config = {**CONFIGS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return DeepASR(class_num, **config)


def model_config(args):
    """The size flags of a run (None: the registered configuration's)."""
    return {k: getattr(args, k, None) for k in SHAPING}


def frame_loss(logits, labels):
    """Frame-level cross-entropy averaged over the frames that have a label (padding is -1)."""
    mask = (labels >= 0).astype(logits.dtype)
    loss = F.cross_entropy(logits, labels.clip(min=0).unsqueeze(-1), reduction="none").squeeze(-1)
    return (loss * mask).sum() / mask.sum().clip(min=1.0)


def frame_counts(logits, labels):
    """[correct frames, labelled frames] of a batch, on the host."""
    labels = labels.numpy() if hasattr(labels, "numpy") else labels
    best = logits.argmax(axis=-1).numpy()
    valid = labels >= 0
    return np.array([(best[valid] == labels[valid]).sum(), valid.sum()], dtype=np.float64)


def input_spec(input_dim):
    from paddle.static import InputSpec
    return [InputSpec([None, None, input_dim], "float32", "feats"), InputSpec([None], "int64", "lengths")]


def input_dim(context, num_mels=reader.NUM_MELS):
    return (2 * context + 1) * 3 * num_mels
