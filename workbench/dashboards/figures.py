"""Figures for the dashboards, drawn with :mod:`workbench.plots` (no pyplot, thread-safe).

Each stage is first a :class:`~workbench.plots.PlotView` (arrays, labels and units from the
model contract); :func:`stage_figure` paints it with matplotlib (notebook widgets, figure
downloads) and :mod:`workbench.dashboards.bokeh_plots` with Bokeh (the app), so both show
the same thing under the same labels.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure

from workbench import plots
from workbench.dashboards import core
from workbench.dashboards.core import RunResult


def stage_view(result: RunResult, view_key: str) -> plots.PlotView:
    """The view of one stage of a run, or of both ears' stages of one quantity (a view key
    of :func:`workbench.dashboards.core.stage_choices`)."""
    keys = core.view_keys(view_key)
    missing = [k for k in keys if k not in result.stages]
    if missing:
        raise ValueError(f"{result.model} has no stage {missing[0]!r}; it has {sorted(result.stages)}")
    if len(keys) == 1:
        info = result.info[keys[0]]
        return plots.stage_view(
            result.stages[keys[0]],
            info,
            center_freqs_hz=result.freqs_hz,
            mfc=result.mod_freqs_hz,
            freqs=result.stages.get(info.freqs_key),
        )
    items = [(result.stages[k], result.info[k], result.stages.get(result.info[k].freqs_key)) for k in keys]
    return plots.ears_view(items, center_freqs_hz=result.freqs_hz)


def subtitle(result: RunResult) -> str:
    """What a figure of ``result`` shows: model and stimulus."""
    return f"{result.model} · {result.stimulus.describe()}"


def stage_figure(result: RunResult, view_key: str) -> Figure:
    """One stage (or both ears' stages) of a run as a matplotlib figure titled with the
    model and the stimulus (:func:`stage_view`)."""
    view = stage_view(result, view_key)
    with matplotlib.rc_context(plots.STYLE):
        fig = plots.new_figure(figsize=(7.5, 3.3))
        plots.paint_view(fig.add_subplot(1, 1, 1), view)
        fig.suptitle(subtitle(result), fontsize=9)
    return fig


def stimulus_views(x_pa, fs: float) -> tuple[plots.PlotView, plots.PlotView]:
    """Waveform and spectrum views of a stimulus in pascals ``(T,)`` or ``(2, T)``."""
    return (plots.waveform_view(x_pa, fs, title="Waveform"), plots.spectrum_view(x_pa, fs, title="Spectrum"))


def stimulus_figure(x_pa, fs: float) -> Figure:
    """Waveform and spectrum of a stimulus in pascals ``(T,)`` or ``(2, T)``."""
    fig = plots.new_figure(figsize=(9.0, 2.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    plots.plot_waveform(x_pa, fs, ax=left)
    plots.plot_spectrum(x_pa, fs, ax=right)
    return fig


def png_bytes(fig: Figure, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def svg_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()
