"""GoogLeNet (Inception v1) from Szegedy et al., "Going Deeper with Convolutions"
(https://arxiv.org/abs/1409.4842), with its two auxiliary classifiers.

Output contract:
- training mode: a list `[main_logits, aux1_logits, aux2_logits]`, each [N, num_classes]; the
  paper weights the auxiliary losses by 0.3. The auxiliary heads flatten a fixed 3x3 map, so
  training needs the 224 crop.
- eval mode: the main logits only, a plain [N, num_classes] tensor; the auxiliary heads are
  skipped, so other input sizes work too (61x61 and up keep every pooling window inside the map).

Two activation layouts with the same parameters (and the same state-dict keys):
- `GoogLeNet`: the paper's and release 1.7's, a ReLU after every conv;
- `GoogLeNet_ppcls`: PaddleClas 2.6's, whose published weights were trained with it: no ReLU after
  any conv (none in the stem either), one ReLU after each Inception module's concat, and in the
  auxiliary heads a ReLU only after the first head's hidden Linear (none after its conv, none in
  the second head). `GoogLeNetNet.use_paddleclas_activations()` switches a built model to it; the
  converter does that, with a notice, when PaddleClas's GoogLeNet weights are loaded for eval.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.nn.initializer import Normal

from .registry import register

# One Inception module per row: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection.
INCEPTION_3 = [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)]
INCEPTION_4 = [(192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64),
               (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
               (256, 160, 320, 32, 128, 128)]
INCEPTION_5 = [(256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)]


class Act(nn.Layer):
    """A ReLU that the PaddleClas layout turns off (`enabled`): no parameters, so both layouts keep
    the same keys and the same Sequential indices."""

    def __init__(self):
        super().__init__()
        self.enabled = True

    def forward(self, x):
        return F.relu(x) if self.enabled else x


def conv_relu(in_ch, out_ch, k, stride=1):
    # No bias and no batch norm: PaddleClas's GoogLeNet, whose parameter count we match. The ReLU
    # follows every conv as in the paper (PaddleClas has one only after each module's concat).
    conv = nn.Conv2D(in_ch, out_ch, k, stride=stride, padding=k // 2, bias_attr=False)
    return nn.Sequential(conv, Act())


def linear(in_features, out_features):
    # Without batch norm the default init gives large first logits and the first steps diverge;
    # small classifier weights (std 0.01) keep them near zero.
    return nn.Linear(in_features, out_features, weight_attr=Normal(0.0, 0.01))


class Inception(nn.Layer):
    def __init__(self, in_ch, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()
        self.branch1 = conv_relu(in_ch, c1, 1)
        self.branch3 = nn.Sequential(conv_relu(in_ch, c3_reduce, 1), conv_relu(c3_reduce, c3, 3))
        self.branch5 = nn.Sequential(conv_relu(in_ch, c5_reduce, 1), conv_relu(c5_reduce, c5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2D(3, stride=1, padding=1),
                                         conv_relu(in_ch, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj
        self.concat_act = Act()  # PaddleClas's only ReLU; off in the paper's layout
        self.concat_act.enabled = False

    def forward(self, x):
        return self.concat_act(paddle.concat([self.branch1(x), self.branch3(x), self.branch5(x),
                                              self.branch_pool(x)], axis=1))


class AuxHead(nn.Layer):
    """Side classifier that adds gradient signal to the middle of the network during training."""

    def __init__(self, in_ch, num_classes):
        super().__init__()
        self.pool = nn.AvgPool2D(5, stride=3)  # 13x13 -> 3x3 at a 224 crop
        self.conv = conv_relu(in_ch, 128, 1)
        self.fc = nn.Sequential(linear(128 * 3 * 3, 1024), Act(), nn.Dropout(0.7),
                                linear(1024, num_classes))

    def forward(self, x):
        return self.fc(self.conv(self.pool(x)).flatten(1))


def inception_stack(in_ch, rows):
    modules = []
    for row in rows:
        modules.append(Inception(in_ch, *row))
        in_ch = modules[-1].out_channels
    return modules, in_ch


class GoogLeNetNet(nn.Layer):
    def __init__(self, num_classes=1000, paddleclas_activations=False):
        super().__init__()
        inc3, ch = inception_stack(192, INCEPTION_3)
        inc4, ch = inception_stack(ch, INCEPTION_4)
        inc5, ch = inception_stack(ch, INCEPTION_5)
        # Split where the auxiliary heads tap in: after 4a and after 4d.
        self.to_4a = nn.Sequential(
            conv_relu(3, 64, 7, stride=2), nn.MaxPool2D(3, stride=2),
            conv_relu(64, 64, 1), conv_relu(64, 192, 3), nn.MaxPool2D(3, stride=2),
            *inc3, nn.MaxPool2D(3, stride=2), inc4[0])
        self.to_4d = nn.Sequential(*inc4[1:4])
        self.to_5b = nn.Sequential(inc4[4], nn.MaxPool2D(3, stride=2), *inc5)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Dropout(0.4),
                                  linear(ch, num_classes))
        self.aux1 = AuxHead(inc4[0].out_channels, num_classes)
        self.aux2 = AuxHead(inc4[3].out_channels, num_classes)
        self.paddleclas_activations = False
        if paddleclas_activations:
            self.use_paddleclas_activations()

    def use_paddleclas_activations(self):
        """PaddleClas 2.6's layout (module docstring): ReLUs only after the concats and in aux1's head."""
        for layer in self.sublayers():
            if isinstance(layer, Act):
                layer.enabled = False
        for layer in self.sublayers():
            if isinstance(layer, Inception):
                layer.concat_act.enabled = True
        self.aux1.fc[1].enabled = True
        self.paddleclas_activations = True

    def forward(self, x):
        x4a = self.to_4a(x)
        x4d = self.to_4d(x4a)
        logits = self.head(self.to_5b(x4d))
        if self.training:
            return [logits, self.aux1(x4a), self.aux2(x4d)]
        return logits


@register
def GoogLeNet(num_classes=1000):
    return GoogLeNetNet(num_classes)


@register
def GoogLeNet_ppcls(num_classes=1000):
    """PaddleClas 2.6's activations (module docstring): the model its GoogLeNet weights fit."""
    return GoogLeNetNet(num_classes, paddleclas_activations=True)
