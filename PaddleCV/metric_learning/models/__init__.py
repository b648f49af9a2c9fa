"""The embedding networks: `--model NAME` looks names up in MODELS."""
from .resnet import MODELS, EmbeddingNet  # noqa: F401


def build_model(name, embedding_size=0, num_classes=0, loss="softmax", arc_scale=80.0, arc_margin=0.15,
                arc_easy_margin=False):
    """The embedding network of `name`; with num_classes > 0 and an element loss (softmax, arcmargin)
    it carries that loss's classifier head, which only training uses."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    from losses import build_head
    head = build_head(loss, MODELS[name].feature_dim if not embedding_size else embedding_size, num_classes,
                      arc_scale, arc_margin, arc_easy_margin)
    return EmbeddingNet(MODELS[name](), MODELS[name].feature_dim, embedding_size, head)
