"""Fast-SCNN (Poudel et al., 2019, https://arxiv.org/abs/1902.04502): learning-to-downsample (to 1/8),
a global feature extractor of inverted residual blocks down to 1/32 ending in a pyramid pooling module,
a feature fusion module that adds the upsampled global features to the 1/8 ones, and a light
classifier. An auxiliary head on the 1/8 features adds a deep-supervision loss (weight 0.4)."""
import paddle.nn as nn
import paddle.nn.functional as F

from .layers import AuxHead, ConvBN, PyramidPooling, SeparableConvBN, resize, spatial_size


class InvertedResidual(nn.Layer):
    """MobileNetV2's block: expand 1x1, depthwise 3x3 (strided), linear project 1x1; residual when shapes match."""

    def __init__(self, in_ch, out_ch, stride, expansion=6):
        super().__init__()
        mid = in_ch * expansion
        self.block = nn.Sequential(ConvBN(in_ch, mid, 1, bias=False),
                                   ConvBN(mid, mid, 3, stride, groups=mid, bias=False),
                                   ConvBN(mid, out_ch, 1, bias=False, act=False))
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class FastSCNN(nn.Layer):
    loss_weights = (1.0, 0.4)

    def __init__(self, num_classes):
        super().__init__()
        # The first conv pads "same" (one pixel, bottom/right only, on even sizes), as PaddleSeg's does.
        self.downsample = nn.Sequential(ConvBN(3, 32, 3, 2, padding="same"), SeparableConvBN(32, 48, 3, 2),
                                        SeparableConvBN(48, 64, 3, 2))
        blocks, in_ch = [], 64
        for out_ch, stride in ((64, 2), (96, 2), (128, 1)):
            for i in range(3):
                blocks.append(InvertedResidual(in_ch, out_ch, stride if i == 0 else 1))
                in_ch = out_ch
        # The global branch's PPM upsamples with align_corners=True, as the reference does.
        self.global_features = nn.Sequential(*blocks, PyramidPooling(128, 128, align_corners=True))
        self.fuse_low = nn.Sequential(ConvBN(128, 128, 3, groups=128, bias=False), ConvBN(128, 128, 1, act=False))
        self.fuse_high = ConvBN(64, 128, 1, act=False)
        self.classifier = nn.Sequential(SeparableConvBN(128, 128), SeparableConvBN(128, 128), nn.Dropout(0.1),
                                        nn.Conv2D(128, num_classes, 1))
        self.aux = AuxHead(64, 32, num_classes)

    def forward(self, x):
        size = spatial_size(x)
        high = self.downsample(x)
        low = resize(self.global_features(high), spatial_size(high))
        fused = F.relu(self.fuse_high(high) + self.fuse_low(low))
        logits = [self.classifier(fused)]
        if self.training:
            logits.append(self.aux(high))
        return [resize(logit, size) for logit in logits]
