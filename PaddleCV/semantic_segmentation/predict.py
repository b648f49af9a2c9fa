"""Dense prediction of whole images with a dygraph model: plain full-resolution inference, or a
sliding window (for images larger than the training crop), optionally at several scales and with
horizontal flips, the class probabilities averaged. eval.py and infer.py use it."""
import numpy as np
import paddle
import paddle.nn.functional as F


def _forward(model, x):
    return F.softmax(model(x)[0], axis=1)


def _sliding_window(model, x, window, stride):
    """Probabilities of x [1,3,H,W] from overlapping windows of size `window` (h, w), averaged."""
    _, _, h, w = x.shape
    wh, ww = min(window[0], h), min(window[1], w)
    sh, sw = stride
    rows = max(int(np.ceil((h - wh) / sh)), 0) + 1
    cols = max(int(np.ceil((w - ww) / sw)), 0) + 1
    total, count = None, paddle.zeros([1, 1, h, w])
    for r in range(rows):
        for c in range(cols):
            y0, x0 = min(r * sh, h - wh), min(c * sw, w - ww)
            probs = _forward(model, x[:, :, y0:y0 + wh, x0:x0 + ww])
            pad = [x0, w - x0 - ww, y0, h - y0 - wh]
            total = F.pad(probs, pad) if total is None else total + F.pad(probs, pad)
            count = count + F.pad(paddle.ones([1, 1, wh, ww]), pad)
    return total / count


@paddle.no_grad()
def predict_probs(model, x, scales=(1.0,), flip=False, window=None, stride=None):
    """Class probabilities [N, C, H, W] of a normalised image batch x at its own resolution."""
    h, w = x.shape[2:]
    total = 0
    for s in scales:
        xs = x if s == 1.0 else F.interpolate(x, size=[int(h * s + 0.5), int(w * s + 0.5)], mode="bilinear")
        for flipped in ((False, True) if flip else (False,)):
            xi = paddle.flip(xs, axis=[3]) if flipped else xs
            if window:
                probs = paddle.concat([_sliding_window(model, xi[i:i + 1], window, stride or window)
                                       for i in range(xi.shape[0])])
            else:
                probs = _forward(model, xi)
            if flipped:
                probs = paddle.flip(probs, axis=[3])
            if s != 1.0:
                probs = F.interpolate(probs, size=[h, w], mode="bilinear")
            total = total + probs
    return total
