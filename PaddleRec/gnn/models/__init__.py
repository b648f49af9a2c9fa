"""Model registry: --model NAME looks the constructor up here."""
import paddle

from .srgnn import srgnn

MODELS = {
    "srgnn": srgnn,
}

# The inputs of every model, in order (reader.make_batch gives the same six arrays first).
INPUT_NAMES = ("node_items", "edge_src", "edge_dst", "seq_index", "seq_len", "last_index")


def input_spec():
    """Nodes, edges, batch and session length left free, for to_static and the exported model."""
    return [paddle.static.InputSpec([None], "int64", name="node_items"),
            paddle.static.InputSpec([None], "int64", name="edge_src"),
            paddle.static.InputSpec([None], "int64", name="edge_dst"),
            paddle.static.InputSpec([None, None], "int64", name="seq_index"),
            paddle.static.InputSpec([None], "int64", name="seq_len"),
            paddle.static.InputSpec([None], "int64", name="last_index")]


def build_model(name, items_num, **kw):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](items_num, **kw)
