"""WaveNet as the release trains it (Parakeet v0.1, the ClariNet paper's teacher): an autoregressive
vocoder whose output at sample t is a distribution over sample t + 1.

The input wav goes through a 1x1 embedding to `channels`, then n_layer stacks of n_loop gated residual
blocks (dilations 1, 2, ..., 2**(n_loop-1) per stack; causal convolutions of width 2: left padding only),
each conditioned on the mel upsampled to audio rate (UpsampleNet, shared with WaveFlow) by a 1x1
projection. The blocks have no parametric residual or skip: residual = (gated + input) * sqrt(1/2), and
the skips are accumulated with the same sqrt(1/2) scaling. Output: relu(1x1) -> relu(1x1) -> 1x1 to
3 * n_mixture channels: per mixture component a weight logit, a mean and a log standard deviation
(clipped below at log_scale_min = -9 in the loss). The release's LJSpeech configuration is a single
Gaussian (output_dim 3), 10 x 3 layers of 128 channels: 2,629,701 parameters here, tested (the release
also wraps the layers in weight normalisation, which is not used here). The loss is the negative
log-likelihood per sample, skipping the first receptive field of each segment (as the release).

Synthesis is sample by sample. It runs in numpy from the layers' weights with one queue per block of its
last `dilation` inputs, so a second of audio takes seconds, not minutes, of Python; it is not exportable
(see vocoder.py).
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.waveflow import HOP_LENGTH, N_MELS, UpsampleNet

SQRT_HALF = math.sqrt(0.5)


class ResidualBlock(nn.Layer):
    def __init__(self, channels, cond_channels, kernel, dilation):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.dilation, self.kernel = dilation, kernel
        self.conv = nn.Conv1D(channels, 2 * channels, kernel, dilation=dilation)
        self.cond = nn.Conv1D(cond_channels, 2 * channels, 1)

    def forward(self, x, cond):
        h = self.conv(F.pad(x, [self.pad, 0], data_format="NCL")) + self.cond(cond)
        content, gate = paddle.split(h, 2, axis=1)
        z = paddle.tanh(content) * F.sigmoid(gate)
        return (z + x) * SQRT_HALF, z


class WaveNetStack(nn.Layer):
    """Embedding, residual blocks and output projections: x [B, T] (+ cond [B, C, T]) -> [B, out, T], the
    output at t computed from x[<= t] only (causal)."""

    def __init__(self, n_loop, n_layer, channels, output_dim, kernel, cond_channels=N_MELS):
        super().__init__()
        dilations = [2 ** i for i in range(n_loop)] * n_layer
        self.context_size = 1 + (kernel - 1) * sum(dilations)
        self.embed = nn.Conv1D(1, channels, 1)
        self.blocks = nn.LayerList([ResidualBlock(channels, cond_channels, kernel, d) for d in dilations])
        self.proj1 = nn.Conv1D(channels, channels, 1)
        self.proj2 = nn.Conv1D(channels, channels, 1)
        self.proj3 = nn.Conv1D(channels, output_dim, 1)

    def forward(self, x, cond):
        h = self.embed(x.unsqueeze(1))
        skips = None
        for block in self.blocks:
            h, z = block(h, cond)
            skips = z if skips is None else (skips + z) * SQRT_HALF
        return self.proj3(F.relu(self.proj2(F.relu(self.proj1(skips)))))

    def numpy_weights(self):
        """(W [out, in] or [out, in, k], b) of every layer as float64 numpy, for the sample loop."""
        def wb(conv):
            w = conv.weight.numpy().astype(np.float64)
            return (w[:, :, 0] if w.shape[2] == 1 else w), conv.bias.numpy().astype(np.float64)
        return {"embed": wb(self.embed), "blocks": [(wb(b.conv), wb(b.cond), b.dilation) for b in self.blocks],
                "proj": [wb(self.proj1), wb(self.proj2), wb(self.proj3)]}


def gaussian_mixture_nll(params, target, log_scale_min):
    """-log p(target) per sample under the mixture in params [B, 3K, T] (logits, means, log stds)."""
    logit, mean, log_std = paddle.split(params, 3, axis=1)
    log_std = paddle.clip(log_std, min=log_scale_min)
    t = target.unsqueeze(1)
    log_prob = -0.5 * ((t - mean) * paddle.exp(-log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    return -paddle.logsumexp(F.log_softmax(logit, axis=1) + log_prob, axis=1)


class WaveNet(nn.Layer):
    def __init__(self, n_loop=10, n_layer=3, channels=128, output_dim=3, kernel=2, upsample=(16, 16),
                 log_scale_min=-9.0, n_mels=N_MELS):
        super().__init__()
        if output_dim % 3:
            raise ValueError("output_dim must be 3 x the number of Gaussian components")
        if math.prod(upsample) != HOP_LENGTH:
            raise ValueError(f"upsampling factors {upsample} must multiply to HOP_LENGTH {HOP_LENGTH}")
        self.log_scale_min = log_scale_min
        self.upsample = UpsampleNet(upsample)
        self.net = WaveNetStack(n_loop, n_layer, channels, output_dim, kernel, n_mels)
        self.context_size = self.net.context_size

    @staticmethod
    def release_config():
        return dict(n_loop=10, n_layer=3, channels=128, output_dim=3, kernel=2, upsample=(16, 16), log_scale_min=-9.0)

    @staticmethod
    def demo_config():
        return dict(n_loop=8, n_layer=1, channels=32, output_dim=3, kernel=2, upsample=(16, 16), log_scale_min=-9.0)

    def forward(self, wav, mel):
        """Teacher forcing: the distribution of wav[:, 1:] given wav[:, :-1]; params [B, out, T - 1]."""
        cond = self.upsample(mel)
        return self.net(wav[:, :-1], cond[:, :, 1:wav.shape[1]])

    def loss(self, wav, mel):
        nll = gaussian_mixture_nll(self(wav, mel), wav[:, 1:], self.log_scale_min)
        skip = self.context_size if nll.shape[1] > 2 * self.context_size else 0  # a first receptive field
        nll = nll[:, skip:].mean()
        return nll, {"nll": nll}

    def synthesize(self, mel, noise=None, sigma=None, seed=1):
        """mel [B, N_MELS, frames] -> wav [B, frames * HOP_LENGTH], one sample at a time. `noise` [B, T]
        (standard normal) makes it deterministic, else drawn from numpy with `seed`; `sigma` scales the
        predicted standard deviation (1: sample the model; 0: its mean)."""
        with paddle.no_grad():
            cond = self.upsample(mel).numpy().astype(np.float64)  # [B, C, T]
        b, _, t = cond.shape
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((b, t)) if noise is None else np.asarray(noise, np.float64)
        uniform = rng.random((b, t))
        return paddle.to_tensor(self._sample_loop(cond, noise, uniform, 1.0 if sigma is None else sigma)
                                .astype(np.float32))

    def _sample_loop(self, cond, noise, uniform, sigma):
        w = self.net.numpy_weights()
        (we, be), blocks = w["embed"], w["blocks"]
        b, _, t = cond.shape
        # per block: the conditioning term for every step at once, and a queue of its past inputs
        cond_terms = [np.einsum("oc,bct->bto", wc, cond) + bc for _, (wc, bc), _ in blocks]
        queues = [np.zeros((b, d, we.shape[0])) for _, _, d in blocks]
        k = w["proj"][2][0].shape[0] // 3
        out = np.zeros((b, t))
        prev = np.zeros(b)
        for i in range(t):
            h = prev[:, None] * we[:, 0] + be
            skips = None
            for j, ((wconv, bconv), _, d) in enumerate(blocks):
                pos = i % d
                past = queues[j][:, pos].copy()  # the block's input d steps ago (zeros before the start)
                queues[j][:, pos] = h
                a = past @ wconv[:, :, 0].T + h @ wconv[:, :, 1].T + bconv + cond_terms[j][:, i]
                c = a.shape[1] // 2
                z = np.tanh(a[:, :c]) / (1 + np.exp(-a[:, c:]))
                h = (z + h) * SQRT_HALF
                skips = z if skips is None else (skips + z) * SQRT_HALF
            (w1, b1), (w2, b2), (w3, b3) = w["proj"]
            y = np.maximum(np.maximum(skips @ w1.T + b1, 0) @ w2.T + b2, 0) @ w3.T + b3
            logit, mean, log_std = y[:, :k], y[:, k:2 * k], y[:, 2 * k:]
            if k > 1:
                p = np.exp(logit - logit.max(1, keepdims=True))
                comp = (np.cumsum(p / p.sum(1, keepdims=True), 1) < uniform[:, i:i + 1]).sum(1).clip(max=k - 1)
            else:
                comp = np.zeros(b, dtype=int)
            rows = np.arange(b)
            std = np.exp(np.maximum(log_std[rows, comp], self.log_scale_min))
            prev = np.clip(mean[rows, comp] + sigma * std * noise[:, i], -1.0, 1.0)
            out[:, i] = prev
        return out
