"""Trackers at tracking time, all behind `init(frame, box)` / `update(frame) -> box` (x, y, w, h):

- SiamFCTracker: the release's SiamFC tracking: 3 scales (step 1.0375, penalty 0.9745, scale LR 0.59),
  the 17x17 response upsampled 16x by bicubic interpolation, a cosine (Hann) window of influence
  0.176. `embed` maps crops (B, 3, H, W) to feature maps; the dynamic graph, the exported model and
  the pixel baseline all plug in here.
- StaticTracker: the trivial baseline that never moves.
- pixel_embedding: the other baseline, template matching by plain correlation of pixels: the same
  tracker with mean-subtracted pixels averaged over 8x8 cells instead of learned features.
"""
import time

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F

import reader


class SiamFCTracker:
    exemplar_size, search_size, score_size, total_stride = 127, 255, 17, 8
    scale_step, num_scales, scale_penalty, scale_lr = 1.0375, 3, 0.9745, 0.59
    window_influence, response_up, context = 0.176, 16, 0.5

    def __init__(self, embed, adjust=(0.001, 0.0)):
        self.embed, self.adjust = embed, adjust
        self.scales = self.scale_step ** (np.arange(self.num_scales) - (self.num_scales - 1) / 2)
        up = self.score_size * self.response_up
        hann = np.hanning(up)
        self.window = np.outer(hann, hann) / np.outer(hann, hann).sum()

    def init(self, frame, box):
        box = np.asarray(box, np.float64)
        self.center, self.size = box[:2] + box[2:] / 2, box[2:].copy()
        self.mean = frame.reshape(-1, 3).mean(0)
        self.s_z = reader.context_side(*self.size, self.context)
        self.s_x = self.s_z * self.search_size / self.exemplar_size
        self.min_s_x, self.max_s_x = 0.2 * self.s_x, 5 * self.s_x
        z = reader.crop(frame, self.center, self.s_z, self.exemplar_size, self.mean)
        self.kernel = paddle.to_tensor(self.embed(reader.to_chw(z, False)[None]))

    def update(self, frame):
        sides = self.s_x * self.scales
        crops = np.stack([reader.to_chw(reader.crop(frame, self.center, s, self.search_size, self.mean), False)
                          for s in sides])
        feats = paddle.to_tensor(self.embed(crops))
        scores = (F.conv2d(feats, self.kernel).numpy()[:, 0] * self.adjust[0] + self.adjust[1])
        up = self.score_size * self.response_up
        responses = np.stack([cv2.resize(s, (up, up), interpolation=cv2.INTER_CUBIC) for s in scores])
        mid = (self.num_scales - 1) // 2
        peaks = responses.reshape(self.num_scales, -1).max(1)
        peaks[np.arange(self.num_scales) != mid] *= self.scale_penalty
        best = int(np.argmax(peaks))
        response = responses[best] - responses[best].min()
        response /= max(response.sum(), 1e-12)
        response = (1 - self.window_influence) * response + self.window_influence * self.window
        row, col = np.unravel_index(np.argmax(response), response.shape)
        disp = np.array([col, row], np.float64) - (up - 1) / 2
        disp = disp * self.total_stride / self.response_up * sides[best] / self.search_size
        self.center = np.clip(self.center + disp, 0, [frame.shape[1], frame.shape[0]])
        factor = (1 - self.scale_lr) + self.scale_lr * self.scales[best]
        self.s_x = float(np.clip(self.s_x * factor, self.min_s_x, self.max_s_x))
        self.size = self.size * factor
        return np.array([*(self.center - self.size / 2), *self.size])


class StaticTracker:
    """Never moves: the box given at initialisation."""

    def init(self, frame, box):
        self.box = np.asarray(box, np.float64)

    def update(self, frame):
        return self.box.copy()


def pixel_embedding(crops):
    """Plain pixels as the 'features': per-crop mean removed, averaged over 8x8 cells (stride 8, the
    geometry of the learned embedding: 127 -> 15, 255 -> 31, so the score map is 17x17 too)."""
    x = paddle.to_tensor(crops)
    x = x - x.mean(axis=[1, 2, 3], keepdim=True)
    return F.avg_pool2d(x, 8, stride=8).numpy()


def dygraph_embedding(network):
    def embed(crops):
        with paddle.no_grad():
            return network(paddle.to_tensor(crops)).numpy()
    return embed


def iterate_frames(sequence, start):
    for path in sequence.frames[start:]:
        frame = reader.load_frame(path)
        if isinstance(frame, Exception):
            raise frame
        yield frame


def track_one_pass(tracker, sequence, timing=None):
    """Boxes (N, 4) for every frame, initialised once on the first ground-truth box."""
    boxes = []
    for i, frame in enumerate(iterate_frames(sequence, 0)):
        if i == 0:
            tracker.init(frame, sequence.boxes[0])
            boxes.append(np.asarray(sequence.boxes[0], np.float64))
            continue
        start = time.perf_counter()
        boxes.append(tracker.update(frame))
        if timing is not None:
            timing[0] += time.perf_counter() - start
            timing[1] += 1
    return np.stack(boxes)


def restarting(tracker, sequence, timing=None, one_pass=None):
    """For metrics.run_vot: initialise on frame `start`, then yield a box per following frame. The
    trackers are deterministic, so the run from frame 0 is the one-pass run's boxes when given."""
    def from_frame(start):
        if start == 0 and one_pass is not None:
            yield from one_pass[1:]
            return
        frames = iterate_frames(sequence, start)
        tracker.init(next(frames), sequence.boxes[start])
        for frame in frames:
            t = time.perf_counter()
            box = tracker.update(frame)
            if timing is not None:
                timing[0] += time.perf_counter() - t
                timing[1] += 1
            yield box
    return from_frame

