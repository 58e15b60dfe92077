"""Complete auditory models: each file composes stages from :mod:`workbench.stages` on the
model contract of :mod:`workbench.models.base`; imported lazily, as from :mod:`workbench`."""

from workbench import MODEL_MODULES, __getattr__  # noqa: F401 - the lazy import of the models

__all__ = list(MODEL_MODULES)
