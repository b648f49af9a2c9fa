"""ATOM at tracking time (init(frame, box) / update(frame) -> box, like tracker.py's trackers).

Per frame: a square crop of 5 target sizes around the last position, resized to the run's image size;
the backbone's layer2/layer3 features; the online classifier (two convolutions on layer3: a 1x1
projection to 64 channels and a 4x4 filter) locates the target (its score map upsampled 16x); then
the IoU-Net refines the box (unless refine=False, eval.py --no_refine): 8 proposals (the located box and 7 jittered copies) climb the predicted IoU by gradient ascent
(5 steps), and the mean of the 3 best is the new box.

The classifier is fitted on the first frame (the crop and 3 shifted copies, a Gaussian label at the
target) and updated with each tracked frame (the last 20 kept), by steepest descent with the exact
step length of the least-squares loss (ATOM's filter update). Simplification: the projection is
fitted once, by PCA of the first frame's features, instead of ATOM's joint Gauss-Newton iterations.
"""
import math

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F

import reader

PROJECTION_DIM, FILTER_SIZE, MEMORY = 64, 4, 20
INIT_ITERATIONS, UPDATE_ITERATIONS, REG = 10, 2, 0.1
NUM_PROPOSALS, ASCENT_STEPS, STEP_LENGTH, TOP_K = 8, 5, 1.0, 3


class ATOMTracker:
    def __init__(self, network, seed=0, refine=True):
        self.net, self.rng, self.use_refinement = network, np.random.default_rng(seed), refine
        self.size = network.image_size

    # ------------------------------------------------------------------ features and the classifier
    def features(self, frame, center, scale_side):
        patch = reader.crop(frame, center, scale_side, self.size)
        with paddle.no_grad():
            return self.net.backbone(paddle.to_tensor(reader.to_chw(patch, True)[None]))

    def project(self, f3):
        c = f3.shape[1]
        return F.conv2d(f3, self.projection.reshape([-1, c, 1, 1]))

    def label(self, box_in_crop, shape):
        """Gaussian at the target centre on the layer3 grid (stride 16), sigma a quarter of its size."""
        h, w = shape
        cx, cy = (box_in_crop[0] + box_in_crop[2] / 2) / 16 - 0.5, (box_in_crop[1] + box_in_crop[3] / 2) / 16 - 0.5
        sigma = 0.25 * math.sqrt(box_in_crop[2] * box_in_crop[3]) / 16
        ys, xs = np.mgrid[0:h, 0:w]
        return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * max(sigma, 0.5) ** 2)).astype(np.float32)

    def scores(self, x, weights=None):
        """The filter (default: the current one) correlated with x, cropped to x's grid."""
        f = self.filter if weights is None else weights
        return F.conv2d(x, f, padding=FILTER_SIZE // 2)[:, :, :x.shape[2], :x.shape[3]]

    def steepest_descent(self, iterations):
        """Minimise sum ||filter * x - y||^2 + REG ||filter||^2 over the memory (quadratic in the
        filter: the exact step along the gradient is |g|^2 / (|A g|^2 + REG |g|^2))."""
        x, y = paddle.concat(self.samples), paddle.to_tensor(np.stack(self.labels)[:, None])
        for _ in range(iterations):
            f = self.filter.detach()
            f.stop_gradient = False
            self.filter = f
            residual = self.scores(x) - y
            loss = (residual ** 2).sum() + REG * (f ** 2).sum()
            g = paddle.grad(loss, f)[0].detach()
            with paddle.no_grad():
                ag = self.scores(x, g)
                alpha = (g ** 2).sum() / ((ag ** 2).sum() * 2 + REG * 2 * (g ** 2).sum() + 1e-12)
                self.filter = (f - alpha * g).detach()

    # --------------------------------------------------------------------------------- the tracker
    def init(self, frame, box):
        box = np.asarray(box, np.float64)
        self.center, self.target = box[:2] + box[2:] / 2, box[2:].copy()
        side = self.net.search_area * math.sqrt(box[2] * box[3])
        f2, f3 = self.features(frame, self.center, side)
        crop_box = self.to_crop(box, self.center, side)
        with paddle.no_grad():
            self.modulation = self.net.iou_net.modulation((f2, f3), paddle.to_tensor(crop_box[None], "float32"))
        c = f3.shape[1]
        flat = f3.transpose([0, 2, 3, 1]).reshape([-1, c]).numpy()
        flat = flat - flat.mean(0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        k = min(PROJECTION_DIM, vt.shape[0])
        self.projection = paddle.to_tensor(vt[:k].astype(np.float32))
        self.samples, self.labels = [], []
        shape = f3.shape[2:]
        for dx, dy in [(0, 0), (-1, 0), (1, 0), (0, 1)]:  # the crop and 3 copies shifted by a quarter target
            shift = np.array([dx, dy]) * 0.25 * box[2:]
            _, f3s = self.features(frame, self.center + shift, side) if (dx or dy) else (f2, f3)
            self.samples.append(self.project(f3s))
            self.labels.append(self.label(self.to_crop(box, self.center + shift, side), shape))
        self.filter = paddle.zeros([1, k, FILTER_SIZE, FILTER_SIZE])
        self.steepest_descent(INIT_ITERATIONS)

    def to_crop(self, box, center, side):
        scale = self.size / side
        return np.array([(box[0] - center[0] + side / 2) * scale, (box[1] - center[1] + side / 2) * scale,
                         box[2] * scale, box[3] * scale])

    def update(self, frame):
        side = self.net.search_area * math.sqrt(self.target[0] * self.target[1])
        f2, f3 = self.features(frame, self.center, side)
        x = self.project(f3)
        with paddle.no_grad():
            score = self.scores(x)[0, 0].numpy()
        # the score of layer3 cell j is about crop pixel 16 j + 8: upsampled 16x (bicubic), pixel u + 0.5
        up = cv2.resize(score, (score.shape[1] * 16, score.shape[0] * 16), interpolation=cv2.INTER_CUBIC)
        row, col = np.unravel_index(np.argmax(up), up.shape)
        scale = self.size / side
        located = np.array([col + 0.5, row + 0.5])  # crop pixels
        box = np.array([*(located - self.target * scale / 2), *(self.target * scale)])
        if self.use_refinement:
            box = self.refine(f2, f3, box)
        new = np.array([box[0] / scale + self.center[0] - side / 2, box[1] / scale + self.center[1] - side / 2,
                        box[2] / scale, box[3] / scale])
        new[2:] = np.clip(new[2:], 0.5 * self.target, 2.0 * self.target)  # no jumps in size in one frame
        self.center = np.clip(new[:2] + new[2:] / 2, 0, [frame.shape[1], frame.shape[0]])
        self.target = new[2:]
        # remember this frame (its label at the new position) and refit the filter a little
        self.samples.append(x)
        self.labels.append(self.label(box, score.shape))
        if len(self.samples) > MEMORY:
            del self.samples[4], self.labels[4]  # keep the first frame's four
        self.steepest_descent(UPDATE_ITERATIONS)
        return np.array([*(self.center - self.target / 2), *self.target])

    def refine(self, f2, f3, box):
        """Gradient ascent of the predicted IoU over 8 proposals; the mean of the 3 best."""
        proposals = np.concatenate([box[None], reader.jitter_boxes(box, self.rng, NUM_PROPOSALS - 1, (0.1,))])
        with paddle.no_grad():
            feats = self.net.iou_net.iou_features((f2, f3))
        boxes = paddle.to_tensor(proposals[None], "float32")
        for _ in range(ASCENT_STEPS):
            boxes = boxes.detach()
            boxes.stop_gradient = False
            iou = self.net.iou_net.predict_iou(self.modulation, feats, boxes)
            grad = paddle.grad(iou.sum(), boxes)[0]
            sizes = paddle.concat([boxes[..., 2:], boxes[..., 2:]], -1)
            boxes = (boxes + STEP_LENGTH * grad * sizes).detach()  # steps scaled by the box size
            boxes = paddle.concat([boxes[..., :2], boxes[..., 2:].clip(min=4.0)], -1)
        with paddle.no_grad():
            iou = self.net.iou_net.predict_iou(self.modulation, feats, boxes).numpy()[0]
        best = np.argsort(-iou)[:TOP_K]
        return boxes.numpy()[0][best].mean(0).astype(np.float64)
