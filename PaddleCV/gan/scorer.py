"""How generated digits are scored: a small MLP (784-256-128-10) trained here on the REAL demo (or MNIST) training
images, which (1) says which class a generated digit shows and (2) is the feature network of FID
and KID (its 128-d penultimate layer, not Inception: nothing is downloaded). Figures are therefore
comparable within this folder only, not with published Inception FIDs.

The classifier is trained once per dataset (10 epochs, a few seconds on a CPU for the demo) and cached
as DATA_DIR/mnist/demo_classifier.pdparams, keyed by the training file's size and mtime and the training settings.

The translators' networks (end of the file), trained the same way on their real training targets
and cached beside the data: SPADE's scene classifier (which classes a photo shows) and the Pix2Pix /
CycleGAN colour-cell classifier, whose 128-d features are their FID/KID features, and SPADE's demo
VGG19 for the perceptual loss (or real VGG19 weights from --vgg_weights).
"""
import contextlib
import json
import os

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from scipy import linalg

import reader


ARCH = "mlp 784-256-128-10"  # part of the cache key: a changed network is retrained


class DigitClassifier(nn.Layer):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
        self.head = nn.Linear(128, reader.NUM_CLASSES)

    def forward(self, x):
        features = self.body(x)
        return self.head(features), features


def _key(data_dir):
    images = os.path.join(data_dir, "mnist", "train-images-idx3-ubyte")
    stat = os.stat(images)
    return {"size": stat.st_size, "mtime": stat.st_mtime, "network": ARCH}


@contextlib.contextmanager
def classifier_scope():
    """Build or train a scoring classifier without touching the run: Paddle's random stream and the
    layer-name counters are put back afterwards, so the run's draws (GAN weights, noise) and parameter
    names (the optimizer state's keys) do not depend on whether the classifier came from the cache."""
    state = paddle.get_rng_state()
    try:
        with paddle.utils.unique_name.guard():
            yield
    finally:
        paddle.set_rng_state(state)


def load_cached(weights, key, build):
    """build() with the weights cached at `weights` if its key file says `key`; None otherwise."""
    if not (os.path.isfile(weights) and os.path.isfile(weights + ".json")):
        return None
    with open(weights + ".json") as f:
        if json.load(f) != key:
            return None
    with classifier_scope():
        model = build()
    model.set_state_dict(paddle.load(weights))
    model.eval()
    return model


def save_cached(model, weights, key):
    """Cache a freshly trained classifier (atomically) with its key file; returns it in eval mode."""
    model.eval()
    tmp = f"{weights}.tmp{os.getpid()}"
    paddle.save(model.state_dict(), tmp)
    os.replace(tmp, weights)
    # the key file atomically too: with several processes (SPADE's demo VGG19) every rank writes this cache,
    # and another rank's load_cached must never read a half-written key
    with open(tmp + ".json", "w") as f:
        json.dump(key, f)
    os.replace(tmp + ".json", weights + ".json")
    return model


def load_classifier(data_dir, epochs=10, min_steps=100, seed=0, verbose=True):
    """The data's classifier, trained on its `train` split on first use and cached: `epochs` passes,
    or more on a small set, so that it takes at least `min_steps` steps of 64."""
    weights = os.path.join(data_dir, "mnist", "demo_classifier.pdparams")
    key = {**_key(data_dir), "epochs": epochs, "min_steps": min_steps, "seed": seed}
    model = load_cached(weights, key, DigitClassifier)
    if model is not None:
        return model
    train = reader.MnistDataset(data_dir, "train", skip_bad_samples=True)
    rng = np.random.default_rng(seed)
    with classifier_scope():
        paddle.seed(seed)
        model = DigitClassifier()
        opt = paddle.optimizer.Adam(1e-3, parameters=model.parameters())
        batches = max(1, len(train) // 64)
        for _ in range(max(epochs, -(-min_steps // batches))):
            order = rng.permutation(len(train))
            for b in range(0, batches * 64, 64):
                idx = order[b:b + 64]
                x = paddle.to_tensor(train.images[idx] + rng.normal(0, 0.1, train.images[idx].shape).astype("float32"))
                loss = F.cross_entropy(model(x)[0], paddle.to_tensor(train.labels[idx]))
                loss.backward()
                opt.step()
                opt.clear_grad()
    save_cached(model, weights, key)
    if verbose:
        print(f"trained the scoring classifier on {len(train)} images of {data_dir}: {weights}", flush=True)
    return model


@paddle.no_grad()
def classify(model, images, batch_size=250):
    """(predicted class [N], features [N, 128]) of images [N, 1, 28, 28] in [-1, 1]."""
    preds, feats = [], []
    for b in range(0, len(images), batch_size):
        logits, f = model(paddle.to_tensor(np.asarray(images[b:b + batch_size], dtype="float32")))
        preds.append(logits.argmax(1).numpy())
        feats.append(f.numpy().astype(np.float64))
    return np.concatenate(preds), np.concatenate(feats)


def fid(a, b):
    """Frechet distance between Gaussians fitted to feature sets a [N, D] and b [M, D]."""
    mu1, mu2 = a.mean(0), b.mean(0)
    eye = 1e-6 * np.eye(a.shape[1])  # dead ReLU features make the covariances singular
    s1, s2 = np.cov(a, rowvar=False) + eye, np.cov(b, rowvar=False) + eye
    covmean = linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def kid(a, b):
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y/d + 1)^3 (Binkowski et al., 2018)."""
    d = a.shape[1]
    kxx, kyy, kxy = [(x @ y.T / d + 1) ** 3 for x, y in ((a, a), (b, b), (a, b))]
    m, n = len(a), len(b)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


# ---- SPADE's scene networks, trained on the real training photos of the demo (or Cityscapes) --------

def presence(labels, c_dim):
    """Which classes a label map shows: float32 [N, c_dim] multi-hot, the demo nets' training target."""
    return np.stack([np.isin(np.arange(c_dim), np.unique(m)) for m in labels]).astype(np.float32)


def colour_bins(images, levels=3, share=0.02):
    """Which of the levels**3 RGB cells at least `share` of an image's pixels fall in: float32
    [N, levels**3] multi-hot, what the translators' feature network learns to tell (the Pix2Pix and
    CycleGAN demos have no class labels: colour and area are what their targets are made of)."""
    q = np.clip(((np.asarray(images) + 1) / 2 * levels).astype(np.int64), 0, levels - 1)
    cell = (q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]  # [N, H, W]
    counts = np.stack([np.bincount(c.ravel(), minlength=levels ** 3) for c in cell])
    return (counts >= share * cell[0].size).astype(np.float32)


class LabelClassifier(nn.Layer):
    """Three 3x3 stride-2 convs (16, 32, 64; batch norm, ReLU), global average pooling, a 128-d feature
    layer (the FID/KID features), one logit per label: a face attribute for the editors (edit.py), a
    class or colour present in the picture for SPADE and the translators."""

    def __init__(self, num_classes):
        super().__init__()
        layers, c = [], 3
        for d in (16, 32, 64):
            layers += [nn.Conv2D(c, d, 3, 2, 1), nn.BatchNorm2D(d), nn.ReLU()]
            c = d
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(64, 128), nn.ReLU())
        self.head = nn.Linear(128, num_classes)

    def forward(self, x):
        features = self.body(x)
        return self.head(features), features


def train_presence(model, train_set, targets, steps, seed=0, lr=1e-3, batch_size=16):
    """Train `model` (logits, or (logits, features)) to tell which classes (or colour cells) each real
    training image shows, `targets` [N, K] multi-hot (binary cross-entropy); call it inside
    classifier_scope, so the run's RNG is untouched."""
    rng = np.random.default_rng(seed)
    opt = paddle.optimizer.Adam(lr, parameters=model.parameters())
    model.train()
    for _ in range(steps):
        idx = rng.choice(len(train_set), min(batch_size, len(train_set)), replace=False)
        images = train_set.targets[idx] + rng.normal(0, 0.05, train_set.targets[idx].shape).astype("float32")
        logits = model(paddle.to_tensor(images))
        logits = logits[0] if isinstance(logits, tuple) else logits
        loss = F.binary_cross_entropy_with_logits(logits, paddle.to_tensor(targets[idx]))
        loss.backward()
        opt.step()
        opt.clear_grad()
    model.eval()
    return model


def _scene_key(train_set, network):
    stat = os.stat(train_set.list_path)
    return {"size": stat.st_size, "mtime": stat.st_mtime, "images": len(train_set),
            "shape": list(train_set.targets.shape[2:]), "network": network}


SCENE_STEPS = 200  # training steps of the scene classifier and of the demo VGG19 (tests set fewer)


def load_trained(weights, key, build, train_set, targets, steps=None, lr=1e-3, seed=0):
    """build() trained on first use (train_presence on the real training images of `train_set` to
    `targets()` [N, K]) and cached at `weights` with `key`; (model, whether it was trained now).
    The training settings join the key, so a cache trained with other steps (the tests' few) is retrained."""
    steps = steps or SCENE_STEPS
    key = {**key, "steps": steps, "lr": lr, "seed": seed}
    model = load_cached(weights, key, build)
    if model is not None:
        return model, False
    with classifier_scope():
        paddle.seed(seed)
        model = train_presence(build(), train_set, targets(), steps, seed=seed, lr=lr)
    return save_cached(model, weights, key), True


def load_scene_classifier(data_dir, train_set, c_dim, steps=None, verbose=True):
    """SPADE's judge: a LabelClassifier trained on the real training photos on first use and cached
    as DATA_DIR/scene_classifier_<H>.pdparams; its 128-d features are the FID/KID features."""
    weights = os.path.join(data_dir, f"scene_classifier_{train_set.targets.shape[2]}.pdparams")
    model, trained = load_trained(weights, _scene_key(train_set, f"cnn 16-32-64 fc128 presence {c_dim}"),
                                  lambda: LabelClassifier(c_dim), train_set,
                                  lambda: presence(train_set.labels, c_dim), steps)
    if trained and verbose:
        print(f"trained the scoring classifier on {len(train_set)} real photos of {data_dir}: {weights}", flush=True)
    return model


def load_image_classifier(data_dir, train_set, steps=None, verbose=True):
    """Pix2Pix's and CycleGAN's FID/KID feature network: a LabelClassifier trained on the real
    training targets to tell their colour cells (colour_bins), cached as
    DATA_DIR/image_classifier_<H>.pdparams."""
    weights = os.path.join(data_dir, f"image_classifier_{train_set.targets.shape[2]}.pdparams")
    model, trained = load_trained(weights, _scene_key(train_set, "cnn 16-32-64 fc128 colour cells 27"),
                                  lambda: LabelClassifier(27), train_set, lambda: colour_bins(train_set.targets), steps)
    if trained and verbose:
        print(f"trained the scoring classifier on {len(train_set)} real targets of {data_dir}: {weights}", flush=True)
    return model


def load_vgg(data_dir, train_set, c_dim, width=64, vgg_weights=None, steps=None, verbose=True):
    """The frozen VGG19 of SPADE's perceptual loss. With `vgg_weights`: VGG19 (width 64) with those
    weights (paddle.vision's vgg19.pdparams or any state dict with its `features.N` names; the
    classifier is ignored). Without: nothing is downloaded, so a VGG19 of `width` is trained here on
    the real training photos (which classes each shows) and cached as DATA_DIR/vgg19_w<width>_<H>.pdparams.
    A VGG19 trained here on a few hundred photos has tap activations of very different sizes (relu5_1's
    hundreds of times relu1_1's, measured), so each tap's L1 is divided by that tap's mean activation on
    64 real training photos: the same loss as a VGG19 rescaled to unit mean taps, which its ReLUs allow;
    and its taps are weighted equally (real VGG19 weights keep the paper's 1/32 .. 1)."""
    import utils
    from models.spade import VGG19Features
    if vgg_weights:
        with classifier_scope():
            model = VGG19Features(64)
        state = utils._load(vgg_weights)
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        utils.check_fits(model, state, vgg_weights)
        model.set_state_dict(state)
    else:
        weights = os.path.join(data_dir, f"vgg19_w{width}_{train_set.targets.shape[2]}.pdparams")
        key = _scene_key(train_set, f"vgg19 to relu5_1 width {width} presence {c_dim}")
        model, trained = load_trained(weights, key, lambda: VGG19Features(width, c_dim), train_set,
                                      lambda: presence(train_set.labels, c_dim), steps, lr=5e-4)
        if trained and verbose:
            print(f"trained the perceptual-loss VGG19 (width {width}) on {len(train_set)} real photos of "
                  f"{data_dir}: {weights}", flush=True)
    for p in model.parameters():
        p.stop_gradient = True
    model.eval()
    if not vgg_weights:
        with paddle.no_grad():
            taps = model.taps(paddle.to_tensor(train_set.targets[:64]))
        model.tap_scale = [max(float(t.mean()), 1e-6) for t in taps]
        # Such a VGG knows only which classes a photo shows: the paper's 1/32 on relu1_1 (set for ImageNet's
        # VGG19) would leave next to no pixel-level signal. Equal weights fit a handful of demo maps far
        # faster (README, SPADE results).
        model.tap_weights = (1.0,) * len(taps)
    return model
