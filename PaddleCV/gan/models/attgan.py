"""AttGAN (He et al. 2019) and STGAN (Liu et al. 2019), shaped as the release's network/AttGAN_network.py
and STGAN_network.py (n_layers 5, widths 64 doubling to at most 1024, 128x128 images).

AttGAN: an encoder of `n_layers` 4x4 stride-2 convs (batch norm, leaky ReLU 0.01, no bias) and a
decoder of as many 4x4 stride-2 transposed convs (batch norm, ReLU; the last with bias and tanh) that
takes the encoding with the attributes as constant maps; one shortcut (the encoder's second-deepest
map) and one more injection of the attributes after the first decoder layer. Its discriminator: 5
4x4 stride-2 convs with bias, no norm, leaky ReLU 0.01, then two heads of two linear layers (fc_dim
1024, ReLU): the WGAN score and the attribute logits.

STGAN: the same encoder (leaky ReLU 0.2), a stack of `n_layers - 1` selective transfer units (a
convolutional GRU that runs from the deepest map upwards, its state the previous unit's reset
state with the attributes appended: each unit upsamples the state with a 4x4 stride-2 transposed
conv, then reset and update gates and the new content are 3x3 convs with bias), and the decoder
with all `n_layers - 1` shortcuts taken from the units' outputs and the attributes injected at
every level. STGAN is fed the DIFFERENCE attribute vector (target - source); its discriminator is
AttGAN's with instance norm instead of conv bias and leaky ReLU 0.2 throughout (the release's
run_stgan.sh: --dis_norm instance_norm), except at levels whose map is smaller than 4x4 (conv bias
there, no norm: MIN_NORM_SIDE).

Both generators take 0/1 attributes and map them to (2a - 1) * thres_int (0.5) inside, as the
release's trainers do before feeding them.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .stargan import conv, deconv, uniform_attr, with_maps

MAX_DIM = 64 * 16
THRES_INT = 0.5
# STGAN's critic instance-normalises only maps of at least 4x4. On a 2x2 map (the last level at the
# demo's 32x32 with 4 levels) the norm standardises 4 values per channel, so small changes of the image
# swing its output: the generator learnt to fool the critic's attribute head with a checkerboard that
# the scoring classifier does not read as an edit (README, STGAN). At the release's 128x128 with 5
# levels every map is 4x4 or larger, so its critic is unchanged.
MIN_NORM_SIDE = 4


def linear(i, o):
    return nn.Linear(i, o, weight_attr=uniform_attr(i), bias_attr=uniform_attr(i))


def width(dim, i):
    return min(dim * 2 ** i, MAX_DIM)


class LeakyReLU(nn.Layer):
    """max(x, slope * x): leaky ReLU written out, because Paddle Inference's oneDNN pass that fuses a conv
    with nn.LeakyReLU crashes (segfault) while building the predictor of the exported encoder."""

    def __init__(self, slope):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return paddle.maximum(x, x * self.slope)


class Encoder(nn.Layer):
    def __init__(self, gf_dim, n_layers, slope):
        super().__init__()
        self.blocks = nn.LayerList()
        c = 3
        for i in range(n_layers):
            d = width(gf_dim, i)
            self.blocks.append(nn.Sequential(conv(c, d, 4, 2, 1), nn.BatchNorm2D(d), LeakyReLU(slope)))
            c = d

    def forward(self, x):
        zs = []
        for block in self.blocks:
            x = block(x)
            zs.append(x)
        return zs


class Decoder(nn.Layer):
    """zs (the encoder's maps, deepest last) and attributes a [N, c] -> image; `shortcuts` levels take
    a skip connection, `injects` levels get a again."""

    def __init__(self, gf_dim, n_layers, c_dim, shortcuts, injects):
        super().__init__()
        self.n, self.shortcuts, self.injects = n_layers, shortcuts, injects
        self.ups = nn.LayerList()
        c = width(gf_dim, n_layers - 1) + c_dim
        for i in range(n_layers - 1):
            d = width(gf_dim, n_layers - 1 - i)
            self.ups.append(nn.Sequential(deconv(c, d), nn.BatchNorm2D(d), nn.ReLU()))
            c = d + (width(gf_dim, n_layers - 2 - i) if i < shortcuts else 0) + (c_dim if i < injects else 0)
        self.ups.append(nn.Sequential(deconv(c, 3, bias=True), nn.Tanh()))

    def forward(self, zs, a):
        z = with_maps(zs[-1], a)
        for i, up in enumerate(self.ups):
            z = up(z)
            if i < self.n - 1:
                if i < self.shortcuts:
                    z = paddle.concat([z, zs[self.n - 2 - i]], 1)
                if i < self.injects:
                    z = with_maps(z, a)
        return z


def scaled(a):
    return (a * 2.0 - 1.0) * THRES_INT


class AttGenerator(nn.Layer):
    """G(image, label_org, label_trg) -> the image with the target attributes (0/1 vectors)."""

    def __init__(self, gf_dim=64, c_dim=13, n_layers=5):
        super().__init__()
        self.enc = Encoder(gf_dim, n_layers, 0.01)
        self.dec = Decoder(gf_dim, n_layers, c_dim, shortcuts=1, injects=1)

    def edit_and_rebuild(self, x, label_org, label_trg):
        """(edited, reconstructed) from one encoding, as the trainer needs them."""
        zs = self.enc(x)
        return self.dec(zs, scaled(label_trg)), self.dec(zs, scaled(label_org))

    def forward(self, x, label_org, label_trg):
        # label_org * 0: a no-op that keeps label_org an input of the exported graph (an unused input is refused)
        return self.dec(self.enc(x), scaled(label_trg + label_org * 0))


class SelectiveTransferUnit(nn.Layer):
    """One STU: state [N, S, h/2, w/2] and the encoder map [N, C, h, w] -> (output, next state), both
    [N, D, h, w]; the next state is the reset-gated upsampled state (the release's 'lstate')."""

    def __init__(self, in_channels, state_channels, out_channels):
        super().__init__()
        self.up = deconv(state_channels, out_channels, bias=True)
        both = in_channels + out_channels
        self.reset = conv(both, out_channels, 3, 1, 1, bias=True)
        self.update = conv(both, out_channels, 3, 1, 1, bias=True)
        self.info = conv(both, out_channels, 3, 1, 1, bias=True)

    def forward(self, f, state):
        s = self.up(state)
        r = F.sigmoid(self.reset(paddle.concat([f, s], 1)))
        u = F.sigmoid(self.update(paddle.concat([f, s], 1)))
        left = r * s
        new = paddle.tanh(self.info(paddle.concat([f, left], 1)))
        return (1 - u) * s + u * new, left


class STGenerator(nn.Layer):
    """G(image, label_org, label_trg): encoder, STUs and decoder driven by label_trg - label_org."""

    def __init__(self, gf_dim=64, c_dim=13, n_layers=5):
        super().__init__()
        self.n = n_layers
        self.enc = Encoder(gf_dim, n_layers, 0.2)
        self.stus = nn.LayerList()
        state = width(gf_dim, n_layers - 1) + c_dim
        for i in range(n_layers - 1):
            d = width(gf_dim, n_layers - 2 - i)
            self.stus.append(SelectiveTransferUnit(d, state, d))
            state = d + c_dim
        self.dec = Decoder(gf_dim, n_layers, c_dim, shortcuts=n_layers - 1, injects=n_layers - 1)

    def transfer(self, zs, diff):
        outs, state = [zs[-1]], with_maps(zs[-1], diff)
        for i, stu in enumerate(self.stus):
            out, left = stu(zs[self.n - 2 - i], state)
            outs.insert(0, out)
            state = with_maps(left, diff)
        return outs

    def decode(self, zs, label_org, label_trg):
        diff = scaled(label_trg) - scaled(label_org)
        return self.dec(self.transfer(zs, diff), diff)

    def edit_and_rebuild(self, x, label_org, label_trg):
        zs = self.enc(x)
        return self.decode(zs, label_org, label_trg), self.decode(zs, label_org, label_org)

    def forward(self, x, label_org, label_trg):
        return self.decode(self.enc(x), label_org, label_trg)


class AttDiscriminator(nn.Layer):
    """D(image) -> (WGAN score [N, 1], attribute logits [N, c_dim]). AttGAN: conv bias, no norm,
    leaky ReLU 0.01, ReLU in the heads; STGAN (norm=True): instance norm (on maps of at least
    MIN_NORM_SIDE), leaky ReLU 0.2 everywhere."""

    def __init__(self, df_dim=64, c_dim=13, n_layers=5, image_size=128, dfc_dim=1024, norm=False):
        super().__init__()
        if image_size % 2 ** n_layers:
            raise ValueError(f"image_size {image_size} must be a multiple of 2**n_layers ({2 ** n_layers})")
        slope = 0.2 if norm else 0.01
        layers, c = [], 3
        for i in range(n_layers):
            d = width(df_dim, i)
            normed = norm and image_size // 2 ** (i + 1) >= MIN_NORM_SIDE
            layers += [conv(c, d, 4, 2, 1, bias=not normed)] + ([nn.InstanceNorm2D(d)] if normed else [])
            layers.append(nn.LeakyReLU(slope))
            c = d
        self.body = nn.Sequential(*layers)  # flattened by reshape: flatten has no double grad (the penalty needs it)
        flat = c * (image_size // 2 ** n_layers) ** 2
        act = nn.LeakyReLU(0.2) if norm else nn.ReLU()
        self.adv = nn.Sequential(linear(flat, dfc_dim), act, linear(dfc_dim, 1))
        self.att = nn.Sequential(linear(flat, dfc_dim), nn.LeakyReLU(0.2) if norm else nn.ReLU(), linear(dfc_dim, c_dim))

    def forward(self, x):
        h = self.body(x)
        h = h.reshape([h.shape[0], -1])
        return self.adv(h), self.att(h)


def attgan(gf_dim=64, df_dim=64, c_dim=13, n_layers=5, image_size=128, dfc_dim=1024, **_):
    return AttGenerator(gf_dim, c_dim, n_layers), AttDiscriminator(df_dim, c_dim, n_layers, image_size, dfc_dim)


def stgan(gf_dim=64, df_dim=64, c_dim=13, n_layers=5, image_size=128, dfc_dim=1024, **_):
    return STGenerator(gf_dim, c_dim, n_layers), AttDiscriminator(df_dim, c_dim, n_layers, image_size, dfc_dim, norm=True)
