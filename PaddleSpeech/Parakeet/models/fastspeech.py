"""FastSpeech (Ren et al., 2019, https://arxiv.org/abs/1905.09263): characters -> log mel frames in one pass.

Character embedding + sinusoidal positions, feed-forward Transformer (FFT) blocks (self-attention, then two
3-wide convolutions instead of the position-wise linear layers), a duration predictor (two 3-wide
convolutions with layer norm, a linear layer: log(1 + frames) per character), the length regulator that
repeats every character's hidden vector by its duration, decoder FFT blocks, a linear projection to the
mel and a five-layer convolutional post-net. Training uses the durations extract_durations.py takes from
a trained Transformer TTS's attention; synthesis uses the predicted ones. The release's LJSpeech sizes:
hidden 384, 6 + 6 FFT blocks, 2 heads, convolution filter 1536 (width 3), duration predictor 256 wide.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.transformer_tts import MEL_MEAN, MEL_SCALE, ConvBlock, sinusoid_table

RELEASE = dict(hidden=384, heads=2, encoder_layers=6, decoder_layers=6, filter_size=1536, predictor=256,
               postnet_channels=256, postnet_layers=5)
DEMO = dict(hidden=128, heads=2, encoder_layers=2, decoder_layers=2, filter_size=256, predictor=128,
            postnet_channels=128, postnet_layers=3)


class FFTBlock(nn.Layer):
    def __init__(self, hidden, heads, filter_size, dropout=0.1):
        super().__init__()
        self.attn = nn.MultiHeadAttention(hidden, heads, dropout=dropout)
        self.conv1 = nn.Conv1D(hidden, filter_size, 3, padding=1)
        self.conv2 = nn.Conv1D(filter_size, hidden, 3, padding=1)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.dropout = dropout

    def forward(self, x, key_mask, keep):
        drop = lambda t: F.dropout(t, self.dropout, training=self.training)
        x = self.norm1(x + drop(self.attn(x, x, x, attn_mask=key_mask))) * keep
        y = self.conv2(F.relu(self.conv1(x.transpose([0, 2, 1])))).transpose([0, 2, 1])
        return self.norm2(x + drop(y)) * keep


class DurationPredictor(nn.Layer):
    def __init__(self, hidden, width, dropout=0.1):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv1D(hidden, width, 3, padding=1), nn.Conv1D(width, width, 3, padding=1)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.linear = nn.Linear(width, 1)
        self.dropout = dropout

    def forward(self, x):
        """x [B, L, H] -> log(1 + frames) [B, L]."""
        y = self.norm1(F.relu(self.conv1(x.transpose([0, 2, 1]))).transpose([0, 2, 1]))
        y = F.dropout(y, self.dropout, training=self.training)
        y = self.norm2(F.relu(self.conv2(y.transpose([0, 2, 1]))).transpose([0, 2, 1]))
        y = F.dropout(y, self.dropout, training=self.training)
        return self.linear(y).squeeze(-1)


def length_regulate(x, durations):
    """Repeat x[b, l] durations[b, l] times: x [B, L, H], durations int64 [B, L] -> ([B, T, H] padded with
    zeros to the longest, frames [B])."""
    outs = [paddle.repeat_interleave(x[b], durations[b], axis=0) for b in range(x.shape[0])]
    frames = [o.shape[0] for o in outs]
    longest = max(frames)
    outs = [paddle.concat([o, paddle.zeros([longest - o.shape[0], x.shape[2]], dtype=x.dtype)]) if o.shape[0] < longest
            else o for o in outs]
    return paddle.stack(outs), paddle.to_tensor(frames, dtype="int64")


def durations_from_log(log_durations, speed=1.0):
    """Predicted log(1 + frames) -> whole frames (>= 0), at least one frame in all."""
    d = paddle.clip(paddle.round((paddle.exp(log_durations) - 1) / speed), min=0).astype("int64")
    return d


class FastSpeech(nn.Layer):
    def __init__(self, num_symbols, n_mels=80, hidden=384, heads=2, encoder_layers=6, decoder_layers=6,
                 filter_size=1536, predictor=256, postnet_channels=256, postnet_layers=5, max_len=2048):
        super().__init__()
        self.embedding = nn.Embedding(num_symbols, hidden, padding_idx=0)
        self.register_buffer("positions", paddle.to_tensor(sinusoid_table(max_len, hidden)), persistable=False)
        self.encoder = nn.LayerList([FFTBlock(hidden, heads, filter_size) for _ in range(encoder_layers)])
        self.duration_predictor = DurationPredictor(hidden, predictor)
        self.decoder = nn.LayerList([FFTBlock(hidden, heads, filter_size) for _ in range(decoder_layers)])
        self.mel_linear = nn.Linear(hidden, n_mels)
        chans = [n_mels] + [postnet_channels] * (postnet_layers - 1) + [n_mels]
        self.postnet = nn.LayerList([ConvBlock(chans[i], chans[i + 1], 5, paddle.tanh if i < postnet_layers - 1 else None,
                                               0.1) for i in range(postnet_layers)])

    @staticmethod
    def _masks(lengths, longest):
        keep = (paddle.arange(longest).unsqueeze(0) < lengths.unsqueeze(1)).astype("float32")
        return ((1 - keep) * -1e9).unsqueeze([1, 2]), keep.unsqueeze(-1)

    def forward(self, ids, durations=None):
        """ids [B, L] (0: padding); durations [B, L] (training: the extracted ones; None: predicted).
        Returns (mel before the post-net, mel after it [B, T, n_mels], predicted log durations [B, L],
        frames [B], durations used [B, L])."""
        text_lengths = (ids != 0).astype("int64").sum(-1)
        key_mask, keep = self._masks(text_lengths, ids.shape[1])
        x = self.embedding(ids) + self.positions[:ids.shape[1]]
        for block in self.encoder:
            x = block(x, key_mask, keep)
        log_durations = self.duration_predictor(x)
        if durations is None:
            durations = durations_from_log(log_durations) * (ids != 0).astype("int64")
            durations = paddle.maximum(durations, (paddle.arange(ids.shape[1]) == 0).astype("int64").unsqueeze(0))
        y, frames = length_regulate(x, durations)
        key_mask, keep = self._masks(frames, y.shape[1])
        y = y + self.positions[:y.shape[1]]
        for block in self.decoder:
            y = block(y, key_mask, keep)
        before = self.mel_linear(y)
        z = before.transpose([0, 2, 1])
        for conv in self.postnet:
            z = conv(z)
        after = before + z.transpose([0, 2, 1])
        return before * MEL_SCALE + MEL_MEAN, after * MEL_SCALE + MEL_MEAN, log_durations, frames, durations


def loss(model_out, mels, mel_lengths, durations, text_lengths):
    """(total, parts): L1 of the mel before and after the post-net, and the MSE of the predicted
    log(1 + duration)."""
    before, after, log_durations, _, _ = model_out
    t = mels.shape[1]
    frame_mask = (paddle.arange(t).unsqueeze(0) < mel_lengths.unsqueeze(1)).astype("float32")
    count = frame_mask.sum() * mels.shape[2]
    l1 = lambda pred: (paddle.abs(pred[:, :t] - mels).sum(-1) * frame_mask).sum() / count
    text_mask = (paddle.arange(durations.shape[1]).unsqueeze(0) < text_lengths.unsqueeze(1)).astype("float32")
    target = paddle.log(durations.astype("float32") + 1)
    duration_loss = (((log_durations - target) ** 2) * text_mask).sum() / text_mask.sum()
    parts = {"mel_before": l1(before), "mel_after": l1(after), "duration": duration_loss}
    return sum(parts.values()), parts
