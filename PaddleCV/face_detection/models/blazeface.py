"""BlazeFace (Bazarevsky et al. 2019, https://arxiv.org/abs/1907.05047) as PaddleDetection's
`blazeface_1000e` builds it (BlazeNet backbone, no neck, FaceHead):

- a 3x3 stride-2 conv (24 channels) + BN + ReLU;
- five single BlazeBlocks [[24, 24], [24, 24], [24, 48, 2], [48, 48], [48, 48]]: a 5x5 depthwise
  conv (stride 1 or 2) + BN + ReLU, a 1x1 conv + BN (no activation), added to the shortcut (at
  stride 2: 2x2 max-pool and a 1x1 conv + BN + ReLU), then ReLU;
- six double BlazeBlocks [[48, 24, 96, 2], [96, 24, 96], ..., [96, 24, 96, 2], ...]: depthwise 5x5,
  1x1 to the 24-channel bottleneck + BN + ReLU, depthwise 5x5, 1x1 to 96 + BN + ReLU, plus the
  shortcut (PaddleDetection's has no ReLU after the bottleneck's 1x1: pretrained.use_suite_layers
  switches ours off for its weights);
- the head sees the outputs of the third and the sixth double block (96 channels, strides 8 and 16)
  and predicts 4 box offsets and 2 class scores (background, face) per anchor with 3x3 convs: 2 and 6
  anchors per cell (anchors.py).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

SINGLE = [(24, 24, 1), (24, 24, 1), (24, 48, 2), (48, 48, 1), (48, 48, 1)]
DOUBLE = [(48, 24, 96, 2), (96, 24, 96, 1), (96, 24, 96, 1), (96, 24, 96, 2), (96, 24, 96, 1), (96, 24, 96, 1)]
# (depthwise channels, [bottleneck,] out channels, stride), as blaze_filters / double_blaze_filters


class ConvBN(nn.Layer):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, stride, padding=k // 2, groups=groups,
                              weight_attr=nn.initializer.KaimingNormal(), bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.act else x


class BlazeBlock(nn.Layer):
    """A single block (channels (depthwise, out)) or a double block (channels (depthwise, bottleneck,
    out)); stride 2 adds the pooled shortcut."""

    def __init__(self, cin, channels, stride=1):
        super().__init__()
        self.double = len(channels) == 3
        self.dw1 = ConvBN(cin, channels[0], 5, stride, groups=channels[0])
        self.pw1 = ConvBN(channels[0], channels[1], 1, act=self.double)
        if self.double:
            self.dw2 = ConvBN(channels[1], channels[1], 5, 1, groups=channels[1])
            self.pw2 = ConvBN(channels[1], channels[2], 1)
        self.stride = stride
        if stride == 2:
            self.shortcut = ConvBN(cin, channels[-1], 1)

    def forward(self, x):
        y = self.pw1(self.dw1(x))
        if self.double:
            y = self.pw2(self.dw2(y))
        if self.stride == 2:
            x = self.shortcut(F.max_pool2d(x, 2, 2, ceil_mode=True))
        return F.relu(x + y)


class BlazeFace(nn.Layer):
    """forward(image) -> (box offsets [N, P, 4], class logits [N, P, 2]) over all anchors."""

    def __init__(self, anchors_per_cell=(2, 6)):
        super().__init__()
        self.stem = ConvBN(3, 24, 3, 2)
        blocks, cin = [], 24
        for *channels, stride in SINGLE + DOUBLE:
            blocks.append(BlazeBlock(cin, channels, stride))
            cin = channels[-1]
        self.blocks = nn.LayerList(blocks)
        self.box_convs = nn.LayerList([nn.Conv2D(96, a * 4, 3, padding=1) for a in anchors_per_cell])
        self.score_convs = nn.LayerList([nn.Conv2D(96, a * 2, 3, padding=1) for a in anchors_per_cell])

    def forward(self, image):
        x = self.stem(image)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in (len(self.blocks) - 4, len(self.blocks) - 1):
                feats.append(x)
        boxes, scores = [], []
        for feat, box_conv, score_conv in zip(feats, self.box_convs, self.score_convs):
            boxes.append(box_conv(feat).transpose([0, 2, 3, 1]).reshape([0, -1, 4]))
            scores.append(score_conv(feat).transpose([0, 2, 3, 1]).reshape([0, -1, 2]))
        return paddle.concat(boxes, axis=1), paddle.concat(scores, axis=1)
