"""EfficientNet from Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks" (https://arxiv.org/abs/1905.11946). B1-B7 scale the B0 baseline by compound scaling:
width, depth and input resolution grow together.

Padding is TensorFlow's "SAME" at the variant's own resolution, as PaddleClas 2.6 (whose weights
load here) computes it from its fixed table of stage sizes: a stride-2 conv over a map of even size
at that resolution pads (k-2)//2 at the top/left and one more at the bottom/right; every other conv
pads k//2 on each side. The padding is fixed when the model is built, so the graph does not depend on
the input size (other sizes work, padded the same way). Until 2026-11-28 every conv here padded k//2:
that shifted each stride-2 window by one pixel against PaddleClas (a difference of 9.8 on the stem's
output with PaddleClas's weights)."""
import math
from collections import namedtuple

import paddle
import paddle.nn as nn

from .registry import register

# B0 stages: (expansion ratio, kernel, stride of the first repeat, output channels, repeats).
B0_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
             (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]

Scaling = namedtuple("Scaling", "width depth resolution dropout")
VARIANTS = {
    "B0": Scaling(1.0, 1.0, 224, 0.2),
    "B1": Scaling(1.0, 1.1, 240, 0.2),
    "B2": Scaling(1.1, 1.2, 260, 0.3),
    "B3": Scaling(1.2, 1.4, 300, 0.3),
    "B4": Scaling(1.4, 1.8, 380, 0.4),
    "B5": Scaling(1.6, 2.2, 456, 0.4),
    "B6": Scaling(1.8, 2.6, 528, 0.5),
    "B7": Scaling(2.0, 3.1, 600, 0.5),
}


def round_channels(ch, width, divisor=8):
    """Scale a width and round it to a multiple of 8, never dropping more than 10%."""
    ch *= width
    rounded = max(divisor, int(ch + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * ch else rounded


def same_padding(k, stride, size):
    """TF "SAME" padding [top, bottom, left, right] of a k x k conv over a size x size map."""
    total = max(k - stride, 0) if size % stride == 0 else max(k - size % stride, 0)
    return [total // 2, total - total // 2] * 2


def conv_bn(in_ch, out_ch, k=1, stride=1, groups=1, act=True, size=None):
    # BN momentum and epsilon of the reference TensorFlow training. `size`: the input map's side at
    # the variant's resolution, for the "SAME" padding of a strided conv (module docstring).
    padding = same_padding(k, stride, size) if size else k // 2
    layers = [nn.Conv2D(in_ch, out_ch, k, stride=stride, padding=padding, groups=groups,
                        bias_attr=False), nn.BatchNorm2D(out_ch, momentum=0.99, epsilon=1e-3)]
    if act:
        layers.append(nn.Swish())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Layer):
    def __init__(self, ch, squeezed):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Conv2D(ch, squeezed, 1),
                                  nn.Swish(), nn.Conv2D(squeezed, ch, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)


def drop_path(x, rate):
    """Stochastic depth: skip the residual branch for a random subset of the batch."""
    keep = 1.0 - rate
    mask = paddle.bernoulli(paddle.full_like(x[:, :1, :1, :1], keep))
    return x * mask / keep


class MBConv(nn.Layer):
    """Mobile inverted bottleneck: 1x1 expand, depthwise kxk, squeeze-excite, linear 1x1 project."""

    def __init__(self, in_ch, out_ch, expand, k, stride, drop_rate, size=None):
        super().__init__()
        mid = in_ch * expand
        layers = [conv_bn(in_ch, mid)] if expand != 1 else []
        layers += [conv_bn(mid, mid, k, stride, groups=mid, size=size),
                   # The squeeze width is a quarter of the block input, not of the expanded width.
                   SqueezeExcite(mid, max(1, in_ch // 4)),
                   conv_bn(mid, out_ch, act=False)]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_ch == out_ch
        self.drop_rate = drop_rate

    def forward(self, x):
        y = self.block(x)
        if not self.use_residual:
            return y
        if self.training and self.drop_rate > 0:
            y = drop_path(y, self.drop_rate)
        return x + y


class EfficientNet(nn.Layer):
    def __init__(self, variant, num_classes=1000, drop_path_rate=0.2):
        super().__init__()
        width, depth, size, dropout = VARIANTS[variant]
        stages = [(e, k, s, round_channels(c, width), int(math.ceil(n * depth)))
                  for e, k, s, c, n in B0_STAGES]
        n_blocks = sum(stage[-1] for stage in stages)
        ch = round_channels(32, width)
        layers = [conv_bn(3, ch, 3, stride=2, size=size)]
        size = math.ceil(size / 2)  # the map's side at the variant's resolution, for "SAME" padding
        for e, k, s, out_ch, n in stages:
            for i in range(n):
                # Deeper blocks are dropped more often: the rate grows linearly with depth.
                rate = drop_path_rate * (len(layers) - 1) / n_blocks
                stride = s if i == 0 else 1
                layers.append(MBConv(ch, out_ch, e, k, stride, rate, size=size if stride > 1 else None))
                ch, size = out_ch, math.ceil(size / stride)
        head_ch = round_channels(1280, width)
        layers.append(conv_bn(ch, head_ch))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(head_ch, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register(input_size=VARIANTS["B0"].resolution)
def EfficientNetB0(num_classes=1000):
    return EfficientNet("B0", num_classes)


@register(input_size=VARIANTS["B1"].resolution)
def EfficientNetB1(num_classes=1000):
    return EfficientNet("B1", num_classes)


@register(input_size=VARIANTS["B2"].resolution)
def EfficientNetB2(num_classes=1000):
    return EfficientNet("B2", num_classes)


@register(input_size=VARIANTS["B3"].resolution)
def EfficientNetB3(num_classes=1000):
    return EfficientNet("B3", num_classes)


@register(input_size=VARIANTS["B4"].resolution)
def EfficientNetB4(num_classes=1000):
    return EfficientNet("B4", num_classes)


@register(input_size=VARIANTS["B5"].resolution)
def EfficientNetB5(num_classes=1000):
    return EfficientNet("B5", num_classes)


@register(input_size=VARIANTS["B6"].resolution)
def EfficientNetB6(num_classes=1000):
    return EfficientNet("B6", num_classes)


@register(input_size=VARIANTS["B7"].resolution)
def EfficientNetB7(num_classes=1000):
    return EfficientNet("B7", num_classes)
