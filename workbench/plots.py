"""Figures of stimuli, model stages and psychophysical results (matplotlib).

Every function returns a :class:`NotebookFigure`, a ``matplotlib.figure.Figure`` built
without pyplot (no global state, never shown by a script, safe in worker threads) that also
knows how to draw itself as a PNG for Jupyter: a cell ending in a plot call shows the image.
(A bare ``Figure`` only displays as an image once pyplot has loaded the inline backend, which
is why pyplot-free figures used to print as ``<Figure size ...>``.) ``fig.savefig`` writes
it, Panel embeds it. Functions that draw one panel accept ``ax=`` to draw into an existing
axes (and return that axes' figure).
Inputs are plain tensors/arrays, stage dicts as returned by ``model(x)`` with
``return_stages=True`` and, for :func:`plot_stages`, the model itself read duck-typed
(``fs``, ``fc``/``center_freqs_hz``, ``mfc``, ``hop_length``/``frame_rate_hz``). No model
is imported here. Batched tensors are drawn at ``batch_index``.
"""

from __future__ import annotations

import functools
import io
import math

import matplotlib
import matplotlib.ticker
import numpy as np
import torch
from matplotlib.figure import Figure

STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "image.cmap": "viridis", "lines.linewidth": 1.2,
    "legend.fontsize": 8, "legend.frameon": False, "figure.dpi": 100,
}
P_REF_PA = 20e-6
_MAX_COLUMNS = 1200  # time columns drawn per image; longer stages are smoothed and resampled
DISPLAY_PERIODS = 3  # display smoothing window: at least this many periods of a channel's CF


class NotebookFigure(Figure):
    """A pyplot-free figure that Jupyter displays as a PNG image.

    IPython shows an object as an image when it has a ``_repr_png_`` method; matplotlib's
    ``Figure`` has none (the inline backend registers a formatter for it only when pyplot is
    imported). The image is drawn at the figure's dpi with a tight bounding box, as the
    inline backend would draw it. Outside Jupyter nothing changes: the figure is never shown.

    >>> fig = new_figure(figsize=(2.0, 1.0))
    >>> fig._repr_png_()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


def new_figure(figsize=(6.0, 2.8), layout="constrained", **kwargs) -> NotebookFigure:
    """An empty :class:`NotebookFigure` (``matplotlib.figure.Figure`` arguments): the one way
    the workbench creates figures, so every figure shows as an image in Jupyter."""
    return NotebookFigure(figsize=figsize, layout=layout, **kwargs)


def _styled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.to(torch.float64) if x.is_floating_point() else x
    return np.asarray(x, dtype=float)


def _pick(x, batch_index: int, unbatched_ndim: int) -> np.ndarray:
    """Drop the batch axis if present (``x.ndim == unbatched_ndim + 1``)."""
    x = _np(x)
    return x[batch_index] if x.ndim == unbatched_ndim + 1 else x


def _figure(n_panels: int = 1, ncols: int = 1, panel_size=(6.0, 2.8)):
    nrows = math.ceil(n_panels / ncols)
    fig = new_figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n_panels)]
    return fig, axes


def _one_axes(ax, size=(6.0, 2.8)):
    if ax is not None:
        return ax.figure, ax
    fig, (ax,) = _figure(1, 1, size)
    return fig, ax


# --------------------------------------------------------------------------- ERB axis
def hz_to_erb_number(f_hz):
    """ERB number (Cams), Glasberg & Moore (1990): 21.366 log10(4.368e-3 f + 1)."""
    return 21.366 * np.log10(4.368e-3 * np.asarray(f_hz, dtype=float) + 1)


def erb_number_to_hz(erb):
    return (10 ** (np.asarray(erb, dtype=float) / 21.366) - 1) / 4.368e-3


def _erb_ticks(axis, lo_erb: float, hi_erb: float, label: str = "Frequency (Hz, ERB scale)"):
    """Place Hz-labelled ticks on an axis whose data are ERB numbers."""
    nice = np.array([31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000])
    pos = hz_to_erb_number(nice)
    keep, last = [], math.inf
    for i in np.flatnonzero((pos >= lo_erb - 0.5) & (pos <= hi_erb + 0.5))[::-1]:  # from the top,
        if last - pos[i] >= (hi_erb - lo_erb) / 9:  # skipping ticks that would crowd
            keep.append(i)
            last = pos[i]
    axis.set_ticks(pos[keep], [f"{f / 1000:g}k" if f >= 1000 else f"{f:g}" for f in nice[keep]])
    axis.set_label_text(label)


def _edges(centers: np.ndarray) -> np.ndarray:
    """Cell edges around (possibly non-uniform) centres."""
    if centers.size == 1:
        return np.array([centers[0] - 0.5, centers[0] + 0.5])
    mid = (centers[1:] + centers[:-1]) / 2
    return np.concatenate([[2 * centers[0] - mid[0]], mid, [2 * centers[-1] - mid[-1]]])


def _robust_max(data: np.ndarray) -> float:
    """Colour limit at the 99.5th percentile, so onset transients (adaptation overshoot) do
    not flatten the rest of the image; larger values saturate (colour bar marked 'extend')."""
    finite = data[np.isfinite(data)]
    return float(np.percentile(finite, 99.5)) if finite.size else 1.0


def _triangle_mean(values: np.ndarray, weights: np.ndarray, centers: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` (F, T) under a triangle (a ``lengths[f]``-sample boxcar
    applied twice) centred on each of ``centers``; ``weights`` (F, T) is 1 where a sample
    counts, so the window shrinks at the signal's ends. Evaluated from double cumulative sums
    only at the centres: no full-rate intermediate is kept."""
    pad = int(lengths.max()) + 2
    length = lengths[:, None]
    start = centers[None, :] + pad - 2 * (length // 2) - 2  # triangle spans start+1 .. start+2*length-1
    at = (start + 2 * length, start + length, start)

    def tri(v):
        s2 = np.cumsum(np.cumsum(np.pad(v, [(0, 0), (pad, pad)]), -1), -1)
        hi, mid, lo = (np.take_along_axis(s2, i, -1) for i in at)
        return hi - 2 * mid + lo

    total, count = tri(values), tri(weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0.5, total / np.maximum(count, 1.0), np.nan)


def _display_envelope(data: np.ndarray, fs: float, center_freqs_hz=None, max_columns: int = _MAX_COLUMNS):
    """Downsample a (F, T) stage for display without aliasing.

    Each channel is smoothed, then sampled at most ``max_columns`` times: rms for signed data
    (oscillating filter outputs would average out), mean for non-negative data. The smoother
    is a boxcar applied twice (a triangle: its sidelobes fall as 1/f^2) whose length is the
    column spacing or, when the channels' centre frequencies are known, at least
    ``DISPLAY_PERIODS`` periods of each channel's frequency: a sampled block shorter than a
    period would catch the waveform at a different phase in each column and turn a steady
    tone into stripes. Returns ``(shown, column_edges_in_samples, how)``; ``how`` names the
    reduction for the colour-bar label ('' when the data are drawn as they are).
    """
    data = np.asarray(data, dtype=float)
    n = data.shape[-1]
    block = max(1, math.ceil(n / max_columns))
    has_fc = center_freqs_hz is not None and len(center_freqs_hz) == data.shape[0]
    if block == 1 and not has_fc:
        return data, np.arange(n + 1), ""
    signed = bool(np.nanmin(data) < 0) if np.isfinite(data).any() else False
    edges = np.minimum(np.arange(math.ceil(n / block) + 1) * block, n)
    centers = (edges[:-1] + edges[1:]) // 2
    lengths = np.full(data.shape[0], block)
    if has_fc:
        fc = np.abs(np.ravel(_np(center_freqs_hz)))
        periods = np.where(fc > 0, DISPLAY_PERIODS * fs / np.maximum(fc, 1e-12), n)
        lengths = np.maximum(lengths, np.ceil(periods).astype(int))
    lengths = np.minimum(lengths, n)
    finite = np.isfinite(data)
    values = np.where(finite, data ** 2 if signed else data, 0.0)
    shown = np.empty((data.shape[0], centers.size))
    step = max(1, 4_000_000 // (n + 2 * int(lengths.max()) + 4))  # rows per chunk: bounded temporaries
    for i in range(0, data.shape[0], step):
        r = slice(i, i + step)
        shown[r] = _triangle_mean(values[r], finite[r].astype(float), centers, lengths[r])
    if signed:
        shown = np.sqrt(np.maximum(shown, 0.0))
    kind = "rms" if signed else "mean"
    if has_fc:
        how = f"{kind} over {DISPLAY_PERIODS} periods"  # of each channel's CF (short: a colour-bar label)
    else:
        how = f"{kind} per {1e3 * block / fs:.2g} ms"
    return shown, edges, how


def _time_image(data: np.ndarray, fs: float, value_label: str, center_freqs_hz=None):
    """Display image (see :func:`_display_envelope`), its time edges (s) and a colour-bar
    label saying how it was reduced."""
    shown, edges, how = _display_envelope(data, fs, center_freqs_hz)
    return shown, edges / fs, f"{value_label}, {how}" if how else value_label


# --------------------------------------------------------------------------- panel painters
def _draw_image(ax, data, x_edges, y_centers, *, erb_y: bool, value_label: str, xlabel: str, title: str = "",
                db_range: float | None = None):
    """Image of ``data`` (rows = y) with a colourbar; y on an ERB axis when ``erb_y``;
    dB data are floored ``db_range`` below their maximum (log of zero power is -inf)."""
    if db_range is not None:
        data = np.maximum(data, np.nanmax(data[np.isfinite(data)]) - db_range)
    y = hz_to_erb_number(y_centers) if erb_y else np.asarray(y_centers, dtype=float)
    mesh = ax.pcolormesh(x_edges, _edges(y), data, shading="flat", rasterized=True, vmax=_robust_max(data))
    ax.figure.colorbar(mesh, ax=ax, label=value_label, pad=0.01, extend="max" if np.nanmax(data) > mesh.norm.vmax else "neither")
    ax.set_xlabel(xlabel)
    if erb_y:
        _erb_ticks(ax.yaxis, y.min(), y.max())
    ax.set_title(title)
    ax.grid(False)
    return mesh


def _draw_cochleagram(ax, data, fs, center_freqs_hz, value_label, title=""):
    """data (F, T) at ``fs``; channels at ``center_freqs_hz`` (None: channel numbers)."""
    erb = center_freqs_hz is not None and len(center_freqs_hz) == data.shape[0]
    shown, t_edges, value_label = _time_image(data, fs, value_label, center_freqs_hz if erb else None)
    y = _np(center_freqs_hz) if erb else np.arange(1, data.shape[0] + 1)
    mesh = _draw_image(ax, shown, t_edges, y, erb_y=erb, value_label=value_label, xlabel="Time (s)", title=title)
    if not erb:
        ax.set_ylabel("Channel number")
    return mesh


def _draw_waveform(ax, x, fs, unit_label="Pressure (Pa)", level_db=None, labels=None, title=""):
    x = np.atleast_2d(x)
    t = np.arange(x.shape[-1]) / fs
    for i, row in enumerate(x):
        ax.plot(t, row, label=labels[i] if labels else None, alpha=0.9 if len(x) > 1 else 1.0)
    if level_db is not None:
        text = "rms level\n" + "\n".join(f"{labels[i] + ': ' if labels else ''}{lev:.2f} dB SPL"
                                         for i, lev in enumerate(level_db))
        ax.text(0.99, 0.97, text, transform=ax.transAxes, ha="right", va="top",
                bbox=dict(boxstyle="round", fc="white", alpha=0.8))
    if labels:
        ax.legend(loc="lower right")
    ax.set_xlabel("Time (s)")
    ax.set_ylabel(unit_label)
    ax.set_xlim(t[0], t[-1] if t.size > 1 else 1 / fs)
    ax.set_title(title)


def _draw_curves(ax, curves: dict, frame_rate_hz: float, ylabel: str, title=""):
    for name, y in curves.items():
        y = np.ravel(y)
        ax.plot(np.arange(y.size) / frame_rate_hz, y, label=name)
    ax.set_xlabel("Time (s)")
    ax.set_ylabel(ylabel)
    if len(curves) > 3:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        ax.legend(loc="best")
    ax.set_title(title)


def _mod_matrix(intrep, channel: int, batch_index: int) -> np.ndarray:
    """(M, T) modulation outputs of one auditory channel from a list of (B, M_i, T) (AMT
    style) or a (B, T, F, M) tensor (King2019)."""
    if isinstance(intrep, (list, tuple)):
        if not 0 <= channel < len(intrep):
            raise ValueError(f"channel must be in [0, {len(intrep) - 1}], got {channel}")
        return _pick(intrep[channel], batch_index, 2)
    x = _pick(intrep, batch_index, 3)  # (T, F, M)
    if not 0 <= channel < x.shape[1]:
        raise ValueError(f"channel must be in [0, {x.shape[1] - 1}], got {channel}")
    return x[:, channel, :].T


def _mod_energy(intrep, batch_index: int) -> np.ndarray:
    """(F, M_max) rms over time per auditory x modulation channel, NaN where absent."""
    n_aud = len(intrep) if isinstance(intrep, (list, tuple)) else _pick(intrep, batch_index, 3).shape[1]
    rows = [np.sqrt(np.mean(_mod_matrix(intrep, c, batch_index) ** 2, -1)) for c in range(n_aud)]
    out = np.full((n_aud, max(r.size for r in rows)), np.nan)
    for c, r in enumerate(rows):
        out[c, :r.size] = r
    return out


def _mfc_vector(mod_center_freqs_hz) -> np.ndarray:
    """One vector of modulation centre frequencies from a vector, a per-channel list of
    vectors or an NaN-padded (channels, M) table: the longest row."""
    if isinstance(mod_center_freqs_hz, (list, tuple)) and any(np.ndim(m) > 0 for m in mod_center_freqs_hz):
        rows = [np.ravel(_np(m)) for m in mod_center_freqs_hz]
    else:
        rows = list(np.atleast_2d(_np(mod_center_freqs_hz)))
    rows = [r[np.isfinite(r)] for r in rows]
    return max(rows, key=len)


def _mod_ticks(ax, mod_center_freqs_hz, n: int):
    ax.set_xticks(np.arange(n))
    if mod_center_freqs_hz is not None:
        mfc = _mfc_vector(mod_center_freqs_hz)[:n]
        ax.set_xticks(np.arange(mfc.size), [f"{f:.3g}" for f in mfc], rotation=45)
    ax.set_xlabel("Modulation filter centre frequency (Hz)" if mod_center_freqs_hz is not None
                  else "Modulation filter number")


def _draw_mod_spectrum(ax, intrep, center_freqs_hz, mod_center_freqs_hz, batch_index=0, title=""):
    energy = _mod_energy(intrep, batch_index)
    db = 20 * np.log10(np.maximum(energy, 1e-30) / np.nanmax(energy))
    db[~np.isfinite(energy)] = np.nan
    erb = center_freqs_hz is not None and len(center_freqs_hz) == energy.shape[0]
    y = _np(center_freqs_hz) if erb else np.arange(1, energy.shape[0] + 1)
    mesh = _draw_image(ax, db, np.arange(energy.shape[1] + 1) - 0.5, y, erb_y=erb,
                       value_label="RMS re maximum (dB)", xlabel="", title=title, db_range=60.0)
    _mod_ticks(ax, mod_center_freqs_hz, energy.shape[1])
    if not erb:
        ax.set_ylabel("Auditory channel number")
    return mesh


def _loudness_erb(n_bands: int, erb_numbers=None) -> np.ndarray:
    """ERB numbers of loudness bands: given, or the AMT grids (150: 1.75:0.25:39, 149: to 38.75)."""
    if erb_numbers is not None:
        return np.ravel(_np(erb_numbers))
    if n_bands in (149, 150):
        return 1.75 + 0.25 * np.arange(n_bands)
    return np.arange(1, n_bands + 1, dtype=float)


def _draw_frames_image(ax, frames, frame_rate_hz, erb_numbers, value_label, title=""):
    """(N_frames, N_bands) loudness-model quantity over time on an ERB axis."""
    erb = _loudness_erb(frames.shape[-1], erb_numbers)
    t_edges = np.arange(frames.shape[0] + 1) / frame_rate_hz
    return _draw_image(ax, frames.T, t_edges, erb_number_to_hz(erb), erb_y=True, value_label=value_label,
                       xlabel="Time (s)", title=title, db_range=100.0 if "dB" in value_label else None)


# --------------------------------------------------------------------------- public: signals
def _unit_label(calibration: str, dboffset: float) -> str:
    if calibration == "pa":
        return "Pressure (Pa)"
    if calibration == "fullscale":
        return f"Amplitude (full scale; rms 1 = {dboffset:g} dB SPL)"
    raise ValueError(f"calibration must be 'pa' or 'fullscale', got {calibration!r}")


def _ref_rms(calibration: str, dboffset: float) -> float:
    return P_REF_PA if calibration == "pa" else 10 ** (-dboffset / 20)


@_styled
def plot_waveform(x, fs, *, calibration="pa", dboffset=100.0, labels=None, title="Waveform", ax=None) -> Figure:
    """Waveform(s) ``(T,)`` or ``(C, T)`` with each channel's level (dB SPL, rms) annotated."""
    data = np.atleast_2d(_np(x))
    ref = _ref_rms(calibration, dboffset)
    levels = 20 * np.log10(np.sqrt(np.mean(data ** 2, -1)) / ref)
    if labels is None and data.shape[0] == 2:
        labels = ["left", "right"]
    fig, ax = _one_axes(ax)
    _draw_waveform(ax, data, float(fs), _unit_label(calibration, dboffset), levels, labels, title)
    return fig


@_styled
def plot_spectrum(x, fs, *, calibration="pa", dboffset=100.0, labels=None, log_freq=True, floor_db=100.0,
                  title="Spectrum", ax=None) -> Figure:
    """Hann-windowed amplitude spectrum in dB SPL per bin: a sinusoid reads at its level."""
    data = np.atleast_2d(_np(x))
    fs = float(fs)
    n = data.shape[-1]
    w = np.hanning(n)
    spec = np.abs(np.fft.rfft(data * w, axis=-1)) * math.sqrt(2) / w.sum()  # rms amplitude per bin
    freqs = np.fft.rfftfreq(n, 1 / fs)
    level = 20 * np.log10(np.maximum(spec, 1e-300) / _ref_rms(calibration, dboffset))
    fig, ax = _one_axes(ax)
    top = level.max()
    for i, row in enumerate(level):
        ax.plot(freqs[1:], row[1:], label=labels[i] if labels else None)
    ax.set_ylim(top - floor_db, top + 5)
    if log_freq:
        ax.set_xscale("log")
    ax.set_xlim(max(freqs[1], 10.0) if log_freq else 0, fs / 2)
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel(f"Level per {fs / n:.3g}-Hz bin (dB SPL)")
    if labels:
        ax.legend()
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- public: stages
@_styled
def plot_cochleagram(stage, fs, center_freqs_hz=None, *, value_label="Output (model units)", batch_index=0,
                     title="", ax=None) -> Figure:
    """Filterbank/IHC/adaptation output ``(B, F, T)`` or ``(F, T)`` as channels x time.

    With ``center_freqs_hz`` each channel is drawn as its envelope: rms (signed data) or mean
    (non-negative data) over at least 3 periods of its centre frequency, so a steady tone
    looks steady instead of striped; long stages are then resampled to at most 1200 columns
    without aliasing. The colour-bar label says which reduction was used.
    """
    data = _pick(stage, batch_index, 2)
    fig, ax = _one_axes(ax)
    _draw_cochleagram(ax, data, float(fs), center_freqs_hz, value_label, title)
    return fig


@_styled
def plot_modulation_channel(intrep, channel, fs, mod_center_freqs_hz=None, *, center_freq_hz=None,
                            batch_index=0, ax=None) -> Figure:
    """Modulation-filter outputs (modulation channels x time) of one auditory channel."""
    data = _mod_matrix(intrep, channel, batch_index)
    shown, t_edges, label = _time_image(data, float(fs), "Output (MU)")
    fig, ax = _one_axes(ax)
    _draw_image(ax, shown, t_edges, np.arange(data.shape[0]), erb_y=False, value_label=label, xlabel="Time (s)")
    ax.set_yticks(np.arange(data.shape[0]))
    if mod_center_freqs_hz is not None:
        mfc = _mfc_vector(mod_center_freqs_hz)[:data.shape[0]]
        ax.set_yticks(np.arange(mfc.size), [f"{f:.3g}" for f in mfc])
        ax.set_ylabel("Modulation filter fc (Hz)")
    else:
        ax.set_ylabel("Modulation filter number")
    where = f"{center_freq_hz:.0f} Hz" if center_freq_hz is not None else f"channel {channel}"
    ax.set_title(f"Modulation filterbank, auditory {where}")
    return fig


@_styled
def plot_modulation_spectrum(intrep, center_freqs_hz=None, mod_center_freqs_hz=None, *, batch_index=0,
                             ax=None) -> Figure:
    """RMS of every auditory x modulation channel (dB re the largest); blank = absent filter."""
    fig, ax = _one_axes(ax, (6.0, 3.6))
    _draw_mod_spectrum(ax, intrep, center_freqs_hz, mod_center_freqs_hz, batch_index, "Modulation spectrum")
    return fig


def impulse_responses(filterbank, n_samples: int, dtype=torch.float64) -> torch.Tensor:
    """Run ``filterbank`` (a callable mapping ``(1, T)`` to ``(1, F, T)``) on a unit impulse."""
    x = torch.zeros(1, n_samples, dtype=dtype)
    x[0, 0] = 1.0
    with torch.no_grad():
        out = filterbank(x)
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out[0].real if out.is_complex() else out[0]


@_styled
def plot_filter_responses(impulse_response, fs, center_freqs_hz=None, *, n_fft=None, range_db=60.0,
                          title="Filter frequency responses", ax=None) -> Figure:
    """Magnitude responses (dB) of a filterbank from its impulse responses ``(F, T)``.

    ``impulse_response`` may also be a callable filterbank (see :func:`impulse_responses`).
    """
    fs = float(fs)
    if callable(impulse_response) and not isinstance(impulse_response, (torch.Tensor, np.ndarray)):
        impulse_response = impulse_responses(impulse_response, n_fft or int(fs // 10))
    h = np.atleast_2d(_np(impulse_response))
    n_fft = n_fft or 2 ** math.ceil(math.log2(max(h.shape[-1], fs / 2)))  # <= 2 Hz resolution
    mag = 20 * np.log10(np.maximum(np.abs(np.fft.rfft(h, n=n_fft, axis=-1)), 1e-300))
    freqs = np.fft.rfftfreq(n_fft, 1 / fs)
    fig, ax = _one_axes(ax)
    colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, h.shape[0]))
    for row, c in zip(mag, colors):
        ax.plot(freqs[1:], row[1:], color=c, lw=0.9)
    top = mag.max()
    ax.set_ylim(top - range_db, top + 3)
    ax.set_xscale("log")
    ax.set_xlim(max(freqs[1], 20.0), fs / 2)
    if center_freqs_hz is not None:
        fc = np.ravel(_np(center_freqs_hz))
        ax.plot(fc, np.full(fc.shape, top + 1.5), "|", color="k", ms=6)  # centre-frequency ticks
        title += " (| centre frequencies)"
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel("Gain (dB)")
    ax.set_title(title)
    return fig


def _mean_frames(x: np.ndarray, frame, db: bool) -> np.ndarray:
    """One frame, or the mean over frames (power mean for dB quantities)."""
    if frame is not None:
        return x[frame]
    if not db:
        return x.mean(0)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.mean(10 ** (x / 10), 0))


@_styled
def plot_excitation_pattern(excitation_db, erb_numbers=None, specific_loudness=None, *, frame=None,
                            batch_index=0, labels=None) -> Figure:
    """Excitation pattern (dB SPL) and specific loudness (sone/ERB) against ERB number.

    Inputs ``(B, frames, bands)``, ``(frames, bands)`` or ``(bands,)``; ``frame=None``
    averages over frames (power mean for the excitation). Lists of inputs overlay (e.g.
    left/right) with ``labels``.
    """
    exc = excitation_db if isinstance(excitation_db, (list, tuple)) else [excitation_db]
    sl = specific_loudness if isinstance(specific_loudness, (list, tuple)) or specific_loudness is None \
        else [specific_loudness]
    fig, axes = _figure(1 if sl is None else 2, 2 if sl is not None else 1, (5.0, 3.0))
    panels = [(axes[0], exc, True, "Excitation level (dB SPL)")]
    if sl is not None:
        panels.append((axes[1], sl, False, "Specific loudness (sone/ERB)"))
    for ax, series, db, ylabel in panels:
        for i, s in enumerate(series):
            s = _pick(s, batch_index, 2)
            s = s if s.ndim == 1 else _mean_frames(s, frame, db)
            erb = _loudness_erb(s.size, erb_numbers)
            ax.plot(erb, s, label=labels[i] if labels else None)
        if db:  # excitation far below threshold is -inf or meaningless: show the top 100 dB
            top_db = max(np.nanmax(line.get_ydata()[np.isfinite(line.get_ydata())]) for line in ax.lines)
            ax.set_ylim(top_db - 100, top_db + 5)
        ax.set_xlabel("ERB number (Cams)")
        ax.set_ylabel(ylabel)
        top = ax.secondary_xaxis("top", functions=(erb_number_to_hz, hz_to_erb_number))
        top.set_xticks([100, 500, 1000, 2000, 5000, 10000], ["0.1k", "0.5k", "1k", "2k", "5k", "10k"])
        top.set_xlabel("Frequency (Hz)")
        if labels:
            ax.legend()
    axes[0].set_title("Excitation pattern" + ("" if frame is not None else " (mean over frames)"))
    return fig


@_styled
def plot_loudness_over_time(stl, ltl=None, *, frame_rate_hz=1000.0, batch_index=0, labels=("STL", "LTL"),
                            ax=None) -> Figure:
    """Short-term (and long-term) loudness in sone against time."""
    curves = {labels[0]: _pick(stl, batch_index, 1)}
    if ltl is not None:
        curves[labels[1]] = _pick(ltl, batch_index, 1)
    fig, ax = _one_axes(ax)
    _draw_curves(ax, curves, float(frame_rate_hz), "Loudness (sone)", "Loudness over time")
    return fig


@_styled
def plot_binaural_loudness(stages, *, frame_rate_hz=1000.0, erb_numbers=None, batch_index=0) -> Figure:
    """Moore2016 left vs right: mean short-term specific loudness per band, STL and LTL."""
    need = ("stl_spec_loud_left", "stl_spec_loud_right", "stl_loud_left", "stl_loud_right")
    missing = [k for k in need if k not in stages]
    if missing:
        raise ValueError(f"stages lacks Moore2016 key(s) {missing}")
    fig, axes = _figure(3, 3, (4.2, 3.0))
    for side in ("left", "right"):
        sl = _pick(stages[f"stl_spec_loud_{side}"], batch_index, 2).mean(0)
        axes[0].plot(_loudness_erb(sl.size, erb_numbers), sl, label=side)
    axes[0].set_xlabel("ERB number (Cams)")
    axes[0].set_ylabel("Specific loudness (sone/ERB)")
    axes[0].set_title("Mean short-term specific loudness")
    axes[0].legend()
    for ax, kind, name in ((axes[1], "stl", "Short-term"), (axes[2], "ltl", "Long-term")):
        curves = {side: _pick(stages[f"{kind}_loud_{side}"], batch_index, 1)
                  for side in ("left", "right") if f"{kind}_loud_{side}" in stages}
        _draw_curves(ax, curves, float(frame_rate_hz), "Loudness (sone)", f"{name} loudness per ear")
    return fig


# --------------------------------------------------------------------------- public: psychophysics
@_styled
def plot_psychometric(x, proportion_correct, *, n_trials=None, fit=None, threshold=None, n_afc=None,
                      xlabel="Level (dB)", label="data", ax=None) -> Figure:
    """Proportion correct against the tracked variable, with an optional fitted curve.

    ``fit``: callable ``p(x)`` or a pair ``(x_fit, p_fit)``; ``threshold``: x of the
    threshold (dashed line); ``n_afc`` draws the chance level 1/n; ``n_trials`` sizes markers.
    """
    x, p = np.ravel(_np(x)), np.ravel(_np(proportion_correct))
    if x.shape != p.shape:
        raise ValueError(f"x and proportion_correct need the same length, got {x.size} and {p.size}")
    fig, ax = _one_axes(ax, (5.0, 3.4))
    sizes = None if n_trials is None else 12 + 60 * np.ravel(_np(n_trials)) / np.max(_np(n_trials))
    ax.scatter(x, p, s=sizes, color="C0", zorder=3, label=label)
    if fit is not None:
        xf = np.linspace(x.min(), x.max(), 200) if callable(fit) else np.ravel(_np(fit[0]))
        pf = np.ravel(_np(fit(xf))) if callable(fit) else np.ravel(_np(fit[1]))
        ax.plot(xf, pf, color="C1", label="fit")
    if n_afc:
        ax.axhline(1 / n_afc, color="0.5", ls=":", label=f"chance (1/{n_afc})")
    if threshold is not None:
        ax.axvline(float(threshold), color="C3", ls="--", label=f"threshold {float(threshold):.3g}")
    ax.set_ylim(0 if not n_afc else 1 / n_afc - 0.1, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Proportion correct")
    ax.set_title("Psychometric function")
    ax.legend(loc="lower right")
    return fig


def reversal_indices(levels) -> np.ndarray:
    """Trials (0-based) at which an adaptive track changes direction."""
    steps = np.diff(np.ravel(_np(levels)))
    moving = np.flatnonzero(steps)
    flips = moving[1:][np.sign(steps[moving[1:]]) != np.sign(steps[moving[:-1]])]
    return flips  # the trial whose level was left in the new direction


@_styled
def plot_staircase(levels, correct=None, *, reversals="auto", threshold=None, run=0, ylabel="Level (dB)",
                   ax=None) -> Figure:
    """Adaptive track: level per trial, filled = correct, x = wrong, circles = reversals.

    ``levels`` is a sequence of levels, or a staircase result with ``values``, ``correct``
    and ``thresholds`` lists (``workbench.psychophysics.procedures.StaircaseResult``), of
    which run ``run`` is drawn. ``reversals``: trial indices, 'auto' (where the track turns)
    or None.
    """
    if hasattr(levels, "values") and hasattr(levels, "thresholds"):
        result = levels
        levels, correct = result.values[run], result.correct[run]
        threshold = result.thresholds[run] if threshold is None else threshold
    if isinstance(reversals, str):
        reversals = reversal_indices(levels) if reversals == "auto" else None
    levels = np.ravel(_np(levels))
    trials = np.arange(1, levels.size + 1)
    fig, ax = _one_axes(ax, (6.0, 3.2))
    ax.plot(trials, levels, drawstyle="steps-mid", color="0.4", lw=1, label="track")
    if correct is not None:
        ok = np.ravel(_np(correct)).astype(bool)
        if ok.size != levels.size:
            raise ValueError(f"correct needs one entry per trial ({levels.size}), got {ok.size}")
        ax.plot(trials[ok], levels[ok], "o", color="C2", ms=4, label="correct")
        ax.plot(trials[~ok], levels[~ok], "x", color="C3", ms=5, label="incorrect")
    if reversals is not None:
        rev = np.ravel(_np(reversals)).astype(int)
        ax.plot(trials[rev], levels[rev], "o", mfc="none", mec="k", ms=9, label="reversals")
    if threshold is not None:
        ax.axhline(float(threshold), color="C0", ls="--", label=f"threshold {float(threshold):.3g}")
    ax.set_xlabel("Trial")
    ax.set_ylabel(ylabel)
    ax.set_title("Adaptive track")
    ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------- plot_stages
_SIGNAL_KEYS = {"headphone": "After headphone filter", "middleear": "After middle-ear filter",
                "outerear": "After outer/middle-ear filter", "filtered_left": "Outer/middle ear, left",
                "filtered_right": "Outer/middle ear, right", "filtered": "After outer/middle-ear filter"}
_AUDITORY_KEYS = {  # key: (title, colour-bar label)
    "filterbank": ("Gammatone filterbank", "BM output (a.u.)"),
    "gtone_response": ("Gammatone filterbank", "BM output (a.u.)"),
    "drnl": ("DRNL filterbank", "BM velocity (a.u.)"),
    "compressed_response": ("Compression", "Compressed output (a.u.)"),
    "ihc": ("Inner hair cell", "IHC output (a.u.)"),
    "adaptation": ("Adaptation loops", "Output (MU)"),
    "adapted_response": ("Adaptation", "Output (a.u.)"),
    "resampled": ("Adaptation, resampled", "Output (MU)"),
}
_FRAME_KEYS = {  # loudness-model (B, frames, bands) stages
    "excitation": ("Excitation pattern", "Excitation (dB SPL)"),
    "erb_excitation": ("ERB-integrated excitation", "Excitation (dB SPL)"),
    "specific_loudness": ("Specific loudness", "Specific loudness (sone/ERB)"),
}
for _side in ("left", "right"):
    _FRAME_KEYS[f"excitation_{_side}"] = (f"Excitation, {_side}", "Excitation (dB SPL)")
    _FRAME_KEYS[f"inst_spec_loud_{_side}"] = (f"Instantaneous specific loudness, {_side}", "Specific loudness (sone/ERB)")
    _FRAME_KEYS[f"stl_spec_loud_{_side}"] = (f"Short-term specific loudness, {_side}", "Specific loudness (sone/ERB)")
_CURVE_KEYS = {"stl": "STL", "instantaneous_loudness": "instantaneous",
               "stl_loud_left": "STL left", "stl_loud_right": "STL right",
               "ltl_loud_left": "LTL left", "ltl_loud_right": "LTL right"}
_SKIP_KEYS = {"freqs", "freqs_left", "freqs_right"}


def _model_attr(model, names, default=None):
    for name in names:
        value = getattr(model, name, None)
        if value is not None and not callable(value):
            return value
    return default


def _stage_panels(stages: dict, output, batch_index: int):
    """List of (kind, key/title, payload) panels for plot_stages, in stage order."""
    panels, curves = [], {}
    for key, value in stages.items():
        if key in _SKIP_KEYS or value is None:
            continue
        if key in _CURVE_KEYS:
            curves[_CURVE_KEYS[key]] = _pick(value, batch_index, 1)
        elif key in _SIGNAL_KEYS or (key not in _AUDITORY_KEYS and key not in _FRAME_KEYS
                                     and np.ndim(value) <= 2 and key != "psd"):
            panels.append(("signal", key, _pick(value, batch_index, 1)))
        elif key in _FRAME_KEYS:
            panels.append(("frames", key, _pick(value, batch_index, 2)))
        elif key == "psd":
            panels.append(("psd", key, (_pick(value, batch_index, 2), stages.get("freqs"))))
        elif key.startswith("levels_") and f"freqs_{key[7:]}" in stages:
            panels.append(("sparse", key, (_pick(stages[f"freqs_{key[7:]}"], batch_index, 2),
                                           _pick(value, batch_index, 2))))
        else:
            panels.append(("auditory", key, _pick(value, batch_index, 2)))
    if isinstance(output, tuple) and len(output) == 3 and np.ndim(output[2]) <= 1:  # Moore2016 (STL, LTL, max)
        curves["binaural STL"] = _pick(output[0], batch_index, 1)
        curves["binaural LTL"] = _pick(output[1], batch_index, 1)
    elif isinstance(output, (list, tuple)) or (isinstance(output, torch.Tensor) and output.dim() >= 3):
        panels.append(("modulation", "output", output))
    elif isinstance(output, torch.Tensor) and "stl" in stages:  # Glasberg2002 LTL
        curves["LTL"] = _pick(output, batch_index, 1)
    if curves:
        panels.append(("curves", "loudness", curves))
    # keep each left/right pair adjacent (side by side in a 2-column grid)
    base = [p[1].removesuffix("_left").removesuffix("_right") for p in panels]
    return [p for _, p in sorted(zip(base, panels), key=lambda bp: (base.index(bp[0]), bp[1][1].endswith("_right")))]


@_styled
def plot_stages(model, stages: dict, output=None, *, batch_index=0, fs=None, ncols=2, title=None) -> Figure:
    """Draw every stage of any of the six models in a grid (one panel per stage).

    ``model`` is read duck-typed for ``fs``, centre frequencies (``fc`` or
    ``center_freqs_hz``), modulation centre frequencies (``mfc``), loudness frame rate
    (``frame_rate_hz`` or ``fs / hop_length``; default 1 kHz) and ERB numbers
    (``erb_numbers``); ``None`` is fine when ``fs`` is given. ``output`` (the model's first
    return value) adds a modulation-spectrum panel (Dau1997, Osses2021, Paulick2024, King2019)
    or the binaural loudness curves (Moore2016, Glasberg2002's LTL).
    """
    if not isinstance(stages, dict) or not stages:
        raise ValueError("stages must be the non-empty dict returned with return_stages=True")
    fs = float(fs if fs is not None else _model_attr(model, ("fs", "sampling_rate"), 0) or 0)
    if fs <= 0:
        raise ValueError("fs is unknown: pass fs= or a model with an fs attribute")
    fc = _model_attr(model, ("center_freqs_hz", "fc"))
    mfc = _model_attr(model, ("mod_center_freqs_hz", "mfc"))
    hop = _model_attr(model, ("hop_length",))
    frame_rate = float(_model_attr(model, ("frame_rate_hz",), fs / hop if hop else 1000.0))
    erb_numbers = _model_attr(model, ("erb_numbers",))
    if erb_numbers is None and callable(getattr(model, "get_erb_frequencies", None)):
        erb_numbers = hz_to_erb_number(_np(model.get_erb_frequencies()))
    panels = _stage_panels(stages, output, batch_index)
    lengths = [p[2].shape[-1] for p in panels if p[0] in ("signal", "auditory")]
    duration = max(lengths) / fs if lengths else None
    fig, axes = _figure(len(panels), min(ncols, len(panels)), (5.2, 2.6))
    for ax, (kind, key, data) in zip(axes, panels):
        stage_fs = data.shape[-1] / duration if kind in ("signal", "auditory") else fs
        if kind == "signal":
            unit = {"headphone": "Amplitude (input units)", "middleear": "Amplitude (input units)"}.get(
                key, "Pressure (Pa)" if key.startswith("filtered") else "Output (a.u.)")
            _draw_waveform(ax, data, stage_fs, unit, title=_SIGNAL_KEYS.get(key, key))
        elif kind == "auditory":
            name, label = _AUDITORY_KEYS.get(key, (key, "Output (a.u.)"))
            if key == "ihc" and "drnl" in stages:
                label = "IHC potential (V)"
            _draw_cochleagram(ax, data, stage_fs, fc, label, f"{name} ('{key}')")
        elif kind == "frames":
            name, label = _FRAME_KEYS[key]
            _draw_frames_image(ax, data, frame_rate, erb_numbers, label, f"{name} ('{key}')")
        elif kind == "psd":
            psd, freqs = data
            f = _np(freqs) if freqs is not None else np.arange(psd.shape[-1]) * fs / (2 * (psd.shape[-1] - 1))
            keep = f > 0
            psd_db = 10 * np.log10(np.maximum(psd[:, keep], 1e-30) / P_REF_PA ** 2)
            _draw_image(ax, psd_db.T, np.arange(psd.shape[0] + 1) / frame_rate, f[keep], erb_y=True,
                        value_label="PSD (dB SPL/Hz)", xlabel="Time (s)", title="Power spectral density ('psd')",
                        db_range=100.0)
        elif kind == "sparse":  # Moore2016 spectral components of the middle frame
            freqs, levels = (d[d.shape[0] // 2] for d in data)
            ax.plot(freqs[freqs > 0], levels[freqs > 0], ".", ms=4)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("Frequency (Hz)")
            ax.set_ylabel("Component level (dB SPL)")
            ax.set_title(f"Spectral components, middle frame ('{key}')")
        elif kind == "modulation":
            _draw_mod_spectrum(ax, data, fc, mfc, batch_index, "Internal representation: modulation spectrum")
        else:
            _draw_curves(ax, data, frame_rate, "Loudness (sone)", "Loudness over time")
    if title or model is not None:
        fig.suptitle(title or type(model).__name__)
    return fig


__all__ = ["STYLE", "NotebookFigure", "new_figure", "hz_to_erb_number", "erb_number_to_hz", "plot_waveform",
           "plot_spectrum", "plot_cochleagram",
           "plot_modulation_channel", "plot_modulation_spectrum", "impulse_responses", "plot_filter_responses",
           "plot_excitation_pattern", "plot_loudness_over_time", "plot_binaural_loudness", "plot_psychometric",
           "reversal_indices", "plot_staircase", "plot_stages", "plot_model_vs_human"]


@_styled
def plot_model_vs_human(x_model, y_model, x_human=None, y_human=None, *, sd_model=None,
                        model_label="model", human_label="human", xlabel="Condition",
                        ylabel="Threshold", log_x=False, title="Model vs human", ax=None) -> Figure:
    """Model thresholds (line, error bars = ``sd_model``) over human thresholds (squares)."""
    xm, ym = np.ravel(_np(x_model)).astype(float), np.ravel(_np(y_model)).astype(float)
    if xm.shape != ym.shape:
        raise ValueError(f"x_model and y_model need the same length, got {xm.size} and {ym.size}")
    fig, ax = _one_axes(ax, (5.0, 3.4))
    sd = None if sd_model is None else np.ravel(_np(sd_model)).astype(float)
    ax.errorbar(xm, ym, yerr=sd, fmt="o-", color="C0", capsize=3, label=model_label)
    if x_human is not None and y_human is not None:
        ax.plot(np.ravel(_np(x_human)), np.ravel(_np(y_human)), "s--", color="C3", mfc="none",
                label=human_label or "human")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")
    return fig
