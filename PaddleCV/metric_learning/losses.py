"""The metric learning losses of the original release, in plain Paddle ops (so they run on the CPU:
`paddle.nn.functional.margin_cross_entropy` has no CPU kernel).

Element losses (a classifier head over the training classes; any batch): softmax, arcmargin.
Pair losses (batches of P classes x K images, consecutive per class, see reader.PKBatchSampler):
triplet (with the hardest positive and negative of each anchor in the batch), quadruplet, eml, npairs.

Papers: ArcFace https://arxiv.org/abs/1801.07698; margin sample mining (quadruplet)
https://arxiv.org/abs/1710.00478; ensemble metric learning (eml) https://arxiv.org/abs/1212.6094;
N-pair loss https://papers.nips.cc/paper/6200 (NIPS 2016).
"""
import math

import paddle
import paddle.nn.functional as F
from paddle import nn

ELEMENT_LOSSES = ("softmax", "arcmargin")
PAIR_LOSSES = ("triplet", "quadruplet", "eml", "npairs")
LOSSES = ELEMENT_LOSSES + PAIR_LOSSES


class SoftmaxHead(nn.Layer):
    """A linear classifier over the training classes; cross-entropy on its logits."""

    def __init__(self, dim, num_classes):
        super().__init__()
        self.fc = nn.Linear(dim, num_classes)

    def logits(self, embeddings, labels=None):
        return self.fc(embeddings)


class ArcMarginHead(nn.Layer):
    """ArcFace: logits s*cos(theta_j), with cos(theta_y + m) for the true class y. Rows of the weight and
    the embeddings are L2-normalised. Past theta = pi - m, where cos(theta + m) would rise again, the
    release uses cos(theta) - m*sin(m) instead (easy_margin: plain cos(theta) wherever cos(theta) <= 0)."""

    def __init__(self, dim, num_classes, scale=80.0, margin=0.15, easy_margin=False):
        super().__init__()
        self.scale, self.margin, self.easy_margin = scale, margin, easy_margin
        self.weight = self.create_parameter([num_classes, dim], default_initializer=nn.initializer.XavierUniform())

    def logits(self, embeddings, labels):
        cosine = F.normalize(embeddings, axis=1) @ F.normalize(self.weight, axis=1).T
        sine = paddle.sqrt(1.0 - cosine * cosine + 1e-6)
        phi = cosine * math.cos(self.margin) - sine * math.sin(self.margin)
        if self.easy_margin:
            phi = paddle.where(cosine > 0, phi, cosine)
        else:
            phi = paddle.where(cosine > math.cos(math.pi - self.margin), phi,
                               cosine - math.sin(math.pi - self.margin) * self.margin)
        one_hot = F.one_hot(labels, cosine.shape[1])
        return self.scale * (one_hot * phi + (1.0 - one_hot) * cosine)


def build_head(loss, dim, num_classes, arc_scale=80.0, arc_margin=0.15, arc_easy_margin=False):
    """The classifier head of an element loss, or None for a pair loss (or no classes)."""
    if loss not in ELEMENT_LOSSES or not num_classes:
        return None
    if loss == "softmax":
        return SoftmaxHead(dim, num_classes)
    return ArcMarginHead(dim, num_classes, arc_scale, arc_margin, arc_easy_margin)


def squared_distances(x):
    """[N, N] squared Euclidean distances between the rows of x."""
    sq = (x * x).sum(axis=1, keepdim=True)
    return paddle.clip(sq + sq.T - 2.0 * (x @ x.T), min=0.0)


def pair_masks(labels):
    """(same class and not itself, other class) as float [N, N] masks."""
    same = (labels.unsqueeze(1) == labels.unsqueeze(0)).astype("float32")
    eye = paddle.eye(labels.shape[0], dtype="float32")
    return same - eye, 1.0 - same


BIG = 1e9  # larger than any squared distance the losses see


def triplet_loss(x, labels, margin=0.1):
    """Batch-hard triplet: each anchor with its farthest positive and nearest negative in the batch,
    squared distances of L2-normalised embeddings, hinge at `margin` (the release's 0.1); averaged over
    the anchors that have a positive."""
    d = squared_distances(F.normalize(x, axis=1))
    pos, neg = pair_masks(labels)
    hardest_pos = (d * pos - BIG * (1 - pos)).max(axis=1)
    hardest_neg = (d * neg + BIG * (1 - neg)).min(axis=1)
    has_pos = (pos.sum(axis=1) > 0).astype("float32")
    return (F.relu(hardest_pos - hardest_neg + margin) * has_pos).sum() / paddle.clip(has_pos.sum(), min=1.0)


def quadruplet_loss(x, labels, margin=0.1):
    """The release's quadruplet (margin sample mining) loss: the batch's largest positive distance
    against its smallest negative distance, L2-normalised embeddings, squared distances."""
    d = squared_distances(F.normalize(x, axis=1))
    pos, neg = pair_masks(labels)
    return F.relu((d * pos - BIG * (1 - pos)).max() - (d * neg + BIG * (1 - neg)).min() + margin)


def eml_loss(x, labels, beta=100000.0, thresh=20.0):
    """The release's eml loss on raw (not normalised) embeddings: per anchor, with p_max the largest
    positive and n_min the smallest negative squared distance,
        theta = mean_pos exp(d - p_max) * mean_neg exp(n_min - d),   bias = p_max - n_min,
        loss  = log(1 + beta * theta * exp(bias)) / log(1 + beta),
    evaluated stably: exactly up to bias = thresh, and with the large-argument form
    (log theta + bias + log beta) / log(1 + beta) above it."""
    d = squared_distances(x)
    pos, neg = pair_masks(labels)
    p_max = (d * pos - BIG * (1 - pos)).max(axis=1, keepdim=True)
    n_min = (d * neg + BIG * (1 - neg)).min(axis=1, keepdim=True)
    # the masks go into the exponents (exp(-BIG) = 0): exp of an unmasked far pair would overflow to inf
    pos_mean = paddle.exp((d - p_max) * pos - BIG * (1 - pos)).sum(axis=1) / paddle.clip(pos.sum(axis=1), min=1.0)
    neg_mean = paddle.exp((n_min - d) * neg - BIG * (1 - neg)).sum(axis=1) / paddle.clip(neg.sum(axis=1), min=1.0)
    theta, bias = pos_mean * neg_mean, (p_max - n_min).squeeze(1)

    def exact(b):
        return paddle.log(1 + beta * theta * paddle.exp(b)) / math.log(1 + beta)

    low, high = paddle.clip(bias, max=thresh), paddle.clip(bias, min=thresh)
    large = (paddle.log(theta) + high + math.log(beta)) / math.log(1 + beta)
    return (exact(low) + large - exact(paddle.full_like(bias, thresh))).mean()


def npairs_loss(x, labels, reg_lambda=0.01):
    """Multi-class N-pair loss (K = 2): the batch is [a_1, p_1, a_2, p_2, ...]; each anchor is classified
    among all positives by its dot products (soft target: the positives of its class), plus
    0.5 * reg_lambda * mean squared L2 norm of the embeddings."""
    anchors, positives = x[0::2], x[1::2]
    target = (labels[0::2].unsqueeze(1) == labels[1::2].unsqueeze(0)).astype("float32")
    target = target / target.sum(axis=1, keepdim=True)
    xent = -(target * F.log_softmax(anchors @ positives.T, axis=1)).sum(axis=1).mean()
    return xent + 0.5 * reg_lambda * (x * x).sum(axis=1).mean()


def compute_loss(outputs, labels, args):
    """The training loss of --loss; outputs: model(images, labels), (embeddings, logits) for an element
    loss, the embeddings for a pair loss."""
    if args.loss in ELEMENT_LOSSES:
        return F.cross_entropy(outputs[1], labels)
    embeddings = outputs
    if args.loss == "triplet":
        return triplet_loss(embeddings, labels, args.margin)
    if args.loss == "quadruplet":
        return quadruplet_loss(embeddings, labels, args.margin)
    if args.loss == "eml":
        return eml_loss(embeddings, labels)
    return npairs_loss(embeddings, labels, args.npairs_reg_lambda)
