"""The embedding networks: the image classification folder's ResNet (one parametrised class), without its
classifier, ending in global average pooling, plus an optional linear embedding layer.

- ResNet: He et al., "Deep Residual Learning for Image Recognition", https://arxiv.org/abs/1512.03385
- As in the original release's metric learning models, the embedding is the pooled 2048-d feature of
  ResNet50 by default (`--embedding_size 0`); a positive size adds a linear layer after the pool.
"""
from paddle import nn


DEPTHS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
          152: [3, 8, 36, 3], 200: [3, 12, 48, 3]}


class ConvBN(nn.Sequential):
    """Conv (no bias: the BN shift replaces it) + BatchNorm, optionally followed by ReLU."""

    def __init__(self, in_ch, out_ch, kernel, stride=1, groups=1, act=True):
        layers = [nn.Conv2D(in_ch, out_ch, kernel, stride, (kernel - 1) // 2,
                            groups=groups, bias_attr=False),
                  nn.BatchNorm2D(out_ch)]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class SqueezeExcite(nn.Layer):
    """Channel gates from globally pooled features; 1x1 convs act as the two FC layers."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2D(1),
                                  nn.Conv2D(channels, channels // reduction, 1), nn.ReLU(),
                                  nn.Conv2D(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)


def projection(in_ch, out_ch, stride, avg_down):
    """Shortcut that changes channels (and resolution). A strided 1x1 conv reads only a quarter
    of its input; vd average-pools first so every activation reaches the shortcut."""
    if avg_down and stride > 1:
        return nn.Sequential(nn.AvgPool2D(2, stride, ceil_mode=True),
                             ConvBN(in_ch, out_ch, 1, act=False))
    return ConvBN(in_ch, out_ch, 1, stride, act=False)


class Residual(nn.Layer):
    """relu(se(body(x)) + shortcut(x)); subclasses only decide what `body` is."""

    def __init__(self, body, out_ch, shortcut, se):
        super().__init__()
        self.body = body
        self.se = SqueezeExcite(out_ch) if se else nn.Identity()
        self.shortcut = shortcut
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.se(self.body(x)) + self.shortcut(x))


class BasicBlock(Residual):
    expansion = 1

    def __init__(self, in_ch, planes, stride, shortcut, groups=1, base_width=64, se=False):
        assert groups == 1 and base_width == 64, 'BasicBlock has no grouped or wide variant'
        body = nn.Sequential(ConvBN(in_ch, planes, 3, stride),
                             ConvBN(planes, planes, 3, act=False))
        super().__init__(body, planes, shortcut, se)


class BottleneckBlock(Residual):
    expansion = 4

    def __init__(self, in_ch, planes, stride, shortcut, groups=1, base_width=64, se=False):
        # ResNeXt: `groups` paths of `base_width` channels in the first stage, doubling per stage.
        width = planes * base_width // 64 * groups
        out_ch = planes * self.expansion
        body = nn.Sequential(ConvBN(in_ch, width, 1),
                             ConvBN(width, width, 3, stride, groups),
                             ConvBN(width, out_ch, 1, act=False))
        super().__init__(body, out_ch, shortcut, se)


class ResNet(nn.Layer):
    """block: BasicBlock or BottleneckBlock; layers: blocks per stage.
    vd: three 3x3 stem convs instead of one 7x7 (same receptive field, cheaper, more
    non-linearity), and avg-pool before strided projections.
    groups/base_width: ResNeXt cardinality and per-path width. se: add SE gates to every block.
    stem_width: output channels of the stem (the vd stem's first two convs use half of it)."""

    def __init__(self, block, layers, vd=False, groups=1, base_width=64, se=False, stem_width=64):
        super().__init__()
        if vd:
            half = stem_width // 2
            stem = [ConvBN(3, half, 3, 2), ConvBN(half, half, 3), ConvBN(half, stem_width, 3)]
        else:
            stem = [ConvBN(3, stem_width, 7, 2)]
        self.stem = nn.Sequential(*stem, nn.MaxPool2D(3, 2, 1))

        blocks, in_ch = [], stem_width
        for stage, depth in enumerate(layers):
            planes = 64 * 2 ** stage
            out_ch = planes * block.expansion
            for i in range(depth):
                stride = 2 if stage > 0 and i == 0 else 1
                # As in PaddleClas, every stage opens with a projection even where the shapes
                # match (ResNet18/34 stage 1), so layers and parameter counts are PaddleClas's.
                shortcut = projection(in_ch, out_ch, stride, vd) if i == 0 else nn.Identity()
                blocks.append(block(in_ch, planes, stride, shortcut, groups, base_width, se))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten())
        self.feature_dim = in_ch

    def forward(self, x):
        return self.pool(self.blocks(self.stem(x)))




class EmbeddingNet(nn.Layer):
    """backbone -> pooled features -> (optional) linear embedding. forward returns the embedding only;
    `head` (the classifier of the softmax/arcmargin losses, or None) is used by training alone and is
    not part of the export."""

    def __init__(self, backbone, feature_dim, embedding_size=0, head=None):
        super().__init__()
        self.backbone = backbone
        self.embed = nn.Linear(feature_dim, embedding_size) if embedding_size else None
        self.embedding_dim = embedding_size or feature_dim
        self.head = head

    def forward(self, x, labels=None):
        features = self.backbone(x)
        embeddings = self.embed(features) if self.embed is not None else features
        if labels is None or self.head is None:
            return embeddings
        return embeddings, self.head.logits(embeddings, labels)


def _entry(name, feature_dim, build):
    build.__name__, build.feature_dim = name, feature_dim
    MODELS[name] = build


MODELS = {}
_entry("ResNet50", 2048, lambda: ResNet(BottleneckBlock, DEPTHS[50]))     # the release's backbone
_entry("ResNet101", 2048, lambda: ResNet(BottleneckBlock, DEPTHS[101]))
_entry("ResNet18", 512, lambda: ResNet(BasicBlock, DEPTHS[18]))           # the light one: demo and smoke
