"""Experiments tab: simulated listening experiments (staircase track + psychometric function).

The task list and :func:`run_task` are front-end independent (used by the notebook too); the
Panel view is :class:`ExperimentPanel`. The observer is Paulick2024's CASP optimal detector,
or a fast stand-in (a level or envelope feature with internal noise) for a quick look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.dashboards.registry import ParamSpec

# label -> (experiment name, the condition parameter shown as a slider)
TASKS = {
    "discrimination: level of a 1 kHz tone": ("intensity_tone",
                                              ParamSpec("level_db_spl", "tone level (dB SPL)", "float",
                                                        60.0, 20.0, 90.0, 5.0)),
    "detection: amplitude modulation of noise": ("tmtf", ParamSpec("rate_hz", "modulation rate (Hz)", "float",
                                                                   8.0, 2.0, 128.0, 2.0)),
    "detection: 1 kHz tone in noise": ("tone_in_noise", ParamSpec("notch_width_hz", "notch width (Hz)", "float",
                                                                  0.0, 0.0, 800.0, 100.0)),
    "discrimination: level of broadband noise": ("intensity_noise",
                                                 ParamSpec("level_db_spl", "noise level (dB SPL)", "float",
                                                           60.0, 30.0, 90.0, 5.0)),
    "masking: 1 kHz tone in notched noise": ("notched_noise",
                                            ParamSpec("notch_width_hz", "notch width (Hz)", "float",
                                                      200.0, 0.0, 800.0, 100.0)),
    "forward masking: 4 kHz tone after a tone masker": ("forward_masking_tone",
                                                        ParamSpec("masker_level_db_spl", "masker level (dB SPL)",
                                                                  "float", 70.0, 40.0, 90.0, 10.0)),
    "forward masking: 1 kHz tone after noise": ("forward_masking",
                                                ParamSpec("gap_s", "masker-probe gap (s)", "float",
                                                          0.01, 0.0, 0.15, 0.005)),
    "masking pattern: tone in narrowband noise": ("masking_pattern",
                                                  ParamSpec("probe_hz", "probe frequency (Hz)", "float",
                                                            1000.0, 500.0, 4000.0, 50.0)),
    "detection: AM of a narrowband noise (5 kHz)": ("am_detection",
                                                   ParamSpec("rate_hz", "modulation rate (Hz)", "float",
                                                             16.0, 2.0, 128.0, 2.0)),
}
OBSERVERS = {"Paulick2024 (CASP optimal detector)": "paulick2024",
             "stand-in: level feature + noise (fast)": "level",
             "stand-in: envelope feature + noise (fast)": "envelope"}
CONTROLS = (
    ParamSpec("task", "task", "choice", next(iter(TASKS)), options=tuple(TASKS)),
    ParamSpec("observer", "observer", "choice", next(iter(OBSERVERS)), options=tuple(OBSERVERS)),
    ParamSpec("n_runs", "staircase runs", "int", 2, 1, 8, 1),
    ParamSpec("seed", "random seed", "int", 0, 0, 99, 1),
)


@dataclass
class TaskResult:
    experiment: object
    result: object  # ExperimentResult
    summary: dict
    fit: object  # PsychometricFit or None
    levels: np.ndarray
    proportion_correct: np.ndarray
    n_trials: np.ndarray


def run_task(task: str, observer: str, condition_value: float, n_runs: int = 2, seed: int = 0,
             procedure: dict | None = None) -> TaskResult:
    """Run one task's staircases and fit a psychometric function to all their trials.

    ``procedure``: Staircase overrides, e.g. ``{"n_final_reversals": 4}`` for a quick run.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    if observer not in OBSERVERS.values():
        raise ValueError(f"observer must be one of {list(OBSERVERS.values())}, got {observer!r}")
    from workbench.psychophysics import experiments, procedures
    from workbench.psychophysics import observer as observers

    name, param = TASKS[task]
    kwargs = {param.name: param.validate(condition_value)}
    if procedure:
        kwargs["procedure"] = dict(procedure)
    experiment = experiments.make_experiment(name, **kwargs)
    obs = observers.make_observer(observer, experiment, seed=seed)
    result = experiment.run(obs, n_runs=int(n_runs), seed=int(seed))
    values = np.concatenate([np.asarray(v, float) for v in result.staircase.values])
    correct = np.concatenate([np.asarray(c, float) for c in result.staircase.correct])
    levels, inverse = np.unique(np.round(values, 6), return_inverse=True)
    k = np.bincount(inverse, weights=correct)
    n = np.bincount(inverse).astype(float)
    fit = None
    if levels.size >= 3:
        try:
            fit = procedures.fit_psychometric(levels, k, n, n_alternatives=experiment.n_intervals,
                                              n_bootstrap=0, seed=seed)
        except (ValueError, RuntimeError, FloatingPointError):  # too few distinct levels to fit
            fit = None
    return TaskResult(experiment, result, result.summary(), fit, levels, k / n, n)


def task_figures(r: TaskResult):
    """(staircase track of run 0, psychometric function) as matplotlib figures."""
    from workbench import plots

    unit = r.experiment.unit
    track = plots.plot_staircase(r.result.staircase, ylabel=unit)
    curve = None
    if r.fit is not None:
        x = np.linspace(r.levels.min(), r.levels.max(), 200)
        curve = (x, r.fit(x))
    psy = plots.plot_psychometric(r.levels, r.proportion_correct, n_trials=r.n_trials, fit=curve,
                                  threshold=r.summary[r.experiment.variable], n_afc=r.experiment.n_intervals,
                                  xlabel=unit, label="all trials")
    return track, psy


def reference_figure(task: str):
    """The shipped full run of this task's experiment over its human data (None without one)."""
    from workbench.psychophysics.experiments import plot_experiment, reference_results

    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    name = TASKS[task][0]
    table = reference_results(name)
    if table is None:
        return None
    for column, value in (("masker_hz", 4000.0), ("gap_s", 0.0), ("bandwidth_hz", 31.0)):
        if column in table and name in ("forward_masking_tone", "am_detection"):
            table = table[table[column] == value]
    return plot_experiment(table, name)


def summary_text(r: TaskResult) -> str:
    s, e = r.summary, r.experiment
    parts = [f"threshold ({e.variable}): **{s[e.variable]:.2f} {e.unit}**",
             f"sd over runs: {s['sd']:.2f}" if np.isfinite(s["sd"]) else "",
             f"converged runs: {s['n_converged']}/{s['n_runs']}", f"trials: {int(r.n_trials.sum())}",
             f"time: {s['elapsed_s']:.1f} s"]
    extra = {k: v for k, v in s.items() if k in ("delta_l_db",) and np.isfinite(v)}
    parts += [f"{k}: **{v:.2f}**" for k, v in extra.items()]
    parts.append(human_text(s))
    return " · ".join(p for p in parts if p)


def human_text(summary: dict) -> str:
    """The human threshold for this condition and the model's difference from it ('' where
    no human data match; relative data, such as notched noise, need the no-notch run too)."""
    from workbench.psychophysics.experiments import compare_with_human

    c = compare_with_human(summary)
    if not np.isfinite(c["human"]) or "model_relative" in c:
        return ""
    return f"human: {c['human']:.2f} (model - human {c['model_minus_human']:+.2f}; {c['human_source'].split(',')[0]})"


class ExperimentPanel:
    """Panel view: task, observer and condition controls, a Run button, track and curve."""

    def __init__(self):
        import panel as pn

        from workbench.dashboards.panel_ui import panel_widget

        self.controls = {p.name: panel_widget(p) for p in CONTROLS}
        self.controls["observer"].options = OBSERVERS
        self.controls["observer"].value = "paulick2024"
        self.condition = panel_widget(TASKS[self.controls["task"].value][1])
        self.condition_box = pn.Column(self.condition)
        self.controls["task"].param.watch(self._on_task, "value")
        self.run_button = pn.widgets.Button(label="Run staircases", button_type="primary",
                                            css_classes=["run-experiment"])
        self.run_button.on_click(self._on_run)
        self.message = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["experiments-message"])
        self.summary = pn.pane.Markdown("", css_classes=["experiment-summary"])
        self.spinner = pn.indicators.LoadingSpinner(value=True, visible=False, size=28)
        self.track = pn.pane.PNG(None, css_classes=["experiment-track"], max_width=600)
        self.curve = pn.pane.PNG(None, css_classes=["experiment-curve"], max_width=600)
        self.reference = pn.pane.PNG(None, css_classes=["experiment-reference"], max_width=600)
        self._show_reference(self.controls["task"].value)

    def _on_task(self, event):
        from workbench.dashboards.panel_ui import panel_widget

        self.condition = panel_widget(TASKS[event.new][1])
        self.condition_box[:] = [self.condition]
        self._show_reference(event.new)

    def _show_reference(self, task):
        from workbench.dashboards import figures

        fig = reference_figure(task)
        self.reference.object = None if fig is None else figures.png_bytes(fig, dpi=96)

    async def _on_run(self, event=None):
        from workbench.dashboards import core, figures
        from workbench.dashboards.panel_ui import EXECUTOR

        args = (self.controls["task"].value, self.controls["observer"].value, self.condition.value,
                self.controls["n_runs"].value, self.controls["seed"].value)

        def work():
            r = run_task(*args)
            track, psy = task_figures(r)
            return r, figures.png_bytes(track, dpi=96), figures.png_bytes(psy, dpi=96)

        self.run_button.disabled = True
        try:
            r, track, psy = await core.run_with_progress(work, lambda: setattr(self.spinner, "visible", True),
                                                         lambda: setattr(self.spinner, "visible", False),
                                                         executor=EXECUTOR)
        except Exception as exc:  # shown in the page; the tab stays usable
            self.message.alert_type, self.message.object, self.message.visible = "danger", core.user_message(exc), True
            return
        finally:
            self.run_button.disabled = False
        self.message.visible = False
        self.track.object, self.curve.object = track, psy
        self.summary.object = summary_text(r)

    def view(self):
        import panel as pn

        controls = pn.Column(*self.controls.values(), self.condition_box, self.run_button, width=320)
        return pn.Column(self.message, pn.Row(controls, pn.Column(pn.Row(self.spinner, self.summary),
                                                                  pn.Row(self.track, self.curve),
                                                                  self.reference)))

