"""The model registry: --model NAME looks a constructor up here."""
from .tagspace import MarginRankingLoss, TagSpace, sample_negatives  # noqa: F401

MODELS = {"tagspace": TagSpace}

# The release's network (net.py defaults with train.py's neg_size and LR): what the flags default to.
RELEASE = {"emb_dim": 10, "hid_dim": 1000, "win_size": 5, "margin": 0.1, "neg_size": 3}


def build_model(name, num_words, num_tags, padding_idx=None, **kwargs):
    """A model by registry name; kwargs: emb_dim, hid_dim, win_size, sparse."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](num_words, num_tags, padding_idx, **kwargs)


def model_kwargs(args):
    """The model-shaping settings of a run (flags or saved settings)."""
    return {"emb_dim": args.emb_dim, "hid_dim": args.hid_dim, "win_size": args.win_size}


def input_spec():
    """What the exported model takes: ids [batch, time] and lengths [batch], int64, any sizes."""
    from paddle.static import InputSpec
    return [InputSpec([None, None], "int64", "ids"), InputSpec([None], "int64", "lengths")]
