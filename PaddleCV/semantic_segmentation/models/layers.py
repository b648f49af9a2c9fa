"""Building blocks shared by the segmentation networks: conv+BN(+ReLU), separable conv, pyramid
pooling, the auxiliary FCN head, and a resize that works both eagerly and in an exported graph."""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


# The shape helpers run as plain Python when traced (not_to_static): their `if`s look at static
# shapes and must not become graph conditionals.
@paddle.jit.not_to_static
def spatial_size(x):
    """(H, W) of an NCHW tensor: Python ints in dygraph, a shape tensor when traced for export, so the
    exported model accepts any input size."""
    return x.shape[2:] if paddle.in_dynamic_mode() else paddle.shape(x)[2:]


@paddle.jit.not_to_static
def _interp_matrix(out_size, in_size, align_corners):
    """[out, in] weights of 1-D linear interpolation, sampling as F.interpolate(bilinear) does.
    Sizes are ints (dygraph) or shape values (when traced for export)."""
    out_f, in_f = (float(s) if isinstance(s, int) else paddle.cast(s, "float32") for s in (out_size, in_size))
    i = paddle.arange(out_size, dtype="float32")
    if align_corners:  # src runs from 0 to in-1 exactly: nothing to clamp
        steps = max(out_f - 1, 1.0) if isinstance(out_f, float) else paddle.clip(out_f - 1, min=1.0)
        src = i * ((in_f - 1) / steps)
    else:
        src = paddle.clip((i + 0.5) * (in_f / out_f) - 0.5, min=0.0, max=in_f - 1)  # borders repeat
    j = paddle.arange(in_size, dtype="float32")
    return F.relu(1 - paddle.abs(src.unsqueeze(1) - j.unsqueeze(0)))  # the "tent" weights


@paddle.jit.not_to_static
def resize(x, size, align_corners=False):
    """Bilinear resize of an NCHW tensor to size (h, w), written as two matrix products.

    It gives F.interpolate's numbers (to float rounding; for output sizes above 1), but its backward
    is several times faster on CPU, and the exported graph has no bilinear_interp op, which Paddle
    Inference's oneDNN path cannot run in Paddle 3.3 (ArrayAttribute<DoubleAttribute> unsupported).
    The reshape to 3-D before the products is needed: Paddle Inference 3.3 multiplies a conv's 4-D
    output wrongly when it goes straight into matmul, and a 1x1 source (image pooling) through the
    products comes out as garbage there, so that case is a broadcast."""
    if x.shape[2] == 1 and x.shape[3] == 1:  # static shape: known when tracing, too
        return x.expand([-1, -1, size[0], size[1]])
    in_h, in_w = spatial_size(x)
    rows = _interp_matrix(size[0], in_h, align_corners)   # [h_out, h_in]
    cols = _interp_matrix(size[1], in_w, align_corners)   # [w_out, w_in]
    y = paddle.matmul(x.reshape([-1, in_h, in_w]), cols, transpose_y=True)
    return paddle.matmul(rows, y).reshape([-1, x.shape[1], size[0], size[1]])


class ConvBN(nn.Layer):
    """Conv2D -> BatchNorm -> optional ReLU. Padding keeps the size (divided by the stride).

    `bias` defaults to True because the reference implementations keep the conv bias in most heads;
    backbones pass bias=False. Both count towards the published parameter totals. `padding` ("same":
    TensorFlow's, all of the odd pixel on the bottom/right) replaces the symmetric default."""

    def __init__(self, in_ch, out_ch, kernel=3, stride=1, dilation=1, groups=1, bias=True, act=True,
                 bn_eps=1e-5, bn_momentum=0.9, padding=None):
        super().__init__()
        padding = (kernel // 2) * dilation if padding is None else padding
        self.conv = nn.Conv2D(in_ch, out_ch, kernel, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, bias_attr=None if bias else False)
        self.bn = nn.BatchNorm2D(out_ch, epsilon=bn_eps, momentum=bn_momentum)
        self.act = nn.ReLU() if act else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.act(x) if self.act is not None else x


class SeparableConvBN(nn.Layer):
    """Depthwise 3x3 conv+BN, then pointwise 1x1 conv+BN+ReLU (the DeepLabv3+/Fast-SCNN flavour)."""

    def __init__(self, in_ch, out_ch, kernel=3, stride=1, dilation=1):
        super().__init__()
        self.depthwise = ConvBN(in_ch, in_ch, kernel, stride=stride, dilation=dilation, groups=in_ch, act=False)
        self.pointwise = ConvBN(in_ch, out_ch, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class PyramidPooling(nn.Layer):
    """PSPNet's pyramid pooling module: average-pool to bins x bins for each bin size, reduce the
    channels to in_ch/len(bins), upsample, concatenate with the input, fuse with a 3x3 conv."""

    def __init__(self, in_ch, out_ch, bins=(1, 2, 3, 6), align_corners=False):
        super().__init__()
        reduced = in_ch // len(bins)
        self.stages = nn.LayerList([
            nn.Sequential(nn.AdaptiveAvgPool2D(b), ConvBN(in_ch, reduced, 1)) for b in bins])
        self.fuse = ConvBN(in_ch + reduced * len(bins), out_ch, 3)
        self.align_corners = align_corners

    def forward(self, x):
        size = spatial_size(x)
        pooled = [resize(stage(x), size, self.align_corners) for stage in self.stages]
        return self.fuse(paddle.concat([x] + pooled[::-1], axis=1))


class AuxHead(nn.Layer):
    """The deep-supervision head on an intermediate feature: 3x3 conv to in/4 channels, dropout, 1x1
    classifier. Only used for the auxiliary loss during training."""

    def __init__(self, in_ch, mid_ch, num_classes, dropout=0.1):
        super().__init__()
        self.conv = ConvBN(in_ch, mid_ch, 3)
        self.dropout = nn.Dropout(dropout)
        self.cls = nn.Conv2D(mid_ch, num_classes, 1)

    def forward(self, x):
        return self.cls(self.dropout(self.conv(x)))
