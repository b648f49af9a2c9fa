"""SE-ResNeXt introduction: the squeeze-excitation gate on a hand-made case, and learning on demo data."""
import numpy as np
import paddle
import pytest

import train


def test_se_gate_by_hand():
    # Two images, four channels, 2x2 pixels; channel c of image n is constant except one pixel.
    x = np.zeros((2, 4, 2, 2), "float32")
    x[0] = np.array([1.0, 2.0, -1.0, 0.0])[:, None, None]
    x[1] = np.array([0.0, 4.0, 2.0, 1.0])[:, None, None]
    x[0, 0, 0, 0] = 5.0  # channel 0 of image 0: mean (5 + 1 + 1 + 1) / 4 = 2
    se = train.SqueezeExcite(4, reduction=2)
    # Hidden unit 0 sums channels 0 and 1, hidden unit 1 reads channel 2 minus 1; every output gate
    # reads one hidden unit with weight +1 or -1 and no bias.
    w1 = np.array([[1, 1, 0, 0], [0, 0, 1, 0]], "float32")[:, :, None, None]
    w2 = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], "float32")[:, :, None, None]
    se.fc1.weight.set_value(w1)
    se.fc1.bias.set_value(np.array([0, -1], "float32"))
    se.fc2.weight.set_value(w2)
    se.fc2.bias.set_value(np.zeros(4, "float32"))
    # Image 0: means (2, 2, -1, 0) -> hidden relu(4, -2) = (4, 0) -> gates sigmoid(4, -4, 0, 0).
    # Image 1: means (0, 4, 2, 1) -> hidden relu(4, 1) = (4, 1) -> gates sigmoid(4, -4, 1, -1).
    sig = lambda v: 1 / (1 + np.exp(-np.array(v, "float64")))
    gates = np.stack([sig([4, -4, 0, 0]), sig([4, -4, 1, -1])])
    out = se(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(out, x * gates[:, :, None, None], rtol=1e-6, atol=1e-6)
    # The gate only rescales: every pixel of a channel is multiplied by the same number in (0, 1).
    assert out[0, 0, 0, 0] == pytest.approx(5 * sig(4), rel=1e-6)
    assert out[0, 0, 1, 1] == pytest.approx(1 * sig(4), rel=1e-6)


def test_zero_weights_halve_the_input():
    se = train.SqueezeExcite(32, reduction=16)
    for p in se.parameters():
        p.set_value(np.zeros(p.shape, "float32"))
    x = paddle.randn([2, 32, 3, 3])
    np.testing.assert_allclose(se(x).numpy(), 0.5 * x.numpy(), rtol=1e-6)  # sigmoid(0) = 1/2


def test_learns_on_demo_data(tmp_path):
    m = train.main(["--max_steps", "20", "--output_dir", str(tmp_path), "--log_interval", "10"])
    assert m["val_acc"] > m["baseline_acc"] + 0.15, m
    assert (tmp_path / "model.pdparams").exists() and (tmp_path / "inference" / "model.json").exists()


def test_bad_data_is_one_line_error(tmp_path):
    (tmp_path / "jpg").mkdir()
    import scipy.io
    scipy.io.savemat(tmp_path / "imagelabels.mat", {"labels": np.array([[1, 2]], "uint8")})
    scipy.io.savemat(tmp_path / "setid.mat", {"trnid": np.array([[1, 3]], "uint16")})
    with pytest.raises(train.DataError, match="setid.mat: trnid entry 1: missing image"):
        train.read_flowers(str(tmp_path), "trnid")
    (tmp_path / "jpg" / "image_00001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(train.DataError, match="trnid entry 2: image 3 has no label"):
        train.read_flowers(str(tmp_path), "trnid")
