"""Model registry: --model NAME looks the constructor up here."""
import paddle

from .gru4rec import TOPK, gru4rec

MODELS = {
    "gru4rec": gru4rec,
}


def input_spec():
    """Batch size and session length left free, for to_static and the exported model."""
    return [paddle.static.InputSpec([None, None], "int64", name="item_ids"),
            paddle.static.InputSpec([None], "int64", name="lengths")]


def build_model(name, vocab_size, **kw):
    """A model over vocab_size items and the unknown item (vocab_size + 1 table rows)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](vocab_size + 1, **kw)
