"""MobileNets:
- V1: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
  Applications" (https://arxiv.org/abs/1704.04861): depthwise-separable convs.
- V2: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks"
  (https://arxiv.org/abs/1801.04381).
- V3: Howard et al., "Searching for MobileNetV3" (https://arxiv.org/abs/1905.02244): V2 blocks
  plus squeeze-excite and hard-swish, with searched layer widths.
Layer widths and bias choices follow PaddleClas, whose parameter counts the tests check.
"""
import paddle.nn as nn
import paddle.nn.functional as F

from .registry import register


def make_divisible(v, divisor=8):
    """Round a channel count to a multiple of 8, never dropping more than 10%."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def conv_bn(in_ch, out_ch, k=1, stride=1, groups=1, act=nn.ReLU):
    """Conv-BN followed by `act` (a layer class, or None for a linear output)."""
    layers = [nn.Conv2D(in_ch, out_ch, k, stride=stride, padding=(k - 1) // 2, groups=groups,
                        bias_attr=False), nn.BatchNorm2D(out_ch)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Layer):
    # The V3 paper's cheap sigmoid, relu6(x + 3) / 6. PaddleClas uses slope 0.2 (offset 0.5), so
    # pretrained.py sets 0.2 on the model when it loads PaddleClas's weights.
    slope = 1 / 6

    def __init__(self, ch):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.reduce = nn.Conv2D(ch, ch // 4, 1)
        self.expand = nn.Conv2D(ch // 4, ch, 1)

    def forward(self, x):
        w = self.expand(F.relu(self.reduce(self.pool(x))))
        return x * F.hardsigmoid(w, slope=self.slope, offset=0.5)


class InvertedResidual(nn.Layer):
    """Expand (1x1) -> depthwise kxk -> optional SE -> linear project (1x1), residual when the
    shape is kept. The expansion conv exists even at ratio 1, as in PaddleClas."""

    def __init__(self, in_ch, mid_ch, out_ch, k, stride, act, se=False):
        super().__init__()
        layers = [conv_bn(in_ch, mid_ch, 1, act=act),
                  conv_bn(mid_ch, mid_ch, k, stride, groups=mid_ch, act=act)]
        if se:
            layers.append(SqueezeExcite(mid_ch))
        # No activation after the projection: in the narrow bottleneck a ReLU would destroy
        # information (the "linear bottleneck" of V2).
        layers.append(conv_bn(mid_ch, out_ch, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_residual else y


# V1: (output channels, stride) of each depthwise-separable block.
V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class MobileNetV1Net(nn.Layer):
    def __init__(self, scale=1.0, num_classes=1000):
        super().__init__()
        ch = int(32 * scale)
        layers = [conv_bn(3, ch, 3, stride=2)]
        for out_ch, stride in V1_BLOCKS:
            out_ch = int(out_ch * scale)
            layers += [conv_bn(ch, ch, 3, stride, groups=ch), conv_bn(ch, out_ch, 1)]
            ch = out_ch
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(),
                                  nn.Linear(ch, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


# V2: (expansion ratio, output channels, repeats, stride of the first repeat) per stage.
V2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class MobileNetV2Net(nn.Layer):
    def __init__(self, scale=1.0, num_classes=1000):
        super().__init__()
        ch = int(32 * scale)
        layers = [conv_bn(3, ch, 3, stride=2, act=nn.ReLU6)]
        for t, c, n, s in V2_STAGES:
            out_ch = int(c * scale)
            for i in range(n):
                layers.append(InvertedResidual(ch, int(round(ch * t)), out_ch, 3,
                                               s if i == 0 else 1, nn.ReLU6))
                ch = out_ch
        # As in the paper, multipliers below 1 do not narrow the last conv.
        last = int(1280 * scale) if scale > 1.0 else 1280
        layers.append(conv_bn(ch, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(),
                                  nn.Linear(last, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


RE, HS = nn.ReLU, nn.Hardswish
# V3: (kernel, expanded channels, output channels, squeeze-excite, activation, stride) per block,
# then the width of the last conv before pooling.
V3_CONFIGS = {
    "large": ([(3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2),
               (3, 72, 24, False, RE, 1), (5, 72, 40, True, RE, 2),
               (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
               (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1),
               (3, 184, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
               (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
               (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1),
               (5, 960, 160, True, HS, 1)], 960),
    "small": ([(3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2),
               (3, 88, 24, False, RE, 1), (5, 96, 40, True, HS, 2),
               (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
               (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1),
               (5, 288, 96, True, HS, 2), (5, 576, 96, True, HS, 1),
               (5, 576, 96, True, HS, 1)], 576),
}


class MobileNetV3Net(nn.Layer):
    def __init__(self, size, scale=1.0, num_classes=1000):
        super().__init__()
        blocks, last = V3_CONFIGS[size]
        ch = make_divisible(16 * scale)
        layers = [conv_bn(3, ch, 3, stride=2, act=HS)]
        for k, exp, c, se, act, s in blocks:
            out_ch = make_divisible(c * scale)
            layers.append(InvertedResidual(ch, make_divisible(exp * scale), out_ch, k, s, act, se))
            ch = out_ch
        last = make_divisible(last * scale)
        layers.append(conv_bn(ch, last, 1, act=HS))
        self.features = nn.Sequential(*layers)
        # The 1280-wide layer runs after pooling, so it costs almost nothing at 1x1 resolution.
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2D(1), nn.Conv2D(last, 1280, 1, bias_attr=False), HS(),
            nn.Dropout(0.2), nn.Flatten(), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register
def MobileNetV1(num_classes=1000):
    return MobileNetV1Net(1.0, num_classes)


@register
def MobileNetV2(num_classes=1000):
    return MobileNetV2Net(1.0, num_classes)


@register
def MobileNetV3_small_x1_0(num_classes=1000):
    return MobileNetV3Net("small", 1.0, num_classes)


@register
def MobileNetV3_large_x1_0(num_classes=1000):
    return MobileNetV3Net("large", 1.0, num_classes)
