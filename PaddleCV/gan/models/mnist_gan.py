"""CGAN and DCGAN on 28x28 digits, shaped as in the release's CGAN_network.py / DCGAN_network.py:
fully connected layers up to a 7x7 map, two 4x4 stride-2 transposed convolutions to 28x28, tanh;
convolutions without bias, linear layers with bias, N(0, 0.02) initialisation.

Two deliberate differences from the release, both from the papers: CGAN conditions on the one-hot
class (the release fed the class index as one number), and DCGAN's two linear layers have a ReLU
after their batch norm (the release had none, which makes them one linear map). The discriminators
return logits; the loss applies the sigmoid the release put in the network.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

NUM_CLASSES = 10


def _normal(mean=0.0):
    return paddle.ParamAttr(initializer=nn.initializer.Normal(mean, 0.02))


def linear(i, o):
    return nn.Linear(i, o, weight_attr=_normal(), bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))


def conv(i, o, k, s, p=0):
    return nn.Conv2D(i, o, k, s, p, weight_attr=_normal(), bias_attr=False)


def deconv(i, o, k, s, p=0):
    return nn.Conv2DTranspose(i, o, k, s, p, weight_attr=_normal(), bias_attr=False)


def bn1d(c):
    return nn.BatchNorm1D(c, weight_attr=_normal(1.0))


def bn2d(c):
    return nn.BatchNorm2D(c, weight_attr=_normal(1.0))


def _with_maps(x, y):
    """Concatenate the one-hot class y [N, C] to x [N, K, H, W] as C constant maps."""
    return paddle.concat([x, y.unsqueeze([2, 3]).expand([y.shape[0], y.shape[1], x.shape[2], x.shape[3]])], 1)


class CGANGenerator(nn.Layer):
    def __init__(self, z_dim=100, gf_dim=128):
        super().__init__()
        self.gf_dim = gf_dim
        self.l1 = nn.Sequential(linear(z_dim + NUM_CLASSES, gf_dim * 8), bn1d(gf_dim * 8), nn.ReLU())
        self.l2 = nn.Sequential(linear(gf_dim * 8 + NUM_CLASSES, gf_dim * 49), bn1d(gf_dim * 49), nn.ReLU())
        self.dc1 = nn.Sequential(deconv(gf_dim + NUM_CLASSES, gf_dim, 4, 2, 1),
                                 bn2d(gf_dim), nn.ReLU())
        self.dc2 = deconv(gf_dim, 1, 4, 2, 1)

    def forward(self, z, label):
        y = F.one_hot(label, NUM_CLASSES)
        h = self.l1(paddle.concat([z, y], 1))
        h = self.l2(paddle.concat([h, y], 1)).reshape([-1, self.gf_dim, 7, 7])
        return paddle.tanh(self.dc2(self.dc1(_with_maps(h, y))))


class CGANDiscriminator(nn.Layer):
    def __init__(self, df_dim=64):
        super().__init__()
        self.c1 = conv(1 + NUM_CLASSES, df_dim, 3, 2)
        self.c2 = conv(df_dim + NUM_CLASSES, df_dim, 3, 2)
        self.bn2 = bn2d(df_dim)
        self.l3 = linear(df_dim * 36 + NUM_CLASSES, df_dim * 16)
        self.bn3 = bn1d(df_dim * 16)
        self.l4 = linear(df_dim * 16 + NUM_CLASSES, 1)

    def forward(self, x, label):
        y = F.one_hot(label, NUM_CLASSES)
        h = F.leaky_relu(self.c1(_with_maps(x, y)), 0.2)
        h = F.leaky_relu(self.bn2(self.c2(_with_maps(h, y))), 0.2).flatten(1)
        h = F.leaky_relu(self.bn3(self.l3(paddle.concat([h, y], 1))), 0.2)
        return self.l4(paddle.concat([h, y], 1)).squeeze(1)


class DCGANGenerator(nn.Layer):
    def __init__(self, z_dim=100, gf_dim=64, fc_dim=2048):
        super().__init__()
        self.gf_dim = gf_dim
        self.l1 = nn.Sequential(linear(z_dim, fc_dim), bn1d(fc_dim), nn.ReLU())
        self.l2 = nn.Sequential(linear(fc_dim, gf_dim * 2 * 49), bn1d(gf_dim * 2 * 49), nn.ReLU())
        self.dc1 = deconv(gf_dim * 2, gf_dim * 2, 4, 2, 1)
        self.dc2 = deconv(gf_dim * 2, 1, 4, 2, 1)

    def forward(self, z):
        h = self.l2(self.l1(z)).reshape([-1, self.gf_dim * 2, 7, 7])
        return paddle.tanh(self.dc2(F.relu(self.dc1(h))))


class DCGANDiscriminator(nn.Layer):
    def __init__(self, df_dim=64, fc_dim=1024):
        super().__init__()
        self.c1 = conv(1, df_dim, 4, 2, 1)
        self.c2 = conv(df_dim, df_dim * 2, 4, 2, 1)
        self.bn2 = bn2d(df_dim * 2)
        self.l1 = linear(df_dim * 2 * 49, fc_dim)
        self.bn3 = bn1d(fc_dim)
        self.l2 = linear(fc_dim, 1)

    def forward(self, x):
        h = F.leaky_relu(self.c1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.c2(h)), 0.2).flatten(1)
        return self.l2(F.leaky_relu(self.bn3(self.l1(h)), 0.2)).squeeze(1)


def cgan(z_dim=100, gf_dim=128, df_dim=64, **_):
    return CGANGenerator(z_dim, gf_dim), CGANDiscriminator(df_dim)


def dcgan(z_dim=100, gf_dim=64, df_dim=64, gfc_dim=2048, dfc_dim=1024, **_):
    return DCGANGenerator(z_dim, gf_dim, gfc_dim), DCGANDiscriminator(df_dim, dfc_dim)
