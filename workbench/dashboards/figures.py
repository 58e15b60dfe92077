"""Figures for the dashboards, drawn with :mod:`workbench.plots` (no pyplot, thread-safe)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from workbench import plots
from workbench.dashboards.core import RunResult
from workbench.dashboards.registry import model_spec

LOUDNESS_FRAME_RATE_HZ = 1000.0  # Glasberg2002 / Moore2016 compute one frame per ms


def stimulus_figure(x_pa, fs: float) -> Figure:
    """Waveform and spectrum of a stimulus in pascals ``(T,)`` or ``(2, T)``."""
    fig = plots.new_figure(figsize=(9.0, 2.8))
    left, right = fig.subplots(1, 2)
    plots.plot_waveform(x_pa, fs, ax=left)
    plots.plot_spectrum(x_pa, fs, ax=right)
    return fig


def stage_figure(result: RunResult, stage_key: str) -> Figure:
    """One stage of a run, in the form that suits it (cochleagram, waveform, pattern, curve)."""
    spec = model_spec(result.model)
    stage = spec.stage(stage_key)
    value = result.stages[stage_key]
    duration_s = result.input_pa.shape[-1] / result.fs
    title = f"{result.model}: {stage.label} ('{stage_key}')"
    if stage.layout == "time":
        fig = plots.plot_waveform(np.asarray(value), np.asarray(value).shape[-1] / duration_s,
                                  calibration=spec.calibration, dboffset=spec.dboffset, title="")
    elif stage.layout == "channel_time":
        value = np.asarray(value)
        fig = plots.plot_cochleagram(value, value.shape[-1] / duration_s, result.freqs_hz,
                                     value_label=f"Output ({stage.unit or 'a.u.'})", title="")
    elif stage.layout == "modulation":
        fig = plots.plot_modulation_spectrum(_batched(value), result.freqs_hz, result.mod_freqs_hz)
    elif stage.layout == "frames":
        fig = plots.plot_loudness_over_time(np.asarray(value), frame_rate_hz=LOUDNESS_FRAME_RATE_HZ,
                                            labels=(stage.label, ""))
    elif stage_key == "psd":
        fig = _psd_figure(np.asarray(value), result.stages.get("freqs"), result.fs)
    elif "excitation" in stage_key:
        fig = plots.plot_excitation_pattern(np.asarray(value))
    else:  # specific loudness: show it under the excitation it came from
        side = stage_key[stage_key.rfind("_"):] if stage_key.endswith(("_left", "_right")) else ""
        excitation = result.stages.get(f"excitation{side}")
        fig = plots.plot_excitation_pattern(np.asarray(excitation), specific_loudness=np.asarray(value)) \
            if excitation is not None else plots.plot_excitation_pattern(np.asarray(value))
    fig.suptitle(title)
    return fig


def png_bytes(fig: Figure, dpi: int = 80) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _batched(value):
    """plots expects the model's batched output; results hold batch item 0."""
    if isinstance(value, list):
        return [np.asarray(v)[None] for v in value]
    return np.asarray(value)[None]


def _psd_figure(psd_frames: np.ndarray, freqs, fs: float) -> Figure:
    psd = np.asarray(psd_frames).mean(axis=0)
    f = np.asarray(freqs, dtype=float).ravel() if freqs is not None else np.linspace(0, fs / 2, psd.size)
    keep = f > 0
    fig = plots.new_figure(figsize=(6.0, 2.8))
    ax = fig.subplots()
    ax.semilogx(f[keep], 10 * np.log10(np.maximum(psd[keep], 1e-30)))
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel("Power (dB, mean over frames)")
    return fig
