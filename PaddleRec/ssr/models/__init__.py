"""Model registry: --model NAME looks the constructor up here."""
import paddle

from .ssr import ssr, ssr_bow

MODELS = {
    "ssr": ssr,
    "ssr_bow": ssr_bow,
}


def input_spec():
    """The training forward's inputs, batch and sequence length left free (for --to_static)."""
    return [paddle.static.InputSpec([None, None], "int64", name="items"),
            paddle.static.InputSpec([None], "int64", name="lengths"),
            paddle.static.InputSpec([None], "int64", name="targets"),
            paddle.static.InputSpec([None, None], "int64", name="negatives")]


def build_model(name, vocab_size, **kw):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](vocab_size, **kw)
