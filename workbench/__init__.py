"""workbench: a Jupyter-first, GPU-capable psychoacoustics workbench.

Six differentiable auditory models (PyTorch ``nn.Module``), matched stage by stage to the
MATLAB Auditory Modeling Toolbox (AMT), with calibrated stimuli, plots, dashboards and
simulated listening experiments. Models are imported lazily so that ``import workbench``
stays fast: ``workbench.Dau1997`` imports :mod:`workbench.models.dau1997` on first use.
"""

__version__ = "0.1.0"

MODEL_MODULES = {
    name: f"workbench.models.{name.lower()}"
    for name in ("Dau1997", "Osses2021", "King2019", "Paulick2024", "Glasberg2002", "Moore2016")
}

__all__ = list(MODEL_MODULES) + ["__version__"]


def __getattr__(name):
    if name in MODEL_MODULES:
        import importlib

        return getattr(importlib.import_module(MODEL_MODULES[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
