"""The model registry: --model NAME picks a BERT configuration for KT-NET's encoder."""
from .bert import CONFIGS, BertConfig, config_for
from .ktnet import KTNet

MODELS = CONFIGS


def build_model(cfg, num_concepts, concept_dim):
    """KT-NET over a BertConfig with a KB of num_concepts (padding included) x concept_dim."""
    return KTNet(cfg, num_concepts, concept_dim)
