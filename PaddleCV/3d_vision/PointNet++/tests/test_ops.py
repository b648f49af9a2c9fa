"""The geometric ops against brute-force numpy written straight from their definitions."""
import numpy as np
import paddle
import pytest

from models import ops


def numpy_fps(xyz, npoint):
    out = np.zeros((len(xyz), npoint), dtype=np.int64)
    for b, points in enumerate(xyz):
        picked = [0]
        for _ in range(npoint - 1):
            d = np.min([((points - points[p]) ** 2).sum(1) for p in picked], axis=0)
            picked.append(int(np.argmax(d)))
        out[b] = picked
    return out


def numpy_ball_query(xyz, centres, radius, nsample):
    out = np.zeros(centres.shape[:2] + (nsample,), dtype=np.int64)
    for b in range(len(xyz)):
        for s, c in enumerate(centres[b]):
            found = []
            for k, p in enumerate(xyz[b]):  # the release's loop: index order, strict inequality
                if ((p - c) ** 2).sum() < radius ** 2:
                    found.append(k)
                    if len(found) == nsample:
                        break
            first = found[0] if found else 0
            out[b, s] = found + [first] * (nsample - len(found))
    return out


def numpy_three_interpolate(unknown, known, features):
    out = np.zeros(unknown.shape[:2] + (features.shape[-1],))
    for b in range(len(unknown)):
        for i, p in enumerate(unknown[b]):
            d = np.sqrt(((known[b] - p) ** 2).sum(1))
            nearest = np.argsort(d, kind="stable")[:3]
            w = 1.0 / (d[nearest] + 1e-8)
            out[b, i] = (w[:, None] * features[b, nearest]).sum(0) / w.sum()
    return out


@pytest.fixture
def clouds():
    rng = np.random.default_rng(0)
    return rng.random((3, 200, 3)).astype(np.float32)


def test_farthest_point_sampling_matches_brute_force(clouds):
    got = ops.farthest_point_sample(paddle.to_tensor(clouds), 24).numpy()
    np.testing.assert_array_equal(got, numpy_fps(clouds.astype(np.float64), 24))
    assert all(len(set(row)) == 24 for row in got)  # never picks a point twice


def test_ball_query_first_in_radius_padded_with_the_first(clouds):
    centres = clouds[:, [5, 70, 199]] + 0.01
    centres[0, 0] = 5.0  # far from every point: all indices 0
    centres[1, 0] = 0.0  # a corner: few neighbours, padded
    got = ops.ball_query(paddle.to_tensor(clouds), paddle.to_tensor(centres), 0.25, 8).numpy()
    want = numpy_ball_query(clouds, centres, 0.25, 8)
    np.testing.assert_array_equal(got, want)
    assert (got[0, 0] == 0).all()
    assert any(len(set(row)) < 8 for row in got.reshape(-1, 8))  # the padding case occurs
    assert any(len(set(row)) == 8 for row in got.reshape(-1, 8))  # and the full case


def test_grouping_centres_neighbours_and_carries_features(clouds):
    rng = np.random.default_rng(1)
    features = rng.random((3, 200, 5)).astype(np.float32)
    idx = rng.integers(0, 200, (3, 4, 6))
    centres = clouds[:, :4]
    got = ops.group(paddle.to_tensor(clouds), paddle.to_tensor(centres), paddle.to_tensor(idx),
                    paddle.to_tensor(features)).numpy()
    b = np.arange(3)[:, None, None]
    want = np.concatenate([clouds[b, idx] - centres[:, :, None], features[b, idx]], -1)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_grouping_passes_gradients_to_the_features(clouds):
    features = paddle.to_tensor(np.ones((3, 200, 2), dtype=np.float32), stop_gradient=False)
    idx = paddle.to_tensor(np.array([[[0, 0, 1]]] * 3))
    ops.gather_points(features, idx).sum().backward()
    np.testing.assert_array_equal(features.grad.numpy()[:, :3, 0], [[2, 1, 0]] * 3)


def test_three_nn_interpolation_matches_brute_force(clouds):
    rng = np.random.default_rng(2)
    known = clouds[:, :30]
    features = rng.random((3, 30, 4)).astype(np.float32)
    got = ops.three_nn_interpolate(paddle.to_tensor(clouds), paddle.to_tensor(known), paddle.to_tensor(features))
    np.testing.assert_allclose(got.numpy(), numpy_three_interpolate(clouds, known, features), rtol=1e-4, atol=1e-4)
    # a point that is a known point gets (almost exactly) that point's features
    np.testing.assert_allclose(got.numpy()[:, :30], features, atol=1e-4)
