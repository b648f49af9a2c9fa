"""The folder's models, its training recipe and its feature preprocessing.

MODELS maps a --model name to a constructor taking the vocabulary sizes (kept values per categorical
field). RECIPE holds the published hyper-parameters of PaddleRec release/1.7 ctr/deepfm, which
train.py uses as its defaults; make_demo_data.py's data trains with the overrides in train.sh.
"""
from .deepfm import DeepFM
from .logistic_regression import LogisticRegression

DEFAULT_MODEL = "deepfm"

# release/1.7 local_train.py + args.py: SGD with lr 1e-4 on the SUM of the batch's log losses
# (batch 100) and L2 1e-4 on every parameter; the same update on the batch MEAN is lr 1e-2 and
# L2 1e-6. 30 epochs, the published AUC was reached at epoch 22. Features: a frequency threshold of
# 10 over all categorical values, dense features min-max scaled.
RECIPE = dict(epochs=30, batch_size=100, lr=0.01, optimizer="sgd", weight_decay=1e-6, clip_norm=0.0,
              min_freq=10, dense_scaling="minmax")


def deepfm(vocab_sizes, sparse=True):
    return DeepFM(vocab_sizes, embedding_dim=10, dnn_sizes=(400, 400, 400), sparse=sparse)


def lr(vocab_sizes, sparse=True):
    """The logistic-regression baseline the folder's model must beat."""
    return LogisticRegression(vocab_sizes, sparse=sparse)


MODELS = {"deepfm": deepfm, "lr": lr}


def build_model(name, vocab_sizes, **kwargs):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of {', '.join(sorted(MODELS))}")
    return MODELS[name](list(vocab_sizes), **kwargs)
