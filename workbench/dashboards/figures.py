"""Figures for the dashboards, drawn with :mod:`workbench.plots` (no pyplot, thread-safe)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from workbench import plots
from workbench.dashboards.core import RunResult


def stimulus_figure(x_pa, fs: float) -> Figure:
    """Waveform and spectrum of a stimulus in pascals ``(T,)`` or ``(2, T)``."""
    fig = plots.new_figure(figsize=(9.0, 2.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    plots.plot_waveform(x_pa, fs, ax=left)
    plots.plot_spectrum(x_pa, fs, ax=right)
    return fig


def stage_figure(result: RunResult, stage_key: str) -> Figure:
    """One stage of a run, drawn as its ``StageInfo`` says (:func:`workbench.plots.plot_stage`)."""
    info = result.info[stage_key]
    fig = plots.plot_stage(result.stages[stage_key], info, center_freqs_hz=result.freqs_hz,
                           mfc=result.mod_freqs_hz, freqs=result.stages.get(info.freqs_key), title="")
    fig.suptitle(f"{result.model}: {info.label} ('{stage_key}')")
    return fig


def png_bytes(fig: Figure, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
