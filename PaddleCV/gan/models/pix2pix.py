"""Pix2Pix (Isola et al. 2017) shaped as the release's Pix2pix_network.py with its defaults (unet_256,
basic discriminator, batch norm): a U-Net generator of `num_downs` 4x4 stride-2 halvings (8 for 256x256
images; widths gf, 2gf, 4gf, then 8gf down to the bottleneck) with skip connections, and the 70x70
PatchGAN discriminator (three 4x4 stride-2 convolutions, one stride-1, then a one-channel 4x4 map of
logits) that sees the input and the output image concatenated (6 channels).

Convolutions carry no bias except the discriminator's first and last (as in the release, where the
bias goes where there is no batch norm after it); weights N(0, 0.02), batch-norm scales N(1, 0.02).
No dropout: the release's U-Net never passes its dropout flag below the outermost block.
"""
import paddle
import paddle.nn as nn

from .mnist_gan import _normal, bn2d


def conv(i, o, k=4, s=2, p=1, bias=False):
    bias_attr = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)) if bias else False
    return nn.Conv2D(i, o, k, s, p, weight_attr=_normal(), bias_attr=bias_attr)


def deconv(i, o):
    return nn.Conv2DTranspose(i, o, 4, 2, 1, weight_attr=_normal(), bias_attr=False)


class UNetBlock(nn.Layer):
    """x -> [x, up(inner(down(x)))]: one level of the U-Net; the outermost level returns up(...) alone."""

    def __init__(self, outer, inner, sub=None, in_channels=None, outermost=False):
        super().__init__()
        self.outermost = outermost
        down = [conv(in_channels or outer, inner)]
        if outermost:
            up = [nn.ReLU(), deconv(inner * 2, outer), nn.Tanh()]
        elif sub is None:  # innermost: no norm on the way down
            down = [nn.LeakyReLU(0.2)] + down
            up = [nn.ReLU(), deconv(inner, outer), bn2d(outer)]
        else:
            down = [nn.LeakyReLU(0.2)] + down + [bn2d(inner)]
            up = [nn.ReLU(), deconv(inner * 2, outer), bn2d(outer)]
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x):
        y = self.model(x)
        return y if self.outermost else paddle.concat([x, y], 1)


class UNetGenerator(nn.Layer):
    def __init__(self, gf_dim=64, num_downs=8, channels=3):
        super().__init__()
        assert num_downs >= 5, "the U-Net needs at least 5 levels (gf, 2gf, 4gf, 8gf, bottleneck)"
        block = UNetBlock(gf_dim * 8, gf_dim * 8)  # innermost
        for _ in range(num_downs - 5):
            block = UNetBlock(gf_dim * 8, gf_dim * 8, block)
        for mult in (4, 2, 1):
            block = UNetBlock(gf_dim * mult, gf_dim * mult * 2, block)
        self.net = UNetBlock(channels, gf_dim, block, in_channels=channels, outermost=True)

    def forward(self, x):
        return self.net(x)


class PatchDiscriminator(nn.Layer):
    """Logits [N, 1, h, w], one per 70x70 receptive field (at n_layers 3)."""

    def __init__(self, df_dim=64, n_layers=3, channels=6):
        super().__init__()
        layers = [conv(channels, df_dim, bias=True), nn.LeakyReLU(0.2)]
        dims = df_dim
        for _ in range(n_layers - 1):
            layers += [conv(dims, dims * 2), bn2d(dims * 2), nn.LeakyReLU(0.2)]
            dims *= 2
        last = df_dim * min(2 ** n_layers, 8)
        layers += [conv(dims, last, s=1), bn2d(last), nn.LeakyReLU(0.2), conv(last, 1, s=1, bias=True)]
        self.net = nn.Sequential(*layers)

    def forward(self, *images):
        return self.net(paddle.concat(images, 1) if len(images) > 1 else images[0])


def pix2pix(gf_dim=64, df_dim=64, num_downs=8, **_):
    return UNetGenerator(gf_dim, num_downs), PatchDiscriminator(df_dim)
