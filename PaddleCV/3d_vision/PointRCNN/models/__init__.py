"""The model registry: --model NAME -> the PointRCNN configuration it builds."""
from .pointrcnn import CONFIGS, PointRCNN

MODELS = CONFIGS


def build_model(name):
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(CONFIGS))}")
    return PointRCNN(CONFIGS[name])
