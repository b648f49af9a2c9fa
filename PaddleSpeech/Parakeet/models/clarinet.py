"""ClariNet (Ping et al., 2019) as the release trains it: a Gaussian inverse-autoregressive-flow student
distilled from a trained, frozen single-Gaussian WaveNet teacher (models/wavenet.py).

Student: `len(n_loops)` IAF flows, each a WaveNet stack (n_loop blocks of width 3, dilations 1 .. 2**(n_loop
- 1), mel-conditioned) that reads the flow's input shifted by one sample, so the shift mu_t and log-scale
s_t of x_t = z_t * exp(s_t) + mu_t depend on z_{<t} only. Sampling is parallel: white noise through the
flows in one pass. The composition of the flows is one Gaussian per sample given the noise before it,
N(mu_total, exp(s_total)), which the loss compares in closed form with the teacher's Gaussian for the
same sample (the teacher reads the student's own output, teacher-forced):
    loss = KL(student || teacher) (per sample, clipped to [-100, 10])
           + lambda (4) * MSE(teacher log-scale, student log-scale)
           + MSE of the STFT magnitudes (n_fft 2048, window 1024, hop 256) of the student's wav and the recording.
The release's student outputs three channels per flow (a mixture weight it ignores, mu, s); so does this one.
The student has its own upsampling net, initialised from the teacher's.

Release configuration (Parakeet v0.1 `clarinet_ljspeech.yaml`: teacher 10 x 3 blocks of 128 channels;
student 6 flows of 10 blocks of 64 channels, width 3): 4,786,073 parameters, of which the student (trained)
2,156,372 and the teacher (frozen) 2,629,701; tested. Without the release's weight normalisation.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.waveflow import HOP_LENGTH, N_MELS, UpsampleNet
from models.wavenet import WaveNet, WaveNetStack


def shift_right(x):
    """[B, T] -> [B, T]: x delayed by one sample (a zero first), so position t sees x[< t]."""
    return F.pad(x.unsqueeze(1), [1, 0], data_format="NCL")[:, 0, :-1]


class Student(nn.Layer):
    def __init__(self, n_loops, channels, kernel, upsample, n_mels=N_MELS):
        super().__init__()
        self.upsample = UpsampleNet(upsample)
        self.flows = nn.LayerList([WaveNetStack(n, 1, channels, 3, kernel, n_mels) for n in n_loops])

    def _params(self, flow, z, cond):
        _, mu, log_s = paddle.split(flow(shift_right(z), cond), 3, axis=1)
        return mu[:, 0], log_s[:, 0]

    def forward(self, z, cond):
        """noise z [B, T] -> (x, mean, log_std) [B, T]: x_t ~ N(mean_t, exp(log_std_t)) given z_{<t}."""
        mean = log_std = None
        for flow in self.flows:
            mu, log_s = self._params(flow, z, cond)
            z = z * paddle.exp(log_s) + mu
            mean = mu if mean is None else mean * paddle.exp(log_s) + mu
            log_std = log_s if log_std is None else log_std + log_s
        return z, mean, log_std

    def inverse(self, x, cond):
        """x -> z, one sample at a time per flow (T passes each: for tests on short signals)."""
        for flow in reversed(self.flows):
            z = paddle.zeros_like(x)
            for t in range(x.shape[1]):
                mu, log_s = self._params(flow, z, cond)
                z[:, t] = (x[:, t] - mu[:, t]) * paddle.exp(-log_s[:, t])
            x = z
        return x


def stft_magnitude(wav, n_fft, win_length, hop_length):
    window = paddle.audio.functional.get_window("hann", win_length, dtype="float32")
    spec = paddle.signal.stft(wav, n_fft, hop_length=hop_length, win_length=win_length, window=window, center=True)
    return paddle.abs(spec)


class ClariNet(nn.Layer):
    def __init__(self, teacher=None, n_loops=(10,) * 6, channels=64, kernel=3, upsample=(16, 16),
                 log_scale_min=-7.0, lmd=4.0, stft=(2048, 1024, 256)):
        super().__init__()
        if math.prod(upsample) != HOP_LENGTH:
            raise ValueError(f"upsampling factors {upsample} must multiply to HOP_LENGTH {HOP_LENGTH}")
        teacher = dict(WaveNet.release_config(), **(teacher or {}))
        if teacher["output_dim"] != 3:
            raise ValueError("the ClariNet teacher is a single-Gaussian WaveNet (output_dim 3)")
        self.teacher = WaveNet(**teacher)
        for p in self.teacher.parameters():
            p.stop_gradient = True
        self.student = Student(list(n_loops), channels, kernel, upsample)
        self.log_scale_min, self.lmd, self.stft = log_scale_min, lmd, tuple(stft)

    @staticmethod
    def release_config():
        return dict(teacher=WaveNet.release_config(), n_loops=(10,) * 6, channels=64, kernel=3, upsample=(16, 16),
                    log_scale_min=-7.0, lmd=4.0, stft=(2048, 1024, 256))

    @staticmethod
    def demo_config():
        return dict(teacher=WaveNet.demo_config(), n_loops=(6,) * 2, channels=16, kernel=3, upsample=(16, 16),
                    log_scale_min=-7.0, lmd=4.0, stft=(1024, 1024, 256))

    def load_teacher(self, state):
        """Teacher weights (a WaveNet state dict); the student's upsampling starts as the teacher's."""
        self.teacher.set_state_dict(state)
        self.student.upsample.set_state_dict(self.teacher.upsample.state_dict())

    def loss(self, wav, mel):
        t = wav.shape[1]
        z = paddle.randn(wav.shape)
        x, s_mean, s_log_std = self.student(z, self.student.upsample(mel)[:, :, :t])
        t_params = self.teacher.net(x[:, :-1], self.teacher.upsample(mel)[:, :, 1:t])
        _, t_mean, t_log_std = paddle.split(t_params, 3, axis=1)
        t_mean, t_log_std = t_mean[:, 0], t_log_std[:, 0]
        s_mean, s_log_std = s_mean[:, 1:], s_log_std[:, 1:]
        s_ls = paddle.clip(s_log_std, min=self.log_scale_min)
        t_ls = paddle.clip(t_log_std, min=self.log_scale_min)
        kl = t_ls - s_ls + (paddle.exp(2 * s_ls) + (s_mean - t_mean) ** 2) / (2 * paddle.exp(2 * t_ls)) - 0.5
        skip = self.teacher.context_size if kl.shape[1] > 2 * self.teacher.context_size else 0
        kl = paddle.clip(kl, -100.0, 10.0)[:, skip:].mean()
        reg = F.mse_loss(t_log_std[:, skip:], s_log_std[:, skip:])
        stft = F.mse_loss(stft_magnitude(x, *self.stft), stft_magnitude(wav, *self.stft))
        total = kl + self.lmd * reg + stft
        return total, {"kl": kl, "regularization": reg, "stft": stft}

    def synthesize(self, mel, noise=None, sigma=None, seed=1):
        """mel [B, N_MELS, frames] -> wav [B, frames * HOP_LENGTH] in one parallel pass of the student.
        `noise` [B, T] makes it deterministic; else Gaussian drawn with `seed` (free sizes export)."""
        cond = self.student.upsample(mel)
        if noise is None:
            noise = paddle.tensor.random.gaussian(paddle.shape(cond)[0::2], std=1.0, seed=seed)
        x, _, _ = self.student(noise * (1.0 if sigma is None else sigma), cond)
        return paddle.clip(x, -1.0, 1.0)
