"""Quick tests: the ResNet learns the demo flowers; BatchNorm and the LR schedules by hand."""
import math
import os

import numpy as np
import paddle
import pytest

import train

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_learns_demo_flowers(tmp_path, monkeypatch):
    monkeypatch.chdir(HERE)  # demo data goes to data/demo, shared with the smoke run
    acc, baseline = train.main(["--max_steps", "60", "--width", "8", "--warmup_steps", "10",
                                "--output_dir", str(tmp_path), "--log_interval", "30"])
    assert baseline < 0.3
    assert acc > baseline + 0.15, (acc, baseline)
    assert os.path.exists(tmp_path / "model.pdparams")


def test_batchnorm_train_vs_eval_by_hand():
    paddle.seed(0)
    bn = paddle.nn.BatchNorm2D(2)  # gamma 1, beta 0, running mean 0, running var 1, momentum 0.9
    x = np.array([1.0, 2.0, 3.0, 6.0], np.float32).reshape(2, 2, 1, 1)  # channel 0: 1, 3; channel 1: 2, 6
    out = bn(paddle.to_tensor(x)).numpy().reshape(2, 2)
    mean, var = np.array([2.0, 4.0]), np.array([1.0, 4.0])  # batch mean and biased variance
    np.testing.assert_allclose(out, (x.reshape(2, 2) - mean) / np.sqrt(var + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(bn._mean.numpy(), 0.9 * 0 + 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn._variance.numpy(), 0.9 * 1 + 0.1 * var, rtol=1e-5)
    bn.eval()  # now the running statistics are used, and not updated
    out = bn(paddle.to_tensor(x)).numpy().reshape(2, 2)
    np.testing.assert_allclose(out, (x.reshape(2, 2) - [0.2, 0.4]) / np.sqrt([1.0, 1.3] + np.float32(1e-5)), rtol=1e-5)
    np.testing.assert_allclose(bn._mean.numpy(), [0.2, 0.4], rtol=1e-5)
    # and the conv before a BN has no bias: BN's beta plays that role
    conv = train.conv_bn(3, 4, 3)[0]
    assert conv.bias is None


def lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_lr())
        sched.step()
    return np.array(out)


def test_warmup_cosine_by_hand():
    lr = lrs(train.build_lr("cosine", 0.1, total_steps=110, warmup_steps=10), 111)
    np.testing.assert_allclose(lr[[0, 5, 10]], [0.0, 0.05, 0.1], atol=1e-7)
    t = np.arange(10, 111) - 10  # after warmup: 0.05 * (1 + cos(pi * t / 100))
    np.testing.assert_allclose(lr[10:], 0.05 * (1 + np.cos(np.pi * t / 100)), atol=1e-6)
    assert lr[60] == pytest.approx(0.05) and lr[110] == pytest.approx(0.0, abs=1e-7)


def test_warmup_piecewise_by_hand():
    lr = lrs(train.build_lr("piecewise", 0.1, total_steps=110, warmup_steps=10), 110)
    np.testing.assert_allclose(lr[:10], np.arange(10) * 0.01, atol=1e-7)
    want = np.where(np.arange(100) < 50, 0.1, np.where(np.arange(100) < 75, 0.01, 0.001))
    np.testing.assert_allclose(lr[10:], want, rtol=1e-6)


def test_architecture_matches_published_resnet50():
    with paddle.LazyGuard():  # count only: no weights allocated
        model = train.ResNet(50, num_classes=1000, width=64)
    # trainable only: BN running mean and variance are non-trainable parameters in Paddle
    assert sum(math.prod(p.shape) for p in model.parameters() if p.trainable) == 25_557_032


def test_bad_data_dir_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(SystemExit, match=r"error: .*imagelabels\.mat: file not found"):
        train.main(["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")])
