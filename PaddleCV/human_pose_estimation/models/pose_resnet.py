"""Pose-ResNet, the network of "Simple Baselines for Human Pose Estimation and Tracking" (Xiao, Wu
and Wei, ECCV 2018, https://arxiv.org/abs/1804.06208): a ResNet without its classifier, three
deconvolutions (4x4, stride 2, 256 channels, each + BatchNorm + ReLU) that take the stride-32 features
back to stride 4, and a 1x1 convolution to one heatmap per joint. A 256x192 input gives 64x48 heatmaps.

The backbone is the ResNet of He et al. (https://arxiv.org/abs/1512.03385) with the widths of
PaddleClas / torchvision, so its counts are theirs less the 1000-class head.
"""
from paddle import nn

DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ConvBN(nn.Sequential):
    """Conv without bias (BatchNorm's shift replaces it) + BatchNorm, optionally + ReLU."""

    def __init__(self, in_ch, out_ch, kernel, stride=1, act=True):
        layers = [nn.Conv2D(in_ch, out_ch, kernel, stride, (kernel - 1) // 2, bias_attr=False), nn.BatchNorm2D(out_ch)]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Block(nn.Layer):
    """A residual block: relu(body(x) + shortcut(x)); bottleneck (1x1, 3x3, 1x1, x4) or basic (3x3, 3x3)."""

    def __init__(self, in_ch, planes, stride, bottleneck):
        super().__init__()
        out_ch = planes * (4 if bottleneck else 1)
        if bottleneck:
            self.body = nn.Sequential(ConvBN(in_ch, planes, 1), ConvBN(planes, planes, 3, stride),
                                      ConvBN(planes, out_ch, 1, act=False))
        else:
            self.body = nn.Sequential(ConvBN(in_ch, planes, 3, stride), ConvBN(planes, out_ch, 3, act=False))
        self.shortcut = (ConvBN(in_ch, out_ch, 1, stride, act=False) if stride != 1 or in_ch != out_ch
                         else nn.Identity())
        self.relu = nn.ReLU()
        self.out_channels = out_ch

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class PoseResNet(nn.Layer):
    """depth: 18/34 (basic blocks) or 50/101/152 (bottlenecks); width: channels of the stem (64 in the
    published models); deconv_channels: 256 in the published models; num_joints: 17 for COCO, 16 MPII."""

    def __init__(self, depth=50, num_joints=17, width=64, deconv_channels=256, num_deconv=3):
        super().__init__()
        bottleneck = depth >= 50
        self.stem = nn.Sequential(ConvBN(3, width, 7, 2), nn.MaxPool2D(3, 2, 1))
        blocks, in_ch = [], width
        for stage, count in enumerate(DEPTHS[depth]):
            for i in range(count):
                block = Block(in_ch, width * 2 ** stage, 2 if stage > 0 and i == 0 else 1, bottleneck)
                blocks.append(block)
                in_ch = block.out_channels
        self.backbone = nn.Sequential(*blocks)
        deconvs = []
        for _ in range(num_deconv):
            deconvs += [nn.Conv2DTranspose(in_ch, deconv_channels, 4, stride=2, padding=1, bias_attr=False),
                        nn.BatchNorm2D(deconv_channels), nn.ReLU()]
            in_ch = deconv_channels
        self.deconv = nn.Sequential(*deconvs)
        self.head = nn.Conv2D(in_ch, num_joints, 1)
        self.num_joints = num_joints
        nn.initializer.Normal(std=0.001)(self.head.weight)  # as the release: small heatmaps at the start
        nn.initializer.Constant(0.0)(self.head.bias)
        for layer in self.deconv:
            if isinstance(layer, nn.Conv2DTranspose):
                nn.initializer.Normal(std=0.001)(layer.weight)

    def forward(self, image):
        """[N, 3, H, W] -> heatmaps [N, joints, H/4, W/4]."""
        return self.head(self.deconv(self.backbone(self.stem(image))))
