"""Dilated ResNet backbones (bottleneck, depth 50/101) for PSPNet, DeepLabv3+, GloRe and ICNet.

One class for the family: the `vd` variant (three 3x3 stem convs and an average-pool before strided
shortcut convs, as in PaddleSeg's ResNet_vd) and ICNet's half-width variant are settings, not copies.
Output stride 8 replaces the strides of stages 3 and 4 by dilations 2 and 4; output stride 16 only
stage 4's (dilation 2)."""
import paddle.nn as nn

from .layers import ConvBN

DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class Bottleneck(nn.Layer):
    expansion = 4

    def __init__(self, in_ch, width, stride=1, dilation=1, vd=True):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = ConvBN(in_ch, width, 1, bias=False)
        self.conv2 = ConvBN(width, width, 3, stride=stride, dilation=dilation, bias=False)
        self.conv3 = ConvBN(width, out_ch, 1, bias=False, act=False)
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            if vd and stride != 1:
                # vd: average-pool first so the 1x1 shortcut conv sees every pixel, not one in four.
                self.shortcut = nn.Sequential(nn.AvgPool2D(2, 2, ceil_mode=True),
                                              ConvBN(in_ch, out_ch, 1, bias=False, act=False))
            else:
                self.shortcut = ConvBN(in_ch, out_ch, 1, stride=stride, bias=False, act=False)
        self.relu = nn.ReLU()

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class ResNet(nn.Layer):
    """Returns the four stage outputs (strides 4, 8, 8|16, 8|16|32 depending on output_stride).

    `stages[i]` are nn.Sequential lists of blocks, so a model may run a stage block by block (ICNet
    branches off after the first block of stage 2)."""

    def __init__(self, depth=50, output_stride=8, width_scale=1.0, vd=True, multi_grid=(1, 1, 1)):
        super().__init__()
        dilations = {8: (1, 1, 2, 4), 16: (1, 1, 1, 2), 32: (1, 1, 1, 1)}[output_stride]
        self.stem = nn.Sequential(
            ConvBN(3, 32, 3, stride=2, bias=False), ConvBN(32, 32, 3, bias=False), ConvBN(32, 64, 3, bias=False),
            nn.MaxPool2D(3, 2, padding=1))
        widths = [int(w * width_scale) for w in (64, 128, 256, 512)]
        self.feat_channels = [w * Bottleneck.expansion for w in widths]
        in_ch, stages = 64, []
        for i, (n, width, dil) in enumerate(zip(DEPTHS[depth], widths, dilations)):
            stride = 2 if i > 0 and dil == 1 else 1
            blocks = []
            for j in range(n):
                d = dil * (multi_grid[j] if i == 3 else 1)
                blocks.append(Bottleneck(in_ch, width, stride if j == 0 else 1, d, vd))
                in_ch = width * Bottleneck.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.LayerList(stages)

    def forward(self, x):
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
