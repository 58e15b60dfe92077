"""Experiments tab: simulated listening experiments (staircase tracks, psychometric function,
the human data they should match).

Front-end independent part (also used by the notebook widget): :func:`task_list` reads the
experiments from the library's registry (:data:`workbench.psychophysics.experiments.EXPERIMENTS`),
so an experiment added there appears here without UI changes, each with a sentence on its
stimulus, procedure and tracked variable (:func:`describe_task`) and a slider for its
condition; :func:`run_task` runs one condition with live progress and cancellation
(:mod:`workbench.dashboards.progress`); :func:`outcome` turns the result into plain data
(:class:`TaskOutcome`, what a worker process sends back) with every non-result explained
in words (:func:`explanations`); the figures draw every run's track with the threshold the
summary reports and the model's thresholds over the human data with its citation.

The Panel view is :class:`ExperimentPanel`; in ``workbench serve`` its runs go to the
experiment worker processes (:mod:`workbench.dashboards.workers`). The default observer is
Paulick2024's CASP optimal detector; the stand-ins (a level or envelope feature with internal
noise) are for a quick look. Every session starts with its own random seed, shown and
settable, so two students get independent runs and one can reproduce another's.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import secrets
import warnings
from dataclasses import dataclass, field

import numpy as np

from workbench.dashboards.registry import ParamSpec

# friendly names for the registry's experiments; an experiment without one gets its own name
TASK_LABELS = {
    "intensity_tone": "discrimination: level of a 1 kHz tone",
    "intensity_noise": "discrimination: level of broadband noise",
    "tmtf": "detection: amplitude modulation of noise",
    "tone_in_noise": "detection: 1 kHz tone in noise",
    "notched_noise": "masking: 1 kHz tone in notched noise",
    "forward_masking": "forward masking: 1 kHz tone after noise",
    "forward_masking_tone": "forward masking: 4 kHz tone after a tone masker",
    "masking_pattern": "masking pattern: tone in narrowband noise",
    "am_detection": "detection: AM of a narrowband noise (5 kHz)",
}
DEFAULT_TASK = "intensity_tone"
# what the stimuli are, filled from the experiment's own parameters (a missing key falls back
# to the factory's docstring, so a changed experiment never shows stale numbers)
STIMULUS_TEXT = {
    "tmtf": "broadband noise ({band_hz[0]:g}-{band_hz[1]:g} Hz) at {level_db_spl:g} dB SPL for {duration_s:g} s; "
    "in the target interval it is amplitude-modulated at {rate_hz:g} Hz, in the others not (all "
    "intervals at the same level, fresh noise in each)",
    "intensity_tone": "a {freq_hz:g} Hz tone of {duration_s:g} s (then silence up to {total_s:g} s): the reference "
    "at {level_db_spl:g} dB SPL, the target louder by the tracked increment",
    "intensity_noise": "broadband noise ({band_hz[0]:g}-{band_hz[1]:g} Hz) of {duration_s:g} s: the reference at "
    "{level_db_spl:g} dB SPL, the target louder by the tracked increment (fresh noise each time)",
    "tone_in_noise": "a {tone_hz:g} Hz tone of {duration_s:g} s in noise of {noise_spectrum_level_db:g} dB spectrum "
    "level ({band_hz[0]:g}-{band_hz[1]:g} Hz, notch of {notch_width_hz:g} Hz around the tone); "
    "the other intervals hold the noise alone",
    "forward_masking": "a {masker_duration_s:g} s broadband-noise masker at {masker_level_db_spl:g} dB SPL in every "
    "interval, and {gap_s:g} s after it a {probe_duration_s:g} s {probe_hz:g} Hz tone probe in "
    "the target interval only",
    # experiments of the science branch (used once they are in the registry)
    "notched_noise": "a {tone_hz:g} Hz tone of {duration_s:g} s in noise of {noise_spectrum_level_db:g} dB spectrum "
    "level ({band_hz[0]:g}-{band_hz[1]:g} Hz) with a notch of {notch_width_hz:g} Hz centred on the "
    "tone; the other intervals hold the noise alone",
    "forward_masking_tone": "a {masker_duration_s:g} s {masker_hz:g} Hz tone masker at {masker_level_db_spl:g} "
    "dB SPL in every interval and, {gap_s:g} s after it, a {probe_duration_s:g} s "
    "{probe_hz:g} Hz tone probe in the target interval only",
    "masking_pattern": "a {masker_bandwidth_hz:g} Hz wide noise band around {masker_hz:g} Hz at "
    "{masker_level_db_spl:g} dB SPL in every interval, and a {probe_duration_s:g} s "
    "{probe_hz:g} Hz tone probe in the target interval only",
    "am_detection": "a {bandwidth_hz:g} Hz wide noise band (0: a tone) at {carrier_hz:g} Hz, {level_db_spl:g} dB SPL, "
    "{duration_s:g} s; in the target interval it is amplitude-modulated at {rate_hz:g} Hz, in the "
    "others not",
}
# condition sliders: (low, high, step) and label of known condition parameters
CONDITION_RANGES = {
    "level_db_spl": (20.0, 90.0, 5.0),
    "rate_hz": (2.0, 128.0, 2.0),
    "notch_width_hz": (0.0, 800.0, 100.0),
    "gap_s": (0.0, 0.15, 0.005),
    "masker_level_db_spl": (40.0, 90.0, 10.0),
    "probe_hz": (500.0, 4000.0, 50.0),
    "masker_hz": (500.0, 8000.0, 100.0),
    "bandwidth_hz": (0.0, 400.0, 1.0),
}
CONDITION_LABELS = {
    "level_db_spl": "level (dB SPL)",
    "rate_hz": "modulation rate (Hz)",
    "notch_width_hz": "notch width (Hz)",
    "gap_s": "masker-probe gap (s)",
    "masker_level_db_spl": "masker level (dB SPL)",
    "probe_hz": "probe frequency (Hz)",
    "masker_hz": "masker frequency (Hz)",
    "bandwidth_hz": "noise bandwidth (Hz; 0: a tone)",
}
OBSERVER_LABELS = {
    "paulick2024": "Paulick2024 (CASP optimal detector)",
    "jepsen2008": "Jepsen et al. 2008 (CASP model, optimal detector)",
    "dau1997": "Dau1997 (optimal detector)",
    "level": "stand-in: level feature + noise (fast)",
    "envelope": "stand-in: envelope feature + noise (fast)",
}
STAND_IN_CUES = {
    "level": "the intervals' overall levels",
    "envelope": "how strongly each interval's envelope fluctuates",
}
STAND_IN_NAMES = {"level": "level stand-in", "envelope": "envelope stand-in"}
DEFAULT_OBSERVER = "paulick2024"
MAX_HISTORY = 40
CPU_BATCH = 4  # intervals per model call on the CPU: a 1-s Paulick2024 interval holds ~80 MB of stages


# --------------------------------------------------------------------------- the task list
@dataclass(frozen=True)
class TaskInfo:
    """One experiment of the registry as the tab offers it."""

    name: str
    label: str
    condition: ParamSpec  # the first condition parameter (the one a sweep would vary)
    description: str
    variable: str
    unit: str
    conditions: tuple = ()  # every condition parameter, the first included


def _observer_names() -> tuple:
    from workbench.psychophysics import observer

    names = tuple(observer.OBSERVERS)
    return tuple(sorted(names, key=lambda n: (n != DEFAULT_OBSERVER, names.index(n))))


def observer_options() -> dict:
    """Label -> observer name, for every observer the library offers (Paulick2024 first)."""
    return {OBSERVER_LABELS.get(n, n): n for n in _observer_names()}


def _unit_of(name: str) -> str:
    for suffix, unit in (("_db_spl", "dB SPL"), ("_hz", "Hz"), ("_db", "dB"), ("_s", "s")):
        if name.endswith(suffix):
            return unit
    return ""


def _nice(x: float) -> float:
    if x <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(x))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= x)


def condition_spec(name: str, value: float) -> ParamSpec:
    """Slider for condition parameter ``name`` whose default is ``value``: a known range, or one
    derived from the parameter's unit around the default."""
    unit = _unit_of(name)
    label = CONDITION_LABELS.get(
        name,
        name.replace("_", " ").removesuffix(" db spl").removesuffix(" hz").removesuffix(" s")
        + (f" ({unit})" if unit else ""),
    )
    if name in CONDITION_RANGES:
        low, high, step = CONDITION_RANGES[name]
    elif unit == "dB SPL":
        low, high, step = max(0.0, value - 40.0), min(100.0, value + 30.0), 5.0
    elif unit == "Hz":
        low, high = (0.0, 1000.0) if value == 0 else (value / 4, min(value * 16, 8000.0))
        step = _nice((high - low) / 60)
    elif unit == "s":
        low, high = 0.0, max(0.2, 10 * value)
        step = _nice((high - low) / 40)
    else:
        low, high = (0.0, 1.0) if value == 0 else sorted((value / 4, value * 4))
        step = _nice((high - low) / 40)
    low, high = min(low, value), max(high, value)
    return ParamSpec(name, label, "float", float(value), float(low), float(high), float(step))


def _factory_doc(factory) -> str:
    """First sentence of the factory's docstring (or of the function a lambda entry calls)."""
    doc = inspect.getdoc(factory)
    if not doc and hasattr(factory, "__code__"):
        from workbench.psychophysics import experiments

        for called in factory.__code__.co_names:
            target = getattr(experiments, called, None)
            if callable(target) and inspect.getdoc(target):
                doc = inspect.getdoc(target)
                break
    first = _plain((doc or "").strip().split("\n\n")[0].replace("\n", " "))
    return re.split(r"(?<=\.)\s", first)[0].rstrip(".") if first else ""


def _humanize(name: str) -> str:
    """'masker_level_db_spl' -> 'masker level (dB SPL)'."""
    if name in CONDITION_LABELS:
        return CONDITION_LABELS[name]
    unit = _unit_of(name)
    base = name
    for suffix in ("_db_spl", "_hz", "_db", "_s"):
        if unit and name.endswith(suffix):
            base = name[: -len(suffix)]
            break
    return base.replace("_", " ") + (f" ({unit})" if unit else "")


def _plain(text: str) -> str:
    """Docstring prose for the page: no reST roles or literals, no code identifiers."""
    text = re.sub(r":\w+:`~?([^`]*)`", r"\1", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    return re.sub(r"\b[a-z]+(?:_[a-z0-9]+)+\b", lambda m: _humanize(m.group(0)), text)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "-".join(_fmt(v) for v in value)
    return str(value)


def describe_task(name: str, experiment) -> str:
    """One paragraph: the stimulus, the procedure and what is tracked, from the experiment."""
    values = {**experiment.params, **experiment.condition}
    try:
        stimulus = STIMULUS_TEXT[name].format(**values)
    except (KeyError, IndexError, ValueError, TypeError):
        from workbench.psychophysics import experiments

        stimulus = _factory_doc(experiments.EXPERIMENTS[name]) or name.replace("_", " ")
        fixed = ", ".join(f"{_humanize(k)} {_fmt(v)}" for k, v in values.items())
        stimulus = f"{stimulus[:1].lower()}{stimulus[1:]} ({fixed})" if fixed else stimulus
    p = experiment.procedure
    k = p.n_threshold_reversals or p.n_final_reversals
    steps = ", ".join(f"{s:g}" for s in p.step_sizes)
    return (
        f"**Stimulus:** {stimulus}. "
        f"**Procedure:** {experiment.n_intervals}-interval forced choice; the target interval is random and "
        f"the observer picks one. A {p.n_down}-down {p.n_up}-up staircase (converges on "
        f"{100 * p.target_p:.1f} % correct) starts at {p.start_value:.3g} and moves in steps of {steps} "
        f"(smaller after every {p.reversals_per_step} reversals); a run stops after {p.n_final_reversals} "
        f"reversals at the smallest step (or at {p.max_trials} trials, or when it is stuck at a limit of "
        f"[{p.bounds[0]:g}, {p.bounds[1]:g}]). **Tracked:** {experiment.variable} in {experiment.unit} "
        f"(lower is harder); a run's threshold is the {p.statistic} of its last {k} reversals."
    )


def task_list() -> dict[str, TaskInfo]:
    """Label -> :class:`TaskInfo` for every experiment in the library's registry, now."""
    from workbench.psychophysics import experiments

    names = list(experiments.EXPERIMENTS)
    names.sort(key=lambda n: n != DEFAULT_TASK)
    out = {}
    for name in names:
        try:
            experiment = experiments.make_experiment(name)
        except Exception:  # noqa: BLE001 - an entry that cannot build with defaults is not offered
            continue
        if not experiment.condition:
            continue
        conditions = tuple(condition_spec(k, float(v)) for k, v in experiment.condition.items())
        label = TASK_LABELS.get(name) or f"{name.replace('_', ' ')}: {_factory_doc(experiments.EXPERIMENTS[name])}"
        out[label] = TaskInfo(
            name,
            label,
            conditions[0],
            describe_task(name, experiment),
            experiment.variable,
            experiment.unit,
            conditions,
        )
    return out


def _task(task: str, tasks: dict | None = None) -> TaskInfo:
    tasks = task_list() if tasks is None else tasks
    if task in tasks:
        return tasks[task]
    for info in tasks.values():
        if info.name == task:
            return info
    raise ValueError(f"task must be one of {list(tasks)}, got {task!r}")


TASKS = {label: (info.name, info.condition) for label, info in task_list().items()}
"""Label -> (experiment name, condition slider) at import time (see :func:`task_list`)."""
OBSERVERS = observer_options()
CONTROLS = (
    ParamSpec("task", "task", "choice", next(iter(TASKS)), options=tuple(TASKS)),
    ParamSpec("observer", "observer", "choice", next(iter(OBSERVERS)), options=tuple(OBSERVERS)),
    ParamSpec("n_runs", "staircase runs", "int", 2, 1, 8, 1),
    ParamSpec("seed", "random seed", "int", 0, 0, 2**31 - 1, 1),
)


def session_seed() -> int:
    """A fresh seed for a new session (shown in the page, so a run can be reproduced)."""
    return secrets.randbelow(1_000_000)


# --------------------------------------------------------------------------- running a task
@dataclass
class TaskResult:
    experiment: object
    result: object  # ExperimentResult
    summary: dict
    fit: object  # PsychometricFit or None
    levels: np.ndarray
    proportion_correct: np.ndarray
    n_trials: np.ndarray
    observer: str = DEFAULT_OBSERVER
    task: str = ""
    fit_note: str = ""
    progress: dict = field(default_factory=dict)
    device: str = "cpu"


def run_task(
    task: str,
    observer: str,
    condition_value: float,
    n_runs: int = 2,
    seed: int = 0,
    procedure: dict | None = None,
    *,
    conditions: dict | None = None,
    device=None,
    report=None,
    should_stop=None,
) -> TaskResult:
    """Run one task's staircases and fit a psychometric function to all their trials.

    ``task``: a label of :func:`task_list` or an experiment name; ``condition_value`` sets its
    first condition parameter, ``conditions`` (name -> value) any further ones. ``procedure``: Staircase
    overrides, e.g. ``{"n_final_reversals": 4}`` for a quick run. ``device``: where the
    observer's model runs ('cuda' when present). ``report(StaircaseProgress)`` is called as
    the run advances; ``should_stop()`` cancels it (:class:`~workbench.dashboards.progress.Cancelled`).
    """
    from workbench.dashboards import progress as tracking
    from workbench.psychophysics import experiments, procedures
    from workbench.psychophysics import observer as observers

    info = _task(task)
    if observer not in observers.OBSERVERS:
        raise ValueError(f"observer must be one of {list(observers.OBSERVERS)}, got {observer!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2147483647], got {seed!r}")
    kwargs = {info.condition.name: info.condition.validate(condition_value)}
    extra = dict(conditions or {})
    known = {c.name: c for c in info.conditions[1:]}
    unknown = set(extra) - set(known)
    if unknown:
        raise ValueError(
            f"conditions of {info.name} are {sorted(known) or 'none besides the first'}, got {sorted(unknown)}"
        )
    kwargs.update({n: known[n].validate(v) for n, v in extra.items()})
    if procedure:
        kwargs["procedure"] = dict(procedure)
    experiment = experiments.make_experiment(info.name, **kwargs)
    on_cpu = str(device or "cpu").startswith("cpu")
    obs = observers.make_observer(
        observer, experiment, seed=int(seed), device=device, batch_size=CPU_BATCH if on_cpu else None
    )
    run_kwargs = {}
    if device is not None and "device" in inspect.signature(experiment.run).parameters and hasattr(obs, "to"):
        run_kwargs["device"] = device
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # non-converged runs are explained in the page
        result, prog = tracking.run_tracked(
            experiment, obs, n_runs=int(n_runs), seed=int(seed), should_stop=should_stop, report=report, **run_kwargs
        )
    values = np.concatenate([np.asarray(v, float) for v in result.staircase.values])
    correct = np.concatenate([np.asarray(c, float) for c in result.staircase.correct])
    levels, inverse = np.unique(np.round(values, 6), return_inverse=True)
    k = np.bincount(inverse, weights=correct)
    n = np.bincount(inverse).astype(float)
    fit, fit_note = None, ""
    if levels.size < 3:
        fit_note = (
            f"No psychometric function was fitted: the trials used only {levels.size} distinct "
            f"value{'s' if levels.size != 1 else ''} of {experiment.variable} (at least 3 are needed)."
        )
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fit = procedures.fit_psychometric(
                    levels, k, n, n_alternatives=experiment.n_intervals, n_bootstrap=0, seed=int(seed)
                )
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            fit_note = f"No psychometric function was fitted: {exc}"
        else:
            issues = getattr(fit, "issues", ())
            if issues:
                fit_note = "The fitted psychometric function is unreliable: " + "; ".join(issues) + "."
    return TaskResult(
        experiment,
        result,
        result.summary(),
        fit,
        levels,
        k / n,
        n,
        observer,
        info.label,
        fit_note,
        prog.snapshot(),
        str(device or "cpu"),
    )


# --------------------------------------------------------------------------- plain results
@dataclass
class TaskOutcome:
    """A finished task as plain data (what a worker process sends back, what the page shows)."""

    task: str
    experiment: str
    condition: dict
    condition_label: str
    observer: str
    n_runs: int
    seed: int
    variable: str
    unit: str
    n_intervals: int
    summary: dict
    runs: list  # per run: values, correct, reversals (values), threshold, status, n_trials
    procedure: dict
    levels: list
    proportion_correct: list
    n_trials: list
    fit: dict | None
    fit_note: str
    human: dict
    notes: list
    elapsed_s: float
    device: str
    figures: dict = field(default_factory=dict)  # 'track', 'curve': PNG bytes

    @property
    def threshold(self) -> float:
        return float(self.summary.get(self.variable, math.nan))


def _human(name: str, summary: dict, history=()) -> dict:
    """The human data of ``name`` and the comparison at this condition (plain data)."""
    from workbench.psychophysics import experiments
    from workbench.psychophysics.human_data import HUMAN_DATA

    h = HUMAN_DATA.get(name)
    if h is None:
        return {
            "available": False,
            "reason": f"The library holds no human thresholds for this experiment "
            f"({name}), so none are drawn or compared.",
        }
    data = {
        "available": True,
        "citation": h.citation,
        "kind": getattr(h, "kind", ""),
        "note": getattr(h, "note", ""),
        "x_name": h.x_name,
        "x_unit": getattr(h, "x_unit", ""),
        "x": list(map(float, h.x)),
        "y_name": h.y_name,
        "y_unit": getattr(h, "y_unit", ""),
        "y": list(map(float, h.y)),
    }
    compare = experiments.compare_with_human
    kwargs = {}
    relative_to = getattr(h, "relative_to", None)
    if relative_to is not None and "baseline" in inspect.signature(compare).parameters:
        cond = next(iter(k for k in summary if k == h.x_name), None)
        base = [
            o.summary.get(o.variable)
            for o in history
            if cond and np.isclose(o.condition.get(cond, math.nan), relative_to)
        ]
        if base and np.isfinite(base[-1]):
            kwargs["baseline"] = base[-1]
    try:
        c = compare(summary, **kwargs)
    except (KeyError, ValueError, TypeError):
        c = {"human": math.nan}
    data["human_value"] = float(c.get("human", math.nan))
    data["model_minus_human"] = float(c.get("model_minus_human", math.nan))
    if "model_relative" in c:
        data["model_relative"] = float(c["model_relative"])
    if not np.isfinite(data["human_value"]):
        data["reason"] = (
            f"The human data ({h.citation.split(',')[0]}) were measured along "
            f"{h.x_name.replace('_', ' ')} at other conditions than this one, so there is no "
            "human threshold to compare here; they are drawn where they apply."
        )
    elif relative_to is not None and not np.isfinite(data["model_minus_human"]):
        data["reason"] = (
            f"The human data are thresholds relative to the condition {h.x_name} = {relative_to:g}: "
            "run that condition too (same observer) to compare."
        )
    return data


def explanations(o: TaskOutcome) -> list[str]:
    """Every non-result of a task in words: runs without a threshold, a missing sd, a missing
    or unreliable fit, a missing human comparison."""
    notes = []
    lo, hi = o.procedure["bounds"]
    stand_in = o.observer in STAND_IN_CUES
    for i, run in enumerate(o.runs):
        status = run["status"]
        if status == "upper_bound":
            notes.append(
                f"Run {i + 1} has no threshold: it was stuck at the easiest allowed value, {o.variable} = "
                f"{hi:g} {o.unit}, for {o.procedure['max_bound_hits']} steps in a row; the observer "
                "could not do the task even there."
            )
        elif status == "lower_bound":
            notes.append(
                f"Run {i + 1} has no threshold: it was stuck at the hardest allowed value, {o.variable} = "
                f"{lo:g} {o.unit}; the observer still did the task there, so its threshold lies below "
                "the range this experiment tracks."
            )
        elif status == "max_trials":
            notes.append(
                f"Run {i + 1} stopped after the limit of {o.procedure['max_trials']} trials before enough "
                "reversals: its threshold is the mean of the reversals so far, less reliable."
            )
    if stand_in and any(r["status"] == "upper_bound" for r in o.runs):
        notes.append(
            f"The {STAND_IN_NAMES.get(o.observer, o.observer)} observer compares only "
            f"{STAND_IN_CUES[o.observer]}; when the target differs from the references in another way, it "
            "has no cue. The Paulick2024 observer listens through the whole auditory model."
        )
    converged = sum(np.isfinite(r["threshold"]) for r in o.runs)
    if converged == 0:
        notes.insert(0, f"No threshold: none of the {o.n_runs} runs ended with one (the reasons are below).")
    elif converged == 1 and o.n_runs > 1:
        notes.append("The spread over runs (sd) needs at least two runs with a threshold.")
    elif o.n_runs == 1:
        notes.append("The spread over runs (sd) needs at least two runs: set 'staircase runs' to 2 or more.")
    if o.fit_note:
        notes.append(o.fit_note)
    if o.human.get("reason"):
        notes.append(o.human["reason"])
    return notes


def outcome(r: TaskResult, figures: bool = True, history=()) -> TaskOutcome:
    """Plain-data view of a :class:`TaskResult` (with the track and psychometric PNGs)."""
    e, st = r.experiment, r.result.staircase
    runs = [
        {
            "values": list(map(float, v)),
            "correct": list(map(bool, c)),
            "reversals": list(map(float, rv)),
            "threshold": float(t),
            "status": s,
            "n_trials": int(len(v)),
        }
        for v, c, rv, t, s in zip(st.values, st.correct, st.reversals, st.thresholds, st.status)
    ]
    summary = {
        k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) else v)
        for k, v in r.summary.items()
    }
    fit = None
    if r.fit is not None:
        fit = {
            "threshold": float(r.fit.threshold),
            "slope": float(r.fit.slope),
            "lapse": float(r.fit.lapse),
            "guess": float(r.fit.guess),
            "shape": r.fit.shape,
            "reliable": bool(getattr(r.fit, "reliable", True)),
        }
    cond_name = next(iter(e.condition))
    info_label = condition_spec(cond_name, float(e.condition[cond_name])).label
    o = TaskOutcome(
        r.task,
        e.name,
        {k: float(v) for k, v in e.condition.items()},
        info_label,
        r.observer,
        len(runs),
        int(r.result.seed),
        e.variable,
        e.unit,
        e.n_intervals,
        summary,
        runs,
        e.procedure.to_dict(),
        list(map(float, r.levels)),
        list(map(float, r.proportion_correct)),
        list(map(float, r.n_trials)),
        fit,
        r.fit_note,
        _human(e.name, summary, history),
        [],
        float(r.result.elapsed_s),
        r.device,
    )
    o.notes = explanations(o)
    if figures:
        from workbench.dashboards.figures import png_bytes

        track, curve = task_figures(o)
        o.figures = {"track": png_bytes(track, dpi=96), "curve": png_bytes(curve, dpi=96)}
    return o


def run_job(spec: dict, *, device="cpu", report=None, should_stop=None) -> TaskOutcome:
    """What an experiment worker runs (:mod:`workbench.dashboards.workers`): ``spec`` holds
    task, observer, condition, n_runs, seed and optionally procedure."""

    def progress(p):
        if report is not None:
            report(p.snapshot(), force=p.finished)

    r = run_task(
        spec["task"],
        spec["observer"],
        spec["condition"],
        spec.get("n_runs", 2),
        spec.get("seed", 0),
        spec.get("procedure"),
        conditions=spec.get("conditions"),
        device=device,
        report=progress,
        should_stop=should_stop,
    )
    return outcome(r)


def warm_up_worker(device="cpu"):
    """Compile the default observer's kernels in a new worker (a short tone through its model)."""
    import torch

    from workbench import stimuli
    from workbench.psychophysics import experiments, observer

    experiment = experiments.make_experiment(DEFAULT_TASK)
    obs = observer.make_observer(DEFAULT_OBSERVER, experiment, seed=0, device=device)
    tone = stimuli.tone(1000.0, 0.05, experiment.fs, 60.0, dtype=torch.float64)
    obs.prepare(tone[None], tone[None] * 0.5)


# --------------------------------------------------------------------------- figures
def _as_outcome(r) -> TaskOutcome:
    return r if isinstance(r, TaskOutcome) else outcome(r, figures=False)


def track_figure(o: TaskOutcome):
    """Every run's adaptive track, its reversals and threshold, and the summary's threshold."""
    from workbench import plots

    fig = plots.new_figure(figsize=(6.0, 3.4))
    ax = fig.subplots()
    for i, run in enumerate(o.runs):
        levels = np.asarray(run["values"], float)
        trials = np.arange(1, levels.size + 1)
        color = f"C{i % 10}"
        thr = run["threshold"]
        label = (
            f"run {i + 1}: {thr:.2f}" if np.isfinite(thr) else f"run {i + 1}: no threshold"
        ) + f" ({run['status'].replace('_', ' ')})"
        ax.plot(trials, levels, drawstyle="steps-mid", color=color, lw=1.2, label=label)
        ok = np.asarray(run["correct"], bool)
        ax.plot(trials[~ok], levels[~ok], "x", color=color, ms=4)
        rev = plots.reversal_indices(levels)
        ax.plot(trials[rev], levels[rev], "o", mfc="none", mec=color, ms=6)
    mean = o.threshold
    n_ok = int(o.summary.get("n_converged", 0))
    if np.isfinite(mean):
        ax.axhline(
            mean,
            color="k",
            ls="--",
            lw=1.2,
            label=f"threshold (mean of {n_ok} run{'s' if n_ok != 1 else ''}): {mean:.2f}",
        )
    ax.set_xlabel("Trial")
    ax.set_ylabel(f"{o.variable} ({o.unit})")
    ax.set_title("Adaptive tracks (x: wrong answer, o: reversal)")
    ax.legend(loc="best", fontsize=8)
    return fig


def psychometric_figure(o: TaskOutcome):
    from workbench import plots
    from workbench.psychophysics import procedures

    levels = np.asarray(o.levels)
    curve = None
    if o.fit is not None and levels.size:
        x = np.linspace(levels.min(), levels.max(), 200)
        f = o.fit
        curve = (
            x,
            procedures.psychometric(
                x, f["threshold"], f["slope"], shape=f["shape"], guess=f["guess"], lapse=f["lapse"]
            ),
        )
    threshold = o.threshold if np.isfinite(o.threshold) else None
    return plots.plot_psychometric(
        levels,
        np.asarray(o.proportion_correct),
        n_trials=np.asarray(o.n_trials),
        fit=curve,
        threshold=threshold,
        n_afc=o.n_intervals,
        xlabel=f"{o.variable} ({o.unit})",
        label="all trials",
    )


@functools.cache
def reference_png(task: str) -> bytes | None:
    """:func:`reference_figure` as PNG bytes, drawn once per process (every session shows the same)."""
    from workbench.dashboards import figures

    fig = reference_figure(task)
    return None if fig is None else figures.png_bytes(fig, dpi=96)


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


def task_figures(r):
    """(tracks of every run, psychometric function) as matplotlib figures."""
    o = _as_outcome(r)
    return track_figure(o), psychometric_figure(o)


def human_figure(history: list, experiment: str, observer: str):
    """This session's thresholds of one experiment and observer, over the human data (or alone,
    where the library has none). ``history``: :class:`TaskOutcome` objects, latest last."""
    import pandas as pd

    from workbench import plots
    from workbench.psychophysics import experiments
    from workbench.psychophysics.human_data import HUMAN_DATA

    rows = {}
    for o in history:
        if o.experiment == experiment and o.observer == observer:
            rows[next(iter(o.condition.values()))] = o  # the latest run per condition
    if not rows:
        return None
    last = list(rows.values())[-1]
    x_name = next(iter(last.condition))
    table = pd.DataFrame([{**o.summary, x_name: x} for x, o in sorted(rows.items())])
    human = HUMAN_DATA.get(experiment)
    axes = getattr(experiments, "PLOT_AXES", {}).get(experiment)
    if axes is not None and axes[1] != last.variable and "sd" in table:
        table = table.drop(columns="sd")  # the runs' sd is in the tracked variable's unit, not the plotted one
    title = f"{observer} observer (this session's runs) vs human"
    if axes is not None and axes[1] in table:
        try:
            fig = experiments.plot_experiment(table, experiment)
        except (KeyError, ValueError):
            fig = None
        if fig is not None:
            fig.axes[0].set_title(title, fontsize=9)
            return fig
    return plots.plot_experiment(
        table, x_name, last.variable, human if human is not None and human.x_name in (x_name,) else None, title=title
    )


# --------------------------------------------------------------------------- summary text
def summary_text(r) -> str:
    """The headline of a result: the threshold it reports (or why there is none), the runs,
    the human comparison with its source, trials, seed and time."""
    o = _as_outcome(r)
    s = o.summary
    thresholds = [run["threshold"] for run in o.runs]
    ok = [t for t in thresholds if np.isfinite(t)]
    if ok:
        head = f"threshold ({o.variable}, mean of {len(ok)} of {o.n_runs} runs): **{o.threshold:.2f} {o.unit}**"
        if len(o.runs) > 1:
            head += " (runs: " + ", ".join(f"{t:.2f}" if np.isfinite(t) else "none" for t in thresholds) + ")"
    else:
        head = f"**No threshold** ({o.variable}): none of the {o.n_runs} runs ended with one; see why below"
    parts = [head]
    if np.isfinite(s.get("sd", math.nan)):
        parts.append(f"sd over runs: {s['sd']:.2f}")
    for key in ("delta_l_db",):
        if np.isfinite(s.get(key, math.nan)):
            parts.append(f"{key}: **{s[key]:.2f} dB**")
    h = o.human
    if (
        h.get("available")
        and np.isfinite(h.get("human_value", math.nan))
        and np.isfinite(h.get("model_minus_human", math.nan))
    ):
        parts.append(
            f"human: {h['human_value']:.2f} (model - human: {h['model_minus_human']:+.2f}; "
            f"{h['citation'].split(',')[0]})"
        )
    parts += [f"trials: {sum(run['n_trials'] for run in o.runs)}", f"seed: {o.seed}", f"time: {_seconds(o.elapsed_s)}"]
    return " · ".join(parts)


def _seconds(t: float) -> str:
    from workbench.dashboards.progress import format_duration

    return f"{t:.2g} s" if t < 10 else format_duration(t)


def human_caption(o: TaskOutcome) -> str:
    h = o.human
    if not h.get("available"):
        return h.get("reason", "")
    kind = {
        "formula": "evaluated from the paper's fit equation",
        "descriptive": "rebuilt from the paper's description (approximate)",
    }.get(h.get("kind"), h.get("kind", ""))
    return f"Human data: {h['citation']} ({kind}). {h.get('note', '')}".strip()


# --------------------------------------------------------------------------- the Panel view
class ExperimentPanel:
    """Panel view: task (described), condition, observer, runs and seed; Run and Cancel;
    progress; the result with its explanations, tracks, psychometric function and the human
    data. ``pool``: where runs go (default: the process's experiment workers); ``seed``: the
    session's first seed (default: random); ``procedure``: Staircase overrides for every run
    (e.g. a quick one in a lesson)."""

    def __init__(self, pool=None, seed: int | None = None, procedure: dict | None = None):
        import panel as pn

        from workbench.dashboards.panel_ui import panel_widget

        self.pool = pool
        self.procedure = dict(procedure) if procedure else None
        self.tasks = task_list()
        self.history: list[TaskOutcome] = []
        self._subscription = None
        self.controls = {}
        for p in CONTROLS:
            if p.name == "task":
                widget = pn.widgets.Select(label=p.label, options=list(self.tasks), value=next(iter(self.tasks)))
            elif p.name == "seed":
                widget = pn.widgets.IntInput(
                    label="random seed (this session's; set it to repeat a run)",
                    value=session_seed() if seed is None else int(seed),
                    start=0,
                    end=2**31 - 1,
                    step=1,
                )
            else:
                widget = panel_widget(p)
            widget.css_classes = [f"experiment-{p.name}"]
            self.controls[p.name] = widget
        self.controls["observer"].options = observer_options()
        self.controls["observer"].value = DEFAULT_OBSERVER
        self.description = pn.pane.Markdown("", css_classes=["experiment-description"])
        self.condition_box = pn.Column()
        self.reference = pn.pane.PNG(None, css_classes=["experiment-reference"], max_width=560)
        self._build_condition(self.controls["task"].value)
        self.controls["task"].param.watch(self._on_task, "value")
        self.run_button = pn.widgets.Button(
            label="Run staircases", button_type="primary", css_classes=["run-experiment"]
        )
        self.run_button.on_click(self._on_run)
        self.cancel_button = pn.widgets.Button(
            label="Cancel", button_type="warning", visible=False, css_classes=["cancel-experiment"]
        )
        self.cancel_button.on_click(self._on_cancel)
        self.message = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["experiments-message"])
        self.progress_bar = pn.indicators.Progress(
            value=0,
            max=1000,
            visible=False,
            bar_color="primary",
            css_classes=["experiment-progress-bar"],
            sizing_mode="stretch_width",
        )
        self.progress_text = pn.pane.Markdown("", css_classes=["experiment-progress"])
        self.summary = pn.pane.Markdown("", css_classes=["experiment-summary"])
        self.notes = pn.pane.Markdown("", css_classes=["experiment-notes"])
        self.track = pn.pane.PNG(None, css_classes=["experiment-track"], max_width=600)
        self.curve = pn.pane.PNG(None, css_classes=["experiment-curve"], max_width=520)
        self.human_plot = pn.pane.PNG(None, css_classes=["experiment-human"], max_width=560)
        self.human_text = pn.pane.Markdown("", css_classes=["experiment-human-caption"])
        self.download = pn.widgets.FileDownload(
            label="Results (CSV)",
            callback=self._download_results,
            filename="results.csv",
            css_classes=["download-experiment"],
            color="light",
            visible=False,
        )

    # ------------------------------------------------------------------ state
    @property
    def condition(self):
        return self._condition

    def _build_condition(self, label: str):
        from workbench.dashboards.panel_ui import panel_widget

        info = self.tasks[label]
        widgets = []
        for spec in info.conditions or (info.condition,):
            w = panel_widget(spec)
            w.css_classes = [f"experiment-param-{spec.name}", "experiment-condition"]
            widgets.append(w)
        self._condition, self.extra_conditions = (
            widgets[0],
            {w_spec.name: w for w_spec, w in zip(info.conditions[1:], widgets[1:])},
        )
        self.condition_box[:] = widgets
        for w in widgets:
            w.param.watch(self._describe, "value")
        self._describe()
        self._show_reference(label)

    def _show_reference(self, label):
        """The shipped full run of the task (every condition, the library's default settings) over its human data."""
        self.reference.object = reference_png(label)

    def _describe(self, *events):
        """The task's paragraph with the numbers of the conditions set now."""
        from workbench.psychophysics import experiments

        info = self.tasks[self.controls["task"].value]
        try:
            values = {
                c.name: c.validate(w.value)
                for c, w in zip(
                    info.conditions or (info.condition,), [self._condition, *self.extra_conditions.values()]
                )
            }
            self.description.object = describe_task(info.name, experiments.make_experiment(info.name, **values))
        except (ValueError, TypeError):
            self.description.object = info.description

    def _on_task(self, event):
        self._build_condition(event.new)

    def spec(self) -> dict:
        info = self.tasks[self.controls["task"].value]
        spec = {
            "task": info.name,
            "observer": self.controls["observer"].value,
            "condition": float(info.condition.validate(self.condition.value)),
            "n_runs": int(self.controls["n_runs"].value),
            "seed": int(self.controls["seed"].value),
        }
        if self.extra_conditions:
            extra = {c.name: c for c in info.conditions[1:]}
            spec["conditions"] = {n: float(extra[n].validate(w.value)) for n, w in self.extra_conditions.items()}
        if self.procedure:
            spec["procedure"] = self.procedure
        return spec

    def _pool(self):
        if self.pool is None:
            from workbench.dashboards.workers import default_pool

            self.pool = default_pool()
        return self.pool

    def _running(self, on: bool):
        self.run_button.disabled = on
        self.cancel_button.visible = on
        self.progress_bar.visible = on
        if on:
            self.progress_bar.value = 0
        self.run_button.label = "Running…" if on else "Run staircases"

    def close(self):
        """The session ended: stop waiting for its experiment (the worker stops it if nobody
        else waits for the same one)."""
        sub, self._subscription = self._subscription, None
        if sub is not None:
            sub.cancel("the page was closed")
        self.history.clear()

    # ------------------------------------------------------------------ events
    def _show_message(self, text: str, kind: str = "danger"):
        self.message.alert_type, self.message.object, self.message.visible = kind, text, True

    async def _on_run(self, event=None):
        await self.run()

    async def run(self):
        """Run the experiment the controls describe (what the Run button does): progress,
        then the result, or a message; returns when it has finished, failed or been
        cancelled (:meth:`cancel`)."""
        import asyncio

        from workbench.dashboards import core
        from workbench.dashboards import progress as tracking

        try:
            spec = self.spec()
            sub = self._pool().submit(spec, loop=asyncio.get_running_loop())
        except (ValueError, TypeError) as exc:
            self._show_message(core.user_message(exc))
            return
        self._subscription = sub
        self.message.visible = False
        self._clear_results(keep_history_of=(spec["task"], spec["observer"]))
        self._running(True)
        self.progress_text.object = "Sent to the experiment worker…"
        try:
            while True:
                ev = await sub.next_event()
                kind = ev["kind"]
                if kind == "queued":
                    ahead = ev["ahead"]
                    self.progress_text.object = (
                        "Waiting for a free experiment worker: "
                        f"{ahead} experiment{'s' if ahead != 1 else ''} before yours."
                        if ahead
                        else "Starting on the experiment worker…"
                    )
                elif kind == "started":
                    self.progress_text.object = (
                        "Running (the same experiment another session started: joined it)…"
                        if ev.get("joined")
                        else "Running on the experiment worker…"
                    )
                elif kind == "progress":
                    snap = ev["progress"]
                    self.progress_bar.value = int(1000 * snap.get("fraction", 0.0))
                    self.progress_text.object = tracking.describe(snap)
                elif kind == "done":
                    await self._show(ev["result"], ev.get("cached", False))
                    break
                elif kind == "error":
                    self._show_message(ev["message"])
                    self.progress_text.object = ""
                    break
                elif kind == "cancelled":
                    self._show_message(
                        f"The experiment was cancelled ({ev.get('reason', 'cancelled')}); nothing was kept.", "warning"
                    )
                    self.progress_text.object = ""
                    break
        finally:
            if self._subscription is sub:
                self._subscription = None
            self._running(False)

    def _clear_results(self, keep_history_of=None):
        """A new run: the previous result goes (the human-data figure of the same experiment and
        observer stays: it collects this session's conditions)."""
        self.summary.object = self.notes.object = ""
        self.track.object = self.curve.object = None
        self.download.visible = False
        last = self.history[-1] if self.history else None
        if last is None or (last.experiment, last.observer) != keep_history_of:
            self.human_plot.object, self.human_text.object = None, ""

    def _download_results(self):
        """The last finished run (trials and summary) as CSV."""
        import io

        from workbench.dashboards import downloads

        if not self.history:
            raise ValueError("nothing to download yet: run an experiment first")
        name, data = downloads.experiment_csv(self.history[-1])
        self.download.filename = name
        return io.BytesIO(data)

    def _on_cancel(self, event=None):
        self.cancel()

    def cancel(self):
        """Cancel the running experiment (what the Cancel button does; nothing if none runs)."""
        sub = self._subscription
        if sub is not None:
            sub.cancel("cancelled by you")

    async def _show(self, o: TaskOutcome, cached: bool):
        import asyncio

        from workbench.dashboards import compute
        from workbench.dashboards.figures import png_bytes

        self.history = (self.history + [o])[-MAX_HISTORY:]
        human_png = None

        def draw():
            fig = human_figure(self.history, o.experiment, o.observer)
            return None if fig is None else png_bytes(fig, dpi=96)

        try:
            human_png = await asyncio.get_running_loop().run_in_executor(compute.SERVICE.executor, draw)
        except Exception:  # noqa: BLE001 - the result stays; only this figure is missing
            from workbench.dashboards.core import LOG

            LOG.exception("human-data figure failed")
        self.track.object = o.figures.get("track")
        self.curve.object = o.figures.get("curve")
        self.human_plot.object = human_png
        self.human_text.object = human_caption(o)
        text = summary_text(o)
        if cached:
            text += " · (computed earlier with the same settings; taken from the server's cache)"
        self.summary.object = text
        self.download.visible = True
        self.notes.object = "\n".join(f"- {n}" for n in o.notes)
        self.progress_text.object = (
            f"Finished: {sum(r['n_trials'] for r in o.runs)} trials in {_seconds(o.elapsed_s)} on {o.device}."
        )

    # ------------------------------------------------------------------ layout
    def view(self):
        import panel as pn

        note = pn.pane.Markdown(
            "*This tab makes its own stimuli (described under the task); the stimulus "
            "designer belongs to the Stimulus and Models tabs.*",
            css_classes=["experiment-stimulus-note"],
        )
        controls = pn.Column(
            "### Experiment",
            self.controls["task"],
            self.description,
            self.condition_box,
            self.controls["observer"],
            self.controls["n_runs"],
            self.controls["seed"],
            pn.Row(self.run_button, self.cancel_button),
            note,
            width=360,
        )
        results = pn.Column(
            self.message,
            self.progress_bar,
            self.progress_text,
            self.summary,
            self.download,
            self.notes,
            pn.Row(self.track, self.curve),
            self.human_plot,
            self.human_text,
            self.reference,
            sizing_mode="stretch_width",
        )
        return pn.Row(controls, results, sizing_mode="stretch_width")
