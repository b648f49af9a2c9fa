"""BOW: the bag-of-words baseline of Senta/EmoTect. Word embeddings are summed over the sentence
(order is lost), then two tanh layers and the classifier: embedding 128 -> sum -> tanh -> fc 128 tanh
-> fc 96 tanh -> fc num_classes."""
import paddle.nn as nn

from .masking import masked_sum, sequence_mask


class BOW(nn.Layer):
    def __init__(self, vocab_size, num_classes, padding_idx, emb_dim=128, hid_dim=128, fc_dim=96):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=padding_idx)
        self.fc1 = nn.Linear(emb_dim, hid_dim)
        self.fc2 = nn.Linear(hid_dim, fc_dim)
        self.classifier = nn.Linear(fc_dim, num_classes)

    def forward(self, ids, lengths):
        """ids [B, T] int64, lengths [B] int64 -> logits [B, num_classes]."""
        bow = masked_sum(self.embedding(ids), sequence_mask(lengths, ids.shape[1])).tanh()
        return self.classifier(self.fc2(self.fc1(bow).tanh()).tanh())
