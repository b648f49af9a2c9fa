"""DeepLabv3+ (Chen et al., 2018, https://arxiv.org/abs/1802.02611): ASPP (a 1x1 branch, three atrous
separable branches and image pooling) on an Xception-65 (output stride 16, rates 6/12/18) or a
dilated ResNet-50 (output stride 8, rates doubled to 12/24/36), and a decoder that fuses the upsampled
ASPP output with 48 channels of stride-4 low-level features."""
import paddle
import paddle.nn as nn

from .layers import ConvBN, SeparableConvBN, resize, spatial_size
from .resnet import ResNet
from .xception import Xception65


class ASPP(nn.Layer):
    def __init__(self, in_ch, out_ch=256, rates=(6, 12, 18)):
        super().__init__()
        self.branches = nn.LayerList([ConvBN(in_ch, out_ch, 1)] +
                                     [SeparableConvBN(in_ch, out_ch, 3, dilation=r) for r in rates])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2D(1), ConvBN(in_ch, out_ch, 1, bias=False))
        self.project = ConvBN(out_ch * (len(rates) + 2), out_ch, 1)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x):
        size = spatial_size(x)
        outs = [branch(x) for branch in self.branches] + [resize(self.image_pool(x), size)]
        return self.dropout(self.project(paddle.concat(outs, axis=1)))


class Decoder(nn.Layer):
    def __init__(self, low_ch, num_classes, aspp_ch=256):
        super().__init__()
        self.low = ConvBN(low_ch, 48, 1)
        self.fuse = nn.Sequential(SeparableConvBN(aspp_ch + 48, 256), SeparableConvBN(256, 256))
        self.cls = nn.Conv2D(256, num_classes, 1)

    def forward(self, x, low):
        low = self.low(low)
        x = resize(x, spatial_size(low))
        return self.cls(self.fuse(paddle.concat([x, low], axis=1)))


class DeepLabV3Plus(nn.Layer):
    loss_weights = (1.0,)

    def __init__(self, num_classes, backbone="xception65"):
        super().__init__()
        if backbone == "xception65":
            self.backbone, rates, self.low_index = Xception65(), (6, 12, 18), 0
        else:  # resnet50, as PaddleSeg's Cityscapes recipe: output stride 8 and multi-grid (1, 2, 4)
            self.backbone, rates, self.low_index = ResNet(50, 8, multi_grid=(1, 2, 4)), (12, 24, 36), 0
        chans = self.backbone.feat_channels
        self.aspp = ASPP(chans[-1], 256, rates)
        self.decoder = Decoder(chans[self.low_index], num_classes)

    def forward(self, x):
        size = spatial_size(x)
        feats = self.backbone(x)
        return [resize(self.decoder(self.aspp(feats[-1]), feats[self.low_index]), size)]
