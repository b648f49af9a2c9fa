"""DarkNet-53, the YOLOv3 backbone (https://arxiv.org/abs/1804.02767), as PaddleDetection builds it:
a 3x3 stem, then five stages of 1, 2, 8, 8, 4 residual blocks, each stage entered by a stride-2 3x3
convolution. Every convolution is bias-free, followed by BatchNorm and leaky ReLU (0.1). Returns the
feature maps of the last three stages (strides 8, 16, 32; 256, 512 and 1024 channels)."""
import paddle.nn as nn
import paddle.nn.functional as F


class ConvBN(nn.Layer):
    """A bias-free convolution, BatchNorm, then leaky ReLU (0.1), ReLU or nothing."""

    def __init__(self, ch_in, ch_out, kernel, stride=1, groups=1, act="leaky"):
        super().__init__()
        self.conv = nn.Conv2D(ch_in, ch_out, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups,
                              bias_attr=False)
        self.bn = nn.BatchNorm2D(ch_out)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act == "leaky":
            return F.leaky_relu(x, 0.1)
        return F.relu(x) if self.act == "relu" else x

class ResidualBlock(nn.Layer):
    """1x1 down to `channels`, 3x3 back up to 2*channels, plus the input."""

    def __init__(self, channels):
        super().__init__()
        self.reduce = ConvBN(2 * channels, channels, 1)
        self.expand = ConvBN(channels, 2 * channels, 3)

    def forward(self, x):
        return x + self.expand(self.reduce(x))

class DarkNet(nn.Layer):
    def __init__(self, stages=(1, 2, 8, 8, 4), return_idx=(2, 3, 4)):
        super().__init__()
        self.return_idx = return_idx
        self.stem = ConvBN(3, 32, 3)
        self.stages = nn.LayerList()
        for i, blocks in enumerate(stages):
            width = 32 * 2 ** i  # the blocks' bottleneck; the stage carries 2 * width channels
            self.stages.append(nn.Sequential(ConvBN(width, 2 * width, 3, stride=2),
                                             *[ResidualBlock(width) for _ in range(blocks)]))
        self.out_channels = [64 * 2 ** i for i in return_idx]

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.return_idx:
                outs.append(x)
        return outs

