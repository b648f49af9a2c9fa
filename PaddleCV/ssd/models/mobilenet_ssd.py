"""SSD with a MobileNetV1 backbone (Liu et al. 2016, https://arxiv.org/abs/1512.02325; MobileNet:
Howard et al. 2017, https://arxiv.org/abs/1704.04861), laid out as PaddleDetection's
`ssd_mobilenet_v1_300_120e_voc` builds it:

- MobileNetV1 (width 1.0, conv + BN + ReLU, no classifier); the features of block 11 (512 channels,
  stride 16) and block 13 (1024 channels, stride 32);
- four extra blocks (1x1 conv to 256/128/128/64 channels, then a 3x3 stride-2 conv to
  512/256/256/128, each conv + BN + ReLU6), giving six feature maps in all;
- a head of plain 1x1 convolutions (with bias) per feature map: 4 box offsets and C+1 class scores
  per prior; 3 priors per cell on the first map, 6 on the others.

`extra_act="relu"` gives the original release/1.7 network (models/PaddleCV/ssd), whose extra
blocks use ReLU; every layer shape, and so the parameter count, is the same.

The priors are computed from the feature-map shapes (prior_box.py), so any input size runs; the
prior sizes are given in pixels of a 300-pixel input and scale with the model's `image_size`.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

import prior_box


class ConvBN(nn.Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride, groups=1, act="relu"):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2,
                              groups=groups, weight_attr=nn.initializer.KaimingNormal(), bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act == "relu6" else F.relu(x)


class DepthwiseSeparable(nn.Layer):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.depthwise = ConvBN(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = ConvBN(in_channels, out_channels, 1, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


# (output channels, stride) of MobileNetV1's 13 depthwise-separable blocks
MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
EXTRA_BLOCKS = [(256, 512), (128, 256), (128, 256), (64, 128)]
FEATURE_BLOCKS = (11, 13)  # 1-based: the backbone blocks whose outputs the head sees


class MobileNetV1Features(nn.Layer):
    """MobileNetV1 up to block 13 plus SSD's extra blocks; returns the feature maps the head sees
    (the outputs of `feature_blocks`, then of each extra block). `width` multiplies every channel
    count (1.0 for the published models)."""

    def __init__(self, extra_act="relu6", width=1.0, feature_blocks=FEATURE_BLOCKS, num_extras=len(EXTRA_BLOCKS)):
        super().__init__()
        scaled = lambda c: max(8, int(c * width))  # noqa: E731
        self.feature_blocks = tuple(feature_blocks)
        self.stem = ConvBN(3, scaled(32), 3, 2)
        blocks, channels = [], scaled(32)
        for out, stride in MOBILENET_BLOCKS:
            blocks.append(DepthwiseSeparable(channels, scaled(out), stride))
            channels = scaled(out)
        self.blocks = nn.LayerList(blocks)
        extras = []
        for mid, out in EXTRA_BLOCKS[:num_extras]:
            extras.append(nn.Sequential(ConvBN(channels, scaled(mid), 1, 1, act=extra_act),
                                        ConvBN(scaled(mid), scaled(out), 3, 2, act=extra_act)))
            channels = scaled(out)
        self.extras = nn.LayerList(extras)
        self.out_channels = ([scaled(MOBILENET_BLOCKS[i - 1][0]) for i in self.feature_blocks]
                             + [scaled(o) for _, o in EXTRA_BLOCKS[:num_extras]])

    def forward(self, x):
        feats = []
        x = self.stem(x)
        for i, block in enumerate(self.blocks, 1):
            x = block(x)
            if i in self.feature_blocks:
                feats.append(x)
        for extra in self.extras:
            x = extra(x)
            feats.append(x)
        return feats


class SSD(nn.Layer):
    """forward(image) -> (box offsets [N, P, 4], class logits [N, P, C+1]) over all P priors, in the
    order of prior_box.priors_for(image height, width, ...). Class 0 is the background."""

    def __init__(self, num_classes=20, image_size=300, extra_act="relu6", head_kernel=1, width=1.0,
                 feature_blocks=FEATURE_BLOCKS, num_extras=len(EXTRA_BLOCKS), priors=None):
        super().__init__()
        self.num_classes, self.image_size = num_classes, image_size
        self.shape_args = {"feature_blocks": tuple(feature_blocks), "num_extras": num_extras}
        self.prior_config = priors or prior_box.SSD300
        self.backbone = MobileNetV1Features(extra_act, width, feature_blocks, num_extras)
        self.priors_per_cell = prior_box.priors_per_cell(self.prior_config)
        self.box_convs = nn.LayerList([nn.Conv2D(c, n * 4, head_kernel, padding=head_kernel // 2)
                                       for c, n in zip(self.backbone.out_channels, self.priors_per_cell)])
        self.score_convs = nn.LayerList([nn.Conv2D(c, n * (num_classes + 1), head_kernel, padding=head_kernel // 2)
                                         for c, n in zip(self.backbone.out_channels, self.priors_per_cell)])

    def forward(self, image):
        boxes, scores = [], []
        for feat, box_conv, score_conv in zip(self.backbone(image), self.box_convs, self.score_convs):
            boxes.append(box_conv(feat).transpose([0, 2, 3, 1]).reshape([0, -1, 4]))
            scores.append(score_conv(feat).transpose([0, 2, 3, 1]).reshape([0, -1, self.num_classes + 1]))
        return paddle.concat(boxes, axis=1), paddle.concat(scores, axis=1)

    @paddle.jit.not_to_static  # plain Python on shapes, also inside the export
    def feature_shapes(self, height, width):
        return feature_shapes(height, width, **self.shape_args)

    @paddle.jit.not_to_static
    def priors(self, height, width):
        """[P, 4] priors for an input of this size, in the order of forward's outputs."""
        return prior_box.priors_for(self.feature_shapes(height, width), height, width, self.image_size,
                                    self.prior_config)


def feature_shapes(height, width, feature_blocks=FEATURE_BLOCKS, num_extras=len(EXTRA_BLOCKS)):
    """(h, w) of the feature maps for an input of this size (conv arithmetic, no forward)."""
    shapes = []
    # the stem, the 13 backbone blocks, then each extra block's 1x1 (stride 1) and 3x3 (stride 2)
    for stride in [2] + [s for _, s in MOBILENET_BLOCKS] + [1, 2] * num_extras:
        height, width = (height - 1) // stride + 1, (width - 1) // stride + 1
        shapes.append((height, width))
    extras = [shapes[len(MOBILENET_BLOCKS) + 2 * k + 2] for k in range(num_extras)]
    return [shapes[i] for i in feature_blocks] + extras
