"""CycleGAN (Zhu et al. 2017) shaped as the release's network/CycleGAN_network.py defaults
(resnet_9block generators, basic discriminators, batch norm): two generators A->B and B->A (7x7
conv, two 3x3 stride-2 convs, `n_blocks` residual blocks of two 3x3 convs with reflection padding,
two 3x3 stride-2 transposed convs, 7x7 conv with bias and tanh), and two 70x70 PatchGANs on single
images. Convolutions carry no bias except the generators' last and the discriminators' first and last.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .mnist_gan import _normal, bn2d
from .pix2pix import PatchDiscriminator, conv


class ResBlock(nn.Layer):
    def __init__(self, dim):
        super().__init__()
        self.body = nn.Sequential(nn.Pad2D(1, mode="reflect"), conv(dim, dim, 3, 1, 0), bn2d(dim), nn.ReLU(),
                                  nn.Pad2D(1, mode="reflect"), conv(dim, dim, 3, 1, 0), bn2d(dim))

    def forward(self, x):
        return x + self.body(x)


def up(i, o):
    return nn.Conv2DTranspose(i, o, 3, 2, 1, output_padding=1, weight_attr=_normal(), bias_attr=False)


class ResnetGenerator(nn.Layer):
    def __init__(self, gf_dim=64, n_blocks=9, channels=3):
        super().__init__()
        g = gf_dim
        self.net = nn.Sequential(
            nn.Pad2D(3, mode="reflect"), conv(channels, g, 7, 1, 0), bn2d(g), nn.ReLU(),
            conv(g, 2 * g, 3, 2, 1), bn2d(2 * g), nn.ReLU(), conv(2 * g, 4 * g, 3, 2, 1), bn2d(4 * g), nn.ReLU(),
            *[ResBlock(4 * g) for _ in range(n_blocks)],
            up(4 * g, 2 * g), bn2d(2 * g), nn.ReLU(), up(2 * g, g), bn2d(g), nn.ReLU(),
            nn.Pad2D(3, mode="reflect"), conv(g, channels, 7, 1, 0, bias=True), nn.Tanh())

    def forward(self, x):
        return self.net(x)


class CycleGenerators(nn.Layer):
    """G_AB and G_BA; called, it translates A -> B (what is exported)."""

    def __init__(self, gf_dim=64, n_blocks=9):
        super().__init__()
        self.AB, self.BA = ResnetGenerator(gf_dim, n_blocks), ResnetGenerator(gf_dim, n_blocks)

    def forward(self, x):
        return self.AB(x)


class CycleDiscriminators(nn.Layer):
    def __init__(self, df_dim=64):
        super().__init__()
        self.A, self.B = PatchDiscriminator(df_dim, channels=3), PatchDiscriminator(df_dim, channels=3)


def cyclegan(gf_dim=64, df_dim=64, n_blocks=9, **_):
    return CycleGenerators(gf_dim, n_blocks), CycleDiscriminators(df_dim)
