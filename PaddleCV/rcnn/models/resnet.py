"""ResNet backbones as PaddleDetection builds them for R-CNN (variant b: the stride sits in the 3x3
convolution of a bottleneck), with the recipe's freezing: `freeze_at=0` freezes the stem and the
first stage (res2), `freeze_norm` freezes every BatchNorm (affine parameters not trained, running
statistics used in training too). One class for the family; depth 18/34 use basic blocks, 50/101
bottlenecks, `width` scales every channel count (the demo's light option).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

BLOCKS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3]),
          101: ("bottleneck", [3, 4, 23, 3])}


class ConvNorm(nn.Layer):
    def __init__(self, cin, cout, k, stride=1, act=True, freeze_norm=False):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, stride, (k - 1) // 2, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout, use_global_stats=True if freeze_norm else None)
        if freeze_norm:
            self.bn.weight.stop_gradient = True
            self.bn.bias.stop_gradient = True
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.act else x


class Bottleneck(nn.Layer):
    expansion = 4

    def __init__(self, cin, width, stride, freeze_norm):
        super().__init__()
        cout = width * 4
        self.branch = nn.Sequential(ConvNorm(cin, width, 1, freeze_norm=freeze_norm),
                                    ConvNorm(width, width, 3, stride, freeze_norm=freeze_norm),
                                    ConvNorm(width, cout, 1, act=False, freeze_norm=freeze_norm))
        self.short = None if (cin == cout and stride == 1) else ConvNorm(cin, cout, 1, stride, False, freeze_norm)

    def forward(self, x):
        return F.relu(self.branch(x) + (x if self.short is None else self.short(x)))


class BasicBlock(nn.Layer):
    expansion = 1

    def __init__(self, cin, width, stride, freeze_norm):
        super().__init__()
        self.branch = nn.Sequential(ConvNorm(cin, width, 3, stride, freeze_norm=freeze_norm),
                                    ConvNorm(width, width, 3, act=False, freeze_norm=freeze_norm))
        self.short = None if (cin == width and stride == 1) else ConvNorm(cin, width, 1, stride, False, freeze_norm)

    def forward(self, x):
        return F.relu(self.branch(x) + (x if self.short is None else self.short(x)))


def make_stage(kind, cin, width, blocks, stride, freeze_norm):
    block = Bottleneck if kind == "bottleneck" else BasicBlock
    layers = []
    for i in range(blocks):
        layers.append(block(cin, width, stride if i == 0 else 1, freeze_norm))
        cin = width * block.expansion
    return nn.Sequential(*layers), cin


def freeze(layer):
    for p in layer.parameters():
        p.stop_gradient = True


class ResNet(nn.Layer):
    """Returns the outputs of the stages in `return_idx` (0: res2 at stride 4 ... 3: res5 at 32);
    `num_stages=3` stops after res4 (the C4 model, whose res5 is the RoI head)."""

    def __init__(self, depth=50, width=1.0, return_idx=(0, 1, 2, 3), num_stages=4, freeze_at=0, freeze_norm=True):
        super().__init__()
        kind, counts = BLOCKS[depth]
        stem = int(64 * width)
        self.stem = ConvNorm(3, stem, 7, 2, freeze_norm=freeze_norm)
        self.return_idx = list(return_idx)
        stages, cin, self.out_channels = [], stem, []
        for i in range(num_stages):
            stage, cin = make_stage(kind, cin, int(64 * width * 2 ** i), counts[i], 1 if i == 0 else 2, freeze_norm)
            stages.append(stage)
            self.out_channels.append(cin)
        self.stages = nn.LayerList(stages)
        self.out_channels = [self.out_channels[i] for i in self.return_idx]
        self.kind, self.depth, self.width, self.freeze_norm = kind, depth, width, freeze_norm
        if freeze_at >= 0:
            freeze(self.stem)
            for i in range(min(freeze_at + 1, num_stages)):
                freeze(self.stages[i])

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 3, 2, 1)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.return_idx:
                outs.append(x)
        return outs


class Res5Head(nn.Layer):
    """The C4 model's RoI head: res5 (stride 2 in its first block) on 14x14 RoI features, then a 7x7
    average pool."""

    def __init__(self, backbone):
        super().__init__()
        kind, counts = BLOCKS[backbone.depth]
        cin = backbone.out_channels[-1]
        self.res5, self.out_channels = make_stage(kind, cin, int(512 * backbone.width), counts[3], 2,
                                                  backbone.freeze_norm)

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.res5(x), 1).flatten(1)
