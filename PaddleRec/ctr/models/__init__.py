"""The folder's models, their configurations and their training recipes.

MODELS maps a --model name to a constructor taking the vocabulary sizes (kept values per categorical
field). RECIPES holds each model's published hyper-parameters (PaddleRec release/1.7 ctr/deepfm,
ctr/dcn, ctr/xdeepfm): train.py takes them as the defaults of the flags not given on the command
line. DEMO_RECIPES are the overrides for the 200k-line demo data (`--recipe demo`, what train.sh
passes when no DATA_DIR is given), so that it trains in minutes.
"""
from .dcn import DCN
from .deepfm import DeepFM
from .logistic_regression import LogisticRegression
from .xdeepfm import XDeepFM

DEFAULT_MODEL = "deepfm"

# The networks' shapes, as data: tests/test_models.py counts the parameters from these.
CONFIGS = {
    "deepfm": dict(embedding_dim=10, dnn_sizes=(400, 400, 400)),
    "dcn": dict(cross_layers=6, dnn_sizes=(1024, 1024), use_bn=True, l2_cross=1e-5),
    # the paper's CIN (split-half) with the recipe's sizes
    "xdeepfm": dict(embedding_dim=10, cin_sizes=(10, 10, 10), split_half=True, dnn_sizes=(10, 10, 10)),
    # release/1.7's network exactly: CIN 10-10 without split-half, the one behind the published AUC
    "xdeepfm_release17": dict(embedding_dim=10, cin_sizes=(10, 10), split_half=False, dnn_sizes=(10, 10, 10)),
    "lr": dict(),
}

# deepfm, release/1.7 local_train.py + args.py: SGD with lr 1e-4 on the SUM of the batch's log
#   losses (batch 100) and L2 1e-4 on every parameter; the same update on the batch MEAN is lr 1e-2
#   and L2 1e-6. 30 epochs (the published AUC was reached at epoch 22). A frequency threshold of 10
#   over all categorical values, dense features min-max scaled.
# dcn, release/1.7 config.py + local_train.py + network.py: Adam lr 1e-4 on the mean log loss plus
#   1e-5 x the squared cross weights, gradients clipped to global norm 100, batch 512, stopped after
#   150,000 steps (about 1.87 epochs of the 41M training lines). Threshold 10 per field; dense
#   features log(1 + x), I2 log(4 + x).
# xdeepfm, release/1.7 local_train.py + args.py: SGD with lr 0.1 and L2 1e-4 on the mean log loss,
#   batch 100, 10 epochs. That recipe read a pre-indexed sample of Criteo (every field already an
#   id); here raw lines get DeepFM's encoding: threshold 10, dense features min-max scaled.
# lr: the baseline has no recipe of its own; it trains with DeepFM's.
_DEEPFM = dict(epochs=30, max_steps=0, batch_size=100, lr=0.01, optimizer="sgd", weight_decay=1e-6, clip_norm=0.0,
               min_freq=10, dense_scaling="minmax")
_XDEEPFM = dict(epochs=10, max_steps=0, batch_size=100, lr=0.1, optimizer="sgd", weight_decay=1e-4, clip_norm=0.0,
                min_freq=10, dense_scaling="minmax")
RECIPES = {
    "deepfm": _DEEPFM,
    "dcn": dict(epochs=2, max_steps=150000, batch_size=512, lr=1e-4, optimizer="adam", weight_decay=0.0,
                clip_norm=100.0, min_freq=10, dense_scaling="log"),
    "xdeepfm": _XDEEPFM,
    "xdeepfm_release17": _XDEEPFM,
    "lr": _DEEPFM,
}
# Demo data (200k lines instead of 41M): lazy Adam with a larger batch learns them in minutes.
_DEMO = dict(optimizer="adam", lr=0.002, batch_size=1000, epochs=3, max_steps=0)
DEMO_RECIPES = {"deepfm": _DEMO, "dcn": dict(_DEMO, epochs=2), "xdeepfm": _DEMO, "xdeepfm_release17": _DEMO,
                "lr": _DEMO}


def recipe(model, which="published"):
    """The defaults of `model`: its published recipe, with the demo overrides for which="demo"."""
    return {**RECIPES[model], **(DEMO_RECIPES[model] if which == "demo" else {})}


_CLASSES = {"deepfm": DeepFM, "dcn": DCN, "xdeepfm": XDeepFM, "xdeepfm_release17": XDeepFM,
            "lr": LogisticRegression}
MODELS = sorted(_CLASSES)


def build_model(name, vocab_sizes, sparse=True):
    if name not in _CLASSES:
        raise ValueError(f"unknown model {name!r}; one of {', '.join(MODELS)}")
    return _CLASSES[name](list(vocab_sizes), sparse=sparse, **CONFIGS[name])
