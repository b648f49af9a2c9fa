"""The model registry: --model NAME looks a constructor up here."""
from .bidaf import BiDAF, span_loss

MODELS = {"bidaf": BiDAF}


def build_model(name, vocab_size, embed_size, hidden_size):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](vocab_size, embed_size=embed_size, hidden_size=hidden_size)


def input_spec():
    """q_ids [B, Lq], q_len [B], p_ids [B, P, Lp], p_len [B, P], int64, every size free."""
    from paddle.static import InputSpec
    return [InputSpec([None, None], "int64", "q_ids"), InputSpec([None], "int64", "q_len"),
            InputSpec([None, None, None], "int64", "p_ids"), InputSpec([None, None], "int64", "p_len")]
