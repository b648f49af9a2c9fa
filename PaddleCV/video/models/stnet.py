"""StNet (He et al. 2019), the release's configuration: each of seg_num segments gives a "super-image" of
seglen consecutive frames stacked on the channels (7 segments x 5 frames: 15 input channels); a 2D ResNet50
runs on each; temporal modelling blocks (a 3x1x1 3D convolution over the segments with ReLU, BatchNorm and a
residual connection) follow res3 and res4; after global pooling a temporal Xception block (depthwise 3-tap
convolutions over the segments and 1x1 convolutions, 2048 -> 1024 channels) and a max over the segments
feed the classifier. Every convolution outside the ResNet trunk has a bias, as the release's.

Input [B, seg_num * seglen, 3, H, W] (frames of one segment consecutive), output logits [B, classes].
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from models.tsn import ResNet, resnet_config


class TemporalBlock(nn.Layer):
    """[B*seg, C, H, W] -> same: x + BN(ReLU(Conv3D_3x1x1(x over the segments)))."""

    def __init__(self, channels):
        super().__init__()
        self.seg_num = 1
        self.conv = nn.Conv3D(channels, channels, (3, 1, 1), padding=(1, 0, 0))
        self.bn = nn.BatchNorm3D(channels)

    def forward(self, x):
        _, c, h, w = x.shape
        y = x.reshape([-1, self.seg_num, c, h, w]).transpose([0, 2, 1, 3, 4])
        y = y + self.bn(F.relu(self.conv(y)))
        return y.transpose([0, 2, 1, 3, 4]).reshape([-1, c, h, w])


class TemporalXception(nn.Layer):
    """[B, C, seg, 1] -> [B, out, seg, 1]: BN, then (depthwise 3x1 -> 1x1 -> BN+ReLU -> depthwise 3x1 -> 1x1)
    plus a 1x1 shortcut, BN, ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.bn_in = nn.BatchNorm2D(cin)
        self.dw1 = nn.Conv2D(cin, cin, (3, 1), padding=(1, 0), groups=cin)
        self.pw1 = nn.Conv2D(cin, cout, 1)
        self.bn_mid = nn.BatchNorm2D(cout)
        self.dw2 = nn.Conv2D(cout, cout, (3, 1), padding=(1, 0), groups=cout)
        self.pw2 = nn.Conv2D(cout, cout, 1)
        self.short = nn.Conv2D(cin, cout, 1)
        self.bn_out = nn.BatchNorm2D(cout)

    def forward(self, x):
        x = self.bn_in(x)
        y = F.relu(self.bn_mid(self.pw1(self.dw1(x))))
        y = self.pw2(self.dw2(y))
        return F.relu(self.bn_out(y + self.short(x)))


class StNet(nn.Layer):
    def __init__(self, num_classes, seg_num, seglen, size="release", layers=50):
        super().__init__()
        self.seg_num, self.seglen = seg_num, seglen
        depths, widths = resnet_config(size, layers)
        self.temporal = nn.LayerList([TemporalBlock(widths[1] * 4), TemporalBlock(widths[2] * 4)])
        self.backbone = ResNet(depths, widths, in_channels=3 * seglen,
                               after_stage=[None, self.temporal[0], self.temporal[1], None])
        dim = self.backbone.out_channels
        self.xception = TemporalXception(dim, dim // 2)
        bound = 1.0 / dim ** 0.5
        self.fc = nn.Linear(dim // 2, num_classes, weight_attr=nn.initializer.Uniform(-bound, bound))

    def forward(self, x):
        t, c, h, w = x.shape[1:]
        seg = t // self.seglen
        for block in self.temporal:
            block.seg_num = seg
        y = self.backbone(x.reshape([-1, self.seglen * c, h, w]))        # super-images [B*seg, 3*seglen, H, W]
        y = F.adaptive_avg_pool2d(y, 1).reshape([-1, seg, y.shape[1]])    # [B, seg, C]
        y = self.xception(y.transpose([0, 2, 1]).unsqueeze(-1))           # [B, C/2, seg, 1]
        return self.fc(y.max(axis=2).flatten(1))
