"""FaceBoxes (Zhang et al. 2017, https://arxiv.org/abs/1708.05234), the paper's network (Fig. 1 and
Fig. 2):

- Rapidly Digested Convolutional Layers (RDCL): conv1 7x7 stride 4 (24 filters) + BN + CReLU (48
  channels out), 3x3 stride-2 max-pool, conv2 5x5 stride 2 (64 filters) + BN + CReLU (128 out), 3x3
  stride-2 max-pool: stride 32 after four layers;
- Multiple Scale Convolutional Layers (MSCL): three Inception blocks (branches: 1x1 32; 3x3 avg-pool
  then 1x1 32; 1x1 24 then 3x3 32; 1x1 24 then 3x3 32 then 3x3 32; 128 channels out), then conv3_1
  1x1 128, conv3_2 3x3 stride 2 256, conv4_1 1x1 128, conv4_2 3x3 stride 2 256 (each conv + BN + ReLU);
- anchors on inception3 (stride 32: 32 px densified x4, 64 px x2, 128 px: 21 per cell), conv3_2
  (stride 64, 256 px) and conv4_2 (stride 128, 512 px); a 3x3 conv per map predicts 4 offsets and 2
  scores per anchor.

PaddleDetection's release/0.5 FaceBoxNet feeds its second pool from conv1 instead of conv2 (conv2's
output is unused); this folder follows the paper.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

ANCHORS_PER_CELL = (21, 1, 1)


class ConvBN(nn.Layer):
    def __init__(self, cin, cout, k, stride=1, crelu=False):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, stride, padding=k // 2, weight_attr=nn.initializer.KaimingNormal(),
                              bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.crelu = crelu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(paddle.concat([x, -x], axis=1)) if self.crelu else F.relu(x)


class Inception(nn.Layer):
    def __init__(self, cin=128):
        super().__init__()
        self.branch1 = ConvBN(cin, 32, 1)
        self.branch_pool = ConvBN(cin, 32, 1)
        self.branch3 = nn.Sequential(ConvBN(cin, 24, 1), ConvBN(24, 32, 3))
        self.branch33 = nn.Sequential(ConvBN(cin, 24, 1), ConvBN(24, 32, 3), ConvBN(32, 32, 3))

    def forward(self, x):
        pooled = F.avg_pool2d(x, 3, 1, padding=1, exclusive=False)
        return paddle.concat([self.branch1(x), self.branch_pool(pooled), self.branch3(x), self.branch33(x)], axis=1)


class FaceBoxes(nn.Layer):
    """forward(image) -> (box offsets [N, P, 4], class logits [N, P, 2]) over all anchors."""

    def __init__(self, anchors_per_cell=ANCHORS_PER_CELL):
        super().__init__()
        self.conv1 = ConvBN(3, 24, 7, 4, crelu=True)
        self.conv2 = ConvBN(48, 64, 5, 2, crelu=True)
        self.inceptions = nn.Sequential(Inception(), Inception(), Inception())
        self.conv3 = nn.Sequential(ConvBN(128, 128, 1), ConvBN(128, 256, 3, 2))
        self.conv4 = nn.Sequential(ConvBN(256, 128, 1), ConvBN(128, 256, 3, 2))
        channels = (128, 256, 256)
        self.box_convs = nn.LayerList([nn.Conv2D(c, a * 4, 3, padding=1) for c, a in zip(channels, anchors_per_cell)])
        self.score_convs = nn.LayerList([nn.Conv2D(c, a * 2, 3, padding=1) for c, a in zip(channels, anchors_per_cell)])

    def forward(self, image):
        x = F.max_pool2d(self.conv1(image), 3, 2, padding=1)
        x = F.max_pool2d(self.conv2(x), 3, 2, padding=1)
        f1 = self.inceptions(x)
        f2 = self.conv3(f1)
        f3 = self.conv4(f2)
        boxes, scores = [], []
        for feat, box_conv, score_conv in zip((f1, f2, f3), self.box_convs, self.score_convs):
            boxes.append(box_conv(feat).transpose([0, 2, 3, 1]).reshape([0, -1, 4]))
            scores.append(score_conv(feat).transpose([0, 2, 3, 1]).reshape([0, -1, 2]))
        return paddle.concat(boxes, axis=1), paddle.concat(scores, axis=1)
