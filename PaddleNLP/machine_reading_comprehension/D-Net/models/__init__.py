"""The model registry: --model NAME picks a BERT configuration (models/bert.py, copied from
PaddleNLP/pretrain_language_models/BERT with its parameter names) under D-Net's span head."""
from .bert import CONFIGS, BertConfig, BertForPretraining, BertForQuestionAnswering, config_for

MODELS = CONFIGS


def build_model(config):
    """D-Net's reader for a BertConfig: the BERT encoder and a start/end span head (`classifier`)."""
    return BertForQuestionAnswering(config)
