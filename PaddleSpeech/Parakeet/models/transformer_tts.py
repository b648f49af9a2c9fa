"""Transformer TTS (Li et al., 2019, https://arxiv.org/abs/1809.08895): characters -> log mel frames.

Encoder pre-net (character embedding, three 5-wide convolutions with batch norm, a projection), a scaled
sinusoidal position encoding (a learnt scale alpha), post-norm Transformer encoder layers; decoder pre-net
(two ReLU layers with dropout on the previous frame, a projection), causal self-attention and encoder-decoder
attention layers, a linear projection to the mel frame, a five-layer convolutional post-net (residual) and
a stop-token linear layer. The release's LJSpeech sizes: hidden 256, embedding 512, 4 heads, 3 encoder and 3
decoder layers, feed-forward 1024, post-net 256 channels, one frame per decoder step.

Mels enter and leave in natural-log magnitude (audio.wav_to_mel); the network sees them shifted and scaled
(MEL_MEAN, MEL_SCALE) to about unit range.
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

MEL_MEAN, MEL_SCALE = -4.0, 4.0

RELEASE = dict(hidden=256, embedding=512, heads=4, encoder_layers=3, decoder_layers=3, ffn=1024,
               prenet_convs=3, postnet_channels=256, postnet_layers=5)
DEMO = dict(hidden=128, embedding=128, heads=2, encoder_layers=2, decoder_layers=2, ffn=256,
            prenet_convs=2, postnet_channels=128, postnet_layers=3)


def sinusoid_table(length, dim, rate=1.0):
    """[length, dim]: sin/cos interleaved of position * rate (a numpy table: no sin/cos in the graph)."""
    pos = np.arange(length)[:, None] * rate
    i = np.arange(dim)[None, :]
    angle = pos / np.power(10000.0, 2 * (i // 2) / dim)
    table = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return table.astype(np.float32)


class ConvBlock(nn.Layer):
    """Conv1D (NCL, 'same' padding) + batch norm + activation + dropout."""

    def __init__(self, cin, cout, kernel, act, dropout):
        super().__init__()
        self.conv = nn.Conv1D(cin, cout, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm1D(cout)
        self.act, self.dropout = act, dropout

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act is not None:
            x = self.act(x)
        return F.dropout(x, self.dropout, training=self.training)


class EncoderPrenet(nn.Layer):
    def __init__(self, num_symbols, embedding, hidden, convs):
        super().__init__()
        self.embedding = nn.Embedding(num_symbols, embedding, padding_idx=0)
        self.convs = nn.LayerList([ConvBlock(embedding, embedding, 5, F.relu, 0.2) for _ in range(convs)])
        self.proj = nn.Linear(embedding, hidden)

    def forward(self, ids):
        x = self.embedding(ids).transpose([0, 2, 1])
        for conv in self.convs:
            x = conv(x)
        return self.proj(x.transpose([0, 2, 1]))


class DecoderPrenet(nn.Layer):
    """The bottleneck the previous frame goes through (dropout 0.5, in training only: synthesis and the
    export are deterministic)."""

    def __init__(self, n_mels, hidden, dropout=0.5):
        super().__init__()
        self.fc1, self.fc2, self.proj = nn.Linear(n_mels, 2 * hidden), nn.Linear(2 * hidden, hidden), nn.Linear(hidden, hidden)
        self.dropout = dropout

    def forward(self, x):
        x = F.dropout(F.relu(self.fc1(x)), self.dropout, training=self.training)
        x = F.dropout(F.relu(self.fc2(x)), self.dropout, training=self.training)
        return self.proj(x)


class FeedForward(nn.Layer):
    def __init__(self, hidden, ffn, dropout):
        super().__init__()
        self.fc1, self.fc2, self.dropout = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden), dropout

    def forward(self, x):
        return self.fc2(F.dropout(F.relu(self.fc1(x)), self.dropout, training=self.training))


class EncoderLayer(nn.Layer):
    def __init__(self, hidden, heads, ffn, dropout=0.1):
        super().__init__()
        self.attn = nn.MultiHeadAttention(hidden, heads, dropout=dropout)
        self.ffn = FeedForward(hidden, ffn, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.dropout = dropout

    def forward(self, x, key_mask):
        x = self.norm1(x + F.dropout(self.attn(x, x, x, attn_mask=key_mask), self.dropout, training=self.training))
        return self.norm2(x + F.dropout(self.ffn(x), self.dropout, training=self.training))


class DecoderLayer(nn.Layer):
    def __init__(self, hidden, heads, ffn, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiHeadAttention(hidden, heads, dropout=dropout)
        self.cross_attn = nn.MultiHeadAttention(hidden, heads, dropout=dropout, need_weights=True)
        self.ffn = FeedForward(hidden, ffn, dropout)
        self.norms = nn.LayerList([nn.LayerNorm(hidden) for _ in range(3)])
        self.dropout = dropout

    def forward(self, x, memory, causal_mask, key_mask):
        drop = lambda t: F.dropout(t, self.dropout, training=self.training)
        x = self.norms[0](x + drop(self.self_attn(x, x, x, attn_mask=causal_mask)))
        y, weights = self.cross_attn(x, memory, memory, attn_mask=key_mask)
        x = self.norms[1](x + drop(y))
        return self.norms[2](x + drop(self.ffn(x))), weights


class TransformerTTS(nn.Layer):
    def __init__(self, num_symbols, n_mels=80, hidden=256, embedding=512, heads=4, encoder_layers=3,
                 decoder_layers=3, ffn=1024, prenet_convs=3, postnet_channels=256, postnet_layers=5, max_len=2048):
        super().__init__()
        self.n_mels = n_mels
        self.encoder_prenet = EncoderPrenet(num_symbols, embedding, hidden, prenet_convs)
        self.decoder_prenet = DecoderPrenet(n_mels, hidden)
        self.register_buffer("positions", paddle.to_tensor(sinusoid_table(max_len, hidden)), persistable=False)
        self.alpha_encoder = self.create_parameter([1], default_initializer=nn.initializer.Constant(1.0))
        self.alpha_decoder = self.create_parameter([1], default_initializer=nn.initializer.Constant(1.0))
        self.encoder = nn.LayerList([EncoderLayer(hidden, heads, ffn) for _ in range(encoder_layers)])
        self.decoder = nn.LayerList([DecoderLayer(hidden, heads, ffn) for _ in range(decoder_layers)])
        self.mel_linear = nn.Linear(hidden, n_mels)
        self.stop_linear = nn.Linear(hidden, 1)
        chans = [n_mels] + [postnet_channels] * (postnet_layers - 1) + [n_mels]
        self.postnet = nn.LayerList([ConvBlock(chans[i], chans[i + 1], 5, paddle.tanh if i < postnet_layers - 1 else None,
                                               0.1) for i in range(postnet_layers)])

    def encode(self, ids):
        """(memory [B, L, H], additive key mask [B, 1, 1, L])."""
        key_mask = ((ids == 0).astype("float32") * -1e9).unsqueeze([1, 2])
        x = self.encoder_prenet(ids)
        x = x + self.alpha_encoder * self.positions[:ids.shape[1]]
        x = F.dropout(x, 0.1, training=self.training)
        for layer in self.encoder:
            x = layer(x, key_mask)
        return x, key_mask

    def decode(self, memory, key_mask, mel_in):
        """mel_in [B, T, n_mels] (log mel; frame 0 is the all-silence go frame) -> (mel before the post-net,
        mel after it [B, T, n_mels], stop logits [B, T], attention of every decoder layer [B, heads, T, L])."""
        t = mel_in.shape[1]
        causal = paddle.triu(paddle.full([t, t], -1e9, dtype="float32"), diagonal=1)
        x = self.decoder_prenet((mel_in - MEL_MEAN) / MEL_SCALE)
        x = x + self.alpha_decoder * self.positions[:t]
        x = F.dropout(x, 0.1, training=self.training)
        attentions = []
        for layer in self.decoder:
            x, weights = layer(x, memory, causal, key_mask)
            attentions.append(weights)
        before = self.mel_linear(x)
        y = before.transpose([0, 2, 1])
        for conv in self.postnet:
            y = conv(y)
        after = before + y.transpose([0, 2, 1])
        stop = self.stop_linear(x).squeeze(-1)
        return before * MEL_SCALE + MEL_MEAN, after * MEL_SCALE + MEL_MEAN, stop, attentions

    def forward(self, ids, mel_in):
        memory, key_mask = self.encode(ids)
        return self.decode(memory, key_mask, mel_in)

    @paddle.no_grad()
    def synthesize(self, ids, max_frames, min_frames=2, stop_threshold=0.5):
        """Free-running synthesis of a batch: (mel [B, T, n_mels], frames [B], alignment [B, T, L] (the
        last decoder layer, heads averaged)). A sentence ends at its first stop probability above the
        threshold (or at max_frames)."""
        memory, key_mask = self.encode(ids)
        batch = ids.shape[0]
        mel_in = paddle.full([batch, 1, self.n_mels], float(np.log(1e-5)), dtype="float32")
        frames = np.full(batch, max_frames, dtype=np.int64)
        for step in range(max_frames):
            _, after, stop, attentions = self.decode(memory, key_mask, mel_in)
            ended = (F.sigmoid(stop[:, -1]).numpy() > stop_threshold) & (frames == max_frames) & (step + 1 >= min_frames)
            frames[ended] = step + 1
            if (frames < max_frames).all() or step == max_frames - 1:
                break
            mel_in = paddle.concat([mel_in, after[:, -1:]], axis=1)
        return after, frames, attentions[-1].mean(axis=1)


def loss(model_out, mels, mel_lengths, text_lengths, stop_weight=5.0, guided=0.0, sigma=0.2):
    """(total, parts): L1 of the mel before and after the post-net, the stop token's weighted binary
    cross-entropy (the last frame is the positive; pos weight stop_weight), and with guided > 0 the guided
    attention loss (Tachibana et al. 2018) on every decoder layer's heads, weight `guided`: the penalty
    mass per decoder frame (a flat attention costs about 0.7, a diagonal one about 0)."""
    before, after, stop, attentions = model_out
    t = mels.shape[1]
    frame_mask = (paddle.arange(t).unsqueeze(0) < mel_lengths.unsqueeze(1)).astype("float32")
    count = frame_mask.sum() * mels.shape[2]
    l1 = lambda pred: (paddle.abs(pred - mels).sum(-1) * frame_mask).sum() / count
    stop_target = (paddle.arange(t).unsqueeze(0) >= (mel_lengths - 1).unsqueeze(1)).astype("float32")
    stop_loss = (F.binary_cross_entropy_with_logits(stop, stop_target, reduction="none",
                                                    pos_weight=paddle.to_tensor(stop_weight)) * frame_mask).sum() \
        / frame_mask.sum()
    parts = {"mel_before": l1(before), "mel_after": l1(after), "stop": stop_loss}
    if guided > 0:
        weights = guided_weights(text_lengths, mel_lengths, attentions[0].shape[-1], t, sigma)
        valid = (weights >= 0).astype("float32")
        frames = mel_lengths.astype("float32").sum() * attentions[0].shape[1]  # per frame: each row sums to 1
        g = sum((a * (weights * valid).unsqueeze(1)).sum() / frames for a in attentions)
        parts["guided_attention"] = guided * g / len(attentions)
    return sum(parts.values()), parts


def guided_weights(text_lengths, mel_lengths, max_l, max_t, sigma):
    """[B, T, L] penalties 1 - exp(-(l/L - t/T)^2 / (2 sigma^2)); -1 where t or l is padding."""
    l = paddle.arange(max_l, dtype="float32").reshape([1, 1, -1])
    t = paddle.arange(max_t, dtype="float32").reshape([1, -1, 1])
    big_l = text_lengths.astype("float32").reshape([-1, 1, 1])
    big_t = mel_lengths.astype("float32").reshape([-1, 1, 1])
    w = 1 - paddle.exp(-((l / big_l - t / big_t) ** 2) / (2 * sigma ** 2))
    valid = (l < big_l).astype("float32") * (t < big_t).astype("float32")
    return w * valid - (1 - valid)


def diagonality(alignment, text_length, frames, band=0.1):
    """Share of the attention mass within +-band (as a fraction of the text, at least one character) of
    the diagonal l = t * L / T: 1.0 for a perfectly diagonal alignment, about 2 * band for a flat one."""
    a = np.asarray(alignment)[:frames, :text_length]
    t = np.arange(frames)[:, None] * text_length / max(frames, 1)
    near = np.abs(np.arange(text_length)[None, :] - t) <= max(1.0, band * text_length)
    return float((a * near).sum() / max(a.sum(), 1e-9))
