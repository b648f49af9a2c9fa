"""Model registry (--model NAME) and the flags that shape the model, shared by every script.

The defaults are the release/1.7 train.py's: one query slot and one title slot, a shared table of
1000001 ids x 128, bow encoders (128), hidden (projection) size 128, margin 0.1.
"""
import math

import paddle

from .multiview_simnet import ENCODERS, MultiviewSimnet, hinge_loss  # noqa: F401

MODELS = {"multiview_simnet": MultiviewSimnet}

# Flags that shape the model: saved with the run; eval, export and infer take them from it.
MODEL_FLAGS = ("sparse_feature_dim", "query_slots", "title_slots", "embedding_dim", "query_encoder",
               "title_encoder", "query_encode_dim", "title_encode_dim", "hidden_size")


def add_model_flags(parser):
    g = parser.add_argument_group("model (saved with the run; eval, export and infer take them from it)")
    g.add_argument("--sparse_feature_dim", type=int, default=1000001,
                   help="rows of the shared id table; ids at or above it are mapped to the unknown id 0")
    g.add_argument("--query_slots", type=int, default=1, help="views (slots) of a query")
    g.add_argument("--title_slots", type=int, default=1, help="views (slots) of a title")
    g.add_argument("--embedding_dim", type=int, default=128, help="width of the id embeddings")
    g.add_argument("--encoder", choices=sorted(ENCODERS), default="bow",
                   help="encoder of every slot of both sides (bow: sum; cnn: window 3, tanh, max; gru: GRU, max)")
    g.add_argument("--query_encoder", choices=sorted(ENCODERS), default=None, help="the query side's (None: --encoder)")
    g.add_argument("--title_encoder", choices=sorted(ENCODERS), default=None, help="the title side's (None: --encoder)")
    g.add_argument("--query_encode_dim", type=int, default=128, help="output width of the cnn/gru query encoder")
    g.add_argument("--title_encode_dim", type=int, default=128, help="output width of the cnn/gru title encoder")
    g.add_argument("--hidden_size", type=int, default=128, help="width of the q_fc / t_fc projections")
    return parser


def resolve_encoders(args):
    """--query_encoder / --title_encoder default to --encoder (after a run's settings are loaded)."""
    args.query_encoder = args.query_encoder or args.encoder
    args.title_encoder = args.title_encoder or args.encoder
    return args


def build_model(args, sparse=True):
    """The model of a run's settings (anything with the MODEL_FLAGS, encoders resolved by resolve_encoders)."""
    kw = {k: getattr(args, k) for k in MODEL_FLAGS}
    return MODELS[args.model](sparse=sparse, **kw)


def input_spec(query_slots, title_slots, with_negative=False):
    """Batch and lengths free; the slot counts are part of the model. with_negative: the training
    signature (a negative title too, padded like the positive one)."""
    spec = [paddle.static.InputSpec([None, query_slots, None], "int64", name="query"),
            paddle.static.InputSpec([None, query_slots], "int64", name="query_len"),
            paddle.static.InputSpec([None, title_slots, None], "int64", name="title"),
            paddle.static.InputSpec([None, title_slots], "int64", name="title_len")]
    if with_negative:
        spec += [paddle.static.InputSpec([None, title_slots, None], "int64", name="neg_title"),
                 paddle.static.InputSpec([None, title_slots], "int64", name="neg_title_len")]
    return spec


def num_parameters(model):
    """Counted from the shapes, so it also works on a model built under paddle.LazyGuard()."""
    return sum(math.prod(p.shape) for p in model.parameters())
