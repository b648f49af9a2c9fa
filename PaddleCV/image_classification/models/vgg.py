"""VGG from Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition" (https://arxiv.org/abs/1409.1556). Configurations A, B, D and E (VGG11/13/16/19)."""
import paddle.nn as nn
from paddle.nn.initializer import Normal

from .registry import register

STAGE_CHANNELS = [64, 128, 256, 512, 512]
# Number of 3x3 convs in each of the five stages.
CONVS_PER_STAGE = {
    11: [1, 1, 2, 2, 2],
    13: [2, 2, 2, 2, 2],
    16: [2, 2, 3, 3, 3],
    19: [2, 2, 4, 4, 4],
}


def linear(in_features, out_features):
    # Without batch norm the default init gives large first logits and the first steps diverge;
    # small classifier weights (std 0.01) keep them near zero.
    return nn.Linear(in_features, out_features, weight_attr=Normal(0.0, 0.01))


class VGG(nn.Layer):
    def __init__(self, depth, num_classes=1000):
        super().__init__()
        layers, in_ch = [], 3
        for out_ch, n in zip(STAGE_CHANNELS, CONVS_PER_STAGE[depth]):
            for _ in range(n):
                # Bias-free convs as in PaddleClas's VGG, whose parameter counts we match.
                layers += [nn.Conv2D(in_ch, out_ch, 3, padding=1, bias_attr=False), nn.ReLU()]
                in_ch = out_ch
            layers.append(nn.MaxPool2D(2, stride=2))
        self.features = nn.Sequential(*layers)
        # Identity at 224 (the map is 7x7); lets smaller crops feed the 7*7*512 classifier.
        self.pool = nn.AdaptiveAvgPool2D(7)
        self.classifier = nn.Sequential(
            linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
            linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(x.flatten(1))


@register
def VGG11(num_classes=1000):
    return VGG(11, num_classes)


@register
def VGG13(num_classes=1000):
    return VGG(13, num_classes)


@register
def VGG16(num_classes=1000):
    return VGG(16, num_classes)


@register
def VGG19(num_classes=1000):
    return VGG(19, num_classes)
