"""Model registry: `--model NAME` looks names up here, so `--help` can list every model."""
MODELS = {}


def register(fn=None, *, input_size=224):
    """Register a constructor `fn(num_classes=1000) -> paddle.nn.Layer` under its own name.
    `input_size` is the square crop the model was trained at (299 for Inception/Xception)."""
    def wrap(f):
        f.input_size = input_size
        MODELS[f.__name__] = f
        return f
    return wrap(fn) if fn is not None else wrap
