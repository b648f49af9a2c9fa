"""The model zoo: every file in this package registers its constructors in MODELS at import."""
import importlib
import pkgutil

from .registry import MODELS, register  # noqa: F401

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")


def build_model(name, num_classes=1000):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes=num_classes)
