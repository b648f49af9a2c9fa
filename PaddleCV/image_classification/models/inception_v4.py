"""Inception-v4 from Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning" (https://arxiv.org/abs/1602.07261). Trained on 299x299 crops; the
unpadded stem and reduction layers need at least 75x75."""
import paddle
import paddle.nn as nn

from .registry import register


def conv(in_ch, out_ch, k, stride=1, valid=False):
    """Conv-BN-ReLU. `k` is an int or (kh, kw); padding keeps the size unless `valid`."""
    kh, kw = (k, k) if isinstance(k, int) else k
    padding = 0 if valid else (kh // 2, kw // 2)
    return nn.Sequential(nn.Conv2D(in_ch, out_ch, k, stride=stride, padding=padding,
                                   bias_attr=False),
                         nn.BatchNorm2D(out_ch), nn.ReLU())


def seq(*layers):
    return layers[0] if len(layers) == 1 else nn.Sequential(*layers)


class Concat(nn.Layer):
    """Runs branches on the same input and stacks their outputs along channels."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.LayerList(branches)

    def forward(self, x):
        return paddle.concat([branch(x) for branch in self.branches], axis=1)


def avg_pool_branch(in_ch, out_ch):
    return seq(nn.AvgPool2D(3, stride=1, padding=1), conv(in_ch, out_ch, 1))


def stem():
    return nn.Sequential(
        conv(3, 32, 3, stride=2, valid=True), conv(32, 32, 3, valid=True), conv(32, 64, 3),
        Concat(nn.MaxPool2D(3, stride=2), conv(64, 96, 3, stride=2, valid=True)),
        Concat(seq(conv(160, 64, 1), conv(64, 96, 3, valid=True)),
               seq(conv(160, 64, 1), conv(64, 64, (7, 1)), conv(64, 64, (1, 7)),
                   conv(64, 96, 3, valid=True))),
        Concat(conv(192, 192, 3, stride=2, valid=True), nn.MaxPool2D(3, stride=2)))  # 384 ch


def inception_a():  # 384 -> 384 channels, 35x35 at 299
    return Concat(avg_pool_branch(384, 96), conv(384, 96, 1),
                  seq(conv(384, 64, 1), conv(64, 96, 3)),
                  seq(conv(384, 64, 1), conv(64, 96, 3), conv(96, 96, 3)))


def reduction_a():  # 384 -> 1024 channels
    return Concat(nn.MaxPool2D(3, stride=2), conv(384, 384, 3, stride=2, valid=True),
                  seq(conv(384, 192, 1), conv(192, 224, 3),
                      conv(224, 256, 3, stride=2, valid=True)))


def inception_b():  # 1024 -> 1024 channels, 17x17 at 299
    return Concat(avg_pool_branch(1024, 128), conv(1024, 384, 1),
                  seq(conv(1024, 192, 1), conv(192, 224, (1, 7)), conv(224, 256, (7, 1))),
                  seq(conv(1024, 192, 1), conv(192, 192, (1, 7)), conv(192, 224, (7, 1)),
                      conv(224, 224, (1, 7)), conv(224, 256, (7, 1))))


def reduction_b():  # 1024 -> 1536 channels
    return Concat(nn.MaxPool2D(3, stride=2),
                  seq(conv(1024, 192, 1), conv(192, 192, 3, stride=2, valid=True)),
                  seq(conv(1024, 256, 1), conv(256, 256, (1, 7)), conv(256, 320, (7, 1)),
                      conv(320, 320, 3, stride=2, valid=True)))


def inception_c():  # 1536 -> 1536 channels, 8x8 at 299
    # The last two branches fork into parallel 1x3 and 3x1 convs, widening the output cheaply.
    def fork(in_ch):
        return Concat(conv(in_ch, 256, (1, 3)), conv(in_ch, 256, (3, 1)))
    return Concat(avg_pool_branch(1536, 256), conv(1536, 256, 1),
                  seq(conv(1536, 384, 1), fork(384)),
                  seq(conv(1536, 384, 1), conv(384, 448, (1, 3)), conv(448, 512, (3, 1)),
                      fork(512)))


class InceptionV4Net(nn.Layer):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            stem(),
            *[inception_a() for _ in range(4)], reduction_a(),
            *[inception_b() for _ in range(7)], reduction_b(),
            *[inception_c() for _ in range(3)])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Dropout(0.2),
                                  nn.Linear(1536, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


@register(input_size=299)
def InceptionV4(num_classes=1000):
    return InceptionV4Net(num_classes)
