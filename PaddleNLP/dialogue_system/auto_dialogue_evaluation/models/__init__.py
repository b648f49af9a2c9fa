"""The model registry. ADE has one network (models/ade.py); --model names the STAGE it is trained for,
which picks the data directory, the loss and the metric:

    match                                   stage 1: matching on unlabel_data (sigmoid cross-entropy, Recall@k)
    human, keywords, seq2seq_att, seq2seq_naive
                                            stage 2: fine-tuning to the human scores of label_data/NAME
                                            (squared error on 2 * sigmoid(logit), Spearman/Pearson)
"""
from .ade import ADEM, MatchScore, count_parameters, loss_fn, score

MODELS = {"match": "matching (stage 1)", "human": "fine-tuned to human scores", "keywords": "fine-tuned",
          "seq2seq_att": "fine-tuned", "seq2seq_naive": "fine-tuned"}


def is_match(name):
    return name == "match"


def build_model(name, vocab_size, emb_size=256, hidden_size=256):
    """The network for a stage; every stage has the same parameters, so a matching checkpoint
    initialises a fine-tuning run (--pretrained)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(sorted(MODELS))}")
    return ADEM(vocab_size, emb_size, hidden_size)


def input_spec():
    """context ids [B, Tc], context lengths [B], response ids [B, Tr], response lengths [B]: all int64,
    every InputSpec with its own name (two with one name would merge into one input)."""
    from paddle.static import InputSpec
    return [InputSpec([None, None], "int64", "context_ids"), InputSpec([None], "int64", "context_lengths"),
            InputSpec([None, None], "int64", "response_ids"), InputSpec([None], "int64", "response_lengths")]
