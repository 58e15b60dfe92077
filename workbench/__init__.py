"""workbench: a Jupyter-first, GPU-capable psychoacoustics workbench.

Six differentiable auditory models (PyTorch ``nn.Module``), matched stage by stage to the
MATLAB Auditory Modeling Toolbox (AMT), with calibrated stimuli, plots, dashboards and
simulated listening experiments.

Models are imported lazily so that ``import workbench`` stays fast::

    >>> from workbench import Dau1997   # doctest: +SKIP
"""

__version__ = "0.1.0"

_MODELS = {
    "Dau1997": "workbench.models.dau1997",
    "Osses2021": "workbench.models.osses2021",
    "King2019": "workbench.models.king2019",
    "Paulick2024": "workbench.models.paulick2024",
    "Glasberg2002": "workbench.models.glasberg2002",
    "Moore2016": "workbench.models.moore2016",
}

__all__ = list(_MODELS) + ["__version__"]


def __getattr__(name):
    if name in _MODELS:
        import importlib

        return getattr(importlib.import_module(_MODELS[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
