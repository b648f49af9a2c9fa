"""Learning on the demo corpus, and the negative-sampling pieces checked by hand."""
import math

import numpy as np
import paddle
import pytest

import train


def test_learns_role_groups_on_demo_data(tmp_path):
    m = train.main(["--max_steps", "100", "--lr", "0.05", "--log_interval", "50", "--output_dir", str(tmp_path)])
    assert m["random_purity"] < 0.3
    assert m["neighbour_purity"] > 0.6, m
    assert (tmp_path / "model.pdparams").exists()


def test_negative_sampling_loss_by_hand():
    # one pair: true-context logit 2.0, two noise logits 1.0 and -3.0
    logits = paddle.to_tensor([[2.0, 1.0, -3.0]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -math.log(sig(2.0)) - math.log(sig(-1.0)) - math.log(sig(3.0))
    assert abs(train.negative_sampling_loss(logits).item() - expected) < 1e-5


def test_skipgram_logits_are_dot_products():
    model = train.SkipGram(5, 3)
    v, u = model.v.weight.numpy(), model.u.weight.numpy()
    logits = model(paddle.to_tensor([1, 4]), paddle.to_tensor([[2, 0, 3], [1, 1, 2]])).numpy()
    assert np.allclose(logits[0], [u[2] @ v[1], u[0] @ v[1], u[3] @ v[1]], atol=1e-6)
    assert np.allclose(logits[1], [u[1] @ v[4], u[1] @ v[4], u[2] @ v[4]], atol=1e-6)


def test_noise_distribution_and_subsampling():
    counts = np.array([81.0, 16.0, 1.0])
    assert np.allclose(train.noise_distribution(counts), np.array([27.0, 8.0, 1.0]) / 36)
    keep = train.keep_probability(np.array([999.0, 1.0]), t=0.01)  # f = 0.999 and 0.001
    assert abs(keep[0] - (math.sqrt(0.01 / 0.999) + 0.01 / 0.999)) < 1e-9 and keep[1] == 1.0


def test_pairs_stay_inside_the_window():
    ids = np.arange(50)
    pairs = train.make_pairs(ids, np.ones(50), window=2, rng=np.random.RandomState(0))
    gaps = np.abs(pairs[:, 0] - pairs[:, 1])
    assert gaps.min() >= 1 and gaps.max() <= 2 and (gaps == 1).sum() == 2 * 49


def test_bad_input_is_one_line_error(tmp_path):
    (tmp_path / "text8").write_bytes(b"ok words\n\xff\xfe bad")
    with pytest.raises(SystemExit, match=r"text8:2: not UTF-8"):
        train.read_corpus(str(tmp_path))
    with pytest.raises(SystemExit, match="no such folder"):
        train.main(["--data_dir", str(tmp_path / "missing")])
