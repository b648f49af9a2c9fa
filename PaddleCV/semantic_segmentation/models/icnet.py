"""ICNet (Zhao et al., 2018, https://arxiv.org/abs/1704.08545), in the configuration of PaddleSeg's
Cityscapes model (a half-width ResNet-50): three branches over the image at three resolutions.

- sub4 (1/32): the 1/2 image runs through the backbone up to the first block of stage 2 (1/16), is
  downsampled once more and runs through the remaining dilated stages, then pyramid pooling (summed).
- sub2 (1/16): the shared 1/16 feature, projected to 128 channels.
- sub1 (1/8): three light strided 3x3 convs over the full image.
Cascade feature fusion (CFF) upsamples the coarser branch, applies a dilated 3x3 conv and adds the
finer one. Cascade label guidance: each branch has its own classifier and loss (weights 1, 0.4, 0.16
for 1/4, 1/8 and 1/16), computed against the label downsampled to that branch's size."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .layers import ConvBN, resize, spatial_size
from .resnet import ResNet


@paddle.jit.not_to_static
def divided_size(size, divisor, ceil=True):
    """size / divisor rounded up (or down), for a list of ints or a traced shape alike."""
    extra = divisor - 1 if ceil else 0
    if isinstance(size, (list, tuple)):
        return [(s + extra) // divisor for s in size]
    return (size + extra) // divisor


class CascadeFeatureFusion(nn.Layer):
    """The coarse branch, already upsampled to the fine one's size, through a dilated 3x3 conv + BN,
    added to the fine branch (projected to 128 channels + BN beforehand), then ReLU."""

    def __init__(self, coarse_ch, out_ch=128):
        super().__init__()
        self.conv = ConvBN(coarse_ch, out_ch, 3, dilation=2, bias=False, act=False)

    def forward(self, coarse, fine):
        return F.relu(self.conv(resize(coarse, spatial_size(fine))) + fine)


class ICNet(nn.Layer):
    loss_weights = (1.0, 0.4, 0.16)
    label_guidance = True  # the loss downsamples the label to each output instead of upsampling the output

    def __init__(self, num_classes, bins=(1, 2, 3, 6)):
        super().__init__()
        self.backbone = ResNet(50, output_stride=8, width_scale=0.5, vd=False)
        c2, c4 = self.backbone.feat_channels[1], self.backbone.feat_channels[3]
        self.bins = bins
        self.sub4_reduce = ConvBN(c4, 256, 1, bias=False)
        self.sub2_proj = ConvBN(c2, 128, 1, bias=False, act=False)
        self.sub1 = nn.Sequential(ConvBN(3, 32, 3, 2, bias=False), ConvBN(32, 32, 3, 2, bias=False),
                                  ConvBN(32, 64, 3, 2, bias=False), ConvBN(64, 128, 1, bias=False, act=False))
        self.cff24 = CascadeFeatureFusion(256)
        self.cff124 = CascadeFeatureFusion(128)
        self.cls124 = nn.Conv2D(128, num_classes, 1)
        self.cls24 = nn.Conv2D(128, num_classes, 1)
        self.cls4 = nn.Conv2D(256, num_classes, 1)

    def pyramid_sum(self, x):
        size = spatial_size(x)
        return x + sum(resize(F.adaptive_avg_pool2d(x, b), size) for b in self.bins)

    def forward(self, x):
        size = spatial_size(x)
        half = resize(x, divided_size(size, 2))
        bb = self.backbone
        feat2 = bb.stages[1][0](bb.stages[0](bb.stem(half)))          # 1/16 of the input
        y = resize(feat2, divided_size(spatial_size(feat2), 2))        # on to 1/32
        for block in list(bb.stages[1])[1:]:
            y = block(y)
        y = bb.stages[3](bb.stages[2](y))
        sub2 = self.sub2_proj(feat2)
        sub4 = resize(self.sub4_reduce(self.pyramid_sum(y)), spatial_size(sub2))  # 1/32 -> 1/16
        sub1 = self.sub1(x)
        sub24 = resize(self.cff24(sub4, sub2), spatial_size(sub1))                 # 1/16 -> 1/8
        sub124 = resize(self.cff124(sub24, sub1), divided_size(size, 4, ceil=False))  # 1/8 -> 1/4
        logit124 = self.cls124(sub124)
        if not self.training:
            return [resize(logit124, size)]
        return [logit124, self.cls24(sub24), self.cls4(sub4)]
