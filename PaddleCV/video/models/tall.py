"""TALL (Gao et al. 2017, "TALL: Temporal Activity Localization via Language Query"): the cross-modal
temporal regression localiser (CTRL) as the release's PaddleCV/video configures it.

A candidate clip (its C3D feature with the mean of its left and right context clips: 3 x 4096 = 12,288)
and a sentence (a 4,800-d skip-thought vector in the release; here also a plain-text path, a sentence
vector learned from word embeddings) are projected to a 1,024-d space without bias and L2-normalised.
The cross-modal processing combines every (sentence, clip) pair by element-wise multiplication, addition
and the concatenation of both, [v*s, v+s, v, s] (4,096-d); a 1x1 "convolution" (a bias-free linear map)
to 1,000 with ReLU and a second one to 3 give, per pair, the alignment score and the regressed start and
end offsets (in frames) of the clip.

Release configuration (configs/tall.yaml): visual 12,288, sentence 4,800, semantic 1,024, hidden 1,000,
output 3 -> 21,597,112 parameters (4 bias-free matrices; tested).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class TALL(nn.Layer):
    """forward(clips [N, visual_dim], sentences) -> [M, N, 3]: for sentence i and clip j the alignment
    score and the start and end offsets. `sentences` is [M, sentence_dim] float (vectors) or, when
    vocab_size > 0, [M, L] int64 word ids (0 = padding) whose embeddings are averaged."""

    def __init__(self, visual_dim=12288, sentence_dim=4800, semantic_size=1024, hidden_size=1000, output_size=3,
                 vocab_size=0):
        super().__init__()
        self.vocab_size = vocab_size
        if vocab_size:
            self.embedding = nn.Embedding(vocab_size, sentence_dim, padding_idx=0)
        self.v2s = nn.Linear(visual_dim, semantic_size, bias_attr=False)
        self.s2s = nn.Linear(sentence_dim, semantic_size, bias_attr=False)
        self.mid = nn.Linear(4 * semantic_size, hidden_size, bias_attr=False)
        self.out = nn.Linear(hidden_size, output_size, bias_attr=False)

    @staticmethod
    def release_config():
        return dict(visual_dim=12288, sentence_dim=4800, semantic_size=1024, hidden_size=1000, output_size=3)

    @staticmethod
    def demo_config():
        return dict(visual_dim=3 * 32, sentence_dim=32, semantic_size=64, hidden_size=64, output_size=3)

    def sentence_vectors(self, sentences):
        if not self.vocab_size:
            return sentences
        mask = (sentences > 0).astype("float32").unsqueeze(-1)  # [M, L, 1]
        summed = (self.embedding(sentences) * mask).sum(axis=1)
        return summed / mask.sum(axis=1).clip(min=1.0)

    def forward(self, clips, sentences):
        v = F.normalize(self.v2s(clips), axis=-1)  # [N, S]
        s = F.normalize(self.s2s(self.sentence_vectors(sentences)), axis=-1)  # [M, S]
        m, n = s.shape[0], v.shape[0]
        vv = v.unsqueeze(0).expand([m, n, v.shape[-1]])
        ss = s.unsqueeze(1).expand([m, n, s.shape[-1]])
        comb = paddle.concat([vv * ss, vv + ss, vv, ss], axis=-1)
        return self.out(F.relu(self.mid(comb)))


def tall_loss(outputs, offsets, lambda_regression=0.01):
    """The release's loss over a batch of B matching (clip, sentence) pairs, outputs [B, B, 3] (sentence i,
    clip j): the alignment loss log(1 + exp(-score)) on the diagonal (weight 1 + 1/B) and
    log(1 + exp(score)) off it (weight 1/B), averaged over the B x B pairs, plus lambda times the mean L1
    error of the diagonal's regressed (start, end) offsets against `offsets` [B, 2].
    Returns (total, alignment, regression)."""
    b = outputs.shape[0]
    eye = paddle.eye(b, dtype=outputs.dtype)
    score = outputs[:, :, 0]
    align = (F.softplus((1.0 - 2.0 * eye) * score) * (eye + 1.0 / b)).mean()
    diag = (outputs[:, :, 1:3] * eye.unsqueeze(-1)).sum(axis=1)  # [B, 2]
    reg = (diag - offsets).abs().mean()
    return align + lambda_regression * reg, align, reg
