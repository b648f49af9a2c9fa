"""The model zoo: MODELS maps each name (`<net>_<task mode>`, as the release's config files) to its
spec, and build_model makes one.

    bow_pairwise   bow_pointwise    BOW encoder
    cnn_pairwise   cnn_pointwise    CNN encoder (window 3, 256 filters)
    gru_pairwise   gru_pointwise    GRU encoder (128)
    lstm_pairwise  lstm_pointwise   LSTM encoder (128)
    mmdnn_pairwise mmdnn_pointwise  MM-DNN interaction model (texts padded to 32)

Each spec also carries the release's optimizer and learning rate for that config (the train.py
defaults), and `fixed_len`, the width every batch must be padded to (0: any width).
"""
import math
from collections import namedtuple

from .encoders import BOWEncoder, CNNEncoder, RNNEncoder
from .matcher import SiameseMatcher
from .mmdnn import MMDNN

ModelSpec = namedtuple("ModelSpec", "net task_mode optimizer lr fixed_len")

# optimizer and lr: config/<name>.json of the release (pointwise cnn/gru/lstm use SGD 0.001; the
# pairwise CNN config's Adam 0.2 is kept as published, see README)
MODELS = {
    "bow_pairwise": ModelSpec("bow", "pairwise", "adam", 0.001, 0),
    "bow_pointwise": ModelSpec("bow", "pointwise", "adam", 0.001, 0),
    "cnn_pairwise": ModelSpec("cnn", "pairwise", "adam", 0.2, 0),
    "cnn_pointwise": ModelSpec("cnn", "pointwise", "sgd", 0.001, 0),
    "gru_pairwise": ModelSpec("gru", "pairwise", "adam", 0.001, 0),
    "gru_pointwise": ModelSpec("gru", "pointwise", "sgd", 0.001, 0),
    "lstm_pairwise": ModelSpec("lstm", "pairwise", "adam", 0.001, 0),
    "lstm_pointwise": ModelSpec("lstm", "pointwise", "sgd", 0.001, 0),
    "mmdnn_pairwise": ModelSpec("mmdnn", "pairwise", "adam", 0.001, 32),
    "mmdnn_pointwise": ModelSpec("mmdnn", "pointwise", "adam", 0.001, 32),
}


def build_model(name, vocab_size):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    spec = MODELS[name]
    if spec.net == "mmdnn":
        return MMDNN(vocab_size, spec.task_mode, max_len=spec.fixed_len)
    if spec.net == "bow":
        encoder = BOWEncoder(vocab_size)
    elif spec.net == "cnn":
        encoder = CNNEncoder(vocab_size)
    else:
        encoder = RNNEncoder(vocab_size, cell=spec.net)
    return SiameseMatcher(encoder, spec.task_mode)


def num_parameters(model):
    """Counted from the shapes, so it also works on a model built under paddle.LazyGuard()."""
    return sum(math.prod(p.shape) for p in model.parameters())
