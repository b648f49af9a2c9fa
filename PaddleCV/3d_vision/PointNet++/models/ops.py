"""The point-set operations of PointNet++, written in Paddle ops and vectorised over the batch and
the points (the release compiled them as CUDA ops):

- farthest_point_sample: npoint indices, each the point farthest from those already taken; the one
  loop is over the npoint picks, which depend on each other;
- ball_query: for each centre, the first `nsample` points (in index order) closer than `radius`,
  the list padded with its first entry, as the release's query_ball does;
- group: gather features by such indices;
- three_nn_interpolate: the features of the three nearest known points, weighted by inverse distance.

Shapes are channel-last: points [B, N, 3], features [B, N, C].
"""
import paddle


def square_distance(a, b):
    """[B, S, 3], [B, N, 3] -> squared distances [B, S, N]."""
    d = (a * a).sum(-1, keepdim=True) - 2 * paddle.matmul(a, b, transpose_y=True) + (b * b).sum(-1).unsqueeze(1)
    return paddle.clip(d, min=0.0)


def farthest_point_sample(xyz, npoint):
    """[B, N, 3] -> int64 indices [B, npoint]. The first pick is point 0; each next pick is the point
    whose distance to the picked set is largest (the first such point on ties). In the dynamic graph
    the npoint picks are a Python loop; traced for export they become one while op."""
    def next_pick(far, mindist):
        """Take `far` [B, 1] into the set: the distances to the set and the next farthest point."""
        centre = paddle.take_along_axis(xyz, far.unsqueeze(-1).expand([-1, -1, 3]), axis=1)
        mindist = paddle.minimum(mindist, ((xyz - centre) ** 2).sum(-1))
        return paddle.argmax(mindist, axis=1, keepdim=True), mindist

    with paddle.no_grad():
        far = paddle.zeros_like(xyz[:, :1, 0], dtype="int64")
        mindist = paddle.full_like(xyz[:, :, 0], 1e10)
        if paddle.in_dynamic_mode():  # a Python loop: a tensor `i < npoint` would sync the host every pick
            picks = []
            for _ in range(npoint):
                picks.append(far)
                far, mindist = next_pick(far, mindist)
            return paddle.concat(picks, 1)

        def cond(i, idx, far, mindist):
            return i < npoint

        def body(i, idx, far, mindist):
            idx = paddle.put_along_axis(idx, paddle.zeros_like(far) + i, far, axis=1)
            return (i + 1, idx, *next_pick(far, mindist))

        i = paddle.zeros([1], dtype="int64")
        idx = paddle.zeros_like(xyz[:, :1, 0], dtype="int64").expand([-1, npoint])
        return paddle.static.nn.while_loop(cond, body, [i, idx, far, mindist])[1]


def gather_points(values, idx):
    """values [B, N, C], idx [B, ...] -> [B, ..., C]: values[b, idx[b, ...]] (differentiable in values)."""
    c = values.shape[-1]
    flat_idx = idx.reshape([idx.shape[0], -1])
    out = paddle.take_along_axis(values, flat_idx.unsqueeze(-1).expand([-1, -1, c]), axis=1)
    return out.reshape(list(idx.shape) + [c])


def ball_query(xyz, centres, radius, nsample):
    """xyz [B, N, 3], centres [B, S, 3] -> int64 [B, S, nsample]: the first nsample point indices
    with squared distance < radius^2, in index order; fewer are padded with the first one found
    (a centre with none gets index 0)."""
    with paddle.no_grad():
        n = xyz.shape[1]
        d2 = square_distance(centres, xyz)
        order = paddle.arange(n, dtype="int64").reshape([1, 1, -1])
        key = paddle.where(d2 < radius * radius, order, paddle.full_like(order, n))
        k = min(nsample, n)
        first = paddle.topk(key, k, axis=-1, largest=False, sorted=True)[0]
        if k < nsample:
            first = paddle.concat([first, paddle.full_like(first[:, :, :1], n).expand([-1, -1, nsample - k])], -1)
        head = first[:, :, :1]
        head = paddle.where(head == n, paddle.zeros_like(head), head)
        return paddle.where(first == n, head.expand_as(first), first)


def group(xyz, centres, idx, features=None, use_xyz=True):
    """The grouped inputs of a set abstraction: [B, S, K, 3 + C] with the xyz of each neighbour
    relative to its centre (first), then its features."""
    grouped = gather_points(xyz, idx) - centres.unsqueeze(2)
    if features is None:
        return grouped
    grouped_features = gather_points(features, idx)
    return paddle.concat([grouped, grouped_features], -1) if use_xyz else grouped_features


def three_nn(unknown, known):
    """unknown [B, n, 3], known [B, m, 3] -> (squared distances [B, n, 3], indices [B, n, 3]) of the
    three nearest known points, nearest first. The three are found with the matrix form of the
    distance and their distances then recomputed from the coordinates (exact 0 for a known point)."""
    with paddle.no_grad():
        d2 = square_distance(unknown, known)
        k = min(3, known.shape[1])
        idx = paddle.topk(-d2, k, axis=-1)[1]
        exact = ((gather_points(known, idx) - unknown.unsqueeze(2)) ** 2).sum(-1)
        return exact, idx


def three_nn_interpolate(unknown, known, known_features):
    """Features at `unknown` points: the inverse-distance weighted mean (weights 1/(d + 1e-8),
    normalised) of the features of the three nearest `known` points. [B, n, C]."""
    d2, idx = three_nn(unknown, known)
    with paddle.no_grad():
        recip = 1.0 / (paddle.sqrt(d2) + 1e-8)
        weight = recip / recip.sum(-1, keepdim=True)
    return (gather_points(known_features, idx) * weight.unsqueeze(-1)).sum(2)
