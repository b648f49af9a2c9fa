"""SPADE (Park et al. 2019, "Semantic Image Synthesis with Spatially-Adaptive Normalization") at the
paper's Cityscapes configuration: 35 label classes plus the instance edge map (36 input channels),
256x512 images, ngf 64, no VAE encoder.

Generator: the label map (one-hot, edge map appended) nearest-downsampled by 2**5, a 3x3 conv to 16 ngf
channels, then SPADE residual blocks head_0, G_middle_0, G_middle_1, up_0..up_3 (16, 16, 16, 8, 4, 2,
1 ngf) with a 2x nearest upsampling after head_0, G_middle_1, up_0, up_1 and up_2 (five in all: the
paper's "normal" setting), leaky ReLU 0.2, a 3x3 conv to RGB and tanh. Each block normalises with
SPADE: a parameter-free batch norm whose scale (1 + gamma) and shift beta come, per pixel, from two 3x3
convs over a shared 3x3 conv (128 channels, ReLU) of the label map resized to the block's size. The
block's convs carry spectral norm; a block that changes the width has a learned 1x1 shortcut (no bias).

Discriminator: two PatchGANs (the second on the input average-pooled by 2), each of 4 layers: a 4x4
stride-2 conv with bias, two 4x4 stride-2 and one stride-1 conv with spectral norm and parameter-free
instance norm (no bias), leaky ReLU 0.2, then a 4x4 conv to one logit per patch. It sees the label
input and the image concatenated, and returns every layer's output (feature matching reads them).

VGG19: the torchvision / paddle.vision layout of `features` (so paddle.vision's vgg19 weights load by
name), cut after relu5_1; the perceptual loss reads relu1_1 .. relu5_1.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class SNConv2D(nn.Layer):
    """A conv whose weight is divided by its largest singular value, estimated by one power iteration
    per training forward (Miyato et al. 2018); u and v are buffers, saved with the weights."""

    def __init__(self, i, o, k, s=1, p=0, bias=True):
        super().__init__()
        self.conv = nn.Conv2D(i, o, k, s, p, bias_attr=None if bias else False)
        self.stride, self.padding = s, p
        self.register_buffer("u", F.normalize(paddle.randn([o]), axis=0))
        self.register_buffer("v", F.normalize(paddle.randn([i * k * k]), axis=0))

    def forward(self, x):
        w = self.conv.weight
        mat = w.reshape([w.shape[0], -1])
        if self.training:
            with paddle.no_grad():
                v = F.normalize(paddle.matmul(self.u.unsqueeze(0), mat).squeeze(0), axis=0)
                u = F.normalize(paddle.matmul(mat, v.unsqueeze(1)).squeeze(1), axis=0)
                paddle.assign(u, self.u)
                paddle.assign(v, self.v)
        sigma = (self.u.unsqueeze(0) @ mat @ self.v.unsqueeze(1)).reshape([])
        return F.conv2d(x, w / sigma, self.conv.bias, self.stride, self.padding)


def lrelu(x):
    """Leaky ReLU 0.2, written out: Paddle Inference's oneDNN conv + leaky-ReLU fusion segfaults on the
    export (as for the attribute editors, README)."""
    return paddle.maximum(x, 0.2 * x)


class SPADE(nn.Layer):
    """Parameter-free batch norm of x, then x * (1 + gamma(seg)) + beta(seg)."""

    def __init__(self, channels, label_nc, hidden=128):
        super().__init__()
        # parameter-free (the paper's affine=False) as frozen scale 1 and shift 0, as the release's
        # trainable=False: weight_attr=False makes the exported model segfault in Paddle Inference
        frozen = lambda v: paddle.ParamAttr(initializer=nn.initializer.Constant(v), trainable=False)
        self.norm = nn.BatchNorm2D(channels, weight_attr=frozen(1.0), bias_attr=frozen(0.0))
        self.shared = nn.Sequential(nn.Conv2D(label_nc, hidden, 3, 1, 1), nn.ReLU())
        self.gamma = nn.Conv2D(hidden, channels, 3, 1, 1)
        self.beta = nn.Conv2D(hidden, channels, 3, 1, 1)

    def forward(self, x, seg):
        """seg: the label input already at x's size."""
        actv = self.shared(seg)
        return self.norm(x) * (1 + self.gamma(actv)) + self.beta(actv)


class SPADEResBlock(nn.Layer):
    def __init__(self, fin, fout, label_nc, hidden=128):
        super().__init__()
        mid = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.norm_0, self.conv_0 = SPADE(fin, label_nc, hidden), SNConv2D(fin, mid, 3, 1, 1)
        self.norm_1, self.conv_1 = SPADE(mid, label_nc, hidden), SNConv2D(mid, fout, 3, 1, 1)
        if self.learned_shortcut:
            self.norm_s, self.conv_s = SPADE(fin, label_nc, hidden), SNConv2D(fin, fout, 1, bias=False)

    def forward(self, x, seg):
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(lrelu(self.norm_0(x, seg)))
        dx = self.conv_1(lrelu(self.norm_1(dx, seg)))
        return shortcut + dx


class SPADEGenerator(nn.Layer):
    """label input [N, label_nc + 1, H, W] (one-hot classes, then the instance edge map; H and W
    multiples of 32) -> image [N, 3, H, W] in [-1, 1]."""

    def __init__(self, label_nc=36, gf_dim=64, hidden=128):
        super().__init__()
        nf = gf_dim
        self.fc = nn.Conv2D(label_nc, 16 * nf, 3, 1, 1)
        widths = [(16, 16), (16, 16), (16, 16), (16, 8), (8, 4), (4, 2), (2, 1)]
        self.blocks = nn.LayerList([SPADEResBlock(a * nf, b * nf, label_nc, hidden) for a, b in widths])
        self.conv_img = nn.Conv2D(nf, 3, 3, 1, 1)

    def forward(self, seg):
        # nearest downsampling by 2**k is taking every 2**k-th pixel (written as slicing: Paddle Inference's
        # oneDNN executor fails on interpolate's scale attribute)
        segs = [seg[:, :, ::f, ::f] for f in (32, 16, 16, 8, 4, 2, 1)]
        x = self.fc(segs[0])
        for k, block in enumerate(self.blocks):
            x = block(x, segs[k])
            if k != 1 and k != 6:  # no upsampling between G_middle_0 and G_middle_1, none after up_3
                x = x.repeat_interleave(2, axis=2).repeat_interleave(2, axis=3)  # nearest 2x
        return paddle.tanh(self.conv_img(lrelu(x)))


class NLayerDiscriminator(nn.Layer):
    def __init__(self, in_channels, df_dim=64, n_layers=4):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2D(in_channels, df_dim, 4, 2, 2), nn.LeakyReLU(0.2))]
        nf = df_dim
        for n in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            layers.append(nn.Sequential(SNConv2D(prev, nf, 4, 1 if n == n_layers - 1 else 2, 2, bias=False),
                                        nn.InstanceNorm2D(nf, weight_attr=False, bias_attr=False), nn.LeakyReLU(0.2)))
        layers.append(nn.Conv2D(nf, 1, 4, 1, 2))
        self.layers = nn.LayerList(layers)

    def forward(self, x):
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs


class MultiscaleDiscriminator(nn.Layer):
    """A list (one per scale) of lists of layer outputs, the last one the patch logits."""

    def __init__(self, in_channels, df_dim=64, n_layers=4, num_d=2):
        super().__init__()
        self.scales = nn.LayerList([NLayerDiscriminator(in_channels, df_dim, n_layers) for _ in range(num_d)])

    def forward(self, label, image):
        x = paddle.concat([label, image], 1)
        result = []
        for k, d in enumerate(self.scales):
            if k:
                x = F.avg_pool2d(x, 3, 2, 1, exclusive=True)
            result.append(d(x))
        return result


VGG19_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
VGG_TAPS = (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in features' indices
VGG_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)  # the paper's weights of the five taps


class VGG19Features(nn.Layer):
    """VGG19's convs up to relu5_1 at `width` times 1/64 of VGG19's widths (64: VGG19 itself), in
    `features.N` names; a linear head on the pooled relu5_1 features for training it on the demo."""

    def __init__(self, width=64, num_classes=0):
        super().__init__()
        layers, c = [], 3
        for v in VGG19_LAYOUT:
            if v == "M":
                layers.append(nn.MaxPool2D(2, 2))
            else:
                o = v * width // 64
                layers += [nn.Conv2D(c, o, 3, 1, 1), nn.ReLU()]
                c = o
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes) if num_classes else None
        self.register_buffer("mean", paddle.to_tensor([0.485, 0.456, 0.406]).reshape([1, 3, 1, 1]), persistable=False)
        self.register_buffer("std", paddle.to_tensor([0.229, 0.224, 0.225]).reshape([1, 3, 1, 1]), persistable=False)
        self.tap_scale = [1.0] * len(VGG_TAPS)  # what each tap's L1 is divided by (scorer.load_vgg sets it)
        self.tap_weights = VGG_WEIGHTS  # each tap's weight in the loss (scorer.load_vgg: equal for a VGG trained here)

    def taps(self, x):
        """The relu1_1 .. relu5_1 maps of images in [-1, 1] (ImageNet-normalised first)."""
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        for k, layer in enumerate(self.features):
            x = layer(x)
            if k in VGG_TAPS:
                out.append(x)
        return out

    def forward(self, x):
        return self.head(self.taps(x)[-1].mean([2, 3]))


def spade(gf_dim=64, df_dim=64, n_layers=4, c_dim=35, spade_hidden=128, **_):
    """(generator, discriminator): c_dim label classes plus the edge map in."""
    label_nc = c_dim + 1
    return SPADEGenerator(label_nc, gf_dim, spade_hidden), MultiscaleDiscriminator(label_nc + 3, df_dim, n_layers)
