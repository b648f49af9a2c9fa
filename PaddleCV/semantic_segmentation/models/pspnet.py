"""PSPNet (Zhao et al., 2017, https://arxiv.org/abs/1612.01105): a dilated ResNet (output stride 8),
the pyramid pooling module with bins 1, 2, 3, 6, and an auxiliary FCN head on stage 3 whose loss
(weight 0.4) deep-supervises the backbone."""
import paddle.nn as nn

from .layers import AuxHead, PyramidPooling, resize, spatial_size
from .resnet import ResNet


class PSPNet(nn.Layer):
    loss_weights = (1.0, 0.4)

    def __init__(self, num_classes, depth=50, pp_channels=1024, bins=(1, 2, 3, 6)):
        super().__init__()
        self.backbone = ResNet(depth, output_stride=8)
        c3, c4 = self.backbone.feat_channels[2:]
        self.ppm = PyramidPooling(c4, pp_channels, bins)
        self.dropout = nn.Dropout(0.1)
        self.cls = nn.Conv2D(pp_channels, num_classes, 1)
        self.aux = AuxHead(c3, c3 // 4, num_classes)

    def forward(self, x):
        size = spatial_size(x)
        feats = self.backbone(x)
        logits = [self.cls(self.dropout(self.ppm(feats[3])))]
        if self.training:
            logits.append(self.aux(feats[2]))
        return [resize(logit, size) for logit in logits]
