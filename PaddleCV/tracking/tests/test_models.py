"""The networks: exact parameter counts, shapes, the cross-correlation against a brute-force one,
learning on a fixed batch, and the tracker's geometry on a known motion."""
import math
import os

import numpy as np
import paddle
import pytest

import reader
from conftest import fit
import tracker as trackers
from models import build_model
from models.siamfc import xcorr


def count(model, trainable=True):
    return sum(math.prod(p.shape) for p in model.parameters() if (not p.stop_gradient) == trainable)


def test_siamfc_release_configuration():
    with paddle.LazyGuard():
        model = build_model("SiamFC", width=1.0)
    # convs 96-256-384-384-256 with biases (3,747,200) + 5 BatchNorm scale/shift (2,752) + adjust bias 1;
    # not trained: the adjust conv's weight (fixed at 0.001) and the BatchNorm statistics (2 x 1,376)
    assert count(model) == 3_749_953 and count(model, trainable=False) == 1 + 2 * 1376


def test_siamfc_shapes():
    model = build_model("SiamFC", width=0.25)
    model.eval()
    z, x = paddle.randn([2, 3, 127, 127]), paddle.randn([2, 3, 255, 255])
    assert model.embedding(z).shape == [2, 64, 6, 6] and model.embedding(x).shape == [2, 64, 22, 22]
    assert model(z, x).shape == [2, 1, 17, 17]


def test_xcorr_matches_brute_force():
    rng = np.random.default_rng(0)
    k, s = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 7, 9))
    out = xcorr(paddle.to_tensor(k, "float32"), paddle.to_tensor(s, "float32")).numpy()
    expected = np.zeros((2, 1, 4, 6))
    for b in range(2):
        for i in range(4):
            for j in range(6):
                expected[b, 0, i, j] = (s[b, :, i:i + 4, j:j + 4] * k[b]).sum()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_siamfc_loss_drops_on_a_fixed_batch(demo):
    paddle.seed(0)
    sequences, _ = reader.load_sequences(os.path.join(demo, "got10k"), "train")
    cfg = {"max_gap": 5, "exemplar_size": 127, "search_size": 255, "score_size": 17, "total_stride": 8,
           "radius": 16, "max_shift": 32, "scale_jitter": 0.05}
    batch = [paddle.to_tensor(f[None]) for f in reader.PairDataset(sequences, "siamfc", 1, seed=0, cfg=cfg)[0]]
    model = build_model("SiamFC", width=0.25)
    opt = paddle.optimizer.Adam(3e-3, parameters=[p for p in model.parameters() if not p.stop_gradient])
    history = fit(model, batch, opt, 8)
    assert history[-1] < 0.5 * history[0], history


def test_pixel_tracker_follows_a_translation():
    """A textured square moved by (+9, -6) px: the pixel-correlation tracker, with its upsampled
    response and cosine window, lands within 2 px (its geometry and the displacement mapping)."""
    rng = np.random.default_rng(0)
    background = rng.uniform(90, 110, (160, 160, 3))
    patch = rng.uniform(0, 255, (24, 24, 3))

    def frame(x, y):
        f = background.copy()
        f[y:y + 24, x:x + 24] = patch
        return f.astype(np.uint8)

    t = trackers.SiamFCTracker(trackers.pixel_embedding, (1.0, 0.0))
    t.init(frame(60, 70), [60, 70, 24, 24])
    box = t.update(frame(69, 64))
    assert abs(box[0] - 69) < 2 and abs(box[1] - 64) < 2, box
