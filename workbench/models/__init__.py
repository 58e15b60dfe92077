"""Complete auditory models: each file composes stages from :mod:`workbench.stages`."""

from workbench import _MODELS

__all__ = list(_MODELS)


def __getattr__(name):
    if name in _MODELS:
        import importlib

        return getattr(importlib.import_module(_MODELS[name]), name)
    raise AttributeError(f"module 'workbench.models' has no attribute {name!r}")
