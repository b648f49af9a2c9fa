"""ATOM (Danelljan et al. 2019, https://arxiv.org/abs/1811.07628): a ResNet18 backbone whose layer2
(stride 8, 128 channels) and layer3 (stride 16, 256 channels) features feed an IoU-Net with the
release's layers (modulation from the reference frame's box: PrRoIPool 3x3 on layer2, 1x1 on layer3;
IoU prediction for test proposals: PrRoIPool 5x5 and 3x3, fully connected 256+256 -> 1).

PrRoIPool is written in plain Paddle: the exact integral of the bilinear interpolation of the feature
map over each bin, divided by the bin's area (Jiang et al. 2018, https://arxiv.org/abs/1807.11590).
The bilinear interpolant is sum_ij F[i, j] hat(y - i) hat(x - j) with hat(t) = max(0, 1 - |t|)
(zero outside the map), so its integral over [x1, x2] x [y1, y2] is Wy F Wx^T with
W[p, j] = H(b_p - j) - H(a_p - j), H the antiderivative of hat: piecewise quadratic, differentiable
in the box, which the gradient ascent on proposals at tracking time needs.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


# ------------------------------------------------------------------------------------------ backbone

class BasicBlock(nn.Layer):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2D(cin, cout, 3, stride, 1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(cout)
        self.conv2 = nn.Conv2D(cout, cout, 3, 1, 1, bias_attr=False)
        self.bn2 = nn.BatchNorm2D(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2D(cin, cout, 1, stride, bias_attr=False), nn.BatchNorm2D(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet18(nn.Layer):
    """torchvision/PaddleClas ResNet18 up to layer3 (layer4 and the classifier are not used by ATOM);
    `width` scales the channels (1.0: 64-64-128-256)."""

    def __init__(self, width=1.0):
        super().__init__()
        c = [max(8, int(round(ch * width))) for ch in (64, 64, 128, 256)]
        self.conv1 = nn.Conv2D(3, c[0], 7, 2, 3, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(c[0])
        self.layer1 = nn.Sequential(BasicBlock(c[0], c[1], 1), BasicBlock(c[1], c[1], 1))
        self.layer2 = nn.Sequential(BasicBlock(c[1], c[2], 2), BasicBlock(c[2], c[2], 1))
        self.layer3 = nn.Sequential(BasicBlock(c[2], c[3], 2), BasicBlock(c[3], c[3], 1))
        self.channels = (c[2], c[3])

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        l2 = self.layer2(self.layer1(x))
        return l2, self.layer3(l2)


# ------------------------------------------------------------------------------------------ PrRoIPool

def _hat_integral(t):
    """H(t) = integral of max(0, 1 - |s|) from -inf to t."""
    t = paddle.clip(t, -1.0, 1.0)
    return paddle.where(t < 0, 0.5 * (t + 1) ** 2, 1 - 0.5 * (1 - t) ** 2)


def _bin_weights(lo, hi, bins, size):
    """[R, bins, size]: the integral of each pixel's hat over each bin's [a, b] (along one axis)."""
    step = (hi - lo) / bins
    edges = lo.unsqueeze(1) + step.unsqueeze(1) * paddle.arange(bins + 1, dtype=lo.dtype).unsqueeze(0)
    pix = paddle.arange(size, dtype=lo.dtype).reshape([1, 1, size])
    return _hat_integral(edges[:, 1:].unsqueeze(2) - pix) - _hat_integral(edges[:, :-1].unsqueeze(2) - pix)


def prroi_pool(features, rois, batch_index, spatial_scale, out_h, out_w):
    """features [N, C, H, W]; rois [R, 4] x1, y1, x2, y2 in image pixels; batch_index [R] -> [R, C, out_h, out_w]."""
    _, _, h, w = features.shape
    boxes = rois * spatial_scale
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    wy = _bin_weights(y1, y2, out_h, h)
    wx = _bin_weights(x1, x2, out_w, w)
    area = ((x2 - x1) / out_w * (y2 - y1) / out_h).clip(min=1e-6).reshape([-1, 1, 1, 1])
    f = paddle.gather(features, batch_index)
    pooled = paddle.einsum("rph,rchw,rqw->rcpq", wy, f, wx)
    return pooled / area


# -------------------------------------------------------------------------------------------- IoU-Net

class ConvBNReLU(nn.Sequential):
    def __init__(self, cin, cout, k=3, padding=1):
        super().__init__(nn.Conv2D(cin, cout, k, padding=padding), nn.BatchNorm2D(cout), nn.ReLU())


class LinearBNReLU(nn.Layer):
    def __init__(self, cin, cout, size):
        super().__init__()
        self.linear = nn.Linear(cin * size * size, cout)
        self.bn = nn.BatchNorm1D(cout)

    def forward(self, x):
        return F.relu(self.bn(self.linear(x.flatten(1))))


class IoUNet(nn.Layer):
    """The release's AtomIouNet: input_dim (128, 256) for ResNet18's layer2/layer3."""

    def __init__(self, input_dim=(128, 256), pred_input_dim=(256, 256), pred_inter_dim=(256, 256), width=1.0):
        """`width` scales every layer's channels (1.0: the release's; the CPU demo uses 0.25)."""
        super().__init__()
        c128, c256 = int(round(128 * width)), int(round(256 * width))
        pred_input_dim = [int(round(d * width)) for d in pred_input_dim]
        pred_inter_dim = [int(round(d * width)) for d in pred_inter_dim]
        self.conv3_1r = ConvBNReLU(input_dim[0], c128)
        self.conv3_1t = ConvBNReLU(input_dim[0], c256)
        self.conv3_2t = ConvBNReLU(c256, pred_input_dim[0])
        self.fc3_1r = ConvBNReLU(c128, c256, 3, padding=0)
        self.conv4_1r = ConvBNReLU(input_dim[1], c256)
        self.conv4_1t = ConvBNReLU(input_dim[1], c256)
        self.conv4_2t = ConvBNReLU(c256, pred_input_dim[1])
        self.fc34_3r = ConvBNReLU(c256 + c256, pred_input_dim[0], 1, padding=0)
        self.fc34_4r = ConvBNReLU(c256 + c256, pred_input_dim[1], 1, padding=0)
        self.fc3_rt = LinearBNReLU(pred_input_dim[0], pred_inter_dim[0], 5)
        self.fc4_rt = LinearBNReLU(pred_input_dim[1], pred_inter_dim[1], 3)
        self.iou_predictor = nn.Linear(pred_inter_dim[0] + pred_inter_dim[1], 1)

    def modulation(self, ref_feats, ref_boxes):
        """Per-target vectors from the reference frame's features and boxes (x, y, w, h) [B, 4]."""
        f3, f4 = ref_feats
        rois = paddle.concat([ref_boxes[:, :2], ref_boxes[:, :2] + ref_boxes[:, 2:]], 1)
        index = paddle.arange(ref_boxes.shape[0])
        r3 = prroi_pool(self.conv3_1r(f3), rois, index, 1 / 8, 3, 3)
        r4 = prroi_pool(self.conv4_1r(f4), rois, index, 1 / 16, 1, 1)
        joint = paddle.concat([self.fc3_1r(r3), r4], 1)
        return self.fc34_3r(joint), self.fc34_4r(joint)

    def iou_features(self, test_feats):
        f3, f4 = test_feats
        return self.conv3_2t(self.conv3_1t(f3)), self.conv4_2t(self.conv4_1t(f4))

    def predict_iou(self, modulation, iou_feats, proposals):
        """proposals [B, P, 4] (x, y, w, h) in crop pixels -> predicted IoU [B, P]."""
        m3, m4 = modulation
        c3, c4 = iou_feats[0] * m3, iou_feats[1] * m4
        b, p = proposals.shape[0], proposals.shape[1]
        boxes = proposals.reshape([-1, 4])
        rois = paddle.concat([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
        index = paddle.arange(b).unsqueeze(1).expand([b, p]).reshape([-1])
        r3 = prroi_pool(c3, rois, index, 1 / 8, 5, 5)
        r4 = prroi_pool(c4, rois, index, 1 / 16, 3, 3)
        joint = paddle.concat([self.fc3_rt(r3), self.fc4_rt(r4)], 1)
        return self.iou_predictor(joint).reshape([b, p])


class ATOM(nn.Layer):
    """Backbone + IoU-Net. The online classifier has no trained weights: tracker_atom.py fits it per
    video. image_size 288 = 18 x 16 and a search area of 5 target sizes are the release's."""
    image_size, search_area, center_jitter, scale_jitter, num_proposals = 288, 5.0, 0.5, 0.25, 16
    first_stage_sigmas = (0.05, 0.1, 0.2, 0.3)  # the proposals' when the backbone trains too, no IoU floor
    proposal_sigmas, min_iou = (0.01, 0.05, 0.1, 0.2, 0.3), 0.1  # the release's, for the IoU-Net stage

    def __init__(self, width=1.0, image_size=288, iou_width=1.0):
        super().__init__()
        self.image_size = image_size
        self.backbone = ResNet18(width)
        self.iou_net = IoUNet(input_dim=self.backbone.channels, width=iou_width)

    def forward(self, ref_images, test_images, ref_boxes, proposals):
        ref_feats = self.backbone(ref_images)
        test_feats = self.backbone(test_images)
        return self.iou_net.predict_iou(self.iou_net.modulation(ref_feats, ref_boxes),
                                        self.iou_net.iou_features(test_feats), proposals)

    def loss(self, batch):
        ref, test, ref_box, proposals, iou = batch
        return F.mse_loss(self(ref, test, ref_box, proposals), iou)
