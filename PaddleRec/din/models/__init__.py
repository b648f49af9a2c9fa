"""Model registry: --model NAME looks the constructor up here."""
import paddle

from .din import din, din_prelu, din_sigmoid
from .lr import lr

MODELS = {
    "din": din,
    "din_prelu": din_prelu,
    "din_sigmoid": din_sigmoid,
    "lr": lr,
}

# The inputs of every model, in order (reader.py's batch starts with the same five arrays).
INPUT_NAMES = ("hist_items", "hist_cats", "hist_len", "target_item", "target_cat")


def input_spec():
    """Batch size and history length left free, for to_static and the exported model."""
    return [paddle.static.InputSpec([None, None], "int64", name="hist_items"),
            paddle.static.InputSpec([None, None], "int64", name="hist_cats"),
            paddle.static.InputSpec([None], "int64", name="hist_len"),
            paddle.static.InputSpec([None], "int64", name="target_item"),
            paddle.static.InputSpec([None], "int64", name="target_cat")]


def build_model(name, item_count, cat_count, **kw):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](item_count, cat_count, **kw)
