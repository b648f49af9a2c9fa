"""The folder's models, its training recipe and its feature preprocessing.

MODELS maps a --model name to a constructor taking the vocabulary sizes (kept values per categorical
field). RECIPE holds the published hyper-parameters of PaddleRec release/1.7 ctr/xdeepfm, which
train.py uses as its defaults; make_demo_data.py's data trains with the overrides in train.sh.
"""
from .logistic_regression import LogisticRegression
from .xdeepfm import XDeepFM

DEFAULT_MODEL = "xdeepfm"

# release/1.7 local_train.py + args.py: SGD with lr 0.1 and L2 1e-4 on the mean log loss, batch 100,
# 10 epochs. That recipe read a pre-indexed sample of Criteo (every field already an id); this folder
# reads raw lines with DeepFM's encoding: a frequency threshold of 10, dense features min-max scaled.
RECIPE = dict(epochs=10, batch_size=100, lr=0.1, optimizer="sgd", weight_decay=1e-4, clip_norm=0.0,
              min_freq=10, dense_scaling="minmax")


def xdeepfm(vocab_sizes, sparse=True):
    """CIN 10-10-10 with split-half, as the paper builds it; DNN 10-10-10, embeddings of 10."""
    return XDeepFM(vocab_sizes, embedding_dim=10, cin_sizes=(10, 10, 10), split_half=True,
                   dnn_sizes=(10, 10, 10), sparse=sparse)


def xdeepfm_release17(vocab_sizes, sparse=True):
    """The network of release/1.7 exactly: CIN 10-10 without split-half."""
    return XDeepFM(vocab_sizes, embedding_dim=10, cin_sizes=(10, 10), split_half=False,
                   dnn_sizes=(10, 10, 10), sparse=sparse)


def lr(vocab_sizes, sparse=True):
    """The logistic-regression baseline the folder's model must beat."""
    return LogisticRegression(vocab_sizes, sparse=sparse)


MODELS = {"xdeepfm": xdeepfm, "xdeepfm_release17": xdeepfm_release17, "lr": lr}


def build_model(name, vocab_sizes, **kwargs):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of {', '.join(sorted(MODELS))}")
    return MODELS[name](list(vocab_sizes), **kwargs)
