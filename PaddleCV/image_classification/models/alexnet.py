"""AlexNet, single-tower version from Krizhevsky, "One weird trick for parallelizing
convolutional neural networks" (https://arxiv.org/abs/1404.5997); original in NeurIPS 2012,
"ImageNet Classification with Deep Convolutional Neural Networks"."""
import paddle.nn as nn
from paddle.nn.initializer import Normal

from .registry import register


def linear(in_features, out_features):
    # Without batch norm the default init gives large first logits and the first steps diverge;
    # small classifier weights (std 0.01, as in the paper) keep them near zero.
    return nn.Linear(in_features, out_features, weight_attr=Normal(0.0, 0.01))


class AlexNetNet(nn.Layer):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(3, 64, 11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2D(3, stride=2),
            nn.Conv2D(64, 192, 5, padding=2), nn.ReLU(),
            nn.MaxPool2D(3, stride=2),
            nn.Conv2D(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2D(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2D(256, 256, 3, padding=1), nn.ReLU(),
            nn.MaxPool2D(3, stride=2),
        )
        # The map is already 6x6 at 224; the adaptive pool only lets other crop sizes reach
        # the fixed-size classifier.
        self.pool = nn.AdaptiveAvgPool2D(6)
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(0.5), linear(4096, 4096), nn.ReLU(),
            linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(x.flatten(1))


@register
def AlexNet(num_classes=1000):
    return AlexNetNet(num_classes)
