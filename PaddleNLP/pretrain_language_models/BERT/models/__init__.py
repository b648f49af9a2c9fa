"""The model registry: --model NAME picks a BERT configuration here."""
from .bert import CONFIGS, BertConfig, BertForPretraining, BertForQuestionAnswering, BertForSequenceClassification

MODELS = CONFIGS


def build_model(task, config, num_classes=2):
    """The network of a task (pretrain, classify, squad) for a BertConfig."""
    if task == "pretrain":
        return BertForPretraining(config)
    if task == "classify":
        return BertForSequenceClassification(config, num_classes)
    if task == "squad":
        return BertForQuestionAnswering(config)
    raise ValueError(f"unknown task {task!r}")
