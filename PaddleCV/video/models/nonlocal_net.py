"""Non-local neural networks (Wang et al. 2018) as the release configures them (configs/nonlocal.yaml):
a ResNet50 on clips of 8 frames taken 8 apart, with 3D convolutions and 5 non-local blocks, after every
second residual block of res3 (2 blocks) and res4 (3 blocks).

The release's `video_arc_choice: 1` is the C2D variant: every kernel is 1 frame deep (a 2D ResNet50 run as
3D), the frames meet only in the non-local blocks, a 2x temporal max pool after res2 and the final average.
`--video_arc i3d` (the release's choice 2) inflates conv1 to 5x7x7 and the first 1x1 of alternate residual
blocks to 3x1x1 (res2: all, res3 and res4: every other, res5: the middle one), as I3D.

Non-local block (embedded Gaussian): theta, phi, g = 1x1x1 convolutions (bias) to C/2 channels, phi and g
after a 1x2x2 spatial max pool; softmax(theta^T phi / sqrt(C/2)) g; a 1x1x1 convolution back to C and
BatchNorm (gamma starting at 0, so the block starts as the identity) added to the input.

Input [B, T, 3, H, W], output logits [B, classes].
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

RELEASE = dict(depths=(3, 4, 6, 3), widths=(64, 128, 256, 512))
DEMO = dict(depths=(1, 2, 2, 1), widths=(8, 16, 32, 64))
TEMP_CONVS = {"c2d": ([0], [0, 0, 0], [0, 0, 0, 0], [0] * 6, [0, 0, 0]),
              "i3d": ([2], [1, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 1, 0])}
NONLOCAL_STAGES = (1, 2)  # res3, res4
NONLOCAL_MOD = 2          # after blocks 1, 3, 5, ... of those stages


class Conv3DBN(nn.Sequential):
    def __init__(self, cin, cout, kernel, stride, padding, act=True, zero_gamma=False):
        bn = nn.BatchNorm3D(cout, weight_attr=nn.initializer.Constant(0.0) if zero_gamma else None)
        layers = [nn.Conv3D(cin, cout, kernel, stride, padding, bias_attr=False), bn]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Bottleneck3D(nn.Layer):
    def __init__(self, cin, width, stride, temp_conv):
        super().__init__()
        cout = width * 4
        k = 1 + 2 * temp_conv
        self.branch = nn.Sequential(Conv3DBN(cin, width, (k, 1, 1), 1, (temp_conv, 0, 0)),
                                    Conv3DBN(width, width, (1, 3, 3), (1, stride, stride), (0, 1, 1)),
                                    Conv3DBN(width, cout, 1, 1, 0, act=False))
        self.short = Conv3DBN(cin, cout, 1, (1, stride, stride), 0, act=False) \
            if (cin != cout or stride != 1) else None

    def forward(self, x):
        return F.relu(self.branch(x) + (self.short(x) if self.short is not None else x))


class NonLocalBlock(nn.Layer):
    def __init__(self, dim):
        super().__init__()
        inner = dim // 2
        self.inner = inner
        self.theta, self.phi, self.g = (nn.Conv3D(dim, inner, 1) for _ in range(3))
        self.out = nn.Conv3D(inner, dim, 1)
        self.bn = nn.BatchNorm3D(dim, weight_attr=nn.initializer.Constant(0.0))

    def forward(self, x):
        b, c, t, h, w = x.shape
        pooled = F.max_pool3d(x, (1, 2, 2), (1, 2, 2))
        theta = self.theta(x).flatten(2)                       # [B, C', THW]
        phi = self.phi(pooled).flatten(2)                      # [B, C', THW/4]
        g = self.g(pooled).flatten(2)
        attention = F.softmax(paddle.matmul(theta, phi, transpose_x=True) * self.inner ** -0.5, axis=-1)
        y = paddle.matmul(g, attention, transpose_y=True)      # [B, C', THW]
        y = y.reshape([-1, self.inner, t, h, w])
        return x + self.bn(self.out(y))


class NonLocal(nn.Layer):
    def __init__(self, num_classes, size="release", dropout=0.5, arc="c2d"):
        super().__init__()
        cfg = RELEASE if size == "release" else DEMO
        temp = TEMP_CONVS[arc]
        stem = cfg["widths"][0]
        k0 = temp[0][0]
        self.stem = nn.Sequential(Conv3DBN(3, stem, (1 + 2 * k0, 7, 7), (1, 2, 2), (k0, 3, 3)),
                                  nn.MaxPool3D((1, 3, 3), (1, 2, 2), (0, 1, 1)))
        stages, cin = [], stem
        for i, (depth, width) in enumerate(zip(cfg["depths"], cfg["widths"])):
            blocks = []
            for j in range(depth):
                use_temp = temp[i + 1][j] if j < len(temp[i + 1]) else 0
                blocks.append(Bottleneck3D(cin, width, 2 if (j == 0 and i > 0) else 1, use_temp))
                cin = width * 4
                if i in NONLOCAL_STAGES and j % NONLOCAL_MOD == NONLOCAL_MOD - 1:
                    blocks.append(NonLocalBlock(cin))
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.LayerList(stages)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(cin, num_classes, weight_attr=nn.initializer.Normal(0.0, 0.01))

    def forward(self, x):
        x = self.stem(x.transpose([0, 2, 1, 3, 4]))            # [B, 3, T, H, W]
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == 0:
                x = F.max_pool3d(x, (2, 1, 1), (2, 1, 1))      # the release's pool2: halve the frames
        x = F.adaptive_avg_pool3d(x, 1).flatten(1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)
