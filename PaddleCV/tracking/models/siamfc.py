"""SiamFC (Bertinetto et al. 2016, https://arxiv.org/abs/1606.09549): an AlexNet-style embedding shared
by the exemplar (127x127) and the search crop (255x255), their cross-correlation (a grouped
convolution, one group per pair) giving a 17x17 score map at a total stride of 8, and the release's
adjust layer (a fixed 0.001 scale and a learned bias). Channels are the release's 96-256-384-384-256
(no groups, BatchNorm after every convolution, no ReLU after the last); `width` scales them for the
demo (1.0 is the release's network).
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

CHANNELS = (96, 256, 384, 384, 256)


class AlexNetEmbedding(nn.Layer):
    """127 -> 6x6 and 255 -> 22x22 feature maps (stride 8)."""

    def __init__(self, width=1.0):
        super().__init__()
        c = [max(8, int(round(ch * width))) for ch in CHANNELS]
        kernels, strides = (11, 5, 3, 3, 3), (2, 1, 1, 1, 1)
        layers, cin = [], 3
        for i, (cout, k, s) in enumerate(zip(c, kernels, strides)):
            layers += [nn.Conv2D(cin, cout, k, stride=s, weight_attr=nn.initializer.KaimingNormal()),
                       nn.BatchNorm2D(cout)]
            if i < 4:
                layers.append(nn.ReLU())
            if i < 2:
                layers.append(nn.MaxPool2D(3, stride=2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.out_channels = c[-1]

    def forward(self, x):
        return self.features(x)


def xcorr(kernels, search):
    """Score maps [B, 1, h, w]: each search feature map [C, H, W] correlated with its own kernel."""
    b, c, h, w = search.shape
    out = F.conv2d(search.reshape([1, b * c, h, w]), kernels, groups=b)
    return out.reshape([b, 1, out.shape[2], out.shape[3]])


class SiamFC(nn.Layer):
    exemplar_size, search_size, score_size, total_stride = 127, 255, 17, 8

    def __init__(self, width=1.0):
        super().__init__()
        self.embedding = AlexNetEmbedding(width)
        # the release's adjust conv: weight fixed at 0.001 (not trained), bias learned
        self.adjust_weight = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.001))
        self.adjust_weight.stop_gradient = True
        self.adjust_bias = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

    def adjust(self):
        """(scale, bias) of the adjust layer as floats: what the tracker applies to the correlation."""
        return float(self.adjust_weight.numpy()[0]), float(self.adjust_bias.numpy()[0])

    def forward(self, exemplar, search):
        return xcorr(self.embedding(exemplar), self.embedding(search)) * self.adjust_weight + self.adjust_bias

    def loss(self, batch):
        exemplar, search, label, weight = batch
        score = self(exemplar, search).squeeze(1)
        return (F.binary_cross_entropy_with_logits(score, label, reduction="none") * weight).sum() / score.shape[0]
