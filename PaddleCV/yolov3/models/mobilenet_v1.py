"""MobileNetV1 (https://arxiv.org/abs/1704.04861) as the light YOLOv3 backbone, as PaddleDetection's
yolov3_mobilenet_v1 uses it: the stride-2 stem and 13 depthwise-separable blocks (BatchNorm, ReLU),
returning the outputs of blocks 4, 6 and 13 (strides 8, 16, 32; 256, 512 and 1024 channels at
scale 1). No classifier."""
import paddle.nn as nn

from models.darknet import ConvBN

# (output channels, stride) of the 13 depthwise-separable blocks
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class DepthwiseSeparable(nn.Sequential):
    def __init__(self, ch_in, ch_out, stride):
        super().__init__(ConvBN(ch_in, ch_in, 3, stride=stride, groups=ch_in, act="relu"),
                         ConvBN(ch_in, ch_out, 1, act="relu"))


class MobileNetV1(nn.Layer):
    def __init__(self, scale=1.0, feature_maps=(4, 6, 13)):
        super().__init__()
        self.feature_maps = feature_maps
        ch = int(32 * scale)
        self.stem = ConvBN(3, ch, 3, stride=2, act="relu")
        self.blocks = nn.LayerList()
        self.out_channels = []
        for i, (out, stride) in enumerate(BLOCKS, 1):
            out = int(out * scale)
            self.blocks.append(DepthwiseSeparable(ch, out, stride))
            ch = out
            if i in feature_maps:
                self.out_channels.append(out)

    def forward(self, x):
        x = self.stem(x)
        outs = []
        for i, block in enumerate(self.blocks, 1):
            x = block(x)
            if i in self.feature_maps:
                outs.append(x)
        return outs
