"""CycleGAN: the loss terms by hand on tiny tensors, which weights each step updates, and learning on demo data."""
import numpy as np
import paddle
import pytest

import train


def t(values):
    return paddle.to_tensor(np.array(values, "float32").reshape(1, 1, 1, -1))


def test_loss_terms_by_hand():
    # Hand-made "networks": G_AB negates, G_BA halves, D_A scores a pixel by its value, D_B adds 0.5.
    G_AB, G_BA = (lambda x: -x), (lambda x: 0.5 * x)
    D_A, D_B = (lambda x: x), (lambda x: x + 0.5)
    real_A, real_B = t([0.2, -0.4]), t([0.6, 0.0])
    total, terms, fake_A, fake_B = train.generator_losses(G_AB, G_BA, D_A, D_B, real_A, real_B, lam=10.0)
    np.testing.assert_allclose(fake_B.numpy().ravel(), [-0.2, 0.4])  # G_AB(a)
    np.testing.assert_allclose(fake_A.numpy().ravel(), [0.3, 0.0])  # G_BA(b)
    want = {
        "gan_AB": ((0.3 - 1) ** 2 + (0.9 - 1) ** 2) / 2,  # D_B(fake_B) = [0.3, 0.9], LSGAN target 1 -> 0.25
        "gan_BA": ((0.3 - 1) ** 2 + (0.0 - 1) ** 2) / 2,  # D_A(fake_A) = [0.3, 0.0] -> 0.745
        "cycle_A": 10 * (abs(-0.1 - 0.2) + abs(0.2 + 0.4)) / 2,  # G_BA(G_AB(a)) = [-0.1, 0.2] vs a -> 4.5
        "cycle_B": 10 * (abs(-0.3 - 0.6) + abs(0.0 - 0.0)) / 2,  # G_AB(G_BA(b)) = [-0.3, 0.0] vs b -> 4.5
        "idt_B": 5 * (abs(-0.6 - 0.6) + 0.0) / 2,  # G_AB(b) = [-0.6, 0] vs b, weight 0.5 * lambda -> 3.0
        "idt_A": 5 * (abs(0.1 - 0.2) + abs(-0.2 + 0.4)) / 2,  # G_BA(a) = [0.1, -0.2] vs a -> 0.75
    }
    for k, v in want.items():
        assert terms[k].item() == pytest.approx(v, abs=1e-6), k
    assert total.item() == pytest.approx(13.745, abs=1e-5)
    # D_B on real b = [1.1, 0.5] toward 1, on fake_B = [0.3, 0.9] toward 0, halved: 0.5 * (0.13 + 0.45)
    assert train.discriminator_loss(D_B, real_B, fake_B).item() == pytest.approx(0.29, abs=1e-6)


def test_each_step_updates_only_its_own_networks():
    paddle.seed(0)
    G_AB, G_BA, D_A, D_B = train.Generator(4, 1), train.Generator(4, 1), train.PatchDiscriminator(4, 1), train.PatchDiscriminator(4, 1)
    opt_G = paddle.optimizer.Adam(1e-2, parameters=G_AB.parameters() + G_BA.parameters())
    opt_D = paddle.optimizer.Adam(1e-2, parameters=D_A.parameters() + D_B.parameters())
    snap = lambda nets: [p.numpy().copy() for n in nets for p in n.parameters()]
    same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(a, b))
    real_A, real_B = paddle.rand([2, 3, 16, 16]) * 2 - 1, paddle.rand([2, 3, 16, 16]) * 2 - 1

    g0, d0 = snap([G_AB, G_BA]), snap([D_A, D_B])
    _, fake_A, fake_B = train.g_step((G_AB, G_BA, D_A, D_B), opt_G, opt_D, real_A, real_B, 10.0)
    g1, d1 = snap([G_AB, G_BA]), snap([D_A, D_B])
    assert not same(g0, g1) and same(d0, d1)  # the generator step moves G only ...
    assert all(p.grad is None or not p.grad.abs().sum().item() for p in D_A.parameters())  # ... and leaves D no gradient

    train.d_step(D_A, D_B, opt_D, real_A, real_B, fake_A, fake_B)  # fakes still attached to G's graph
    assert same(g1, snap([G_AB, G_BA])) and not same(d1, snap([D_A, D_B]))
    assert all(p.grad is None or not p.grad.abs().sum().item() for p in G_AB.parameters())


def test_image_pool_keeps_history():
    np.random.seed(0)
    pool = train.ImagePool(2)
    first = paddle.to_tensor(np.array([[1.0], [2.0]], "float32"))
    np.testing.assert_array_equal(pool.query(first).numpy(), first.numpy())  # filling up: returned as they are
    out = np.concatenate([pool.query(paddle.full([1, 1], 9.0)).numpy().ravel() for _ in range(20)])
    assert set(out) <= {1.0, 2.0, 9.0} and 9.0 in out and (out != 9.0).any()  # old fakes come back half the time


def test_learns_the_translation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = train.main(["--width", "8", "--n_blocks", "1", "--demo_images", "64", "--epochs", "3",
                    "--log_interval", "100", "--output_dir", str(tmp_path / "out")])
    assert m["identity"] > 0.15  # the dusk tint moves every pixel
    assert m["translate"] < 0.5 * m["identity"]  # measured 0.07 vs 0.23
    assert m["translate"] < 0.9 * m["mean_B"]  # beats the mean B image too: it keeps where the shapes are
    assert m["cycle"] < 0.2
    assert (tmp_path / "out" / "translations.png").exists()
