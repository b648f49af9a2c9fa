"""LSTM, BiLSTM and GRU encoders on Paddle's fused nn.LSTM / nn.GRU (one kernel over all time steps).

The RNNs get each example's length (`sequence_length`), so they stop at the sentence's end: outputs
at padding positions are zero and left out of the pooling, and the final states are those of the
last real word (forward) and of the first word (backward).

    LSTM:   embedding 128 -> LSTM 128 -> max over time -> tanh -> fc 96 tanh -> classifier
    GRU:    embedding 128 -> GRU 128  -> max over time -> tanh -> fc 96 tanh -> classifier
    BiLSTM: embedding 128 -> BiLSTM 128+128 -> [forward final, backward final] -> fc 96 tanh -> classifier
    BiLSTM_Taskflow: embedding 128 -> BiLSTM 198+198 -> max over time (no tanh) -> fc 96 tanh -> classifier,
            the sizes and pooling of PaddleNLP 2.8.1's Taskflow `sentiment_analysis` (pretrained.py)

As in the original Senta and EmoTect nets, the embedding of the recurrent models learns 30x faster
than the rest (ParamAttr learning_rate=30; the recipes train with Adagrad)."""
import paddle
import paddle.nn as nn

from .masking import masked_max, sequence_mask


class RNNNet(nn.Layer):
    def __init__(self, vocab_size, num_classes, padding_idx, cell="lstm", bidirectional=False, emb_dim=128,
                 hid_dim=128, fc_dim=96, emb_lr=30.0, pooling=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=padding_idx,
                                      weight_attr=paddle.ParamAttr(learning_rate=emb_lr))
        rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn_class(emb_dim, hid_dim, direction="bidirect" if bidirectional else "forward")
        self.bidirectional = bidirectional
        # "last": the final states; "max_tanh": tanh of the max over time; "max": the max over time only
        self.pooling = pooling or ("last" if bidirectional else "max_tanh")
        self.fc = nn.Linear(hid_dim * (2 if bidirectional else 1), fc_dim)
        self.classifier = nn.Linear(fc_dim, num_classes)

    def forward(self, ids, lengths):
        """ids [B, T] int64, lengths [B] int64 -> logits [B, num_classes]."""
        outputs, states = self.rnn(self.embedding(ids), sequence_length=lengths)
        if self.pooling == "last":
            h = states[0] if isinstance(states, tuple) else states  # [2, B, H]: forward, backward
            features = paddle.concat([h[0], h[1]], axis=-1)
        else:
            features = masked_max(outputs, sequence_mask(lengths, ids.shape[1]))
            if self.pooling == "max_tanh":
                features = features.tanh()
        return self.classifier(self.fc(features).tanh())


def LSTM(vocab_size, num_classes, padding_idx, **kwargs):
    return RNNNet(vocab_size, num_classes, padding_idx, cell="lstm", **kwargs)


def BiLSTM(vocab_size, num_classes, padding_idx, **kwargs):
    return RNNNet(vocab_size, num_classes, padding_idx, cell="lstm", bidirectional=True, **kwargs)


def BiLSTM_Taskflow(vocab_size, num_classes, padding_idx, **kwargs):
    """PaddleNLP's Taskflow Senta net. Its max runs over every position of a padded batch (where the
    LSTM outputs zeros); ours over the real ones, so a prediction never depends on the padding. Without
    padding (Taskflow's default batch_size=1) both are the same max."""
    kwargs = {"hid_dim": 198, "pooling": "max", **kwargs}
    return RNNNet(vocab_size, num_classes, padding_idx, cell="lstm", bidirectional=True, **kwargs)


def GRU(vocab_size, num_classes, padding_idx, **kwargs):
    return RNNNet(vocab_size, num_classes, padding_idx, cell="gru", **kwargs)
