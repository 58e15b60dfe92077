"""ipywidgets front end of the dashboard components, for the lesson notebooks.

>>> from workbench.dashboards.notebook import StageExplorerWidget   # doctest: +SKIP
>>> StageExplorerWidget("Dau1997", duration_s=0.3)                    # doctest: +SKIP

Same controls as the Panel app (built from the registry specs). Sliders only report on
release (``continuous_update=False``: the debounce); a "computing…" line is shown before a
run that is expected to take more than 0.3 s (no cached result and the last run of this
model took longer than that).
"""

from __future__ import annotations

import html

import ipywidgets as W
from IPython.display import Image, display

from workbench.dashboards import core
from workbench.dashboards.core import STIMULUS_CONTROLS, Explorer, StimulusSpec
from workbench.dashboards.registry import ParamSpec, model_spec


def ipy_widget(p: ParamSpec):
    """An ipywidget for one parameter spec (sliders update on release)."""
    style = {"description_width": "initial"}
    layout = W.Layout(width="340px")
    common = dict(description=p.label, style=style, layout=layout)
    if p.kind == "float":
        return W.FloatSlider(value=p.default, min=p.low, max=p.high, step=p.step, continuous_update=False, **common)
    if p.kind == "int":
        return W.IntSlider(
            value=p.default, min=int(p.low), max=int(p.high), step=int(p.step or 1), continuous_update=False, **common
        )
    if p.kind == "choice":
        if set(p.options) <= set(core.STIMULUS_LABELS):  # stimulus kinds: shown by their labels
            return W.Dropdown(options=[(core.STIMULUS_LABELS[o], o) for o in p.options], value=p.default, **common)
        return W.Dropdown(options=list(p.options), value=p.default, **common)
    if p.kind == "bool":
        return W.Checkbox(value=p.default, **common)
    raise ValueError(f"kind must be float/int/choice/bool, got {p.kind!r}")


class StageExplorerWidget:
    """Stimulus designer, model parameters, stage picker, stage plot, readout and audio player.

    ``model``: a registered model name; ``stage``: the stage key shown first; further keyword
    arguments set the stimulus (``duration_s=0.3``) or the model's parameters (``flow=200``).
    Settings the chosen stimulus kind does not use are disabled (and never recompute); the
    player plays at the fixed calibration of the app (:data:`core.PLAYBACK_NOTE`) and says so.
    """

    def __init__(self, model: str = "Dau1997", stage: str | None = None, explorer: Explorer | None = None, **settings):
        self.spec = model_spec(model)
        self.explorer = explorer or Explorer()
        self.stimulus_widgets = {p.name: ipy_widget(p) for p in STIMULUS_CONTROLS}
        self.stimulus_widgets["kind"].options = [
            (core.STIMULUS_LABELS[k], k) for k in core.STIMULUS_KINDS if k != "upload"
        ]
        self.stimulus_widgets["snr_db"].description_tooltip = core.SNR_DEFINITION
        self.param_widgets = {p.name: ipy_widget(p) for p in self.spec.params}
        for name, value in settings.items():
            group = self.stimulus_widgets if name in self.stimulus_widgets else self.param_widgets
            if name not in group:
                allowed = sorted(self.stimulus_widgets) + sorted(self.param_widgets)
                raise ValueError(f"unknown setting {name!r}; allowed {allowed}")
            group[name].value = value
        choices = core.stage_choices(self.explorer.model(model, self.params()).stage_info)
        self.stage = W.Dropdown(
            options=list(choices.items()),
            value=stage or next(iter(choices.values())),
            description="stage",
            style={"description_width": "initial"},
            layout=W.Layout(width="340px"),
        )
        self.plot = W.Output(layout=W.Layout(min_height="320px"))
        self.readout = W.HTML()
        self.progress = W.HTML("<i>computing…</i>", layout=W.Layout(visibility="hidden"))
        self.error = W.HTML()
        self.audio = W.Audio(format="wav", autoplay=False, loop=False)
        self.audio_label = W.HTML()
        self.playback_note = W.HTML(f"<small>{html.escape(core.PLAYBACK_NOTE)}</small>", layout=W.Layout(width="340px"))
        self.about = W.HTML(
            f"<b>{self.spec.name}</b>: {html.escape(self.spec.about)}<br>"
            f"<small>{html.escape(self.spec.citation)}</small>"
        )
        for name, w in self.stimulus_widgets.items():
            w.observe(lambda change, name=name: self._on_stimulus(name, change), names="value")
        for w in [*self.param_widgets.values(), self.stage]:
            w.observe(self.update, names="value")
        self._apply_kind()
        controls = W.VBox(
            [
                W.HTML("<b>Stimulus</b>"),
                *self.stimulus_widgets.values(),
                self.audio_label,
                self.audio,
                self.playback_note,
                W.HTML(f"<b>{self.spec.name}</b>"),
                *self.param_widgets.values(),
                self.stage,
            ],
            layout=W.Layout(flex="0 1 360px", min_width="300px"),
        )
        self.widget = W.HBox(
            [
                controls,
                W.VBox(
                    [self.about, self.progress, self.error, self.readout, self.plot],
                    layout=W.Layout(flex="1 1 480px", min_width="300px"),
                ),
            ],
            layout=W.Layout(flex_flow="row wrap"),
        )
        self.result = None
        self.update()

    def stimulus_spec(self) -> StimulusSpec:
        return StimulusSpec(**{k: w.value for k, w in self.stimulus_widgets.items()})

    def _apply_kind(self):
        """Disable the settings the chosen stimulus kind (and a monaural model) does not use."""
        used = set(StimulusSpec.applies(self.stimulus_widgets["kind"].value))
        from workbench.dashboards.registry import model_class

        if "E" not in getattr(model_class(self.spec.name), "input_axes", "BT"):
            used.discard("ears")
        for name, w in self.stimulus_widgets.items():
            if name != "kind":
                w.disabled = name not in used

    def _on_stimulus(self, name, change):
        if name == "kind":
            self._apply_kind()
        elif self.stimulus_widgets[name].disabled:  # an unused setting: nothing to recompute
            return
        self.update()

    def params(self) -> dict:
        return {k: w.value for k, w in self.param_widgets.items()}

    def update(self, change=None):
        """Recompute (cached) and redraw; an error is shown above the plot."""
        from workbench.dashboards import figures

        self.progress.layout.visibility = "visible" if self.explorer.expected_slow(self.spec.name) else "hidden"
        try:
            stim = self.stimulus_spec()
            self.result = self.explorer.run(self.spec.name, stim, self.params())
            fig = figures.stage_figure(self.result, self.stage.value)
            x = self.explorer.stimulus(stim, self.result.fs)
            sound = core.playback(x.numpy(), self.result.fs)
            self.audio.value = sound.wav
            warning = f"<br><span style='color:#b26a00'>{html.escape(sound.warning())}</span>" if sound.clipped else ""
            self.audio_label.value = f"<b>Play</b>: {html.escape(stim.describe())} ({sound.duration_s:.2f} s){warning}"
            values = core.readout(self.result, self.stage.value)
        except Exception as exc:  # keep the widget alive and say what went wrong
            self.error.value = f"<span style='color:#b00'>{html.escape(core.user_message(exc))}</span>"
            return
        finally:
            self.progress.layout.visibility = "hidden"
        self.error.value = ""
        about = " ".join(self.result.info[k].about for k in core.view_keys(self.stage.value)[:1])
        self.readout.value = "<br>".join(
            [
                f"<i>{about}</i>" if about else "",
                " · ".join(
                    f"{k}: <b>{v:.4g}</b>" if isinstance(v, float) else f"{k}: <b>{v}</b>" for k, v in values.items()
                ),
            ]
        )
        with self.plot:
            self.plot.clear_output(wait=True)
            display(Image(figures.png_bytes(fig)))

    def _ipython_display_(self):
        display(self.widget)


class ExperimentWidget:
    """Choose a task and an observer, run staircases, see the track and the psychometric function."""

    def __init__(self, procedure: dict | None = None):
        from workbench.dashboards import experiments_ui as ex

        self.ex, self.procedure = ex, procedure
        self.controls = {p.name: ipy_widget(p) for p in ex.CONTROLS}
        self.controls["observer"].options = list(ex.OBSERVERS.items())
        self.controls["observer"].value = "paulick2024"
        self.condition = ipy_widget(ex.TASKS[self.controls["task"].value][1])
        self.condition_box = W.VBox([self.condition])
        self.controls["task"].observe(self._on_task, names="value")
        self.button = W.Button(description="Run staircases", button_style="primary")
        self.button.on_click(self.run)
        self.status = W.HTML()
        self.plots = W.Output()
        self.result = None
        controls = W.VBox(
            [*self.controls.values(), self.condition_box, self.button],
            layout=W.Layout(flex="0 0 360px", min_width="360px"),
        )
        self.widget = W.HBox([controls, W.VBox([self.status, self.plots])])

    def _on_task(self, change):
        self.condition = ipy_widget(self.ex.TASKS[change["new"]][1])
        self.condition_box.children = [self.condition]

    def run(self, _button=None):
        from workbench.dashboards import figures

        self.status.value = "<i>running staircases…</i>"
        self.button.disabled = True
        try:
            self.result = self.ex.run_task(
                self.controls["task"].value,
                self.controls["observer"].value,
                self.condition.value,
                self.controls["n_runs"].value,
                self.controls["seed"].value,
                procedure=self.procedure,
            )
            track, psy = self.ex.task_figures(self.result)
        except Exception as exc:  # keep the widget usable and say what went wrong
            self.status.value = f"<span style='color:#b00'>{html.escape(core.user_message(exc))}</span>"
            return
        finally:
            self.button.disabled = False
        self.status.value = self.ex.summary_text(self.result).replace("**", "")
        with self.plots:
            self.plots.clear_output(wait=True)
            display(
                W.HBox(
                    [
                        W.Image(value=figures.png_bytes(track), format="png"),
                        W.Image(value=figures.png_bytes(psy), format="png"),
                    ]
                )
            )

    def _ipython_display_(self):
        display(self.widget)
