"""The PointNet++ operations in Paddle against brute-force numpy references."""
import numpy as np
import paddle
import pytest

from models.pointnet2 import (ball_query, farthest_point_sample, gather_points, max_over, square_distance,
                              three_nn_interpolate)


def numpy_fps(xyz, npoint):
    picked, dist = [0], np.full(len(xyz), np.inf)
    for _ in range(npoint - 1):
        dist = np.minimum(dist, ((xyz - xyz[picked[-1]]) ** 2).sum(1))
        picked.append(int(dist.argmax()))
    return picked


def test_farthest_point_sampling():
    xyz = np.random.default_rng(0).normal(size=(2, 300, 3)).astype(np.float32)
    got = farthest_point_sample(paddle.to_tensor(xyz), 40).numpy()
    assert got.tolist() == [numpy_fps(x, 40) for x in xyz]


def test_farthest_point_sampling_graph_loop_picks_the_same(monkeypatch):
    """The dynamic graph samples in numpy; the Paddle while loop (what the export runs) picks the same."""
    import models.pointnet2 as pointnet2
    xyz = np.random.default_rng(2).normal(size=(2, 300, 3)).astype(np.float32) * 10
    monkeypatch.setattr(pointnet2.paddle, "in_dynamic_mode", lambda: False)
    got = farthest_point_sample(paddle.to_tensor(xyz), 40).numpy()
    assert got.tolist() == [numpy_fps(x, 40) for x in xyz]


def test_ball_query_takes_the_first_points_inside_in_index_order():
    rng = np.random.default_rng(1)
    xyz = rng.uniform(-1, 1, (2, 200, 3)).astype(np.float32)
    centres = xyz[:, :30]
    got = ball_query(0.4, 8, paddle.to_tensor(xyz), paddle.to_tensor(centres)).numpy()
    for b in range(2):
        for s in range(30):
            d2 = ((xyz[b] - centres[b, s]) ** 2).sum(1)
            inside = np.where(d2 < 0.16)[0][:8].tolist()
            assert got[b, s].tolist() == inside + [inside[0]] * (8 - len(inside))


def test_grouping_and_square_distance():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(3, 50, 5)).astype(np.float32)
    idx = rng.integers(0, 50, (3, 7, 4))
    got = gather_points(paddle.to_tensor(features), paddle.to_tensor(idx)).numpy()
    assert np.array_equal(got, np.stack([features[b][idx[b]] for b in range(3)]))
    a, b = features[..., :3], features[:, :20, :3]
    d2 = square_distance(paddle.to_tensor(a), paddle.to_tensor(b)).numpy()
    assert np.allclose(d2, ((a[:, :, None] - b[:, None]) ** 2).sum(-1), atol=1e-4)


def test_three_nn_interpolation():
    rng = np.random.default_rng(3)
    unknown, known = rng.normal(size=(2, 40, 3)).astype(np.float32), rng.normal(size=(2, 12, 3)).astype(np.float32)
    feats = rng.normal(size=(2, 12, 6)).astype(np.float32)
    got = three_nn_interpolate(*map(paddle.to_tensor, (unknown, known, feats))).numpy()
    for b in range(2):
        for i in range(40):
            d = np.sqrt(((known[b] - unknown[b, i]) ** 2).sum(1))
            nn = np.argsort(d)[:3]
            w = 1 / (d[nn] + 1e-8)
            assert np.allclose(got[b, i], (feats[b, nn] * (w / w.sum())[:, None]).sum(0), atol=1e-4)


def test_max_over_has_the_max_and_its_gradient():
    x = paddle.to_tensor(np.random.default_rng(4).normal(size=(2, 5, 7, 3)).astype(np.float32), stop_gradient=False)
    y = max_over(x, 2)
    assert np.array_equal(y.numpy(), x.numpy().max(2))
    y.sum().backward()
    expected = (x.numpy() == x.numpy().max(2, keepdims=True)).astype(np.float32)
    assert np.array_equal(x.grad.numpy(), expected)
