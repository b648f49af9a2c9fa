"""The multi-layer LSTM language model of Zaremba et al., "Recurrent Neural Network Regularization"
(https://arxiv.org/abs/1409.2329), with its small, medium and large configurations.

The configurations are those of the original PaddlePaddle release (PaddleNLP/language_model,
config.py), which follow the paper: SGD at LR 1.0, kept for `epoch_start_decay` epochs and then
multiplied by `lr_decay` every epoch; gradients clipped to a global norm; every weight initialised
uniformly in [-init_scale, init_scale].
"""
import math
from dataclasses import dataclass

import paddle
from paddle import nn


@dataclass(frozen=True)
class LMConfig:
    hidden_size: int
    num_steps: int
    dropout: float
    init_scale: float
    max_grad_norm: float
    epoch_start_decay: int
    max_epoch: int
    lr_decay: float
    num_layers: int = 2
    batch_size: int = 20
    lr: float = 1.0


CONFIGS = {
    "small": LMConfig(hidden_size=200, num_steps=20, dropout=0.0, init_scale=0.1, max_grad_norm=5.0,
                      epoch_start_decay=4, max_epoch=13, lr_decay=0.5),
    "medium": LMConfig(hidden_size=650, num_steps=35, dropout=0.5, init_scale=0.05, max_grad_norm=5.0,
                       epoch_start_decay=6, max_epoch=39, lr_decay=0.8),
    "large": LMConfig(hidden_size=1500, num_steps=35, dropout=0.65, init_scale=0.04, max_grad_norm=10.0,
                      epoch_start_decay=14, max_epoch=55, lr_decay=1 / 1.15),
}
MODELS = CONFIGS  # --model looks its name up here


class LSTMLanguageModel(nn.Layer):
    """Embedding -> dropout -> stacked LSTM (dropout between and after the layers) -> softmax layer.

    forward(ids [B, T], h0 [L, B, H], c0 [L, B, H]) -> (logits [B, T, V], h [L, B, H], c [L, B, H]).
    The state goes in and out explicitly, so the caller carries it from one chunk to the next and
    an exported model can do the same."""

    def __init__(self, vocab_size, hidden_size, num_layers=2, dropout=0.0, init_scale=0.1):
        super().__init__()
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        uniform = paddle.ParamAttr(initializer=nn.initializer.Uniform(-init_scale, init_scale))
        zero = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))
        # The original cell has one bias per gate; Paddle's fused LSTM kernel has two (input and
        # hidden) and crashes when the second is left out or frozen. Both start at zero: the same
        # functions, with 4H more parameters per layer (0.03% of the small model).
        self.embedding = nn.Embedding(vocab_size, hidden_size, weight_attr=uniform)
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers, dropout=dropout,
                            weight_ih_attr=uniform, weight_hh_attr=uniform,
                            bias_ih_attr=zero, bias_hh_attr=zero)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, vocab_size, weight_attr=uniform, bias_attr=uniform)

    def zero_state(self, batch_size):
        shape = [self.num_layers, batch_size, self.hidden_size]
        return paddle.zeros(shape, "float32"), paddle.zeros(shape, "float32")

    def forward(self, ids, h0, c0):
        x = self.dropout(self.embedding(ids))
        y, (h, c) = self.lstm(x, (h0, c0))
        return self.output(self.dropout(y)), h, c


def build_model(name, vocab_size, dropout=None, init_scale=None):
    """The named configuration's model; dropout and init_scale can be overridden."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(CONFIGS)}")
    cfg = CONFIGS[name]
    return LSTMLanguageModel(vocab_size, cfg.hidden_size, cfg.num_layers,
                             cfg.dropout if dropout is None else dropout,
                             cfg.init_scale if init_scale is None else init_scale)


def num_parameters(model):
    """Counted from the shapes, so it also works on a model built under paddle.LazyGuard()."""
    return sum(math.prod(p.shape) for p in model.parameters())


def reference_num_parameters(vocab_size, hidden_size, num_layers=2):
    """The original model's parameter count: embedding, one [2H, 4H] matrix and 4H bias per layer,
    softmax weight and bias."""
    return 2 * vocab_size * hidden_size + num_layers * (8 * hidden_size ** 2 + 4 * hidden_size) + vocab_size
