"""ATOM at tracking time (init(frame, box) / update(frame) -> box, like tracker.py's trackers), with
the settings of the release's pytracking/parameter/atom/default.py where this code has them.

Per frame: a square crop of 5 target sizes (`search_area_scale`) around the last position, resized
to the run's image size; the backbone's layer2/layer3 features, layer3 normalised to unit mean
square (`normalize_power=2`); the online classifier (two convolutions on layer3: a 1x1 projection to
64 channels and a 4x4 filter) scores the crop, weighted by a Hann window (the release's
window_output, off in its default.py: on here, because the demo's distractors look like the target
and a weakly trained backbone tells them apart poorly); the localisation is the release's "advanced" one: a
peak below 0.25 is "target not found" (no move, no update); a second peak outside 2.2 target sizes
above 0.8 of the first is a distractor: when just one of the two peaks lies within 0.8 of the crop's
half side from its centre, that one is kept and the frame is a "hard negative" (a larger learning
rate), otherwise the frame is "uncertain" (the memory is not updated) and the peak nearer the crop
centre is kept (the release keeps the higher one); a second peak above 0.5 of the first is a "hard
negative" too. Then the IoU-Net refines the box (unless refine=False, eval.py --no_refine): the
classifier's box and 9 random boxes (top-left corner moved by up to 0.05 and width and height by up
to 0.25 of the box's square size, uniform; the release moves the centre) climb the predicted IoU by
5 gradient-ascent steps of length 1 (scaled by each box's size), boxes with an aspect ratio above 6
are dropped, and the mean of the 3 best is the new box.

The classifier is fitted on the first frame's augmented samples (the crop, its mirror image, 4 crops
shifted by 0.3 of the crop side, 2 blurred crops and 7 channel-dropout copies of the crop's features;
a Gaussian label of sigma 1/4 of the target size at the target) and then on every tracked frame
kept in a weighted memory (learning rate 0.01, 0.02 on a hard negative; the first frame's samples keep
at least a quarter of the weight), by steepest descent on the weighted least-squares loss with the
exact step length (ATOM's filter update). Simplification: the projection is fitted once, by PCA of
the first frame's features, instead of ATOM's joint Gauss-Newton iterations.

The networks are reached through `DygraphNets` (the trained model) or export.py's exported
predictors (infer.py); both give the same four calls: features, modulation, iou_features,
iou_and_grad.
"""
import math
import os

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F

import reader

PROJECTION_DIM, FILTER_SIZE, MEMORY = 64, 4, 60
INIT_ITERATIONS, UPDATE_ITERATIONS, REG = 30, 3, 0.01
LEARNING_RATE, HARD_NEGATIVE_LEARNING_RATE, INIT_MIN_WEIGHT = 0.01, 0.02, 0.25
NOT_FOUND, DISTRACTOR, HARD_NEGATIVE, NEIGHBOURHOOD, DISPLACEMENT = 0.25, 0.8, 0.5, 2.2, 0.8
NUM_RANDOM_BOXES, JITTER_POS, JITTER_SIZE, MAX_ASPECT = 9, 0.1, 0.5, 6.0
ASCENT_STEPS, STEP_LENGTH, TOP_K = 5, 1.0, 3
WINDOW_OUTPUT = True
SHIFTS, BLURS, DROPOUT_COPIES, DROPOUT = [(0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3)], (1.0, 2.0), 7, 0.2


class DygraphNets:
    """The trained ATOM network's four calls at tracking time, in the dynamic graph."""

    def __init__(self, network):
        self.net = network

    def features(self, images):
        with paddle.no_grad():
            f2, f3 = self.net.backbone(paddle.to_tensor(images))
        return f2, f3

    def modulation(self, f2, f3, box):
        with paddle.no_grad():
            return self.net.iou_net.modulation((f2, f3), paddle.to_tensor(box[None], "float32"))

    def iou_features(self, f2, f3):
        with paddle.no_grad():
            return self.net.iou_net.iou_features((f2, f3))

    def iou_and_grad(self, modulation, feats, boxes):
        """boxes [P, 4] -> predicted IoU [P] and its gradient in the boxes [P, 4]."""
        b = paddle.to_tensor(boxes[None], "float32", stop_gradient=False)
        iou = self.net.iou_net.predict_iou(modulation, feats, b)
        grad = paddle.grad(iou.sum(), b)[0]
        return iou.numpy()[0], grad.numpy()[0]


class ExportedNets:
    """The same four calls through export.py's three Paddle Inference models (`model`, `modulation`,
    `iou` in inference_dir). features() runs the IoU-Net's test branch too and keeps its output for the
    iou_features() call that follows on the same crop. The exported IoU has no gradient: the ascent's
    gradient is the central difference over +-EPSILON crop pixels of each coordinate (all the
    shifted boxes in one call)."""
    EPSILON = 0.25

    def __init__(self, inference_dir):
        import utils
        self.run = {name: utils.create_predictor(os.path.join(inference_dir, name))
                    for name in ("model", "modulation", "iou")}

    def features(self, images):
        f2, f3, c3, c4 = self.run["model"]([images.astype(np.float32)])
        self.last = (c3[-1:], c4[-1:])
        return paddle.to_tensor(f2), paddle.to_tensor(f3)

    def modulation(self, f2, f3, box):
        m3, m4 = self.run["modulation"]([f2.numpy(), f3.numpy(), np.asarray(box, np.float32)[None]])
        return m3, m4

    def iou_features(self, f2, f3):
        return self.last

    def iou_and_grad(self, modulation, feats, boxes):
        p = boxes.shape[0]
        shifts = np.concatenate([np.zeros((1, 4)), np.eye(4) * self.EPSILON, -np.eye(4) * self.EPSILON])
        shifted = (boxes[:, None, :] + shifts[None]).reshape([-1, 4]).astype(np.float32)
        iou = self.run["iou"]([*modulation, *feats, shifted])[0].reshape([p, 9])
        return iou[:, 0], (iou[:, 1:5] - iou[:, 5:9]) / (2 * self.EPSILON)


def normalize(f3):
    """Layer3 features scaled to unit mean square per sample (the release's normalize_power=2)."""
    return f3 / ((f3 ** 2).mean(axis=[1, 2, 3], keepdim=True) + 1e-10).sqrt()


class ATOMTracker:
    def __init__(self, network=None, seed=0, refine=True, nets=None, image_size=None, search_area=None):
        """The trained `network` (dynamic graph), or `nets` (ExportedNets) with its image_size and search_area."""
        self.nets = nets or DygraphNets(network)
        self.rng, self.use_refinement = np.random.default_rng(seed), refine
        self.size = image_size or network.image_size
        self.search_area = search_area or network.search_area

    # ------------------------------------------------------------------ features and the classifier
    def crops(self, frame, center, side, shifts=((0.0, 0.0),)):
        return np.stack([reader.to_chw(reader.crop(frame, center + np.array(s) * side, side, self.size), True)
                         for s in shifts])

    def project(self, f3):
        return F.conv2d(normalize(f3), self.projection.reshape([self.projection.shape[0], -1, 1, 1]))

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
        """Minimise sum_i w_i ||filter * x_i - y_i||^2 + REG ||filter||^2 over the memory (quadratic in
        the filter: the exact step along the gradient g is |g|^2 / (2 sum_i w_i |g * x_i|^2 + 2 REG |g|^2))."""
        x = paddle.concat(self.samples)
        y = paddle.to_tensor(np.stack(self.labels)[:, None])
        w = paddle.to_tensor(np.asarray(self.weights, np.float32).reshape([-1, 1, 1, 1]))
        for _ in range(iterations):
            f = self.filter.detach()
            f.stop_gradient = False
            residual = self.scores(x, f) - y
            loss = (w * residual ** 2).sum() + REG * (f ** 2).sum()
            g = paddle.grad(loss, f)[0].detach()
            with paddle.no_grad():
                ag = self.scores(x, g)
                alpha = (g ** 2).sum() / ((w * ag ** 2).sum() * 2 + REG * 2 * (g ** 2).sum() + 1e-12)
                self.filter = (f - alpha * g).detach()

    def remember(self, sample, label, learning_rate):
        """Add a sample with weight `learning_rate`, the others decayed by (1 - learning_rate); the
        first frame's samples keep at least INIT_MIN_WEIGHT in total; the oldest later one drops."""
        w = np.asarray(self.weights) * (1 - learning_rate)
        self.samples.append(sample)
        self.labels.append(label)
        w = np.append(w, learning_rate)
        if len(self.samples) > MEMORY:
            keep = np.arange(len(w)) != self.num_init
            self.samples = [s for s, k in zip(self.samples, keep) if k]
            self.labels = [s for s, k in zip(self.labels, keep) if k]
            w = w[keep]
        init = w[:self.num_init].sum()
        if init < INIT_MIN_WEIGHT:
            w[:self.num_init] *= INIT_MIN_WEIGHT / init
            w[self.num_init:] *= (1 - INIT_MIN_WEIGHT) / max(w[self.num_init:].sum(), 1e-12)
        self.weights = list(w / w.sum())

    # --------------------------------------------------------------------------------- the tracker
    def to_crop(self, box, center, side):
        scale = self.size / side
        return np.array([(box[0] - center[0] + side / 2) * scale, (box[1] - center[1] + side / 2) * scale,
                         box[2] * scale, box[3] * scale])

    def init(self, frame, box):
        box = np.asarray(box, np.float64)
        self.center, self.target = box[:2] + box[2:] / 2, box[2:].copy()
        side = self.search_area * math.sqrt(box[2] * box[3])
        shifts = [(0.0, 0.0)] + SHIFTS
        images = self.crops(frame, self.center, side, shifts)
        flipped = images[:1, :, :, ::-1]
        patch = reader.crop(frame, self.center, side, self.size)
        blurred = [reader.to_chw(cv2.GaussianBlur(patch, (0, 0), s), True) for s in BLURS]
        images = np.concatenate([images, flipped, np.stack(blurred)]).astype(np.float32)
        f2, f3 = self.nets.features(images)
        crop_box = self.to_crop(box, self.center, side)
        self.modulation = self.nets.modulation(f2[:1], f3[:1], crop_box)
        # the projection: PCA of the first crop's normalised layer3 features
        c = f3.shape[1]
        flat = normalize(f3[:1]).transpose([0, 2, 3, 1]).reshape([-1, c]).numpy()
        flat = flat - flat.mean(0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        k = min(PROJECTION_DIM, vt.shape[0])
        self.projection = paddle.to_tensor(vt[:k].astype(np.float32))
        shape = f3.shape[2:]
        x = self.project(f3)
        boxes = [self.to_crop(box, self.center + np.array(s) * side, side) for s in shifts]
        mirrored = crop_box.copy()
        mirrored[0] = self.size - crop_box[0] - crop_box[2]
        boxes += [mirrored] + [crop_box] * len(BLURS)
        samples = [x[i:i + 1] for i in range(x.shape[0])]
        drop_rng = np.random.default_rng(0)
        for _ in range(DROPOUT_COPIES):  # channel dropout of the crop's features (kept channels rescaled)
            keep = (drop_rng.random(k) >= DROPOUT).astype(np.float32) / (1 - DROPOUT)
            samples.append(x[:1] * paddle.to_tensor(keep.reshape([1, k, 1, 1])))
            boxes.append(crop_box)
        self.samples = samples
        self.labels = [self.label(b, shape) for b in boxes]
        self.num_init = len(samples)
        self.weights = [1.0 / self.num_init] * self.num_init
        self.filter = paddle.zeros([1, k, FILTER_SIZE, FILTER_SIZE])
        self.steepest_descent(INIT_ITERATIONS)

    def localize(self, score, scale):
        """(the target's centre in crop pixels, flag): the release's advanced localisation."""
        up = cv2.resize(score, (score.shape[1] * 16, score.shape[0] * 16), interpolation=cv2.INTER_CUBIC)
        row, col = np.unravel_index(np.argmax(up), up.shape)
        first, peak1 = float(up[row, col]), np.array([col + 0.5, row + 0.5])
        if first < NOT_FOUND:
            return peak1, "not_found"
        # the second peak outside the target's neighbourhood
        radius = NEIGHBOURHOOD * self.target * scale / 2
        ys, xs = np.mgrid[0:up.shape[0], 0:up.shape[1]]
        masked = np.where((np.abs(xs + 0.5 - peak1[0]) < radius[0]) & (np.abs(ys + 0.5 - peak1[1]) < radius[1]),
                          -np.inf, up)
        row2, col2 = np.unravel_index(np.argmax(masked), masked.shape)
        second, peak2 = float(masked[row2, col2]), np.array([col2 + 0.5, row2 + 0.5])
        middle = np.array([self.size / 2, self.size / 2])
        if second > DISTRACTOR * first:
            threshold = DISPLACEMENT * self.size / 2
            d1, d2 = np.linalg.norm(peak1 - middle), np.linalg.norm(peak2 - middle)
            if d2 > threshold and d1 < threshold:
                return peak1, "hard_negative"
            if d1 > threshold and d2 < threshold:
                return peak2, "hard_negative"
            return (peak1 if d1 <= d2 else peak2), "uncertain"
        if second > HARD_NEGATIVE * first and second > NOT_FOUND:
            return peak1, "hard_negative"
        return peak1, None

    def update(self, frame):
        side = self.search_area * math.sqrt(self.target[0] * self.target[1])
        f2, f3 = self.nets.features(self.crops(frame, self.center, side))
        x = self.project(f3)
        with paddle.no_grad():
            score = self.scores(x)[0, 0].numpy()
        if WINDOW_OUTPUT:  # the release's window_output: a Hann window over the score map
            score = score * np.outer(np.hanning(score.shape[0] + 2)[1:-1], np.hanning(score.shape[1] + 2)[1:-1])
        scale = self.size / side
        located, flag = self.localize(score, scale)
        if flag == "not_found":  # stay, learn nothing
            return np.array([*(self.center - self.target / 2), *self.target])
        box = np.array([*(located - self.target * scale / 2), *(self.target * scale)])
        if self.use_refinement:
            box = self.refine(f2, f3, box)
        new = np.array([box[0] / scale + self.center[0] - side / 2, box[1] / scale + self.center[1] - side / 2,
                        box[2] / scale, box[3] / scale])
        new[2:] = np.clip(new[2:], 0.5 * self.target, 2.0 * self.target)  # no jumps in size in one frame
        self.center = np.clip(new[:2] + new[2:] / 2, 0, [frame.shape[1], frame.shape[0]])
        self.target = new[2:]
        if flag != "uncertain":  # remember this frame, labelled at the new position, and refit a little
            self.remember(x, self.label(box, score.shape),
                          HARD_NEGATIVE_LEARNING_RATE if flag == "hard_negative" else LEARNING_RATE)
            self.steepest_descent(UPDATE_ITERATIONS)
        return np.array([*(self.center - self.target / 2), *self.target])

    def refine(self, f2, f3, box):
        """Gradient ascent of the predicted IoU from the box and 9 random ones; the mean of the 3 best."""
        square = math.sqrt(box[2] * box[3])
        jitter = (self.rng.random((NUM_RANDOM_BOXES, 4)) - 0.5) * square * np.array(
            [JITTER_POS, JITTER_POS, JITTER_SIZE, JITTER_SIZE])
        boxes = np.concatenate([box[None], box[None] + jitter])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
        sizes = np.concatenate([boxes[:, 2:], boxes[:, 2:]], 1)
        feats = self.nets.iou_features(f2, f3)
        for _ in range(ASCENT_STEPS):
            _, grad = self.nets.iou_and_grad(self.modulation, feats, boxes.astype(np.float32))
            boxes = boxes + STEP_LENGTH * grad * sizes  # steps scaled by the starting box's size
            boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
        iou, _ = self.nets.iou_and_grad(self.modulation, feats, boxes.astype(np.float32))
        aspect = boxes[:, 2] / boxes[:, 3]
        ok = (aspect < MAX_ASPECT) & (aspect > 1 / MAX_ASPECT)
        if not ok.any():
            return box
        iou, boxes = iou[ok], boxes[ok]
        best = np.argsort(-iou)[:TOP_K]
        return boxes[best].mean(0).astype(np.float64)
