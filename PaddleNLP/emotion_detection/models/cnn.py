"""CNN and TextCNN: convolutions over the word sequence, max-pooled over time.

CNN: one window of 3 words with 128 filters, tanh, max over time, then fc 96 (linear) and the
classifier. TextCNN: windows of 1, 2 and 3 words with 128 filters each, tanh, max over time, the three
concatenated (384), then fc 96 tanh and the classifier (Kim 2014, https://arxiv.org/abs/1408.5882).

A window of k words at position t covers t - k//2 ... t - k//2 + k - 1, zero beyond the sentence's
ends, as the original sequence_conv did. Padding positions are zeroed before the convolution and
left out of the max, so they change nothing."""
import paddle
import paddle.nn as nn

from .masking import masked_max, sequence_mask


class ConvNet(nn.Layer):
    def __init__(self, vocab_size, num_classes, padding_idx, windows=(3,), emb_dim=128, num_filters=128,
                 fc_dim=96, fc_act=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=padding_idx)
        self.windows = tuple(windows)
        # Window k at t: k//2 words of zero padding before the text, k - 1 - k//2 after it.
        self.convs = nn.LayerList([nn.Conv1D(emb_dim, num_filters, k, padding=[k // 2, k - 1 - k // 2])
                                   for k in self.windows])
        self.fc = nn.Linear(num_filters * len(self.windows), fc_dim)
        self.fc_act = fc_act
        self.classifier = nn.Linear(fc_dim, num_classes)

    def forward(self, ids, lengths):
        """ids [B, T] int64, lengths [B] int64 -> logits [B, num_classes]."""
        mask = sequence_mask(lengths, ids.shape[1])
        emb = self.embedding(ids) * mask.unsqueeze(-1).astype("float32")
        # Channels first for the convolution: the exported model's oneDNN passes mishandle Conv1D NLC.
        emb = emb.transpose([0, 2, 1])
        pooled = [masked_max(conv(emb).tanh().transpose([0, 2, 1]), mask) for conv in self.convs]
        h = self.fc(paddle.concat(pooled, axis=-1))
        if self.fc_act == "tanh":
            h = h.tanh()
        return self.classifier(h)


def CNN(vocab_size, num_classes, padding_idx, **kwargs):
    return ConvNet(vocab_size, num_classes, padding_idx, windows=(3,), fc_act=None, **kwargs)


def TextCNN(vocab_size, num_classes, padding_idx, **kwargs):
    return ConvNet(vocab_size, num_classes, padding_idx, windows=(1, 2, 3), fc_act="tanh", **kwargs)
