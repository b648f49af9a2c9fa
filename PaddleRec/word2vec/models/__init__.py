"""Model registry: --model NAME looks the constructor up here."""
import paddle

from .skipgram import AnalogyModel, SkipGram, skipgram

MODELS = {"skipgram": skipgram}


def build_model(name, vocab_size, dim=300, neg_num=5, sparse=True):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](vocab_size, dim=dim, neg_num=neg_num, sparse=sparse)


def input_spec(neg_num):
    """The training inputs (batch size free), for to_static."""
    return [paddle.static.InputSpec([None], "int64", name="center"),
            paddle.static.InputSpec([None], "int64", name="context"),
            paddle.static.InputSpec([None, neg_num], "int64", name="negatives")]


def analogy_spec():
    """The inputs of the exported AnalogyModel: three int64 word ids per question, batch size free."""
    return [paddle.static.InputSpec([None], "int64", name=n) for n in ("a", "b", "c")]
