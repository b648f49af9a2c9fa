"""Box geometry in numpy, vectorised over pairs of boxes: corners, points in boxes, rotated
bird's-eye-view (BEV) and 3D IoU, rotated NMS, and the 2D box of a 3D box in the image.

A box is (x, y, z, h, w, l, ry) in KITTI's rectified camera frame: (x, y, z) the centre of the bottom
face, y pointing down (the box spans y - h .. y), l along the heading, ry the rotation about y. Two
boxes' BEV overlap is the area of the intersection of two convex quadrilaterals in the x-z plane: the
corners of each inside the other and the crossings of their edges, ordered by angle around their
centroid, and the shoelace formula; the 3D IoU multiplies it by the overlap of the height ranges.
"""
import numpy as np


def bev_corners(boxes):
    """[N, 4, 2] (x, z) corners, counter-clockwise in the x-z plane."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    x, z, w, l, ry = boxes[:, 0], boxes[:, 2], boxes[:, 4], boxes[:, 5], boxes[:, 6]
    dx = np.stack([l, l, -l, -l], 1) / 2  # along the heading
    dz = np.stack([w, -w, -w, w], 1) / 2
    c, s = np.cos(ry)[:, None], np.sin(ry)[:, None]
    corners = np.stack([x[:, None] + c * dx + s * dz, z[:, None] - s * dx + c * dz], -1)
    area = polygon_area(corners)
    return np.where((area < 0)[:, None, None], corners[:, ::-1], corners)


def polygon_area(poly):
    """Signed shoelace area of [..., K, 2] polygons."""
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * (x * np.roll(y, -1, -1) - np.roll(x, -1, -1) * y).sum(-1)


def corners_3d(boxes):
    """[N, 8, 3] corners: the 4 BEV corners at the bottom (y), then at the top (y - h)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    bev = bev_corners(boxes)
    bottom = np.stack([bev[..., 0], np.repeat(boxes[:, 1:2], 4, 1), bev[..., 1]], -1)
    top = bottom.copy()
    top[..., 1] -= boxes[:, 3:4]
    return np.concatenate([bottom, top], 1)


def _inside(points, polys):
    """points [P, K, 2] inside (or on) the counter-clockwise convex polys [P, 4, 2] -> [P, K]."""
    a, b = polys, np.roll(polys, -1, 1)
    edge = (b - a)[:, None]                                   # [P, 1, 4, 2]
    rel = points[:, :, None] - a[:, None]                      # [P, K, 4, 2]
    cross = edge[..., 0] * rel[..., 1] - edge[..., 1] * rel[..., 0]
    return (cross >= -1e-9).all(-1)


def _intersection_area(pa, pb):
    """Areas of the intersections of convex quadrilaterals pa[i] and pb[i] ([P, 4, 2] each)."""
    a1, a2 = pa[:, :, None], np.roll(pa, -1, 1)[:, :, None]      # [P, 4, 1, 2]
    b1, b2 = pb[:, None], np.roll(pb, -1, 1)[:, None]            # [P, 1, 4, 2]
    da, db = a2 - a1, b2 - b1
    denom = da[..., 0] * db[..., 1] - da[..., 1] * db[..., 0]    # [P, 4, 4]
    diff = b1 - a1
    safe = np.where(np.abs(denom) < 1e-12, 1.0, denom)
    t = (diff[..., 0] * db[..., 1] - diff[..., 1] * db[..., 0]) / safe
    u = (diff[..., 0] * da[..., 1] - diff[..., 1] * da[..., 0]) / safe
    crossing_ok = (np.abs(denom) >= 1e-12) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = (a1 + t[..., None] * da).reshape(len(pa), 16, 2)
    points = np.concatenate([pa, pb, crossings], 1)              # [P, 24, 2]
    ok = np.concatenate([_inside(pa, pb), _inside(pb, pa), crossing_ok.reshape(len(pa), 16)], 1)
    count = ok.sum(1)
    centre = (points * ok[..., None]).sum(1) / np.maximum(count, 1)[:, None]
    angle = np.arctan2(points[..., 1] - centre[:, None, 1], points[..., 0] - centre[:, None, 0])
    angle = np.where(ok, angle, np.inf)
    order = np.argsort(angle, 1)
    points = np.take_along_axis(points, order[..., None], 1)
    ok = np.take_along_axis(ok, order, 1)
    points = np.where(ok[..., None], points, points[:, :1])      # unused slots repeat the first point
    area = np.abs(polygon_area(points))
    return np.where(count >= 3, area, 0.0)


def _pairwise(a, b, height, chunk=16384):
    a, b = np.asarray(a, np.float64).reshape(-1, 7), np.asarray(b, np.float64).reshape(-1, 7)
    out = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return out
    ca, cb = bev_corners(a), bev_corners(b)
    radius_a, radius_b = np.hypot(a[:, 4], a[:, 5]) / 2, np.hypot(b[:, 4], b[:, 5]) / 2
    near = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 2] - b[None, :, 2]) < radius_a[:, None] + radius_b[None]
    i, j = np.nonzero(near)  # pairs whose circumcircles do not meet cannot overlap
    inter = np.zeros(len(i))
    for s in range(0, len(i), chunk):
        inter[s:s + chunk] = _intersection_area(ca[i[s:s + chunk]], cb[j[s:s + chunk]])
    area_a, area_b = a[:, 4] * a[:, 5], b[:, 4] * b[:, 5]
    if height:
        overlap_h = np.clip(np.minimum(a[i, 1], b[j, 1]) - np.maximum(a[i, 1] - a[i, 3], b[j, 1] - b[j, 3]), 0, None)
        inter = inter * overlap_h
        area_a, area_b = area_a * a[:, 3], area_b * b[:, 3]
    out[i, j] = inter / np.maximum(area_a[i] + area_b[j] - inter, 1e-12)
    return out


def iou_bev(a, b):
    """[len(a), len(b)] rotated IoU of the boxes' footprints in the x-z plane."""
    return _pairwise(a, b, height=False)


def iou_3d(a, b):
    """[len(a), len(b)] rotated 3D IoU: BEV intersection times height overlap, over the union of volumes."""
    return _pairwise(a, b, height=True)


def nms(boxes, scores, threshold, max_keep=None):
    """Greedy rotated NMS on the BEV IoU (the release's proposal and final NMS): indices of the kept
    boxes, best first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(boxes).reshape(-1, 7)[order]
    suppressed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):  # one row of IoUs per kept box, against the boxes still in play
        if suppressed[i]:
            continue
        keep.append(order[i])
        if max_keep and len(keep) >= max_keep:
            break
        rest = np.where(~suppressed)[0]
        rest = rest[rest > i]
        suppressed[rest[iou_bev(boxes[i:i + 1], boxes[rest])[0] > threshold]] = True
    return np.array(keep, np.int64)


def points_in_boxes(points, boxes, extra=0.0):
    """[len(boxes), len(points)] True where a point lies inside a box enlarged by `extra` metres on
    every side."""
    points, boxes = np.asarray(points, np.float64)[:, :3], np.asarray(boxes, np.float64).reshape(-1, 7)
    rel = points[None] - boxes[:, None, :3]
    c, s = np.cos(boxes[:, 6])[:, None], np.sin(boxes[:, 6])[:, None]
    along = rel[..., 0] * c - rel[..., 2] * s  # the box's own axes: l along the heading, w across
    across = rel[..., 0] * s + rel[..., 2] * c
    up = -rel[..., 1]
    return ((np.abs(along) <= boxes[:, None, 5] / 2 + extra) & (np.abs(across) <= boxes[:, None, 4] / 2 + extra)
            & (up >= -extra) & (up <= boxes[:, None, 3] + extra))


def image_boxes(boxes, calib, size):
    """[N, 4] 2D boxes (x1, y1, x2, y2) of 3D boxes in the image, clipped to its (width, height)."""
    boxes = np.asarray(boxes).reshape(-1, 7)
    if not len(boxes):
        return np.zeros((0, 4), np.float32)
    corners = corners_3d(boxes).reshape(-1, 3)
    pixels, _ = calib.rect_to_image(corners)
    pixels = pixels.reshape(-1, 8, 2)
    out = np.concatenate([pixels.min(1), pixels.max(1)], 1)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, size[0] - 1)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, size[1] - 1)
    return out.astype(np.float32)
