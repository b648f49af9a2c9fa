"""TSN (Wang et al. 2016): a 2D ResNet runs on each of seg_num sampled frames; the segment consensus is the
average of the frames' pooled features, followed by one linear classifier (the release: ResNet50, seg_num 3
for training, 224 crop, no dropout; its test views: frames.py). Also the ResNet used by TSM and StNet.

Input [B, T, 3, H, W] (T = seg_num frames), output logits [B, num_classes].
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

RELEASE_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
RELEASE_WIDTHS = (64, 128, 256, 512)
DEMO_DEPTHS = (1, 1, 1, 1)
DEMO_WIDTHS = (8, 16, 32, 64)


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        layers = [nn.Conv2D(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias_attr=False), nn.BatchNorm2D(cout)]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Bottleneck(nn.Layer):
    """1x1 -> 3x3 (stride here, as the release) -> 1x1 (x4), with a projection shortcut when the shape
    changes. `shift` (TSM) is applied to the residual branch's input only."""

    def __init__(self, cin, width, stride, shift=None):
        super().__init__()
        cout = width * 4
        self.shift = shift
        self.branch = nn.Sequential(ConvBN(cin, width, 1), ConvBN(width, width, 3, stride),
                                    ConvBN(width, cout, 1, act=False))
        self.short = ConvBN(cin, cout, 1, stride, act=False) if (cin != cout or stride != 1) else None

    def forward(self, x):
        y = self.branch(self.shift(x) if self.shift is not None else x)
        return F.relu(y + (self.short(x) if self.short is not None else x))


class ResNet(nn.Layer):
    """The 2D ResNet trunk: [N, in_channels, H, W] -> stage outputs; `after_stage[i]` (StNet's temporal
    blocks) runs after stage i; `shift` (TSM) goes into every bottleneck."""

    def __init__(self, depths, widths, in_channels=3, shift=None, after_stage=None):
        super().__init__()
        stem = widths[0]
        self.stem = nn.Sequential(ConvBN(in_channels, stem, 7, 2), nn.MaxPool2D(3, 2, 1))
        blocks, cin = [], stem
        for i, (depth, width) in enumerate(zip(depths, widths)):
            stage = []
            for j in range(depth):
                stage.append(Bottleneck(cin, width, 2 if (j == 0 and i > 0) else 1, shift))
                cin = width * 4
            blocks.append(nn.Sequential(*stage))
        self.stages = nn.LayerList(blocks)
        self.after = nn.LayerList([a if a is not None else nn.Identity() for a in (after_stage or [None] * 4)])
        self.out_channels = cin

    def forward(self, x):
        x = self.stem(x)
        for stage, after in zip(self.stages, self.after):
            x = after(stage(x))
        return x


def resnet_config(size, layers=50):
    return (RELEASE_DEPTHS[layers], RELEASE_WIDTHS) if size == "release" else (DEMO_DEPTHS, DEMO_WIDTHS)


class TSN(nn.Layer):
    def __init__(self, num_classes, seg_num, size="release", layers=50, dropout=0.0, shift=None):
        super().__init__()
        self.seg_num = seg_num
        self.shift = shift  # TSM: one shared TemporalShift, told the clip's segment count at each call
        depths, widths = resnet_config(size, layers)
        self.backbone = ResNet(depths, widths, shift=shift)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        dim = self.backbone.out_channels
        bound = 1.0 / dim ** 0.5
        self.fc = nn.Linear(dim, num_classes, weight_attr=nn.initializer.Uniform(-bound, bound))

    def features(self, x):
        """[B, T, 3, H, W] -> per-frame pooled features [B, T, C]."""
        t, c, h, w = x.shape[1:]
        if self.shift is not None:
            self.shift.seg_num = t
        y = self.backbone(x.reshape([-1, c, h, w]))
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        if self.dropout is not None:
            y = self.dropout(y)
        return y.reshape([-1, t, y.shape[-1]])

    def forward(self, x):
        return self.fc(self.features(x).mean(axis=1))  # segment consensus: the average
