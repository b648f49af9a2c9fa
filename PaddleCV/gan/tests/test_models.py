"""The networks at the release's widths (parameter counts on the real model, built under
paddle.LazyGuard), output shapes, learning on a fixed batch, and the metrics on hand-made cases."""
import math

import numpy as np
import paddle
import pytest

import scorer
import train
from models import DIGIT_MODELS, MODELS, NOT_DONE, build_model

# Trainable parameters (BN statistics excluded) at the release's widths, counted by hand from
# models/mnist_gan.py's layers (see README.md): CGAN G = (110*1024+1024) + 2*1024 + (1034*6272+6272)
# + 2*6272 + 138*128*16 + 2*128 + 128*16; D = 11*64*9 + 74*64*9 + 2*64 + (2314*1024+1024) + 2*1024 + 1035.
PARAMS = {"CGAN": (6_904_704, 2_422_731), "DCGAN": (13_339_008, 6_558_977),
          "Pix2Pix": (54_413_952, 2_768_705), "CycleGAN": (2 * 11_383_427, 2 * 2_765_633),  # unet_256, basic PatchGAN
          # the attribute editors at the release's configuration (128x128, 5 or 13 attributes): tests/test_editors.py
          "StarGAN": (8_430_528, 44_758_016), "AttGAN": (43_459_203, 44_717_006), "STGAN": (74_998_771, 44_718_990),
          # the paper's Cityscapes configuration (35 classes + edge map, ngf 64, 2 x 4-layer D): tests/test_spade.py
          "SPADE": (93_048_003, 5_601_410)}


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_counts_at_the_release_widths(name):
    with paddle.LazyGuard():
        G, D = build_model(name)
    assert (count(G), count(D)) == PARAMS[name]


def test_hand_count_of_cgan_matches_the_table():
    g = (110 * 1024 + 1024) + 2 * 1024 + (1034 * 6272 + 6272) + 2 * 6272 + 138 * 128 * 16 + 2 * 128 + 128 * 16
    d = 11 * 64 * 9 + 74 * 64 * 9 + 2 * 64 + (2314 * 1024 + 1024) + 2 * 1024 + 1035
    assert (g, d) == PARAMS["CGAN"]


def test_every_catalogue_model_is_registered_or_listed_as_not_done():
    assert set(MODELS) | set(NOT_DONE) == {"CGAN", "DCGAN", "Pix2Pix", "CycleGAN", "StarGAN", "AttGAN", "STGAN", "SPADE"}


@pytest.mark.parametrize("name", DIGIT_MODELS)
def test_shapes_at_a_small_width(name):
    G, D = build_model(name, gf_dim=8, df_dim=8, gfc_dim=32, dfc_dim=32)
    z, y = paddle.randn([3, 100]), paddle.to_tensor([0, 5, 9])
    cond = (y,) if MODELS[name].conditional else ()
    x = G(z, *cond)
    assert x.shape == [3, 1, 28, 28] and float(x.abs().max()) <= 1.0
    assert D(x, *cond).shape == [3]


def test_the_discriminator_learns_a_fixed_batch(demo):
    """With the generator's images fixed, the D loss on one batch drops sharply in 60 steps."""
    import reader
    paddle.seed(0)
    train_set = reader.MnistDataset(demo, "train")
    real, labels = paddle.to_tensor(train_set.images[:16]), paddle.to_tensor(train_set.labels[:16])
    G, D = build_model("CGAN", gf_dim=8, df_dim=8)
    fake = G(paddle.randn([16, 100]), labels).detach()
    opt = paddle.optimizer.Adam(5e-3, beta1=0.5, parameters=D.parameters())
    history = []
    for _ in range(60):
        loss = train.bce(D(real, labels), 1.0) + train.bce(D(fake, labels), 0.0)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history


def test_fid_and_kid_on_hand_made_cases():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 4))
    assert scorer.fid(a, a) == pytest.approx(0.0, abs=1e-4)
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert scorer.fid(a, a + shift) == pytest.approx(5.0, abs=1e-4)  # equal covariances: |mu1 - mu2|^2
    # 2a: covariance 4S, so the trace term is tr(S + 4S - 2 * 2S) = tr(S); the means differ by mean(a)
    expected_2a = np.trace(np.cov(a, rowvar=False)) + (a.mean(0) ** 2).sum()
    assert scorer.fid(a, 2 * a) == pytest.approx(expected_2a, rel=1e-4)
    x, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 0.0]])
    k = lambda p, q: (p @ q / 2 + 1) ** 3
    expected = 2 * k(x[0], x[1]) / 2 + 2 * k(y[0], y[1]) / 2 - 2 * np.mean([k(p, q) for p in x for q in y])
    assert scorer.kid(x, y) == pytest.approx(expected)


def test_colour_cells_on_a_hand_made_case():
    image = -np.ones((1, 3, 10, 10), np.float32)  # black
    image[0, 0, :5] = 1.0  # top half red
    cells = scorer.colour_bins(image)
    assert cells.shape == (1, 27) and np.flatnonzero(cells[0]).tolist() == [0, 18]  # black (0,0,0), red (2,0,0)
    image[0, 1, 0, 0] = 1.0  # one yellow pixel: 1% of the image, below the 2% share
    assert np.array_equal(scorer.colour_bins(image), cells)


def test_the_scoring_classifier_reads_real_digits(demo):
    model = scorer.load_classifier(demo, verbose=False)
    import reader
    test = reader.MnistDataset(demo, "test")
    preds, feats = scorer.classify(model, test.images)
    assert feats.shape == (40, 128)
    assert (preds == test.labels).mean() > 0.5  # 110 training digits; chance is 0.1


def test_the_scoring_classifier_leaves_the_runs_draws_and_names_alone(demo):
    """Trained or read from the cache, it must not move Paddle's random stream (the GAN's weights and
    noise) nor the layer-name counters (the optimizer state's keys), or a resumed run would differ."""
    def draws_and_name(load):
        with paddle.utils.unique_name.guard():
            paddle.seed(5)
            if load:
                scorer.load_classifier(demo, verbose=False)
            return paddle.rand([4]).numpy(), paddle.nn.Linear(2, 2).weight.name
    expected = draws_and_name(False)
    for _ in range(2):  # the first may train and cache it, the second reads the cache
        got = draws_and_name(True)
        assert got[1] == expected[1] and np.array_equal(got[0], expected[0])


@pytest.mark.parametrize("name", DIGIT_MODELS)
def test_one_training_step_of_every_model_changes_both_networks(name):
    paddle.seed(1)
    G, D = build_model(name, gf_dim=8, df_dim=8, gfc_dim=32, dfc_dim=32)
    opts = train.OptimizerPair(paddle.optimizer.Adam(1e-3, parameters=G.parameters()),
                               paddle.optimizer.Adam(1e-3, parameters=D.parameters()))
    before = [p.numpy().copy() for p in (G.parameters()[0], D.parameters()[0])]
    real, labels = paddle.rand([4, 1, 28, 28]) * 2 - 1, paddle.to_tensor([1, 2, 3, 4])
    d_loss, g_loss = train.gan_step(G, D, opts, real, labels, paddle.randn([4, 100]), MODELS[name].conditional)
    assert np.isfinite(d_loss.item()) and np.isfinite(g_loss.item())
    after = [p.numpy() for p in (G.parameters()[0], D.parameters()[0])]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before))
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in G.parameters() + D.parameters())
