"""SqueezeNet from Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters
and <0.5MB model size" (https://arxiv.org/abs/1602.07360). Version 1.1 (from the authors'
repository) moves the pools earlier and uses a 3x3 stem: 2.4x less computation, same accuracy."""
import paddle
import paddle.nn as nn

from .registry import register

# Stem (channels, kernel, padding), then the feature stack: "M" is a 3x3/2 max-pool, a pair is a
# fire module (squeeze channels, channels of each of the two expand branches).
CONFIGS = {
    "1_0": ((96, 7, 0), ["M", (16, 64), (16, 64), (32, 128), "M",
                         (32, 128), (48, 192), (48, 192), (64, 256), "M", (64, 256)]),
    "1_1": ((64, 3, 1), ["M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M",
                         (48, 192), (48, 192), (64, 256), (64, 256)]),
}


class Fire(nn.Layer):
    def __init__(self, in_ch, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2D(in_ch, squeeze, 1), nn.ReLU())
        self.expand1x1 = nn.Sequential(nn.Conv2D(squeeze, expand, 1), nn.ReLU())
        self.expand3x3 = nn.Sequential(nn.Conv2D(squeeze, expand, 3, padding=1), nn.ReLU())

    def forward(self, x):
        x = self.squeeze(x)
        return paddle.concat([self.expand1x1(x), self.expand3x3(x)], axis=1)


class SqueezeNet(nn.Layer):
    def __init__(self, version, num_classes=1000):
        super().__init__()
        (stem_ch, k, pad), stack = CONFIGS[version]
        layers = [nn.Conv2D(3, stem_ch, k, stride=2, padding=pad), nn.ReLU()]
        in_ch = stem_ch
        for item in stack:
            if item == "M":
                layers.append(nn.MaxPool2D(3, stride=2))
            else:
                layers.append(Fire(in_ch, *item))
                in_ch = 2 * item[1]
        self.features = nn.Sequential(*layers)
        # Fully convolutional head: a 1x1 conv to class scores, then global average pooling,
        # so any input size works.
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2D(in_ch, num_classes, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2D(1), nn.Flatten(),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@register
def SqueezeNet1_0(num_classes=1000):
    return SqueezeNet("1_0", num_classes)


@register
def SqueezeNet1_1(num_classes=1000):
    return SqueezeNet("1_1", num_classes)
