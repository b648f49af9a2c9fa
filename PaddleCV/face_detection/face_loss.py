"""The training loss: the recipes' SSDLoss on faces (and, for PyramidBox, on heads too, summed as the
release does). Softmax cross-entropy over the matched anchors and the hardest negatives (3 negatives
per positive, ranked by their own classification loss), plus smooth-L1 on the box offsets of the
positives, summed and divided by the number of positives in the batch. Targets come from
anchors.match (computed per sample in the reader)."""
import paddle
import paddle.nn.functional as F

NEG_POS_RATIO = 3


def multibox_loss(offsets, logits, loc_targets, labels, neg_pos_ratio=NEG_POS_RATIO):
    """offsets [N, P, 4], logits [N, P, 2], loc_targets [N, P, 4], labels [N, P] int64 (0: background)."""
    positive = labels > 0
    num_pos = positive.astype("float32").sum(axis=1, keepdim=True)  # [N, 1]
    conf = F.cross_entropy(logits, labels.unsqueeze(-1), reduction="none").squeeze(-1)  # [N, P]
    with paddle.no_grad():  # hard negative mining
        mining = paddle.where(positive, paddle.full_like(conf, -1.0), conf.detach())
        rank = paddle.argsort(paddle.argsort(mining, axis=1, descending=True), axis=1)
        negative = (rank.astype("float32") < num_pos * neg_pos_ratio) & ~positive
        selected = (positive | negative).astype("float32")
    conf_loss = (conf * selected).sum()
    loc = F.smooth_l1_loss(offsets, loc_targets, reduction="none", delta=1.0).sum(-1)
    loc_loss = (loc * positive.astype("float32")).sum()
    return (conf_loss + loc_loss) / paddle.clip(num_pos.sum(), min=1.0)


def detection_loss(outputs, targets):
    """outputs: (offsets, logits[, head offsets, head logits]) of the model in training mode; targets:
    (loc, labels[, head loc, head labels]) from the reader. The sum of the multibox losses."""
    total = 0.0
    for k in range(0, len(targets), 2):
        total = total + multibox_loss(outputs[k].astype("float32"), outputs[k + 1].astype("float32"),
                                      targets[k], targets[k + 1])
    return total
