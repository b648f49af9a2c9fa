"""Xception-65 as modified for DeepLabv3+ (Chen et al., 2018): every max-pool replaced by a strided
separable conv, 16 middle-flow blocks, BN after every depthwise and pointwise conv. Output stride 16;
returns the stride-4 entry-flow feature (low-level, 128 channels) and the final 2048-channel one."""
import paddle.nn as nn
import paddle.nn.functional as F

from .layers import ConvBN

BN = dict(bn_eps=1e-3, bn_momentum=0.99)


class SepConv(nn.Layer):
    """Depthwise 3x3 + BN, pointwise 1x1 + BN, each optionally followed by ReLU."""

    def __init__(self, in_ch, out_ch, stride=1, dilation=1, act=False):
        super().__init__()
        self.depthwise = ConvBN(in_ch, in_ch, 3, stride, dilation, groups=in_ch, bias=False, act=act, **BN)
        self.pointwise = ConvBN(in_ch, out_ch, 1, bias=False, act=act, **BN)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Layer):
    """Three separable convs (the last one strided) plus a shortcut: a 1x1 conv, the identity, or none."""

    def __init__(self, in_ch, channels, stride=1, dilation=1, shortcut="conv", act_inside=False):
        super().__init__()
        chans = [in_ch] + list(channels)
        self.act_inside = act_inside
        self.convs = nn.LayerList([
            SepConv(chans[i], chans[i + 1], stride if i == 2 else 1, dilation, act=act_inside) for i in range(3)])
        self.shortcut = shortcut
        if shortcut == "conv":
            self.skip = ConvBN(in_ch, chans[-1], 1, stride, bias=False, act=False, **BN)

    def forward(self, x):
        y = x
        for conv in self.convs:
            # The pre-activation form: ReLU before each separable conv unless it has its own.
            y = conv(y if self.act_inside else F.relu(y))
        if self.shortcut == "conv":
            return y + self.skip(x)
        return y + x if self.shortcut == "identity" else y


class Xception65(nn.Layer):
    def __init__(self, middle_blocks=16):
        super().__init__()
        self.feat_channels = [128, 2048]
        self.stem = nn.Sequential(ConvBN(3, 32, 3, 2, bias=False, **BN), ConvBN(32, 64, 3, bias=False, **BN))
        self.entry = nn.LayerList([XceptionBlock(64, [128] * 3, 2), XceptionBlock(128, [256] * 3, 2),
                                   XceptionBlock(256, [728] * 3, 2)])
        self.middle = nn.Sequential(*[XceptionBlock(728, [728] * 3, 1, shortcut="identity")
                                      for _ in range(middle_blocks)])
        self.exit1 = XceptionBlock(728, [728, 1024, 1024], 1)
        self.exit2 = XceptionBlock(1024, [1536, 1536, 2048], 1, dilation=2, shortcut=None, act_inside=True)

    def forward(self, x):
        x = self.stem(x)
        low = self.entry[0](x)
        x = self.entry[2](self.entry[1](low))
        x = self.exit2(self.exit1(self.middle(x)))
        return [low, x]
