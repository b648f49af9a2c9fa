"""SSD's training loss: softmax cross-entropy over the matched priors and the hardest negatives
(3 negatives per positive, ranked by their own classification loss), plus smooth-L1 on the box
offsets of the positives, summed and divided by the number of positives in the batch (the
recipe's `normalize`). An image without objects has no positive and so, as in the recipe, no
mined negative either. Targets come from prior_box.match (computed per sample in the reader)."""
import paddle
import paddle.nn.functional as F

NEG_POS_RATIO = 3


def ssd_loss(offsets, logits, loc_targets, labels, neg_pos_ratio=NEG_POS_RATIO):
    """offsets [N, P, 4], logits [N, P, C+1], loc_targets [N, P, 4], labels [N, P] int64 (0:
    background). Returns the scalar loss."""
    positive = labels > 0
    num_pos = positive.astype("float32").sum(axis=1, keepdim=True)  # [N, 1]
    conf = F.cross_entropy(logits, labels.unsqueeze(-1), reduction="none").squeeze(-1)  # [N, P]
    # hard negative mining: rank the background priors by their loss, keep the top 3 * positives
    with paddle.no_grad():
        mining = paddle.where(positive, paddle.full_like(conf, -1.0), conf.detach())
        rank = paddle.argsort(paddle.argsort(mining, axis=1, descending=True), axis=1)
        negative = (rank.astype("float32") < num_pos * neg_pos_ratio) & ~positive
        selected = (positive | negative).astype("float32")
    conf_loss = (conf * selected).sum()
    loc = F.smooth_l1_loss(offsets, loc_targets, reduction="none", delta=1.0).sum(-1)
    loc_loss = (loc * positive.astype("float32")).sum()
    return (conf_loss + loc_loss) / paddle.clip(num_pos.sum(), min=1.0)
