"""HRNet (Wang et al., 2019, https://arxiv.org/abs/1908.07919) with the FCN head, as in the
segmentation recipes: a stride-4 stem, then four stages that keep the high-resolution branch all the
way through and add a lower-resolution branch per stage; every module exchanges information between
all branches (multi-resolution fusion). The head upsamples all branches to stride 4, concatenates
them and classifies with a 1x1 conv."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .layers import ConvBN, resize, spatial_size

# (modules, blocks per branch) of stages 2-4; the branch widths are W, 2W, 4W, 8W.
# Every strided conv pads "same" (the extra pixel at the bottom/right only, on even sizes), as
# PaddleSeg's HRNet (padding_same=True) does, so that its checkpoints give its outputs.
STAGES = ((1, 4), (4, 4), (3, 4))


class BasicBlock(nn.Layer):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = ConvBN(ch, ch, 3, bias=False)
        self.conv2 = ConvBN(ch, ch, 3, bias=False, act=False)

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + x)


class Bottleneck(nn.Layer):
    def __init__(self, in_ch, width):
        super().__init__()
        self.convs = nn.Sequential(ConvBN(in_ch, width, 1, bias=False), ConvBN(width, width, 3, bias=False),
                                   ConvBN(width, width * 4, 1, bias=False, act=False))
        self.down = ConvBN(in_ch, width * 4, 1, bias=False, act=False) if in_ch != width * 4 else None

    def forward(self, x):
        return F.relu(self.convs(x) + (x if self.down is None else self.down(x)))


class FuseLayer(nn.Layer):
    """Output branch i sums every input branch j brought to its resolution: a 1x1 conv and bilinear
    upsampling from a lower resolution (j > i), a chain of strided 3x3 convs from a higher one (j < i)."""

    def __init__(self, chans):
        super().__init__()
        self.paths = nn.LayerList()
        for i in range(len(chans)):
            row = nn.LayerList()
            for j in range(len(chans)):
                if j > i:
                    row.append(ConvBN(chans[j], chans[i], 1, bias=False, act=False))
                elif j < i:
                    steps = [ConvBN(chans[j], chans[j], 3, 2, bias=False, padding="same") for _ in range(i - j - 1)]
                    steps.append(ConvBN(chans[j], chans[i], 3, 2, bias=False, act=False, padding="same"))
                    row.append(nn.Sequential(*steps))
                else:
                    row.append(nn.Identity())
            self.paths.append(row)

    def forward(self, xs):
        outs = []
        for i, row in enumerate(self.paths):
            size = spatial_size(xs[i])
            y = xs[i]
            for j, path in enumerate(row):
                if j > i:
                    y = y + resize(path(xs[j]), size)
                elif j < i:
                    y = y + path(xs[j])
            outs.append(F.relu(y))
        return outs


class HRModule(nn.Layer):
    def __init__(self, chans, blocks):
        super().__init__()
        self.branches = nn.LayerList([nn.Sequential(*[BasicBlock(c) for _ in range(blocks)]) for c in chans])
        self.fuse = FuseLayer(chans)

    def forward(self, xs):
        return self.fuse([branch(x) for branch, x in zip(self.branches, xs)])


class Transition(nn.Layer):
    """Adapts the widths of existing branches and opens a new half-resolution branch from the last."""

    def __init__(self, in_chans, out_chans):
        super().__init__()
        self.convs = nn.LayerList()
        for i, c in enumerate(out_chans):
            if i < len(in_chans):
                self.convs.append(ConvBN(in_chans[i], c, 3, bias=False) if in_chans[i] != c else nn.Identity())
            else:
                self.convs.append(ConvBN(in_chans[-1], c, 3, 2, bias=False, padding="same"))

    def forward(self, xs):
        return [conv(xs[min(i, len(xs) - 1)]) for i, conv in enumerate(self.convs)]


class HRNet(nn.Layer):
    def __init__(self, width=18):
        super().__init__()
        self.stem = nn.Sequential(ConvBN(3, 64, 3, 2, bias=False, padding="same"),
                                  ConvBN(64, 64, 3, 2, bias=False, padding="same"))
        self.layer1 = nn.Sequential(Bottleneck(64, 64), *[Bottleneck(256, 64) for _ in range(3)])
        chans, stages, transitions = [256], [], []
        for k, (modules, blocks) in enumerate(STAGES):
            new = [width * 2 ** i for i in range(k + 2)]
            transitions.append(Transition(chans, new))
            stages.append(nn.Sequential(*[HRModule(new, blocks) for _ in range(modules)]))
            chans = new
        self.transitions, self.stages = nn.LayerList(transitions), nn.LayerList(stages)
        self.feat_channels = sum(chans)

    def forward(self, x):
        xs = [self.layer1(self.stem(x))]
        for transition, stage in zip(self.transitions, self.stages):
            xs = stage(transition(xs))
        size = spatial_size(xs[0])
        return paddle.concat([xs[0]] + [resize(y, size) for y in xs[1:]], axis=1)


class HRNetFCN(nn.Layer):
    loss_weights = (1.0,)

    def __init__(self, num_classes, width=18):
        super().__init__()
        self.backbone = HRNet(width)
        c = self.backbone.feat_channels
        self.head = nn.Sequential(ConvBN(c, c, 1), nn.Conv2D(c, num_classes, 1))

    def forward(self, x):
        return [resize(self.head(self.backbone(x)), spatial_size(x))]
