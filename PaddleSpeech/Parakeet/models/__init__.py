"""The networks, one file per model: transformer_tts, fastspeech, deepvoice3 (acoustic,
acoustic.py drives them) and wavenet, clarinet, waveflow (vocoders, vocoder.py drives them)."""
import math


def count_parameters(model):
    """Parameters of a model, lazy ones too (math.prod of the shapes: numel() fails under LazyGuard)."""
    return sum(math.prod(p.shape) for p in model.parameters())
