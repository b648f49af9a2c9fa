"""DarkNet-53, the YOLOv3 backbone, as an ImageNet classifier.

Redmon and Farhadi, "YOLOv3: An Incremental Improvement", https://arxiv.org/abs/1804.02767

As in PaddleClas (whose pretrained weights were trained this way), the activation is ReLU
rather than the paper's leaky ReLU.
"""
from paddle import nn

from .registry import register
from .resnet import ConvBN, classifier


class DarkResidual(nn.Layer):
    """1x1 conv halves the channels, 3x3 conv restores them; plain sum, no activation after it."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(ConvBN(channels, channels // 2, 1),
                                  ConvBN(channels // 2, channels, 3))

    def forward(self, x):
        return x + self.body(x)


class DarkNet(nn.Layer):
    """stages: residual blocks per resolution; each stage but the last ends in a strided 3x3 conv
    that doubles the channels (there is no pooling in the network until the head)."""

    def __init__(self, stages=(1, 2, 8, 8, 4), num_classes=1000):
        super().__init__()
        layers, ch = [ConvBN(3, 32, 3), ConvBN(32, 64, 3, 2)], 64
        for i, depth in enumerate(stages):
            layers += [DarkResidual(ch) for _ in range(depth)]
            if i < len(stages) - 1:
                layers.append(ConvBN(ch, ch * 2, 3, 2))
                ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = classifier(ch, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


@register
def DarkNet53(num_classes=1000):
    return DarkNet((1, 2, 8, 8, 4), num_classes)
