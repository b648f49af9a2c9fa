"""DenseNet-121/161/169/201/264.

Huang et al., "Densely Connected Convolutional Networks", https://arxiv.org/abs/1608.06993
"""
import paddle
from paddle import nn

from .registry import register
from .resnet import ConvBN, classifier


class BNReLUConv(nn.Sequential):
    """Pre-activation conv: each layer normalises the concatenation it receives, since the
    features in it come from different depths and scales."""

    def __init__(self, in_ch, out_ch, kernel, stride=1, groups=1):
        super().__init__(nn.BatchNorm2D(in_ch), nn.ReLU(),
                         nn.Conv2D(in_ch, out_ch, kernel, stride, (kernel - 1) // 2,
                                   groups=groups, bias_attr=False))


class DenseLayer(nn.Layer):
    """Appends `growth` new channels to its input; the 1x1 bottleneck keeps the 3x3 cheap."""

    def __init__(self, in_ch, growth, bn_size):
        super().__init__()
        self.body = nn.Sequential(BNReLUConv(in_ch, bn_size * growth, 1),
                                  BNReLUConv(bn_size * growth, growth, 3))

    def forward(self, x):
        return paddle.concat([x, self.body(x)], axis=1)


class DenseNet(nn.Layer):
    """stem_width: stem conv channels; growth: channels each dense layer adds;
    blocks: dense layers per block. Transitions between blocks halve channels and resolution."""

    def __init__(self, stem_width, growth, blocks, num_classes=1000, bn_size=4):
        super().__init__()
        layers, ch = [ConvBN(3, stem_width, 7, 2), nn.MaxPool2D(3, 2, 1)], stem_width
        for i, depth in enumerate(blocks):
            for _ in range(depth):
                layers.append(DenseLayer(ch, growth, bn_size))
                ch += growth
            if i < len(blocks) - 1:
                layers += [BNReLUConv(ch, ch // 2, 1), nn.AvgPool2D(2, 2)]
                ch //= 2
        # The last dense layer's output is unnormalised, so BN+ReLU before pooling.
        layers += [nn.BatchNorm2D(ch), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = classifier(ch, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


@register
def DenseNet121(num_classes=1000):
    return DenseNet(64, 32, [6, 12, 24, 16], num_classes)


@register
def DenseNet161(num_classes=1000):
    return DenseNet(96, 48, [6, 12, 36, 24], num_classes)


@register
def DenseNet169(num_classes=1000):
    return DenseNet(64, 32, [6, 12, 32, 32], num_classes)


@register
def DenseNet201(num_classes=1000):
    return DenseNet(64, 32, [6, 12, 48, 32], num_classes)


@register
def DenseNet264(num_classes=1000):
    return DenseNet(64, 32, [6, 12, 64, 48], num_classes)
