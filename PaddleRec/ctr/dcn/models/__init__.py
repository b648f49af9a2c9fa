"""The folder's models, its training recipe and its feature preprocessing.

MODELS maps a --model name to a constructor taking the vocabulary sizes (kept values per categorical
field). RECIPE holds the published hyper-parameters of PaddleRec release/1.7 ctr/dcn, which train.py
uses as its defaults; make_demo_data.py's data trains with the overrides in train.sh.
"""
from .dcn import DCN
from .logistic_regression import LogisticRegression

DEFAULT_MODEL = "dcn"

# release/1.7 config.py + local_train.py + network.py: Adam lr 1e-4 on the mean log loss plus
# 1e-5 x the squared cross weights, gradients clipped to global norm 100, batch 512, stopped after
# 150,000 steps (about 1.87 epochs of the 41M training lines; train.sh passes --max_steps 150000 on
# real data). Features: a frequency threshold of 10 per field, dense features log(1 + x), I2 log(4 + x).
RECIPE = dict(epochs=2, batch_size=512, lr=1e-4, optimizer="adam", weight_decay=0.0, clip_norm=100.0,
              min_freq=10, dense_scaling="log")


def dcn(vocab_sizes, sparse=True):
    return DCN(vocab_sizes, cross_layers=6, dnn_sizes=(1024, 1024), use_bn=True, l2_cross=1e-5, sparse=sparse)


def lr(vocab_sizes, sparse=True):
    """The logistic-regression baseline the folder's model must beat."""
    return LogisticRegression(vocab_sizes, sparse=sparse)


MODELS = {"dcn": dcn, "lr": lr}


def build_model(name, vocab_sizes, **kwargs):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of {', '.join(sorted(MODELS))}")
    return MODELS[name](list(vocab_sizes), **kwargs)
