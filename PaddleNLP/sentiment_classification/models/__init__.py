"""The model registry: --model NAME looks a constructor up here."""
from .bow import BOW
from .cnn import CNN, TextCNN
from .rnn import GRU, LSTM, BiLSTM, BiLSTM_Taskflow

MODELS = {"bow": BOW, "cnn": CNN, "textcnn": TextCNN, "lstm": LSTM, "bilstm": BiLSTM, "gru": GRU,
          "bilstm_taskflow": BiLSTM_Taskflow}


def build_model(name, vocab_size, num_classes, padding_idx, **kwargs):
    """A model by registry name; kwargs override its configuration (emb_dim, hid_dim, ...)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](vocab_size, num_classes, padding_idx, **kwargs)


def input_spec():
    """What the models take: ids [batch, time] and lengths [batch], both int64, any batch and length."""
    from paddle.static import InputSpec
    return [InputSpec([None, None], "int64", "ids"), InputSpec([None], "int64", "lengths")]
