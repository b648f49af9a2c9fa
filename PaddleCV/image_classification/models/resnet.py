"""ResNet, ResNet-vd, ResNeXt(-vd) and SENet154-vd as one parametrised class.

- ResNet: He et al., "Deep Residual Learning for Image Recognition",
  https://arxiv.org/abs/1512.03385
- vd tweaks: He et al., "Bag of Tricks for Image Classification with Convolutional Neural
  Networks", https://arxiv.org/abs/1812.01187
- ResNeXt: Xie et al., "Aggregated Residual Transformations for Deep Neural Networks",
  https://arxiv.org/abs/1611.05431
- SE block: Hu et al., "Squeeze-and-Excitation Networks", https://arxiv.org/abs/1709.01507

Layer widths follow PaddleClas, so parameter counts equal its published ones.
"""
from paddle import nn
from paddle.nn import functional as F

from .registry import register

DEPTHS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
          152: [3, 8, 36, 3], 200: [3, 12, 48, 3]}


class ConvBN(nn.Sequential):
    """Conv (no bias: the BN shift replaces it) + BatchNorm, optionally followed by ReLU."""

    def __init__(self, in_ch, out_ch, kernel, stride=1, groups=1, act=True):
        layers = [nn.Conv2D(in_ch, out_ch, kernel, stride, (kernel - 1) // 2,
                            groups=groups, bias_attr=False),
                  nn.BatchNorm2D(out_ch)]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


def classifier(in_ch, num_classes):
    """Global average pool + linear layer, so any input size large enough for the strides works."""
    return nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(in_ch, num_classes))


class SqueezeExcite(nn.Layer):
    """Channel gates from globally pooled features through two Linear layers, as PaddleClas's SENet
    (1x1 convs would compute the same function but add in another order: 3.2e-5 apart from its
    logits in float32 over SENet154_vd's 50 blocks, 0 with Linear layers)."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.squeeze = nn.Linear(channels, channels // reduction)
        self.excitation = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        gate = F.relu(self.squeeze(self.pool(x).flatten(1)))
        return x * F.sigmoid(self.excitation(gate)).unsqueeze([2, 3])


def projection(in_ch, out_ch, stride, avg_down):
    """Shortcut that changes channels (and resolution). A strided 1x1 conv reads only a quarter
    of its input; vd average-pools first so every activation reaches the shortcut."""
    if avg_down and stride > 1:
        return nn.Sequential(nn.AvgPool2D(2, stride, ceil_mode=True),
                             ConvBN(in_ch, out_ch, 1, act=False))
    return ConvBN(in_ch, out_ch, 1, stride, act=False)


class Residual(nn.Layer):
    """relu(se(body(x)) + shortcut(x)); subclasses only decide what `body` is."""

    def __init__(self, body, out_ch, shortcut, se):
        super().__init__()
        self.body = body
        self.se = SqueezeExcite(out_ch) if se else nn.Identity()
        self.shortcut = shortcut
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.se(self.body(x)) + self.shortcut(x))


class BasicBlock(Residual):
    expansion = 1

    def __init__(self, in_ch, planes, stride, shortcut, groups=1, base_width=64, se=False):
        assert groups == 1 and base_width == 64, 'BasicBlock has no grouped or wide variant'
        body = nn.Sequential(ConvBN(in_ch, planes, 3, stride),
                             ConvBN(planes, planes, 3, act=False))
        super().__init__(body, planes, shortcut, se)


class BottleneckBlock(Residual):
    expansion = 4

    def __init__(self, in_ch, planes, stride, shortcut, groups=1, base_width=64, se=False):
        # ResNeXt: `groups` paths of `base_width` channels in the first stage, doubling per stage.
        width = planes * base_width // 64 * groups
        out_ch = planes * self.expansion
        body = nn.Sequential(ConvBN(in_ch, width, 1),
                             ConvBN(width, width, 3, stride, groups),
                             ConvBN(width, out_ch, 1, act=False))
        super().__init__(body, out_ch, shortcut, se)


class ResNet(nn.Layer):
    """block: BasicBlock or BottleneckBlock; layers: blocks per stage.
    vd: three 3x3 stem convs instead of one 7x7 (same receptive field, cheaper, more
    non-linearity), and avg-pool before strided projections.
    groups/base_width: ResNeXt cardinality and per-path width. se: add SE gates to every block.
    stem_width: output channels of the stem (the vd stem's first two convs use half of it)."""

    def __init__(self, block, layers, num_classes=1000, vd=False, groups=1, base_width=64,
                 se=False, stem_width=64):
        super().__init__()
        if vd:
            half = stem_width // 2
            stem = [ConvBN(3, half, 3, 2), ConvBN(half, half, 3), ConvBN(half, stem_width, 3)]
        else:
            stem = [ConvBN(3, stem_width, 7, 2)]
        self.stem = nn.Sequential(*stem, nn.MaxPool2D(3, 2, 1))

        blocks, in_ch = [], stem_width
        for stage, depth in enumerate(layers):
            planes = 64 * 2 ** stage
            out_ch = planes * block.expansion
            for i in range(depth):
                stride = 2 if stage > 0 and i == 0 else 1
                # As in PaddleClas, every stage opens with a projection even where the shapes
                # match (ResNet18/34 stage 1), so layers and parameter counts are PaddleClas's.
                shortcut = projection(in_ch, out_ch, stride, vd) if i == 0 else nn.Identity()
                blocks.append(block(in_ch, planes, stride, shortcut, groups, base_width, se))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.head = classifier(in_ch, num_classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def resnext(depth, groups, vd, num_classes):
    return ResNet(BottleneckBlock, DEPTHS[depth], num_classes, vd=vd, groups=groups, base_width=4)


@register
def ResNet18(num_classes=1000):
    return ResNet(BasicBlock, DEPTHS[18], num_classes)


@register
def ResNet34(num_classes=1000):
    return ResNet(BasicBlock, DEPTHS[34], num_classes)


@register
def ResNet50(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[50], num_classes)


@register
def ResNet101(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[101], num_classes)


@register
def ResNet152(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[152], num_classes)


@register
def ResNet18_vd(num_classes=1000):
    return ResNet(BasicBlock, DEPTHS[18], num_classes, vd=True)


@register
def ResNet34_vd(num_classes=1000):
    return ResNet(BasicBlock, DEPTHS[34], num_classes, vd=True)


@register
def ResNet50_vd(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[50], num_classes, vd=True)


@register
def ResNet101_vd(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[101], num_classes, vd=True)


@register
def ResNet152_vd(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[152], num_classes, vd=True)


@register
def ResNet200_vd(num_classes=1000):
    return ResNet(BottleneckBlock, DEPTHS[200], num_classes, vd=True)


@register
def ResNeXt50_32x4d(num_classes=1000):
    return resnext(50, 32, False, num_classes)


@register
def ResNeXt50_64x4d(num_classes=1000):
    return resnext(50, 64, False, num_classes)


@register
def ResNeXt101_32x4d(num_classes=1000):
    return resnext(101, 32, False, num_classes)


@register
def ResNeXt101_64x4d(num_classes=1000):
    return resnext(101, 64, False, num_classes)


@register
def ResNeXt152_32x4d(num_classes=1000):
    return resnext(152, 32, False, num_classes)


@register
def ResNeXt152_64x4d(num_classes=1000):
    return resnext(152, 64, False, num_classes)


@register
def ResNeXt50_vd_32x4d(num_classes=1000):
    return resnext(50, 32, True, num_classes)


@register
def ResNeXt50_vd_64x4d(num_classes=1000):
    return resnext(50, 64, True, num_classes)


@register
def ResNeXt101_vd_32x4d(num_classes=1000):
    return resnext(101, 32, True, num_classes)


@register
def ResNeXt101_vd_64x4d(num_classes=1000):
    return resnext(101, 64, True, num_classes)


@register
def ResNeXt152_vd_32x4d(num_classes=1000):
    return resnext(152, 32, True, num_classes)


@register
def ResNeXt152_vd_64x4d(num_classes=1000):
    return resnext(152, 64, True, num_classes)


@register
def SENet154_vd(num_classes=1000):
    # PaddleClas's SENet154_vd: SE-ResNeXt152-vd 64x4d with a wider (64-64-128) stem.
    return ResNet(BottleneckBlock, DEPTHS[152], num_classes, vd=True, groups=64, base_width=4,
                  se=True, stem_width=128)
