"""PyramidBox (Tang et al. 2018, https://arxiv.org/abs/1803.07737) as the PaddlePaddle models
release/1.7 PaddleCV/face_detection/pyramidbox.py defines it (sub_network=True):

- VGG16 base (conv1_1 ... conv5_3 with bias and ReLU, 2x2 ceil-mode max-pools), conv6 (3x3 1024, 1x1
  1024), conv7 (1x1 256, 3x3 stride 2 512), conv8 (1x1 128, 3x3 stride 2 256);
- low-level feature pyramid (LFPN): from conv6 down to conv3, each level = (1x1 conv + ReLU of the
  level above, upsampled x2 by a fixed bilinear depthwise 4x4 transposed conv) * (1x1 conv + ReLU of
  the level itself), on conv5, conv4 and conv3;
- context-sensitive prediction module (CPM) on each of the six maps (LFPN conv3/conv4/conv5, conv6,
  conv7, conv8): a residual block (1x1 1024 | 1x1 256, 3x3 256, 1x1 1024, each conv + BN) then an
  SSH-like context module (3x3 256 | 3x3 128 -> 3x3 128 | 3x3 128 -> 3x3 128, concatenated: 512);
- L2 normalisation with a learnt scale (init 10, 8, 5) on the first three CPM outputs;
- PyramidAnchors as the release uses them: one anchor per cell (16 ... 512 px at strides 4 ... 128)
  with face and head targets (the head box is the face box grown by half on each side, reader.py);
  the body branch of the paper is not in the release, nor here;
- max-in-out: the first map predicts 3 background and 1 face score for faces (and heads) and keeps
  the max of the 3; the other maps predict 1 background and 3 face scores and keep the max of the 3.

forward(image) -> (face offsets [N, P, 4], face logits [N, P, 2]) and, in training, also the head
offsets and logits.
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

VGG = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
SCALES = (10.0, 8.0, 5.0)


def conv(cin, cout, k, stride=1):
    return nn.Conv2D(cin, cout, k, stride, padding=k // 2, weight_attr=nn.initializer.XavierUniform())


class ConvBN(nn.Layer):
    def __init__(self, cin, cout, k, act=True):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, padding=k // 2, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout, momentum=0.999, epsilon=1e-3)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.act else x


def bilinear_kernel(channels, size=4):
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.arange(size)
    k = (1 - abs(og - centre) / factor)
    return np.tile(np.outer(k, k)[None, None], (channels, 1, 1, 1)).astype(np.float32)


class LFPNLevel(nn.Layer):
    def __init__(self, c_above, channels):
        super().__init__()
        self.lateral_above = conv(c_above, channels, 1)
        self.up = nn.Conv2DTranspose(channels, channels, 4, stride=2, padding=1, groups=channels, bias_attr=False,
                                     weight_attr=paddle.ParamAttr(trainable=False, initializer=nn.initializer.Assign(
                                         bilinear_kernel(channels))))
        self.lateral = conv(channels, channels, 1)

    def forward(self, above, here):
        up = self.up(F.relu(self.lateral_above(above)))[:, :, :here.shape[2], :here.shape[3]]
        return up * F.relu(self.lateral(here))


class CPM(nn.Layer):
    def __init__(self, cin):
        super().__init__()
        self.branch1 = ConvBN(cin, 1024, 1, act=False)
        self.branch2 = nn.Sequential(ConvBN(cin, 256, 1), ConvBN(256, 256, 3), ConvBN(256, 1024, 1, act=False))
        self.ssh1 = conv(1024, 256, 3)
        self.ssh_dimred = conv(1024, 128, 3)
        self.ssh2 = conv(128, 128, 3)
        self.ssh3a = conv(128, 128, 3)
        self.ssh3b = conv(128, 128, 3)

    def forward(self, x):
        x = F.relu(self.branch1(x) + self.branch2(x))
        reduced = F.relu(self.ssh_dimred(x))
        return F.relu(paddle.concat([self.ssh1(x), self.ssh2(reduced), self.ssh3b(F.relu(self.ssh3a(reduced)))], axis=1))


class PyramidBox(nn.Layer):
    def __init__(self):
        super().__init__()
        blocks, cin = [], 3
        for widths in VGG:
            layers = []
            for w in widths:
                layers += [conv(cin, w, 3), nn.ReLU()]
                cin = w
            blocks.append(nn.Sequential(*layers))
        self.vgg = nn.LayerList(blocks)
        self.conv6 = nn.Sequential(conv(512, 1024, 3), nn.ReLU(), conv(1024, 1024, 1), nn.ReLU())
        self.conv7 = nn.Sequential(conv(1024, 256, 1), nn.ReLU(), conv(256, 512, 3, 2), nn.ReLU())
        self.conv8 = nn.Sequential(conv(512, 128, 1), nn.ReLU(), conv(128, 256, 3, 2), nn.ReLU())
        self.lfpn = nn.LayerList([LFPNLevel(1024, 512), LFPNLevel(512, 512), LFPNLevel(512, 256)])
        self.cpm = nn.LayerList([CPM(c) for c in (256, 512, 512, 1024, 512, 256)])
        self.scales = nn.ParameterList([self.create_parameter([512], default_initializer=nn.initializer.Constant(s))
                                        for s in SCALES])
        self.loc_convs = nn.LayerList([nn.Conv2D(512, 8, 3, padding=1) for _ in range(6)])
        self.conf_convs = nn.LayerList([nn.Conv2D(512, 8 if i == 0 else 6, 3, padding=1) for i in range(6)])

    def forward(self, image):
        x, taps = image, []
        for i, block in enumerate(self.vgg):
            x = block(x)
            taps.append(x)  # conv1 ... conv5, before their pool
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        conv6 = self.conv6(x)
        conv7 = self.conv7(conv6)
        conv8 = self.conv8(conv7)
        lfpn5 = self.lfpn[0](conv6, taps[4])
        lfpn4 = self.lfpn[1](lfpn5, taps[3])
        lfpn3 = self.lfpn[2](lfpn4, taps[2])
        face_loc, face_conf, head_loc, head_conf = [], [], [], []
        for i, feat in enumerate((lfpn3, lfpn4, lfpn5, conv6, conv7, conv8)):
            feat = self.cpm[i](feat)
            if i < 3:
                feat = F.normalize(feat, axis=1) * self.scales[i].reshape([1, -1, 1, 1])
            loc = self.loc_convs[i](feat)
            conf = self.conf_convs[i](feat)
            if i == 0:  # max-in-out on the background: 3 background scores, 1 face
                face = paddle.concat([conf[:, 0:3].max(axis=1, keepdim=True), conf[:, 3:4]], axis=1)
                head = paddle.concat([conf[:, 4:7].max(axis=1, keepdim=True), conf[:, 7:8]], axis=1)
            else:  # 1 background, 3 face scores
                face = paddle.concat([conf[:, 0:1], conf[:, 1:4].max(axis=1, keepdim=True)], axis=1)
                head = conf[:, 4:6]
            flat = lambda t, d: t.transpose([0, 2, 3, 1]).reshape([0, -1, d])  # noqa: E731
            face_loc.append(flat(loc[:, :4], 4))
            head_loc.append(flat(loc[:, 4:], 4))
            face_conf.append(flat(face, 2))
            head_conf.append(flat(head, 2))
        out = (paddle.concat(face_loc, axis=1), paddle.concat(face_conf, axis=1))
        if self.training:
            out += (paddle.concat(head_loc, axis=1), paddle.concat(head_conf, axis=1))
        return out
