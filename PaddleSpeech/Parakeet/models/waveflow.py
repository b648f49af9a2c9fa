"""WaveFlow (Ping et al., 2020): a flow-based vocoder on audio squeezed into an h-row 2-D grid.

The wav [B, T] is squeezed to [B, 1, h, T/h] (column j holds samples j*h .. j*h+h-1, so row r is every
h-th sample). Each of the `n_flows` flows is an affine coupling that is autoregressive along the height:
row r is scaled and shifted by parameters computed from rows < r (a residual stack of 2-D convolutions,
causal along the height, dilated and non-causal along the width) and the mel condition; row 0 is copied.
Between flows the rows are permuted (the first half of the flows reverse all rows, the second half
reverse each half), so every row gets modelled by context from both sides. The loss is the negative
log-likelihood of the wav under a Gaussian z with the flows' log-determinant, per sample. Synthesis
inverts the flows row by row (h - 1 steps per flow), each step computing only the new row from per-layer
buffers of the previous rows, so a whole utterance costs about one forward pass.

The mel [B, N_MELS, frames] is upsampled to audio rate by two transposed 2-D convolutions over
(mel band, time) with strides 16 and 16 (= HOP_LENGTH), each followed by leaky ReLU(0.4), as the release.

Release configuration (Parakeet v0.1 `waveflow_ljspeech.yaml`: 8 flows, 8 layers, 64 channels, h = 16,
kernel 3x3, height dilations all 1 for h = 16, width dilations 2**layer): 5,891,794 parameters here,
tested (the release's "5.9M"). The release wraps every convolution but the last in weight normalisation,
which adds one gain per output channel (24,578 more, 5,916,372 in all); this module uses plain
convolutions instead (same function class). Demo configuration (4 flows, 4 layers, 32 channels, h = 8):
409,162 parameters, tested.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

N_MELS = 80
HOP_LENGTH = 256


class UpsampleNet(nn.Layer):
    """mel [B, C, frames] -> [B, C, frames * prod(factors)]: transposed Conv2D over (band, time) per factor.
    Kernel (3, 2s), stride (1, s), padding (1, s/2) gives exactly s times the length (s even)."""

    def __init__(self, factors=(16, 16)):
        super().__init__()
        assert all(s % 2 == 0 for s in factors), "upsampling factors must be even"
        self.convs = nn.LayerList([nn.Conv2DTranspose(1, 1, (3, 2 * s), stride=(1, s), padding=(1, s // 2))
                                   for s in factors])

    def forward(self, mel):
        x = mel.unsqueeze(1)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.4)
        return x.squeeze(1)


def squeeze_to_grid(x, h):
    """[B, C, T] -> [B, C, h, T/h]: element (r, j) is time j*h + r."""
    return x.reshape([0, 0, -1, h]).transpose([0, 1, 3, 2])  # 0 and -1: free sizes export too


def grid_to_wav(x):
    """[B, 1, h, W] -> [B, h*W], the inverse of squeeze_to_grid."""
    return x.transpose([0, 1, 3, 2]).reshape([0, -1])


class ResidualBlock(nn.Layer):
    """Gated 2-D conv block: causal along height (pad only the top), 'same' along width, plus the
    condition's 1x1 projection; 1x1 output to residual + skip (the last block: skip only)."""

    def __init__(self, channels, cond_channels, kernel, dilation, last):
        super().__init__()
        kh, kw = kernel
        self.pad_top = (kh - 1) * dilation[0]
        self.pad_w = (kw - 1) * dilation[1] // 2
        self.channels, self.last = channels, last
        self.conv = nn.Conv2D(channels, 2 * channels, kernel, dilation=dilation,
                              padding=[self.pad_top, 0, self.pad_w, self.pad_w])
        self.row_conv = None
        self.cond = nn.Conv2D(cond_channels, 2 * channels, 1)
        self.out = nn.Conv2D(channels, channels if last else 2 * channels, 1)

    def _gate_out(self, x, cond):
        x = x + self.cond(cond)
        content, gate = paddle.split(x, 2, axis=1)
        x = self.out(paddle.tanh(content) * F.sigmoid(gate))
        if self.last:
            return None, x
        res, skip = paddle.split(x, 2, axis=1)
        return res, skip

    def forward(self, x, cond):
        res, skip = self._gate_out(self.conv(x), cond)
        return (None if res is None else x + res), skip

    def step(self, row, cond_row, buffer):
        """One new row: row [B, C, 1, W], buffer the previous pad_top input rows [B, C, pad_top, W]."""
        window = paddle.concat([buffer, row], axis=2)
        h = F.conv2d(window, self.conv.weight, self.conv.bias, dilation=self.conv._dilation,
                     padding=[0, 0, self.pad_w, self.pad_w])
        res, skip = self._gate_out(h, cond_row)
        return (None if res is None else row + res), skip, window[:, :, 1:]


class Flow(nn.Layer):
    """One affine coupling along the height: z_0 = x_0, z_r = x_r * exp(log_s_r) + b_r with (log_s_r, b_r)
    from x_{<r} and the condition at row r."""

    def __init__(self, n_layers, channels, cond_channels, kernel, h):
        super().__init__()
        self.n_group = h
        dil_h = self.height_dilations(h, n_layers)
        self.start = nn.Conv2D(1, channels, 1)
        self.blocks = nn.LayerList([ResidualBlock(channels, cond_channels, kernel, (dil_h[i], 2 ** i),
                                                  last=i == n_layers - 1) for i in range(n_layers)])
        # zero init: every flow starts as the identity, which keeps early training stable
        self.end = nn.Conv2D(channels, 2, 1, weight_attr=nn.initializer.Constant(0.0),
                             bias_attr=nn.initializer.Constant(0.0))

    @staticmethod
    def height_dilations(h, n_layers):
        # the release's table: the height receptive field must cover the h rows
        table = {8: [1] * 8, 16: [1] * 8, 32: [1, 2, 4, 1, 2, 4, 1, 2], 64: [1, 2, 4, 8, 16, 1, 2, 4],
                 128: [1, 2, 4, 8, 16, 32, 64, 1]}
        return (table.get(h) or [1] * n_layers)[:n_layers] + [1] * max(0, n_layers - 8)

    def params(self, x, cond):
        """(log_s, b) [B, 1, H, W] for every row of x (row r from rows <= r of x: causal)."""
        x = self.start(x)
        skips = 0
        for block in self.blocks:
            x, skip = block(x, cond)
            skips = skips + skip
        out = self.end(skips)
        return out[:, :1], out[:, 1:]

    def forward(self, x, cond):
        """x, cond at full height -> (z, log_s of rows 1..h-1)."""
        log_s, b = self.params(x[:, :, :-1], cond[:, :, 1:])
        return paddle.concat([x[:, :, :1], x[:, :, 1:] * paddle.exp(log_s) + b], axis=2), log_s

    def inverse(self, z, cond):
        rows, buffers = [z[:, :, :1]], None
        for r in range(1, self.n_group):
            x = self.start(rows[-1])
            if buffers is None:  # every layer's input has `channels` channels: zero rows above the top
                buffers = [paddle.concat([paddle.zeros_like(x)] * blk.pad_top, axis=2) for blk in self.blocks]
            skips = 0
            for i, block in enumerate(self.blocks):
                x, skip, buffers[i] = block.step(x, cond[:, :, r:r + 1], buffers[i])
                skips = skips + skip
            out = self.end(skips)
            rows.append((z[:, :, r:r + 1] - out[:, 1:]) * paddle.exp(-out[:, :1]))
        return paddle.concat(rows, axis=2)


class WaveFlow(nn.Layer):
    def __init__(self, n_flows=8, n_layers=8, channels=64, n_group=16, kernel=(3, 3), upsample=(16, 16),
                 sigma=1.0, n_mels=N_MELS):
        super().__init__()
        if n_group % 2 or n_flows % 2:
            raise ValueError("n_flows and n_group must be even (the row permutations pair up)")
        if math.prod(upsample) != HOP_LENGTH:
            raise ValueError(f"upsampling factors {upsample} must multiply to HOP_LENGTH {HOP_LENGTH}")
        self.n_group, self.sigma = n_group, sigma
        self.upsample = UpsampleNet(upsample)
        self.flows = nn.LayerList([Flow(n_layers, channels, n_mels, tuple(kernel), n_group) for _ in range(n_flows)])
        rows = np.arange(n_group)
        half = n_group // 2
        self.perms = [rows[::-1] if i < n_flows // 2 else np.concatenate([rows[:half][::-1], rows[half:][::-1]])
                      for i in range(n_flows)]

    @staticmethod
    def release_config():
        return dict(n_flows=8, n_layers=8, channels=64, n_group=16, kernel=(3, 3), upsample=(16, 16), sigma=1.0)

    @staticmethod
    def demo_config():
        return dict(n_flows=4, n_layers=4, channels=32, n_group=8, kernel=(3, 3), upsample=(16, 16), sigma=1.0)

    def _permute(self, x, i):
        return paddle.index_select(x, paddle.to_tensor(self.perms[i].copy(), dtype="int64"), axis=2)

    def _conditions(self, mel, length=None):
        """The upsampled mel (cut to `length` samples) squeezed to the grid, permuted as each flow sees it."""
        cond = self.upsample(mel)
        cond = squeeze_to_grid(cond if length is None else cond[:, :, :length], self.n_group)
        conds = [cond]
        for i in range(len(self.flows) - 1):
            conds.append(self._permute(conds[-1], i))
        return conds

    def forward(self, wav, mel):
        """wav [B, T], mel [B, N_MELS, T // HOP_LENGTH] -> (z [B, 1, h, T/h], sum of log-scales [B])."""
        t = wav.shape[1] // self.n_group * self.n_group
        conds = self._conditions(mel, t)
        x = squeeze_to_grid(wav[:, :t].unsqueeze(1), self.n_group)
        log_det = 0
        for i, flow in enumerate(self.flows):
            x, log_s = flow(x, conds[i])
            log_det = log_det + log_s.sum(axis=[1, 2, 3])
            x = self._permute(x, i)
        return x, log_det

    def inverse(self, z, mel):
        """z [B, 1, h, T/h] (as forward returns it) -> wav [B, T]."""
        return self._inverse(z, self._conditions(mel))

    def _inverse(self, z, conds):
        x = z
        for i in reversed(range(len(self.flows))):
            x = self.flows[i].inverse(self._permute(x, i), conds[i])  # every permutation is its own inverse
        return grid_to_wav(x)

    def loss(self, wav, mel):
        z, log_det = self(wav, mel)
        n = z.shape[1] * z.shape[2] * z.shape[3]
        nll = (paddle.sum(z * z) / (2 * self.sigma ** 2) - paddle.sum(log_det)) / (n * z.shape[0])
        nll = nll + 0.5 * math.log(2 * math.pi) + math.log(self.sigma)
        return nll, {"nll": nll}

    def synthesize(self, mel, noise=None, sigma=None, seed=0):
        """mel [B, N_MELS, frames] -> wav [B, frames * HOP_LENGTH] by inverting the flows on Gaussian noise.
        `noise` [B, 1, h, T/h] makes it deterministic; else drawn with `seed` (0: the global generator)."""
        conds = self._conditions(mel)
        if noise is None:  # shaped like one channel of the condition: free sizes export too
            noise = paddle.tensor.random.gaussian(paddle.shape(conds[0][:, :1]), std=1.0, seed=seed)
        return self._inverse(noise * (self.sigma if sigma is None else sigma), conds)
