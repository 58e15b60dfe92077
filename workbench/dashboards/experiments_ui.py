"""Experiments tab: simulated listening experiments with Paulick2024 (psychophysics engine)."""

from __future__ import annotations

import importlib

import panel as pn

REQUIRES = ("the experiment engine `workbench.psychophysics.experiments` (issue 8) and the "
            "Paulick2024 model")


def missing_requirements() -> str | None:
    """None when the experiment engine and Paulick2024 can be imported, else what is missing."""
    for module, attr in (("workbench.psychophysics.experiments", None), ("workbench.models.paulick2024", "Paulick2024")):
        try:
            mod = importlib.import_module(module)
            if attr and not hasattr(mod, attr):
                raise ImportError(attr)
        except Exception:  # a module that is absent or still broken: say so in the page
            return f"This tab requires {REQUIRES}; `{module}` is not available yet in this installation."
    return None


class ExperimentPanel:
    def __init__(self):
        self.message = pn.pane.Alert("", alert_type="info", css_classes=["experiments-message"])

    def view(self):
        missing = missing_requirements()
        if missing:
            self.message.object = missing
            return pn.Column(self.message)
        self.message.object = "Experiment engine found."
        return pn.Column(self.message)
