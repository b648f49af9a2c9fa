"""StarGAN (Choi et al. 2018) shaped as the release's network/StarGAN_network.py: one generator that
takes the image and the TARGET attributes (as constant maps), a 7x7 conv, two 4x4 stride-2 convs,
`n_blocks` (6) residual blocks, two 4x4 stride-2 transposed convs and a 7x7 conv with tanh, instance
norm (affine) after every conv but the last, no conv bias; and a PatchGAN critic of `n_layers` (6)
4x4 stride-2 convs (widths df, 2df, ..., leaky ReLU 0.2, no bias, as the release) with two heads: a
3x3 conv giving one WGAN score per patch and a conv over the whole last map (kernel
image_size / 2**n_layers) giving the attribute logits.

Weights are drawn as the release's 'kaiming' option: uniform in +-1/sqrt(fan_in).
"""
import math

import paddle
import paddle.nn as nn


def uniform_attr(fan_in):
    bound = 1.0 / math.sqrt(fan_in)
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-bound, bound))


def conv(i, o, k, s=1, p=0, bias=False):
    return nn.Conv2D(i, o, k, s, p, weight_attr=uniform_attr(i * k * k), bias_attr=uniform_attr(i * k * k) if bias else False)


def deconv(i, o, k=4, s=2, p=1, bias=False):
    return nn.Conv2DTranspose(i, o, k, s, p, weight_attr=uniform_attr(o * k * k),
                              bias_attr=uniform_attr(o * k * k) if bias else False)


def with_maps(x, a):
    """x [N, C, H, W] and the attribute vector a [N, K] as K constant maps -> [N, C + K, H, W]."""
    return paddle.concat([x, a.unsqueeze([2, 3]).expand([a.shape[0], a.shape[1], x.shape[2], x.shape[3]])], 1)


class ResidualBlock(nn.Layer):
    def __init__(self, dim):
        super().__init__()
        self.body = nn.Sequential(conv(dim, dim, 3, 1, 1), nn.InstanceNorm2D(dim), nn.ReLU(),
                                  conv(dim, dim, 3, 1, 1), nn.InstanceNorm2D(dim))

    def forward(self, x):
        return x + self.body(x)


class StarGenerator(nn.Layer):
    """G(image, label_org, label_trg) -> the image with the target attributes (label_org unused: it is
    there so that the three attribute editors share one signature and one export)."""

    def __init__(self, gf_dim=64, c_dim=5, n_blocks=6):
        super().__init__()
        g = gf_dim
        layers = [conv(3 + c_dim, g, 7, 1, 3), nn.InstanceNorm2D(g), nn.ReLU()]
        for i in range(2):
            layers += [conv(g * 2 ** i, g * 2 ** (i + 1), 4, 2, 1), nn.InstanceNorm2D(g * 2 ** (i + 1)), nn.ReLU()]
        layers += [ResidualBlock(4 * g) for _ in range(n_blocks)]
        for i in range(2):
            layers += [deconv(g * 2 ** (2 - i), g * 2 ** (1 - i)), nn.InstanceNorm2D(g * 2 ** (1 - i)), nn.ReLU()]
        layers += [conv(g, 3, 7, 1, 3), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x, label_org, label_trg):
        # label_org * 0: a no-op that keeps label_org an input of the exported graph, so that the three editors
        # export one signature; paddle.jit.save refuses an input no output depends on ("not involved in the
        # target_vars calculation"; tests/test_editors.py exports StarGAN)
        return self.net(with_maps(x, label_trg + label_org * 0))


class StarDiscriminator(nn.Layer):
    """D(image) -> (WGAN scores [N, 1, h, w], attribute logits [N, c_dim])."""

    def __init__(self, df_dim=64, c_dim=5, n_layers=6, image_size=128):
        super().__init__()
        if image_size % 2 ** n_layers:
            raise ValueError(f"StarGAN: image_size {image_size} must be a multiple of 2**n_layers ({2 ** n_layers})")
        layers, dim = [conv(3, df_dim, 4, 2, 1), nn.LeakyReLU(0.2)], df_dim
        for _ in range(1, n_layers):
            layers += [conv(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.2)]
            dim *= 2
        self.body = nn.Sequential(*layers)
        self.src = conv(dim, 1, 3, 1, 1)
        self.cls = conv(dim, c_dim, image_size // 2 ** n_layers)

    def forward(self, x):
        h = self.body(x)
        return self.src(h), self.cls(h).reshape([h.shape[0], -1])


def stargan(gf_dim=64, df_dim=64, c_dim=5, n_blocks=6, n_layers=6, image_size=128, **_):
    return StarGenerator(gf_dim, c_dim, n_blocks), StarDiscriminator(df_dim, c_dim, n_layers, image_size)
