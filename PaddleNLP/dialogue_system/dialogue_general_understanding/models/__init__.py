"""The model registry: --model NAME picks a BERT configuration; the task picks the head."""
from .bert import CONFIGS, BertConfig
from .dgu import HEADS, DGUModel, Probabilities, compute_loss

MODELS = CONFIGS


def build_model(head, config, num_labels):
    """The DGU network of a head kind (cls, match, multi, tag) for a BertConfig."""
    return DGUModel(config, head, num_labels)
