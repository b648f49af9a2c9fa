"""Dual Path Networks: DPN-68/92/98/107/131.

Chen et al., "Dual Path Networks", https://arxiv.org/abs/1707.01629

Each block feeds a residual path (ResNeXt-like: features are summed, so they are reused) and a
dense path (DenseNet-like: features are appended, so new ones are explored). Between blocks both
paths travel as one tensor: the first `width` channels are the residual path, the rest dense.
"""
import paddle
from paddle import nn

from .densenet import BNReLUConv
from .registry import register
from .resnet import ConvBN, classifier


class DualPathBlock(nn.Layer):
    """kind: 'proj' (first block: project the input onto both paths), 'down' (the same with
    stride 2) or 'normal' (the input already is [residual | dense])."""

    def __init__(self, in_ch, bottleneck, width, inc, groups, kind):
        super().__init__()
        stride = 2 if kind == 'down' else 1
        self.width = width
        # The projection output has 2*inc dense channels: the first block's inc adds up to 3*inc.
        self.shortcut = (nn.Identity() if kind == 'normal'
                         else BNReLUConv(in_ch, width + 2 * inc, 1, stride))
        self.body = nn.Sequential(BNReLUConv(in_ch, bottleneck, 1),
                                  BNReLUConv(bottleneck, bottleneck, 3, stride, groups),
                                  BNReLUConv(bottleneck, width + inc, 1))

    def forward(self, x):
        res, dense = paddle.split(self.shortcut(x), [self.width, -1], axis=1)
        new_res, new_dense = paddle.split(self.body(x), [self.width, -1], axis=1)
        return paddle.concat([res + new_res, dense, new_dense], axis=1)


class DPN(nn.Layer):
    """stem: (channels, kernel) of the stem conv; k_r: bottleneck width of the first stage;
    groups: 3x3 conv groups; blocks/incs: blocks per stage and dense channels each one adds;
    width: residual-path channels of the first stage. Widths double at every stage."""

    def __init__(self, stem, k_r, groups, blocks, incs, width, num_classes=1000):
        super().__init__()
        stem_ch, stem_kernel = stem
        layers = [ConvBN(3, stem_ch, stem_kernel, 2), nn.MaxPool2D(3, 2, 1)]
        ch = stem_ch
        for stage, (depth, inc) in enumerate(zip(blocks, incs)):
            bottleneck, res_width = k_r * 2 ** stage, width * 2 ** stage
            for i in range(depth):
                kind = 'normal' if i > 0 else ('proj' if stage == 0 else 'down')
                layers.append(DualPathBlock(ch, bottleneck, res_width, inc, groups, kind))
                ch = res_width + (3 + i) * inc
        # Blocks are pre-activation, so the concatenated output still needs BN+ReLU.
        layers += [nn.BatchNorm2D(ch), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = classifier(ch, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


@register
def DPN68(num_classes=1000):
    return DPN((10, 3), 128, 32, [3, 4, 12, 3], [16, 32, 32, 64], 64, num_classes)


@register
def DPN92(num_classes=1000):
    return DPN((64, 7), 96, 32, [3, 4, 20, 3], [16, 32, 24, 128], 256, num_classes)


@register
def DPN98(num_classes=1000):
    return DPN((96, 7), 160, 40, [3, 6, 20, 3], [16, 32, 32, 128], 256, num_classes)


@register
def DPN107(num_classes=1000):
    return DPN((128, 7), 200, 50, [4, 8, 20, 3], [20, 64, 64, 128], 256, num_classes)


@register
def DPN131(num_classes=1000):
    return DPN((128, 7), 160, 40, [4, 8, 28, 3], [16, 32, 32, 128], 256, num_classes)
