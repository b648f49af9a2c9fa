"""Xception from Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions"
(https://arxiv.org/abs/1610.02357). Xception41 is the paper's network; Xception65/71 are
deepened as in DeepLabv3+ (https://arxiv.org/abs/1802.02611): 16 middle-flow blocks and, for 71,
two more entry-flow blocks, but keeping the paper's max-pools. Trained on 299x299 crops."""
import paddle.nn as nn

from .registry import register

# Entry-flow blocks as (channels, stride); then the number of 728-channel middle-flow blocks.
CONFIGS = {
    41: ([(128, 2), (256, 2), (728, 2)], 8),
    65: ([(128, 2), (256, 2), (728, 2)], 16),
    71: ([(128, 2), (256, 1), (256, 2), (728, 1), (728, 2)], 16),
}


def conv_bn(in_ch, out_ch, k, stride=1, groups=1):
    return [nn.Conv2D(in_ch, out_ch, k, stride=stride, padding=k // 2, groups=groups,
                      bias_attr=False), nn.BatchNorm2D(out_ch)]


def separable(in_ch, out_ch):
    # Pointwise before depthwise, each with BN, as in PaddleClas's Xception whose parameter
    # counts we match; the paper notes the order hardly matters when the units are stacked.
    return nn.Sequential(*conv_bn(in_ch, out_ch, 1), *conv_bn(out_ch, out_ch, 3, groups=out_ch))


class XceptionBlock(nn.Layer):
    """Residual block of ReLU + separable-conv units. Entry- and exit-flow blocks (`project`)
    end the branch with a 3x3 max-pool and give the shortcut a strided 1x1 conv."""

    def __init__(self, in_ch, channels, stride=1, project=False):
        super().__init__()
        layers, ch = [], in_ch
        for out_ch in channels:
            layers += [nn.ReLU(), separable(ch, out_ch)]
            ch = out_ch
        if project:
            layers.append(nn.MaxPool2D(3, stride=stride, padding=1))
            self.shortcut = nn.Conv2D(in_ch, ch, 1, stride=stride, bias_attr=False)
        else:
            self.shortcut = nn.Identity()
        self.residual = nn.Sequential(*layers)

    def forward(self, x):
        return self.shortcut(x) + self.residual(x)


class Xception(nn.Layer):
    def __init__(self, depth, num_classes=1000):
        super().__init__()
        entry, n_middle = CONFIGS[depth]
        layers = [*conv_bn(3, 32, 3, stride=2), nn.ReLU(), *conv_bn(32, 64, 3), nn.ReLU()]
        ch = 64
        for out_ch, stride in entry:
            layers.append(XceptionBlock(ch, [out_ch, out_ch], stride, project=True))
            ch = out_ch
        layers += [XceptionBlock(728, [728] * 3) for _ in range(n_middle)]
        layers += [XceptionBlock(728, [728, 1024], 2, project=True),
                   separable(1024, 1536), nn.ReLU(), separable(1536, 2048), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(),
                                  nn.Linear(2048, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register(input_size=299)
def Xception41(num_classes=1000):
    return Xception(41, num_classes)


@register(input_size=299)
def Xception65(num_classes=1000):
    return Xception(65, num_classes)


@register(input_size=299)
def Xception71(num_classes=1000):
    return Xception(71, num_classes)
