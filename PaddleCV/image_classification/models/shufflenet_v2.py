"""ShuffleNet V2 from Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design" (https://arxiv.org/abs/1807.11164)."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .registry import register

STAGE_REPEATS = [4, 8, 4]
# Width multiplier -> channels of the stem, the three stages and the last 1x1 conv (paper, Table 5).
STAGE_CHANNELS = {
    0.5: [24, 48, 96, 192, 1024],
    1.0: [24, 116, 232, 464, 1024],
    1.5: [24, 176, 352, 704, 1024],
    2.0: [24, 244, 488, 976, 2048],
}


def conv_bn(in_ch, out_ch, k=1, stride=1, groups=1, relu=True):
    layers = [nn.Conv2D(in_ch, out_ch, k, stride=stride, padding=k // 2, groups=groups,
                        bias_attr=False), nn.BatchNorm2D(out_ch)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ShuffleBlock(nn.Layer):
    """Stride 1: half the channels pass through untouched, the other half go through
    1x1 -> depthwise 3x3 -> 1x1. Stride 2: both halves are computed from the full input, which
    doubles the width. Either way a channel shuffle then mixes the two halves."""

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.stride = stride
        half = out_ch // 2
        branch_in = in_ch if stride == 2 else in_ch // 2
        self.branch = nn.Sequential(
            conv_bn(branch_in, half), conv_bn(half, half, 3, stride, groups=half, relu=False),
            conv_bn(half, half))
        if stride == 2:
            self.shortcut = nn.Sequential(
                conv_bn(in_ch, in_ch, 3, stride, groups=in_ch, relu=False), conv_bn(in_ch, half))

    def forward(self, x):
        if self.stride == 1:
            kept, x = paddle.chunk(x, 2, axis=1)
        else:
            kept = self.shortcut(x)
        out = paddle.concat([kept, self.branch(x)], axis=1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Layer):
    def __init__(self, scale, num_classes=1000):
        super().__init__()
        channels = STAGE_CHANNELS[scale]
        layers = [conv_bn(3, channels[0], 3, stride=2), nn.MaxPool2D(3, stride=2, padding=1)]
        in_ch = channels[0]
        for repeats, out_ch in zip(STAGE_REPEATS, channels[1:4]):
            for i in range(repeats):
                layers.append(ShuffleBlock(in_ch, out_ch, 2 if i == 0 else 1))
                in_ch = out_ch
        layers.append(conv_bn(in_ch, channels[4]))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(),
                                  nn.Linear(channels[4], num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register
def ShuffleNetV2_x0_5(num_classes=1000):
    return ShuffleNetV2(0.5, num_classes)


@register
def ShuffleNetV2_x1_0(num_classes=1000):
    return ShuffleNetV2(1.0, num_classes)


@register
def ShuffleNetV2_x1_5(num_classes=1000):
    return ShuffleNetV2(1.5, num_classes)


@register
def ShuffleNetV2_x2_0(num_classes=1000):
    return ShuffleNetV2(2.0, num_classes)
