"""TSM (Lin et al. 2019): TSN's ResNet50 with a temporal shift at the input of every bottleneck's residual
branch: of C channels, the first C/8 take the next segment's values, the next C/8 the previous segment's
(zeros at the ends), the rest stay; no parameters are added. The release: seg_num 8, 224 crop, dropout 0.5
before the consensus, 65 epochs, lr 0.01 decayed 0.1x at epochs 40 and 60.
"""
import paddle
import paddle.nn as nn

from models.tsn import TSN


def temporal_shift(x, seg_num, shift_div=8):
    """x [N*seg_num, C, H, W]: channels [0, C/8) from segment t+1, [C/8, 2C/8) from segment t-1."""
    nt, c, h, w = x.shape
    fold = c // shift_div
    x = x.reshape([-1, seg_num, c, h, w])
    zeros = paddle.zeros_like(x[:, :1, :fold])
    left = paddle.concat([x[:, 1:, :fold], zeros], axis=1)              # frame t sees t+1
    right = paddle.concat([zeros, x[:, :-1, fold:2 * fold]], axis=1)    # frame t sees t-1
    out = paddle.concat([left, right, x[:, :, 2 * fold:]], axis=2)
    return out.reshape([-1, c, h, w])


class TemporalShift(nn.Layer):
    def __init__(self, seg_num, shift_div=8):
        super().__init__()
        self.seg_num, self.shift_div = seg_num, shift_div

    def forward(self, x):
        return temporal_shift(x, self.seg_num, self.shift_div)


class TSM(TSN):
    def __init__(self, num_classes, seg_num, size="release", layers=50, dropout=0.5):
        super().__init__(num_classes, seg_num, size, layers, dropout, shift=TemporalShift(seg_num))
