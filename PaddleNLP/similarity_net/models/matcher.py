"""SimNet's representation-based matcher: one shared encoder for both texts, then either

- pairwise: a shared linear layer on each text's vector and their cosine similarity, a score in
  [-1, 1] trained with a ranking loss over (query, similar, dissimilar) triples;
- pointwise: the two vectors concatenated, a linear layer and a 2-way classifier (dissimilar,
  similar), trained with softmax cross-entropy on labelled pairs.

Sizes are the release/1.7 configs: embedding 128, hidden 128 (bow_dim / hidden_dim).

One deliberate difference: the release's pointwise head has no activation between its two linear
layers, so its logits are a sum of a function of the left text and a function of the right text,
which cannot express whether the two are alike (on the demo data it stays at AUC 0.50). A ReLU
between them, with the same parameters, lets the head compare the two vectors.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class SiameseMatcher(nn.Layer):
    def __init__(self, encoder, task_mode, hidden_dim=128):
        super().__init__()
        self.encoder, self.task_mode = encoder, task_mode
        if task_mode == "pairwise":
            self.fc = nn.Linear(encoder.out_dim, hidden_dim)
        else:
            self.fc = nn.Linear(2 * encoder.out_dim, hidden_dim)
            self.classifier = nn.Linear(hidden_dim, 2)

    def match(self, left_vec, right_vec):
        if self.task_mode == "pairwise":
            return F.cosine_similarity(self.fc(left_vec), self.fc(right_vec), axis=-1)
        return self.classifier(F.relu(self.fc(paddle.concat([left_vec, right_vec], axis=-1))))

    def forward(self, left, left_len, right, right_len, neg=None, neg_len=None):
        """Pairwise: cosine [B]; with `neg` (training triples): (cosine to right, cosine to neg),
        the query encoded once and both candidates in one pass. Pointwise: logits [B, 2]."""
        left_vec = self.encoder(left, left_len)
        if neg is None:
            return self.match(left_vec, self.encoder(right, right_len))
        candidates = self.encoder(paddle.concat([right, neg]), paddle.concat([right_len, neg_len]))
        pos_vec, neg_vec = paddle.split(candidates, 2)
        return self.match(left_vec, pos_vec), self.match(left_vec, neg_vec)

    def similarity(self, left, left_len, right, right_len):
        """How similar the two texts are, in [0, 1]: (cosine + 1) / 2, or P(similar)."""
        out = self(left, left_len, right, right_len)
        if self.task_mode == "pairwise":
            return (out + 1) / 2
        return F.softmax(out, axis=-1)[:, 1]
