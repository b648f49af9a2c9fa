"""The release's two OCR models (PaddleCV/ocr_recognition, release 1.7), on one encoder.

Encoder (both models): gray image [B, 1, 48, W]
    4 stages of two 3x3 conv + batch norm + ReLU, channels 16, 32, 64, 128 (--conv_channels 128); a 2x2 max pool (ceil mode)
    after each of the first three -> [B, 128, 6, ceil(W/8)]
    every column (128 x 6 = 768 values) is one time step -> bidirectional GRU, 200 cells per direction
CRNN-CTC (`crnn_ctc`, Shi et al. 2015, https://arxiv.org/abs/1507.05717): a linear layer over both
    directions to the classes + the CTC blank (the last id); trained with CTC.
Attention (`attention`, after Bahdanau et al. 2014, https://arxiv.org/abs/1409.0473): the encoder's
    outputs projected to 128; a GRU decoder (128 cells) started from relu(W * the backward GRU's first
    output), fed at each step the embedding (128) of the previous character and the context that additive
    attention v^T tanh(W_enc e_t + W_dec h) picks from the previous state; output over the classes +
    start + end. Teacher forcing in training; greedy or beam search at inference (decoders.py).

Differences from the release, and why (the counts in tests/test_model.py account for them):
    - Paddle's fused GRU has an input bias and a hidden bias per direction: the release's CTC model
      has the same count (its input projection had a bias), its attention model had one bias fewer per
      direction (+1,200 parameters); the decoder's GRU cell likewise has one more bias (+384).
    - The GRU's candidate activation is tanh (fused kernel); the release used relu.
    - Between the conv layers the columns past an image's width are zeroed, so an image padded in a
      batch gives exactly what it gives alone.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

CONFIGS = {
    "crnn_ctc": dict(rnn_hidden_size=200, conv_channels=128, conv_bias=True),
    "attention": dict(rnn_hidden_size=200, conv_channels=128, conv_bias=False, decoder_size=128, embedding_dim=128),
}
MODELS = sorted(CONFIGS)
SHAPING = ("rnn_hidden_size", "conv_channels")


def width_mask(widths, size):
    """[B, 1, 1, size] float: 1 inside each image's width."""
    return (paddle.arange(size, dtype=widths.dtype).unsqueeze(0) < widths.unsqueeze(1)).astype(
        "float32").unsqueeze(1).unsqueeze(1)


def downsample(widths):
    return (widths + 1) // 2  # a 2x2 pool in ceil mode


def out_lengths(widths):
    return (widths + 7) // 8


class ConvBlock(nn.Layer):
    def __init__(self, in_channels, out_channels, bias, pool):
        super().__init__()
        self.convs = nn.LayerList([nn.Conv2D(c, out_channels, 3, padding=1, bias_attr=None if bias else False)
                                   for c in (in_channels, out_channels)])
        self.norms = nn.LayerList([nn.BatchNorm2D(out_channels) for _ in range(2)])
        self.pool = pool

    def forward(self, x, widths):
        mask = width_mask(widths, x.shape[3])
        for conv, norm in zip(self.convs, self.norms):
            x = F.relu(norm(conv(x))) * mask
        if self.pool:
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)  # the padding is zero and x >= 0: max is unchanged
            widths = downsample(widths)
        return x, widths


class Encoder(nn.Layer):
    def __init__(self, rnn_hidden_size=200, conv_channels=128, conv_bias=True):
        super().__init__()
        blocks, c = [], 1
        for i, out in enumerate(conv_channels // 2 ** k for k in (3, 2, 1, 0)):  # the release's 16, 32, 64, 128
            blocks.append(ConvBlock(c, out, conv_bias, pool=i < 3))
            c = out
        self.blocks = nn.LayerList(blocks)
        self.rnn = nn.GRU(conv_channels * 6, rnn_hidden_size, direction="bidirect")
        self.hidden = rnn_hidden_size

    def forward(self, images, widths):
        """-> outputs [B, T, 2H] (forward and backward), lengths [B]."""
        x = images
        for block in self.blocks:
            x, widths = block(x, widths)
        x = x.transpose([0, 3, 1, 2]).flatten(2)  # [B, T, 128 * 6]: a column per time step
        y, _ = self.rnn(x, sequence_length=widths)
        return y, widths


class CRNNCTC(nn.Layer):
    def __init__(self, num_classes, rnn_hidden_size=200, conv_channels=128, conv_bias=True):
        super().__init__()
        self.encoder = Encoder(rnn_hidden_size, conv_channels, conv_bias)
        self.fc = nn.Linear(2 * rnn_hidden_size, num_classes + 1)  # the classes and the CTC blank (last)
        self.num_classes = num_classes

    def forward(self, images, widths):
        """-> logits [B, T, classes + 1], lengths [B]."""
        y, lengths = self.encoder(images, widths)
        return self.fc(y), lengths


class AttentionOCR(nn.Layer):
    """The encoder, then a GRU decoder with additive attention. Ids: the classes, then start (sos)
    and end (eos)."""

    def __init__(self, num_classes, rnn_hidden_size=200, conv_channels=128, conv_bias=False, decoder_size=128,
                 embedding_dim=128):
        super().__init__()
        self.num_classes, self.sos, self.eos = num_classes, num_classes, num_classes + 1
        self.encoder = Encoder(rnn_hidden_size, conv_channels, conv_bias)
        self.enc_proj = nn.Linear(2 * rnn_hidden_size, decoder_size, bias_attr=False)
        self.boot = nn.Linear(rnn_hidden_size, decoder_size, bias_attr=False)
        self.embedding = nn.Embedding(num_classes + 2, embedding_dim)
        self.state_proj = nn.Linear(decoder_size, decoder_size, bias_attr=False)
        self.score = nn.Linear(decoder_size, 1, bias_attr=False)
        self.cell = nn.GRUCell(2 * rnn_hidden_size + embedding_dim, decoder_size)
        self.out = nn.Linear(decoder_size, num_classes + 2)
        self.hidden = rnn_hidden_size

    def encode(self, images, widths):
        """-> encoder outputs [B, T, 2H], their projection [B, T, D], the decoder's first state [B, D],
        mask [B, T] (1 on the image's columns)."""
        y, lengths = self.encoder(images, widths)
        backward_first = y[:, 0, self.hidden:]  # the backward GRU at the first column has read the whole line
        mask = width_mask(lengths, y.shape[1]).squeeze(1).squeeze(1)
        return y, self.enc_proj(y), F.relu(self.boot(backward_first)), mask

    def step(self, prev_ids, state, enc, proj, mask):
        """One decoder step -> logits [B, classes + 2], new state [B, D], attention [B, T]."""
        scores = self.score(paddle.tanh(proj + self.state_proj(state).unsqueeze(1))).squeeze(-1)
        attention = F.softmax(scores + (mask - 1.0) * 1e9, axis=-1)
        context = (attention.unsqueeze(-1) * enc).sum(axis=1)
        state, _ = self.cell(paddle.concat([context, self.embedding(prev_ids)], axis=-1), state)
        return self.out(state), state, attention

    def forward(self, images, widths, label_in):
        """Teacher forcing: label_in [B, L] = sos + label -> logits [B, L, classes + 2]."""
        enc, proj, state, mask = self.encode(images, widths)
        logits = []
        for t in range(label_in.shape[1]):
            out, state, _ = self.step(label_in[:, t], state, enc, proj, mask)
            logits.append(out)
        return paddle.stack(logits, axis=1)


def build_model(name, num_classes, **overrides):
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(MODELS)}")
    config = {**CONFIGS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return (CRNNCTC if name == "crnn_ctc" else AttentionOCR)(num_classes, **config)


def model_config(args):
    return {k: getattr(args, k, None) for k in SHAPING}


def trainable_parameters(model):
    """What the optimizer updates (not the batch norms' running statistics)."""
    return [p for p in model.parameters() if not p.stop_gradient]


def ctc_loss(logits, lengths, labels, label_lengths, blank):
    """The release's CTC (warpctc norm_by_times): per-image loss divided by its time steps, averaged."""
    loss = F.ctc_loss(logits.transpose([1, 0, 2]), labels.astype("int32"), lengths, label_lengths, blank=blank,
                      reduction="none")
    return (loss / lengths.astype(loss.dtype)).mean()


def attention_targets(labels, label_lengths, sos, eos):
    """labels [B, L] padded -> (decoder inputs [B, L+1] = sos + label, targets [B, L+1] = label + eos,
    mask [B, L+1])."""
    b = labels.shape[0]
    label_in = paddle.concat([paddle.full([b, 1], sos, labels.dtype), labels], axis=1)
    steps = paddle.arange(labels.shape[1] + 1, dtype=label_lengths.dtype).unsqueeze(0)
    lengths = label_lengths.unsqueeze(1)
    padded = paddle.concat([labels, paddle.zeros([b, 1], labels.dtype)], axis=1)
    target = paddle.where(steps == lengths, paddle.full_like(padded, eos), padded)
    return label_in, target, (steps <= lengths).astype("float32")


def attention_loss(logits, target, mask):
    """Cross entropy per character (end included), averaged over the real ones."""
    loss = F.cross_entropy(logits, target.unsqueeze(-1), reduction="none").squeeze(-1)
    return (loss * mask).sum() / mask.sum()


def input_spec():
    from paddle.static import InputSpec
    return [InputSpec([None, 1, 48, None], "float32", "images"), InputSpec([None], "int64", "widths")]
