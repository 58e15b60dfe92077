"""What the app and the notebook widgets let a user download, as bytes with a file name.

* the figure of a stage as PNG or SVG (matplotlib, :func:`figure_file`);
* the data of a stage: NPZ at full resolution with its axes, units and the settings that
  made it (:func:`stage_npz`), or CSV of what the plot shows (:func:`view_csv`);
* the stimulus as a 32-bit float WAV at the playback calibration (:func:`stimulus_wav`:
  an rms of 1 is 100 dB SPL; :func:`workbench.stimuli.load_wav` reads it back in pascals);
* experiment results as CSV, one row per trial, with the summary on top
  (:func:`experiment_csv`).

Every function returns ``(file name, bytes)``; names hold only letters, digits, ``_-.``.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np

from workbench.dashboards import core, figures
from workbench.dashboards.core import PLAYBACK_DBOFFSET, RunResult
from workbench.units import pa_per_amt_unit

MIME = {"png": "image/png", "svg": "image/svg+xml", "npz": "application/zip", "csv": "text/csv", "wav": "audio/wav"}


def safe_name(*parts: str) -> str:
    """A file-name stem from ``parts``: letters, digits, '_', '-' and '.' only."""
    text = "_".join(str(p) for p in parts if p)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:120] or "workbench"


def file_stem(result: RunResult, view_key: str) -> str:
    """The download name of a run's view, without extension: model, stage(s), stimulus kind."""
    keys = core.view_keys(view_key)
    stage = keys[0] if len(keys) == 1 else keys[0].rsplit("_", 1)[0] + "_both"
    return safe_name(result.model, stage, result.stimulus.kind)


def figure_file(result: RunResult, view_key: str, fmt: str = "png", dpi: int = 150) -> tuple[str, bytes]:
    """The stage figure (:func:`workbench.dashboards.figures.stage_figure`) as PNG or SVG."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be 'png' or 'svg', got {fmt!r}")
    fig = figures.stage_figure(result, view_key)
    data = figures.png_bytes(fig, dpi=dpi) if fmt == "png" else figures.svg_bytes(fig)
    return f"{file_stem(result, view_key)}.{fmt}", data


def stage_npz(result: RunResult, view_key: str) -> tuple[str, bytes]:
    """The stage(s) at full resolution: one array per stage key, its time axis
    (``<key>__time_s``) where it has one, ``center_freqs_hz``, ``mod_freqs_hz`` and
    ``about``: JSON with the model, its parameters, the stimulus and each stage's label,
    unit, axes (batch dropped), rate and start time."""
    arrays, meta = (
        {},
        {
            "model": result.model,
            "parameters": result.params,
            "stimulus": result.stimulus.describe(),
            "fs_hz": result.fs,
            "stages": {},
        },
    )
    for key in core.view_keys(view_key):
        info = result.info[key]
        a = np.asarray(result.stages[key])
        arrays[key] = a
        axes = info.axes.lstrip("B")
        if info.rate_hz and ("T" in axes or "K" in axes):
            n = a.shape[axes.index("T")] if "T" in axes else a.shape[axes.index("K")]
            arrays[f"{key}__time_s"] = info.start_s + np.arange(n) / info.rate_hz
        if info.freqs_key and info.freqs_key in result.stages:
            arrays[info.freqs_key] = np.asarray(result.stages[info.freqs_key])
        meta["stages"][key] = {
            "label": info.label,
            "unit": info.unit,
            "axes": axes,
            "rate_hz": info.rate_hz,
            "start_s": info.start_s,
            "freqs_key": info.freqs_key,
        }
    arrays["center_freqs_hz"] = np.asarray(result.freqs_hz)
    if result.mod_freqs_hz is not None:
        arrays["mod_freqs_hz"] = np.asarray(result.mod_freqs_hz)
    arrays["about"] = np.array(json.dumps(meta, default=str))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return f"{file_stem(result, view_key)}.npz", buf.getvalue()


def _csv(rows, header_lines=()) -> bytes:
    buf = io.StringIO()
    for line in header_lines:
        buf.write(f"# {line}\n")
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _named(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def view_csv(view, header_lines=()) -> bytes:
    """CSV of what a :class:`~workbench.plots.PlotView` shows: curves as columns against x;
    images with one row per column centre (e.g. time) and one column per image row (e.g.
    channel); points as (series, x, y) rows."""
    head = [view.title, *header_lines]
    x_name = _named(view.xlabel.split(" (")[0] or "x", view.x_unit)
    if view.kind == "lines":
        names = list(view.lines)
        rows = [[x_name] + [_named(n or view.ylabel.split(chr(10))[0].split(" (")[0], view.value_unit) for n in names]]
        n = len(view.x)
        cols = [np.asarray(view.lines[k], dtype=float) for k in names]
        for i in range(n):
            rows.append([f"{view.x[i]:.9g}"] + [f"{c[i]:.9g}" if i < c.size else "" for c in cols])
        return _csv(rows, head)
    if view.kind == "image":
        centres = (np.asarray(view.x[1:]) + np.asarray(view.x[:-1])) / 2
        columns = view.column_names or tuple(f"{c:.9g}" for c in centres)
        head.append(f"values: {view.value_label}; one column per row of the image ({view.ylabel})")
        rows = [[x_name if not view.column_names else "column"] + [str(n) for n in view.row_names]]
        for j, c in enumerate(columns):
            rows.append([c] + [f"{v:.9g}" for v in view.image[:, j]])
        return _csv(rows, head)
    rows = [["series", x_name, _named("y", view.value_unit)]]
    for name, (x, y) in view.lines.items():
        rows += [[name, f"{a:.9g}", f"{b:.9g}"] for a, b in zip(x, y)]
    return _csv(rows, head)


def stage_csv(result: RunResult, view_key: str) -> tuple[str, bytes]:
    """CSV of the stage as plotted (:func:`view_csv` of its view)."""
    view = figures.stage_view(result, view_key)
    return f"{file_stem(result, view_key)}.csv", view_csv(view, [figures.subtitle(result)])


def stimulus_wav(x_pa, fs: float, spec=None) -> tuple[str, bytes]:
    """The stimulus (pascals, ``(T,)`` or ``(2, T)``) as a 32-bit float WAV at the playback
    calibration: an rms of 1 is 100 dB SPL (values beyond full scale are kept, not clipped)."""
    import soundfile

    a = np.atleast_2d(np.asarray(x_pa, dtype=np.float64)) / pa_per_amt_unit(PLAYBACK_DBOFFSET)
    buf = io.BytesIO()
    soundfile.write(buf, a.T.astype(np.float32), int(round(fs)), subtype="FLOAT", format="WAV")
    kind = getattr(spec, "kind", "stimulus")
    level = f"{spec.level_db_spl:g}dBSPL" if spec is not None else ""
    return f"{safe_name(kind, level)}.wav", buf.getvalue()


def experiment_csv(result) -> tuple[str, bytes]:
    """Experiment results as CSV: commented lines with the task, observer, seed, condition,
    summary and the human comparison, then one row per trial (run, trial, tracked value,
    correct). ``result``: a :class:`~workbench.dashboards.experiments_ui.TaskOutcome` (what
    the Experiments tab shows) or a ``TaskResult`` of ``run_task``."""
    if not hasattr(result, "runs"):
        from workbench.dashboards.experiments_ui import outcome

        result = outcome(result, figures=False)
    o = result
    condition = ", ".join(
        f"{k} = {v:g}" if isinstance(v, (int, float)) else f"{k} = {v}" for k, v in o.condition.items()
    )
    head = [
        f"experiment: {o.experiment} ({o.task}); observer: {o.observer}; seed: {o.seed}; runs: {o.n_runs}",
        f"condition: {condition}",
        f"tracked: {o.variable} ({o.unit}); threshold: {o.threshold:.6g}",
    ]
    head += [f"{k}: {v}" for k, v in o.summary.items()]
    h = o.human or {}
    if h.get("available"):
        head.append(
            f"human: {h.get('human_value')}; model - human: {h.get('model_minus_human')}; "
            f"source: {h.get('citation', '')}"
        )
    rows = [["run", "trial", f"{o.variable} ({o.unit})", "correct"]]
    for run, r in enumerate(o.runs):
        rows += [[run, i + 1, f"{v:.6g}", int(c)] for i, (v, c) in enumerate(zip(r["values"], r["correct"]))]
    return f"{safe_name(o.experiment, o.observer, 'trials')}.csv", _csv(rows, head)
