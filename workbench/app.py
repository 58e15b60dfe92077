"""The workbench Panel app: ``workbench serve`` (or ``panel serve workbench/app.py``).

Tabs: Stimulus (waveform, spectrum, audio), Models (every stage of the chosen model) and
Experiments (simulated listening experiments with Paulick2024). :func:`create_app` builds a
fresh app, with its own caches, for every browser session.
"""

from __future__ import annotations

import panel as pn

from workbench.dashboards.experiments_ui import ExperimentPanel
from workbench.dashboards.panel_ui import StageExplorer, start, warm_up_in_background
from workbench.dashboards.registry import MODELS

TITLE = "Psychoacoustics workbench"


def default_model() -> str:
    """``?model=Name`` from the URL when it names a registered model, else the first."""
    args = pn.state.session_args or {}
    wanted = (args.get("model") or [b""])[0].decode("ascii", "replace")
    if wanted in MODELS:  # compared against the fixed list only; the text is never used otherwise
        return wanted
    return next(iter(MODELS))


def create_app(model: str | None = None) -> pn.viewable.Viewable:
    """One session's app: nothing in it is shared with other sessions."""
    model = model or default_model()
    explorer = StageExplorer(model=model)
    experiments = ExperimentPanel()
    tabs = pn.Tabs(("Stimulus", explorer.stimulus_view()), ("Models", explorer.model_view()),
                   ("Experiments", experiments.view()), dynamic=False, sizing_mode="stretch_width")
    tabs.active = 1
    app = pn.Column(f"# {TITLE}", explorer.error,
                    pn.Row(explorer.stimulus_controls(), tabs, sizing_mode="stretch_width"),
                    sizing_mode="stretch_width")
    start(explorer)
    return app


if __name__.startswith("bokeh"):  # executed by `panel serve` once per session
    pn.extension(sizing_mode="stretch_width", notifications=False)
    warm_up_in_background()  # once per process; `workbench serve` runs this at startup (--warm)
    create_app().servable(title=TITLE)
