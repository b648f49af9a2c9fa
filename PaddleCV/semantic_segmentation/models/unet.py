"""U-Net (Ronneberger et al., 2015, https://arxiv.org/abs/1505.04597): a four-level encoder of double
3x3 conv blocks with max-pooling, and a decoder that upsamples (bilinear), concatenates the encoder
feature of the same resolution (skip connection) and applies a double conv block. Widths 64-512 with
BN, as PaddleSeg's Cityscapes recipe."""
import paddle
import paddle.nn as nn

from .layers import ConvBN, resize, spatial_size


def double_conv(in_ch, out_ch):
    return nn.Sequential(ConvBN(in_ch, out_ch, 3), ConvBN(out_ch, out_ch, 3))


class UNet(nn.Layer):
    loss_weights = (1.0,)

    def __init__(self, num_classes):
        super().__init__()
        self.inc = double_conv(3, 64)
        self.down = nn.LayerList([nn.Sequential(nn.MaxPool2D(2, 2), double_conv(i, o))
                                  for i, o in ((64, 128), (128, 256), (256, 512), (512, 512))])
        self.up = nn.LayerList([double_conv(2 * i, o) for i, o in ((512, 256), (256, 128), (128, 64), (64, 64))])
        self.cls = nn.Conv2D(64, num_classes, 3, padding=1)

    def forward(self, x):
        skips = []
        x = self.inc(x)
        for down in self.down:
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.up, reversed(skips)):
            # Upsample to the skip's exact size, so inputs not divisible by 16 work too.
            x = up(paddle.concat([resize(x, spatial_size(skip)), skip], axis=1))
        return [self.cls(x)]
