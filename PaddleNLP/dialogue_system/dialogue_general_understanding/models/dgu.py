"""DGU's task heads on the BERT encoder (models/bert.py, copied from pretrain_language_models/BERT with
its parameter names), as the release's define_paradigm.py builds them:

- cls / match (udc, atis_intent, swda, mrda): dropout 0.1 on the pooled [CLS] output, a linear layer to
  the labels, softmax;
- multi (dstc2): the same layer, one sigmoid per slot-value pair (multi-label);
- tag (atis_slot): a linear layer on every token's output, softmax per token.

The encoder sits under `bert.`, the head is `classifier.`, so BERT's pre-trained weights load by name.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .bert import BertModel

HEADS = ("cls", "match", "multi", "tag")


class DGUModel(nn.Layer):
    """Logits: [B, labels] (cls, match, multi) or [B, L, labels] (tag)."""

    def __init__(self, cfg, head, num_labels):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head {head!r} is not one of {HEADS}")
        self.head = head
        self.bert = BertModel(cfg)
        self.dropout = nn.Dropout(cfg.hidden_dropout_prob)
        self.classifier = nn.Linear(cfg.hidden_size, num_labels)
        if head == "multi" and self.classifier.bias._is_initialized():
            # Most of the 217 slot-value pairs are absent from any one state: start every sigmoid at
            # p = 1/labels instead of the release's 0.5, so the first steps' (clipped) gradients go to the
            # encoder instead of pushing 217 biases down (a loss of 150 at the start instead of about 4).
            self.classifier.bias.set_value(paddle.full([num_labels], -math.log(num_labels - 1), "float32"))

    def forward(self, input_ids, token_type_ids):
        sequence, pooled = self.bert(input_ids, token_type_ids)
        if self.head == "tag":
            return self.classifier(sequence)
        return self.classifier(self.dropout(pooled))


class Probabilities(nn.Layer):
    """What eval, infer and the export compute: softmax (cls, match, tag) or sigmoid (multi) of the logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, token_type_ids):
        logits = self.model(input_ids, token_type_ids)
        return F.sigmoid(logits) if self.model.head == "multi" else F.softmax(logits, axis=-1)


def compute_loss(model, batch, head):
    """Cross-entropy (cls, match); per-token cross-entropy averaged over the labelled tokens (tag: the
    ignored positions are left out of the count, which F.cross_entropy's mean would not do); the sum over
    the slot-value pairs of the sigmoid cross-entropy, averaged over the batch (multi)."""
    ids, types, labels = batch
    logits = model(ids, types)
    if head == "tag":
        loss = F.cross_entropy(logits, labels.unsqueeze(-1), ignore_index=-100, reduction="sum")
        return loss / paddle.clip((labels != -100).astype("float32").sum(), min=1.0)
    if head == "multi":
        return F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / labels.shape[0]
    return F.cross_entropy(logits, labels)
