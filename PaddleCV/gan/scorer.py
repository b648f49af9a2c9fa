"""How generated digits are scored: a small MLP (784-256-128-10) trained here on the REAL demo (or MNIST) training
images, which (1) says which class a generated digit shows and (2) is the feature network of FID
and KID (its 128-d penultimate layer, not Inception: nothing is downloaded). Figures are therefore
comparable within this folder only, not with published Inception FIDs.

The classifier is trained once per dataset (10 epochs, a few seconds on a CPU for the demo) and cached
as DATA_DIR/mnist/demo_classifier.pdparams, keyed by the training file's size and mtime.
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
    with open(weights + ".json", "w") as f:
        json.dump(key, f)
    return model


def load_classifier(data_dir, epochs=10, min_steps=100, seed=0, verbose=True):
    """The data's classifier, trained on its `train` split on first use and cached: `epochs` passes,
    or more on a small set, so that it takes at least `min_steps` steps of 64."""
    weights = os.path.join(data_dir, "mnist", "demo_classifier.pdparams")
    key = _key(data_dir)
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
