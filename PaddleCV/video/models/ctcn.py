"""C-TCN: the release's temporal action detector (PaddleCV/video/models/ctcn, configs/ctcn.txt), an SSD-style
one-stage detector over a feature pyramid of a ResNet-50-like temporal network.

The input is the feature sequence as a one-channel image [B, 1, L, F] (L = img_size time steps, F =
concept_size feature values). Every convolution has a (k x 1) kernel: it runs along time and is shared
over the F columns. Stem: two (7 x 1) stride-2 convolutions (32, 64 channels); four stages of bottleneck
blocks (3, 4, 6, 3 blocks; 64..512 planes x 4, (3 x 1) middle convolutions, stride 2 from the second stage);
pyramid: p5..p2 top-down (1 x 1 lateral convolutions to 512, linear upsampling along time with the
corners aligned as fluid's image_resize, (3 x 1) smoothing) and
p6..p9 by stride-2 (3 x 1) convolutions over c5 (the release: 8 levels of 128, 64, ..., 1 positions for
L = 512). One head, shared by all levels: dropout 0.5, a (3 x 1) convolution (256 channels for the
locations, 512 for the classes), then a (1 x F) convolution that collapses the F columns into num_anchors
x 2 offsets and num_anchors x num_classes logits per position.

Anchors (the release's BoxCoder): at each position of a level with stride s (centre (i + 0.5) s), one of
length s and, for p = 1..3, lengths s -/+ 0.3 s p / 3 (on the level spanning the whole input, s - 0.3 s p / 3
and that minus 0.05 s): 7 per position, 1,785 for L = 512. Targets: every ground truth takes its best
anchor (greedy, highest IoU first), every other anchor with IoU >= 0.5 its best ground truth; offsets
((centre - anchor centre) / anchor length / 0.1, (length / anchor length - 1) / 0.2). Loss: smooth-L1 on
the matched anchors' offsets x 2 + softmax cross-entropy over the matched anchors and the 3x as many
hardest background anchors per video, divided by the number of matched anchors.

Release configuration: img_size 512, concept_size 402 (two 201-class score streams), 201 classes
(200 + background), 7 anchors per position: 318,021,421 trainable parameters, 289,594,368 of them in the
(1 x 402) class head (tested; BatchNorm statistics not counted).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def release_config():
    return dict(img_size=512, concept_size=402, num_classes=201, stem=(32, 64), planes=(64, 128, 256, 512),
                blocks=(3, 4, 6, 3), fpn_dim=512, extra_levels=4, loc_dim=256, cls_dim=512, num_anchors=7)


def demo_config(num_classes=5, concept_size=400):
    return dict(img_size=64, concept_size=concept_size, num_classes=num_classes, stem=(8, 8), planes=(4, 8, 8, 8),
                blocks=(1, 1, 1, 1), fpn_dim=16, extra_levels=2, loc_dim=16, cls_dim=16, num_anchors=7)


def _conv(cin, cout, k, stride=1, bias=True):
    """A (k x 1) convolution along time, the release's U(-1/sqrt(fan_in), +) initialisation."""
    kh, kw = (k, 1) if isinstance(k, int) else k
    bound = 1.0 / np.sqrt(cin * kh * kw)
    init = paddle.ParamAttr(initializer=nn.initializer.Uniform(-bound, bound))
    return nn.Conv2D(cin, cout, (kh, kw), stride=(stride, 1), padding=((kh - 1) // 2, 0), weight_attr=init,
                     bias_attr=init if bias else False)


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, act=True):
        layers = [_conv(cin, cout, k, stride, bias=False), nn.BatchNorm2D(cout)]
        super().__init__(*(layers + [nn.ReLU()] if act else layers))


class Bottleneck(nn.Layer):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.body = nn.Sequential(ConvBN(cin, planes, 1), ConvBN(planes, planes, 3, stride),
                                  ConvBN(planes, planes * 4, 1, act=False))
        self.short = None if (cin == planes * 4 and stride == 1) else ConvBN(cin, planes * 4, 1, stride, act=False)

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.short is None else self.short(x)))


class CTCN(nn.Layer):
    def __init__(self, img_size=512, concept_size=402, num_classes=201, stem=(32, 64), planes=(64, 128, 256, 512),
                 blocks=(3, 4, 6, 3), fpn_dim=512, extra_levels=4, loc_dim=256, cls_dim=512, num_anchors=7):
        super().__init__()
        self.img_size, self.num_classes, self.num_anchors = img_size, num_classes, num_anchors
        self.stem = nn.Sequential(ConvBN(1, stem[0], 7, 2), ConvBN(stem[0], stem[1], 7, 2))
        stages, cin = [], stem[1]
        for i, (p, n) in enumerate(zip(planes, blocks)):
            stage = []
            for j in range(n):
                stage.append(Bottleneck(cin, p, 2 if (i > 0 and j == 0) else 1))
                cin = p * 4
            stages.append(nn.Sequential(*stage))
        self.stages = nn.LayerList(stages)
        self.extra = nn.LayerList([_conv(cin if i == 0 else fpn_dim, fpn_dim, 3, 2) for i in range(extra_levels)])
        self.lateral = nn.LayerList([_conv(p * 4, fpn_dim, 1) for p in planes])  # c2..c5
        self.smooth = nn.LayerList([_conv(fpn_dim, fpn_dim, 3) for _ in planes[:-1]])  # p2..p4
        self.loc_head = nn.Sequential(nn.Dropout(0.5), _conv(fpn_dim, loc_dim, 3),
                                      _conv(loc_dim, num_anchors * 2, (1, concept_size)))
        self.cls_head = nn.Sequential(nn.Dropout(0.5), _conv(fpn_dim, cls_dim, 3),
                                      _conv(cls_dim, num_anchors * num_classes, (1, concept_size)))
        self.register_buffer("anchors", paddle.to_tensor(self.default_anchors()), persistable=False)
        sizes = self.feature_sizes()
        for i in range(len(planes) - 1):  # p_{i+3} -> p_{i+2}: [H_in, H_out] interpolation along time
            self.register_buffer(f"upsample{i}", paddle.to_tensor(upsample_matrix(sizes[i + 1], sizes[i])),
                                 persistable=False)

    def feature_sizes(self):
        """Positions of each pyramid level for the configured img_size (p2 .. p9)."""
        size = (self.img_size + 1) // 2
        size = (size + 1) // 2
        sizes = [size]
        for _ in self.stages[1:]:
            sizes.append((sizes[-1] + 1) // 2)
        for _ in self.extra:
            sizes.append((sizes[-1] + 1) // 2)
        return sizes

    def default_anchors(self):
        """[A, 2] (centre, length) in input steps, level by level, position by position (the release's order)."""
        boxes = []
        for size in self.feature_sizes():
            step = self.img_size / size
            for i in range(size):
                centre = (i + 0.5) * step
                boxes.append((centre, step))
                for p in range(3):
                    s = (step * 4.5 / 15.0) * (1.0 + p) / 3
                    boxes.append((centre, step - s))
                    boxes.append((centre, step - s - step * 4.5 / 15.0 / 6) if step >= self.img_size
                                 else (centre, step + s))
        return np.array(boxes, dtype=np.float32)

    def forward(self, x):
        """x [B, 1, L, F] -> (offsets [B, A, 2], logits [B, A, num_classes])."""
        c = [self.stem(x)]
        for stage in self.stages:
            c.append(stage(c[-1]))
        c = c[1:]  # c2..c5
        top = [self.lateral[-1](c[-1])]  # p5
        for i in range(len(c) - 2, -1, -1):
            lateral = self.lateral[i](c[i])
            # bilinear upsampling along time as a product with a fixed matrix: Paddle Inference's oneDNN
            # executor rejects the interpolate op's attributes
            up = paddle.matmul(top[0].transpose([0, 1, 3, 2]), getattr(self, f"upsample{i}")).transpose([0, 1, 3, 2])
            top.insert(0, self.smooth[i](up + lateral))
        extra, h = [], c[-1]
        for i, conv in enumerate(self.extra):
            h = conv(F.relu(h) if i else h)
            extra.append(h)
        locs, logits = [], []
        for level in top + extra:
            loc = 10.0 * F.sigmoid(self.loc_head(level)) - 5.0  # [B, 2A', H, 1]
            locs.append(loc.transpose([0, 2, 3, 1]).reshape([0, -1, 2]))
            logits.append(self.cls_head(level).transpose([0, 2, 3, 1]).reshape([0, -1, self.num_classes]))
        return paddle.concat(locs, axis=1), paddle.concat(logits, axis=1)

    def loss(self, x, loc_targets, cls_targets):
        loc, logits = self(x)
        return detection_loss(loc, logits, loc_targets, cls_targets)


def upsample_matrix(size_in, size_out):
    """[size_in, size_out]: x [.., size_in] @ it = x linearly resized to size_out with the corners aligned
    (fluid's image_resize default, which the release's FPN upsampling used)."""
    m = np.zeros([size_in, size_out], dtype=np.float32)
    for o in range(size_out):
        src = o * (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        low = min(int(np.floor(src)), size_in - 1)
        high = min(low + 1, size_in - 1)
        frac = src - low
        m[low, o] += 1 - frac
        m[high, o] += frac
    return m


def detection_loss(loc, logits, loc_targets, cls_targets, neg_ratio=3, alpha=2.0):
    """(alpha x smooth-L1 over matched anchors + cross-entropy over matched anchors and the neg_ratio x as
    many hardest background anchors) / matched anchors, as the release's FPNCTCN.loss."""
    pos = (cls_targets > 0).astype("float32")
    num_pos = paddle.clip(pos.sum(), min=1.0)
    diff = paddle.abs(loc - loc_targets)
    smooth = paddle.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5)
    loc_loss = (smooth.sum(-1) * pos).sum()
    ce = F.cross_entropy(logits, cls_targets.unsqueeze(-1), reduction="none").squeeze(-1)  # [B, A]
    mined = (ce * (1.0 - pos)).detach()
    rank = paddle.argsort(paddle.argsort(-mined, axis=1), axis=1)
    neg = (rank.astype("float32") < neg_ratio * pos.sum(1, keepdim=True)).astype("float32") * (1.0 - pos)
    cls_loss = (ce * (pos + neg)).sum()
    return (alpha * loc_loss + cls_loss) / num_pos, {"loc": alpha * loc_loss / num_pos, "cls": cls_loss / num_pos}


def _iou(anchors_xx, boxes):
    left = np.maximum(anchors_xx[:, None, 0], boxes[None, :, 0])
    right = np.minimum(anchors_xx[:, None, 1], boxes[None, :, 1])
    inter = (right - left).clip(0)
    return inter / ((anchors_xx[:, 1] - anchors_xx[:, 0])[:, None] + (boxes[:, 1] - boxes[:, 0])[None] - inter)


def encode(anchors, boxes, labels):
    """Targets of one video: anchors [A, 2] (centre, length), boxes [n, 2] (start, end) in input steps,
    labels [n] (1..classes-1). Returns (loc [A, 2] float32, cls [A] int64, 0 = background)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 2)
    loc = np.zeros([len(anchors), 2], dtype=np.float32)
    cls = np.zeros([len(anchors)], dtype=np.int64)
    if not len(boxes):
        return loc, cls
    xx = np.stack([anchors[:, 0] - anchors[:, 1] / 2, anchors[:, 0] + anchors[:, 1] / 2], axis=1)
    ious = _iou(xx, boxes)
    index = -np.ones(len(anchors), dtype=np.int64)
    masked = ious.copy()
    while True:  # each ground truth its best anchor, best pairs first
        i, j = np.unravel_index(np.argmax(masked), masked.shape)
        if masked[i, j] < 1e-6:
            break
        index[i] = j
        masked[i, :] = 0
        masked[:, j] = 0
    extra = (index < 0) & (ious.max(1) >= 0.5)
    index[extra] = ious[extra].argmax(1)
    matched = index >= 0
    target = boxes[index[matched]]
    centre, length = target.mean(1), target[:, 1] - target[:, 0]
    a = anchors[matched]
    loc[matched, 0] = (centre - a[:, 0]) / a[:, 1] / 0.1
    loc[matched, 1] = (length / a[:, 1] - 1.0) / 0.2
    cls[matched] = np.asarray(labels)[index[matched]]
    return loc, cls


def decode(anchors, loc):
    """Offsets [A, 2] -> segments [A, 2] (start, end) in input steps."""
    centre = loc[:, 0] * 0.1 * anchors[:, 1] + anchors[:, 0]
    length = (loc[:, 1] * 0.2 + 1.0) * anchors[:, 1]
    return np.stack([centre - length / 2, centre + length / 2], axis=1)
