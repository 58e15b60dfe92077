"""Figures of stimuli, model stages and psychophysical results (matplotlib).

Every function returns a :class:`NotebookFigure`, a ``matplotlib.figure.Figure`` built
without pyplot (no global state, never shown by a script, safe in worker threads) that also
knows how to draw itself as a PNG for Jupyter: a cell ending in a plot call shows the image.
(A bare ``Figure`` only displays as an image once pyplot has loaded the inline backend, which
is why pyplot-free figures used to print as ``<Figure size ...>``.) ``fig.savefig`` writes
it, Panel embeds it. Functions that draw one panel accept ``ax=`` to draw into an existing
axes (and return that axes' figure).
Inputs are plain tensors/arrays; model stages are drawn from the model contract
(:mod:`workbench.models.base`): :func:`plot_stage` draws one stage by its ``StageInfo``
(axes, unit, rate) and :func:`plot_stages` every stage of a model, read duck-typed (no model
is imported here). Batched tensors are drawn at ``batch_index``.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass, field

import matplotlib
import matplotlib.ticker
import numpy as np
import torch
from matplotlib.figure import Figure

from workbench.units import P_REF_PA, cam_to_hz, db_to_amt, hz_to_cam

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
    "lines.linewidth": 1.2,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.dpi": 100,
}
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
def _erb_ticks(axis, lo_erb: float, hi_erb: float, label: str = "Frequency (Hz, ERB-rate scale)"):
    """Place Hz-labelled ticks on an axis whose data are ERB numbers (Cam)."""
    axis.set_ticks(*_erb_tick_list(lo_erb, hi_erb))
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
    values = np.where(finite, data**2 if signed else data, 0.0)
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


# --------------------------------------------------------------------------- plot views
@dataclass
class PlotView:
    """What one panel shows, as arrays and labels, before anything is drawn.

    The stage plots are built in two steps: a view (this) from the data and the model
    contract, then a painter: :func:`paint_view` draws it with matplotlib (notebooks, figure
    export) and :mod:`workbench.dashboards.bokeh_plots` with Bokeh (the app's interactive
    plots), so both show the same values under the same labels and units.

    ``kind``: 'image' (``image`` (rows, columns) between ``x`` column edges and ``y_edges``
    row edges), 'lines' (``lines``: name -> y against ``x``, unnamed when there is one) or
    'points' (``lines``: name -> (x, y), drawn as dots). ``y_scale``/``x_scale`` 'cam': that
    coordinate is the ERB rate (Cam) of a frequency, labelled in Hz (``y_ticks``/``x_ticks``);
    ``row_names``/``column_names`` say what each image row/column is
    (for hover readouts); ``value_label`` is the colour-bar label, ``value_unit`` the unit of
    the values; ``x_unit``/``y_unit`` the axes' units.
    """

    kind: str
    title: str
    xlabel: str
    ylabel: str
    x: np.ndarray
    lines: dict = field(default_factory=dict)
    image: np.ndarray | None = None
    y_edges: np.ndarray | None = None
    row_names: tuple = ()
    column_names: tuple = ()
    value_label: str = ""
    value_unit: str = ""
    x_unit: str = ""
    y_unit: str = ""
    vmin: float | None = None
    vmax: float | None = None
    extend: str = "neither"
    x_ticks: tuple = ()
    y_ticks: tuple = ()
    y_scale: str = "linear"
    x_scale: str = "linear"
    log_x: bool = False
    xlim: tuple | None = None
    ylim: tuple | None = None
    note: str = ""


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def axis_label(quantity: str, unit: str) -> str:
    """``'Stapes velocity (m/s)'``: a quantity and its unit, for an axis (on two lines when long)."""
    if not unit:
        return _cap(quantity)
    return f"{_cap(quantity)}{chr(10) if len(quantity) + len(unit) > 34 else ' '}({unit})"


def _erb_tick_list(lo: float, hi: float):
    """(positions in Cam, Hz labels) of round frequencies between ``lo`` and ``hi`` Cam, thinned
    from the top so they do not crowd."""
    nice = np.array([31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000])
    pos = hz_to_cam(nice)
    keep, last = [], math.inf
    for i in np.flatnonzero((pos >= lo - 0.5) & (pos <= hi + 0.5))[::-1]:
        if last - pos[i] >= (hi - lo) / 9:
            keep.append(i)
            last = pos[i]
    keep = keep[::-1]
    return tuple(float(p) for p in pos[keep]), tuple(f"{f / 1000:g}k" if f >= 1000 else f"{f:g}" for f in nice[keep])


FREQ_AXIS_LABEL = "Frequency (Hz, ERB-rate scale)"


def _hz_name(f: float) -> str:
    return f"{f:.0f} Hz" if f >= 100 else f"{f:.3g} Hz"


def image_view(
    data,
    x_edges,
    rows_hz=None,
    *,
    title: str,
    value_label: str,
    value_unit: str,
    xlabel: str,
    x_unit: str = "s",
    db_range: float | None = None,
    row_label: str = "Channel number",
    row_names=None,
) -> PlotView:
    """Image of ``data`` (rows, columns); rows at frequencies ``rows_hz`` (drawn on the Cam
    scale, Hz ticks) or numbered; dB data are floored ``db_range`` below their maximum (the
    log of zero power is -inf); colours saturate at the 99.5th percentile."""
    data = np.asarray(data, dtype=float)
    finite = data[np.isfinite(data)]
    if db_range is not None and finite.size:
        data = np.where(np.isnan(data), np.nan, np.maximum(data, finite.max() - db_range))  # -inf: the floor
    vmax = _robust_max(data)
    top = float(np.nanmax(data)) if np.isfinite(data).any() else vmax
    vmin = float(np.nanmin(data)) if np.isfinite(data).any() else 0.0
    if rows_hz is not None and len(rows_hz) == data.shape[0]:
        f = np.ravel(_np(rows_hz))
        cam = hz_to_cam(f)
        y_edges = _edges(cam)
        ticks = _erb_tick_list(cam.min(), cam.max())
        names = tuple(_hz_name(v) for v in f) if row_names is None else tuple(row_names)
        ylabel, y_scale, y_unit = FREQ_AXIS_LABEL, "cam", "Hz"
    else:
        y_edges = np.arange(data.shape[0] + 1) + 0.5
        ticks, y_scale, y_unit, ylabel = (), "linear", "", row_label
        names = tuple(str(i) for i in range(1, data.shape[0] + 1)) if row_names is None else tuple(row_names)
    return PlotView(
        "image",
        title,
        xlabel,
        ylabel,
        np.asarray(x_edges, dtype=float),
        image=data,
        y_edges=y_edges,
        row_names=names,
        value_label=value_label,
        value_unit=value_unit,
        x_unit=x_unit,
        y_unit=y_unit,
        vmin=min(vmin, vmax),
        vmax=vmax,
        extend="max" if top > vmax else "neither",
        y_ticks=ticks,
        y_scale=y_scale,
    )


def cochleagram_view(
    data,
    fs: float,
    center_freqs_hz=None,
    *,
    quantity: str = "output",
    unit: str = "",
    title: str = "",
    start_s: float = 0.0,
) -> PlotView:
    """Channels x time, each channel drawn as its envelope (see :func:`_display_envelope`)."""
    data = np.asarray(data, dtype=float)
    erb = center_freqs_hz is not None and len(center_freqs_hz) == data.shape[0]
    shown, edges, how = _display_envelope(data, fs, center_freqs_hz if erb else None)
    label = unit or quantity
    return image_view(
        shown,
        start_s + edges / fs,
        _np(center_freqs_hz) if erb else None,
        title=title,
        value_label=f"{label}, {how}" if how else label,
        value_unit=unit,
        xlabel="Time (s)",
    )


def frames_view(
    frames, frame_rate_hz: float, band_freqs_hz, *, unit: str, title: str = "", start_s: float = 0.0
) -> PlotView:
    """(K, Z) frames x bands over time, bands on the ERB-rate axis."""
    frames = np.asarray(frames, dtype=float)
    t_edges = start_s + np.arange(frames.shape[0] + 1) / frame_rate_hz
    db = unit.startswith("dB")
    return image_view(
        frames.T,
        t_edges,
        _np(band_freqs_hz) if band_freqs_hz is not None else None,
        title=title,
        value_label=unit,
        value_unit=unit,
        xlabel="Time (s)",
        db_range=100.0 if db else None,
        row_label="Band number",
    )


def lines_view(
    curves: dict,
    x,
    *,
    ylabel: str,
    unit: str,
    title: str = "",
    xlabel: str = "Time (s)",
    x_unit: str = "s",
    note: str = "",
) -> PlotView:
    """Curves (name -> y) against a shared ``x``."""
    x = np.asarray(x, dtype=float)
    lines = {name: np.ravel(_np(y)).astype(float) for name, y in curves.items()}
    xlim = (float(x[0]), float(x[-1]) if x.size > 1 else float(x[0]) + 1e-3)
    return PlotView(
        "lines", title, xlabel, ylabel, x, lines=lines, value_unit=unit, x_unit=x_unit, xlim=xlim, note=note
    )


def modulation_view(
    rep, center_freqs_hz=None, mfc=None, *, title: str = "", unit: str = "MU", batch_index: int = 0
) -> PlotView:
    """RMS over time of every auditory x modulation channel of a ``(C, M, T)`` (or batched)
    representation, in dB re the largest (stated in the colour-bar label); blank = absent."""
    energy = _mod_energy(rep, batch_index)
    top = float(np.nanmax(energy)) if np.isfinite(energy).any() else 1.0
    db = 20 * np.log10(np.maximum(energy, 1e-30) / max(top, 1e-300))
    db[~np.isfinite(energy)] = np.nan
    n = energy.shape[1]
    erb = center_freqs_hz is not None and len(center_freqs_hz) == energy.shape[0]
    view = image_view(
        db,
        np.arange(n + 1) - 0.5,
        _np(center_freqs_hz) if erb else None,
        title=title,
        value_label=f"RMS over time, dB re the largest ({top:.4g} {unit})",
        value_unit="dB",
        xlabel="",
        x_unit="",
        db_range=60.0,
        row_label="Auditory channel number",
    )
    if mfc is not None:
        m = np.ravel(_np(mfc))[:n]
        names = tuple(f"{f:.3g}" for f in m)
        view.xlabel = "Modulation filter centre frequency (Hz)"
        view.column_names = tuple(f"{f:.3g} Hz" for f in m)
    else:
        names = tuple(str(i + 1) for i in range(n))
        view.xlabel = "Modulation filter number"
        view.column_names = names
    view.x_ticks = (tuple(float(i) for i in range(n)), names)
    return view


def components_view(freqs, levels, *, unit: str, title: str, frame_rate_hz: float | None, names=("",)) -> PlotView:
    """Spectral components (dots) of the middle frame of ``(K, F)`` frequencies/levels (or of
    several such pairs, one per name), on a log frequency axis; NaN components are absent."""
    pairs = list(zip(freqs, levels)) if isinstance(freqs, (list, tuple)) else [(freqs, levels)]
    lines, xs = {}, []
    for name, (f, lev) in zip(names, pairs):
        f, lev = np.asarray(f, dtype=float), np.asarray(lev, dtype=float)
        mid = f.shape[0] // 2
        keep = np.isfinite(f[mid]) & np.isfinite(lev[mid]) & (f[mid] > 0)
        xs.append(f[mid][keep])
        lines[name] = (f[mid][keep], lev[mid][keep])
    when = f" at t = {(pairs[0][0].shape[0] // 2) / frame_rate_hz:.3g} s" if frame_rate_hz else ", middle frame"
    view = PlotView(
        "points",
        f"{title}{when}" if title else f"Components{when}",
        "Frequency (Hz)",
        axis_label("level", unit),
        np.array([]),
        value_unit=unit,
        x_unit="Hz",
        log_x=True,
    )
    view.lines = lines  # name -> (x, y): components differ per ear
    return view


def spectrum_frames_view(data, freqs, rate_hz: float, *, unit: str, title: str, start_s: float = 0.0) -> PlotView:
    """(K, F) power per frame on fixed frequencies (Hz) as an image; powers in Pa^2 (or
    Pa^2/Hz) are shown in dB re (20 uPa)^2 (per Hz)."""
    data, f = np.asarray(data, dtype=float), np.ravel(_np(freqs))
    if "Pa^2" in unit:
        per = unit.split("Pa^2", 1)[1]
        data = 10 * np.log10(np.maximum(data, 1e-30) / P_REF_PA**2)
        unit = f"dB re (20 µPa)²{per}"
    keep = f > 0
    t_edges = start_s + np.arange(data.shape[0] + 1) / rate_hz
    return image_view(
        data[:, keep].T,
        t_edges,
        f[keep],
        title=title,
        value_label=unit,
        value_unit=unit,
        xlabel="Time (s)",
        db_range=100.0 if unit.startswith("dB") else None,
    )


def _wrapped(label: str, width: int = 34) -> str:
    """A colour-bar label on two lines when long (a vertical bar has one panel's height)."""
    if len(label) <= width:
        return label
    cut = label.rfind(", ", 0, len(label) - 8)
    cut = cut if cut > 8 else label.rfind(" ", 0, width)
    return label if cut <= 0 else label[: cut + 1].rstrip() + "\n" + label[cut + 1 :].lstrip()


def paint_view(ax, view: PlotView):
    """Draw a :class:`PlotView` into matplotlib axes ``ax``; returns the artist (mesh or lines)."""
    artist = None
    if view.kind == "image":
        artist = ax.pcolormesh(
            view.x,
            view.y_edges,
            np.ma.masked_invalid(view.image),
            shading="flat",
            rasterized=True,
            vmin=view.vmin,
            vmax=view.vmax,
        )
        ax.figure.colorbar(artist, ax=ax, label=_wrapped(view.value_label), pad=0.01, extend=view.extend)
        ax.set_ylim(view.y_edges[0], view.y_edges[-1])
        ax.grid(False)
    elif view.kind == "lines":
        many = len(view.lines) > 1
        for name, y in view.lines.items():
            artist = ax.plot(view.x[: len(y)], y, label=name or None, alpha=0.9 if many else 1.0)
        if many or any(view.lines):
            if len(view.lines) > 3:
                ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
            else:
                ax.legend(loc="best")
    elif view.kind == "points":
        for name, (x, y) in view.lines.items():
            artist = ax.plot(x, y, ".", ms=4, label=name or None)
        if len(view.lines) > 1:
            ax.legend(loc="best")
    else:
        raise ValueError(f"view.kind must be 'image', 'lines' or 'points', got {view.kind!r}")
    if view.log_x:
        ax.set_xscale("log")
        xs = [np.asarray(v[0] if view.kind == "points" else view.x, dtype=float) for v in view.lines.values()]
        xs = np.concatenate([x[np.isfinite(x) & (x > 0)] for x in xs]) if xs else np.array([])
        narrow = xs.size and xs.max() < 10 * xs.min()  # under a decade: more labelled ticks
        ax.xaxis.set_major_locator(
            matplotlib.ticker.LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if narrow else (1.0, 2.0, 5.0))
        )
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if view.y_ticks:
        ax.set_yticks(view.y_ticks[0], view.y_ticks[1])
    if view.x_ticks:
        ax.set_xticks(view.x_ticks[0], view.x_ticks[1], rotation=45 if len(view.x_ticks[0]) > 6 else 0)
    if view.xlim is not None:
        ax.set_xlim(*view.xlim)
    if view.ylim is not None:
        ax.set_ylim(*view.ylim)
    if view.note:
        ax.text(
            0.99,
            0.97,
            view.note,
            transform=ax.transAxes,
            ha="right",
            va="top",
            bbox=dict(boxstyle="round", fc="white", alpha=0.8),
        )
    ax.set_xlabel(view.xlabel)
    ax.set_ylabel(view.ylabel)
    ax.set_title(view.title)
    return artist


def _draw_image(
    ax,
    data,
    x_edges,
    y_centers,
    *,
    erb_y: bool,
    value_label: str,
    xlabel: str,
    title: str = "",
    db_range: float | None = None,
):
    view = image_view(
        data,
        x_edges,
        y_centers if erb_y else None,
        title=title,
        value_label=value_label,
        value_unit="",
        xlabel=xlabel,
        db_range=db_range,
    )
    if not erb_y:
        view.y_edges = _edges(np.asarray(y_centers, dtype=float))
        view.ylabel = ""
    return paint_view(ax, view)


def _draw_cochleagram(ax, data, fs, center_freqs_hz, value_label, title=""):
    """data (F, T) at ``fs``; channels at ``center_freqs_hz`` (None: channel numbers)."""
    return paint_view(ax, cochleagram_view(data, fs, center_freqs_hz, unit=value_label, title=title))


def _draw_curves(ax, curves: dict, frame_rate_hz: float, ylabel: str, title=""):
    n = max(np.size(y) for y in curves.values())
    paint_view(ax, lines_view(curves, np.arange(n) / frame_rate_hz, ylabel=ylabel, unit="", title=title))


def _mod_rows(rep, channel: int, batch_index: int) -> np.ndarray:
    """(M_c, T) modulation outputs of one auditory channel of a (B, C, M, T) representation
    (NaN where a filter is absent, as ``model.output_stage`` gives it)."""
    x = _pick(rep, batch_index, 3)
    if not 0 <= channel < x.shape[0]:
        raise ValueError(f"channel must be in [0, {x.shape[0] - 1}], got {channel}")
    return x[channel][~np.isnan(x[channel]).all(-1)]


def _mod_energy(rep, batch_index: int) -> np.ndarray:
    """(C, M) rms over time per auditory x modulation channel, NaN where absent."""
    x = _pick(rep, batch_index, 3)
    return np.sqrt(np.mean(x**2, -1))


def _draw_mod_spectrum(ax, rep, center_freqs_hz, mfc, batch_index=0, title=""):
    return paint_view(ax, modulation_view(rep, center_freqs_hz, mfc, title=title, batch_index=batch_index))


# --------------------------------------------------------------------------- public: signals
def _unit_label(calibration: str, dboffset: float) -> str:
    if calibration == "pa":
        return "Pressure (Pa)"
    if calibration == "fullscale":
        return f"Amplitude (full scale; rms 1 = {dboffset:g} dB SPL)"
    raise ValueError(f"calibration must be 'pa' or 'fullscale', got {calibration!r}")


def _ref_rms(calibration: str, dboffset: float) -> float:
    return P_REF_PA if calibration == "pa" else float(db_to_amt(0.0, dboffset))


def waveform_view(x, fs, *, calibration="pa", dboffset=100.0, labels=None, title="Waveform") -> PlotView:
    """:class:`PlotView` of waveform(s) ``(T,)`` or ``(C, T)`` (two rows: left, right), with
    each channel's rms level (dB SPL) in a note."""
    data = np.atleast_2d(_np(x))
    ref = _ref_rms(calibration, dboffset)
    with np.errstate(divide="ignore"):
        levels = 20 * np.log10(np.sqrt(np.mean(data**2, -1)) / ref)
    if labels is None and data.shape[0] == 2:
        labels = ["left", "right"]
    names = list(labels) if labels else ([""] if len(data) == 1 else [str(i + 1) for i in range(len(data))])
    note = "rms level\n" + "\n".join(
        f"{labels[i] + ': ' if labels else ''}{lev:.2f} dB SPL" for i, lev in enumerate(levels)
    )
    unit = "Pa" if calibration == "pa" else f"full scale, rms 1 = {dboffset:g} dB SPL"
    return lines_view(
        dict(zip(names, data)),
        np.arange(data.shape[-1]) / float(fs),
        ylabel=_unit_label(calibration, dboffset),
        unit=unit,
        title=title,
        note=note,
    )


def spectrum_view(
    x, fs, *, calibration="pa", dboffset=100.0, labels=None, log_freq=True, floor_db=100.0, title="Spectrum"
) -> PlotView:
    """:class:`PlotView` of the Hann-windowed amplitude spectrum in dB SPL per bin (a sinusoid
    reads at its level)."""
    data = np.atleast_2d(_np(x))
    fs = float(fs)
    n = data.shape[-1]
    w = np.hanning(n)
    spec = np.abs(np.fft.rfft(data * w, axis=-1)) * math.sqrt(2) / w.sum()  # rms amplitude per bin
    freqs = np.fft.rfftfreq(n, 1 / fs)
    level = 20 * np.log10(np.maximum(spec, 1e-300) / _ref_rms(calibration, dboffset))
    if labels is None and data.shape[0] == 2:
        labels = ["left", "right"]
    names = list(labels) if labels else ([""] if len(data) == 1 else [str(i + 1) for i in range(len(data))])
    top = float(level.max())
    view = lines_view(
        dict(zip(names, level[:, 1:])),
        freqs[1:],
        ylabel=f"Level per {fs / n:.3g}-Hz bin (dB SPL)",
        unit="dB SPL",
        title=title,
        xlabel="Frequency (Hz)",
        x_unit="Hz",
    )
    view.log_x = bool(log_freq)
    view.xlim = (max(freqs[1], 10.0) if log_freq else 0.0, fs / 2)
    view.ylim = (top - floor_db, top + 5)
    return view


@_styled
def plot_waveform(x, fs, *, calibration="pa", dboffset=100.0, labels=None, title="Waveform", ax=None) -> Figure:
    """Waveform(s) ``(T,)`` or ``(C, T)`` with each channel's level (dB SPL, rms) annotated."""
    view = waveform_view(x, fs, calibration=calibration, dboffset=dboffset, labels=labels, title=title)
    fig, ax = _one_axes(ax)
    paint_view(ax, view)
    if len(view.lines) > 1:
        ax.legend(loc="lower right")
    return fig


@_styled
def plot_spectrum(
    x, fs, *, calibration="pa", dboffset=100.0, labels=None, log_freq=True, floor_db=100.0, title="Spectrum", ax=None
) -> Figure:
    """Hann-windowed amplitude spectrum in dB SPL per bin: a sinusoid reads at its level."""
    fig, ax = _one_axes(ax)
    paint_view(
        ax,
        spectrum_view(
            x,
            fs,
            calibration=calibration,
            dboffset=dboffset,
            labels=labels,
            log_freq=log_freq,
            floor_db=floor_db,
            title=title,
        ),
    )
    return fig


# --------------------------------------------------------------------------- public: stages
@_styled
def plot_cochleagram(
    stage, fs, center_freqs_hz=None, *, value_label="Output (model units)", batch_index=0, title="", ax=None
) -> Figure:
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
def plot_modulation_channel(
    rep, channel, fs, mfc=None, *, center_freq_hz=None, batch_index=0, unit="MU", ax=None
) -> Figure:
    """Modulation-filter outputs (modulation channels x time) of one auditory channel of a
    ``(B, C, M, T)`` representation (``model.output_stage(output)``; NaN = absent filter);
    ``unit``: the unit of the representation (``model.stage_info['output'].unit``)."""
    data = _mod_rows(rep, channel, batch_index)
    shown, t_edges, label = _time_image(data, float(fs), f"Output ({unit})")
    fig, ax = _one_axes(ax)
    _draw_image(ax, shown, t_edges, np.arange(data.shape[0]), erb_y=False, value_label=label, xlabel="Time (s)")
    ax.set_yticks(np.arange(data.shape[0]))
    if mfc is not None:
        mfc = np.ravel(_np(mfc))[: data.shape[0]]
        ax.set_yticks(np.arange(mfc.size), [f"{f:.3g}" for f in mfc])
        ax.set_ylabel("Modulation filter fc (Hz)")
    else:
        ax.set_ylabel("Modulation filter number")
    where = f"{center_freq_hz:.0f} Hz" if center_freq_hz is not None else f"channel {channel}"
    ax.set_title(f"Modulation filterbank, auditory {where}")
    return fig


@_styled
def plot_modulation_spectrum(rep, center_freqs_hz=None, mfc=None, *, batch_index=0, ax=None) -> Figure:
    """RMS of every auditory x modulation channel of a ``(B, C, M, T)`` representation (dB re
    the largest); blank = absent filter."""
    fig, ax = _one_axes(ax, (6.0, 3.6))
    _draw_mod_spectrum(ax, rep, center_freqs_hz, mfc, batch_index, "Modulation spectrum")
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
def plot_filter_responses(
    impulse_response,
    fs,
    center_freqs_hz=None,
    *,
    n_fft=None,
    range_db=60.0,
    title="Filter frequency responses",
    ax=None,
) -> Figure:
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
def plot_excitation_pattern(
    excitation_db, band_freqs_hz=None, specific_loudness=None, *, frame=None, batch_index=0, labels=None
) -> Figure:
    """Excitation pattern (dB SPL) and specific loudness (sone/Cam) against the Cam scale.

    Inputs ``(B, K, Z)``, ``(K, Z)`` or ``(Z,)``; ``band_freqs_hz`` the band centres
    (``model.center_freqs_hz``; None: band numbers); ``frame=None`` averages over frames
    (power mean for the excitation). Lists of inputs overlay (e.g. left/right) with ``labels``.
    """
    exc = excitation_db if isinstance(excitation_db, (list, tuple)) else [excitation_db]
    sl = (
        specific_loudness
        if isinstance(specific_loudness, (list, tuple)) or specific_loudness is None
        else [specific_loudness]
    )
    fig, axes = _figure(1 if sl is None else 2, 2 if sl is not None else 1, (5.0, 3.0))
    panels = [(axes[0], exc, True, "Excitation level (dB SPL)")]
    if sl is not None:
        panels.append((axes[1], sl, False, "Specific loudness (sone/Cam)"))
    for ax, series, db, ylabel in panels:
        for i, s in enumerate(series):
            s = _pick(s, batch_index, 2)
            s = s if s.ndim == 1 else _mean_frames(s, frame, db)
            x = hz_to_cam(band_freqs_hz) if band_freqs_hz is not None else np.arange(1, s.size + 1)
            ax.plot(x, s, label=labels[i] if labels else None)
        if db:  # excitation far below threshold is -inf or meaningless: show the top 100 dB
            top_db = max(np.nanmax(line.get_ydata()[np.isfinite(line.get_ydata())]) for line in ax.lines)
            ax.set_ylim(top_db - 100, top_db + 5)
        ax.set_ylabel(ylabel)
        if band_freqs_hz is None:
            ax.set_xlabel("Band number")
        else:
            ax.set_xlabel("ERB number (Cams)")
            top = ax.secondary_xaxis("top", functions=(cam_to_hz, hz_to_cam))
            top.set_xticks([100, 500, 1000, 2000, 5000, 10000], ["0.1k", "0.5k", "1k", "2k", "5k", "10k"])
            top.set_xlabel("Frequency (Hz)")
        if labels:
            ax.legend()
    axes[0].set_title("Excitation pattern" + ("" if frame is not None else " (mean over frames)"))
    return fig


@_styled
def plot_loudness_over_time(
    stl, ltl=None, *, frame_rate_hz=1000.0, batch_index=0, labels=("STL", "LTL"), ax=None
) -> Figure:
    """Short-term (and long-term) loudness in sone against time."""
    curves = {labels[0]: _pick(stl, batch_index, 1)}
    if ltl is not None:
        curves[labels[1]] = _pick(ltl, batch_index, 1)
    fig, ax = _one_axes(ax)
    _draw_curves(ax, curves, float(frame_rate_hz), "Loudness (sone)", "Loudness over time")
    return fig


@_styled
def plot_binaural_loudness(stages, *, frame_rate_hz=1000.0, band_freqs_hz=None, batch_index=0) -> Figure:
    """Left vs right ear of a binaural loudness model's stages (Moore2016's keys): mean
    short-term specific loudness per band (bands at ``band_freqs_hz``), STL and LTL."""
    need = ("stl_spec_loud_left", "stl_spec_loud_right", "stl_loud_left", "stl_loud_right")
    missing = [k for k in need if k not in stages]
    if missing:
        raise ValueError(f"stages lacks Moore2016 key(s) {missing}")
    fig, axes = _figure(3, 3, (4.2, 3.0))
    for side in ("left", "right"):
        sl = _pick(stages[f"stl_spec_loud_{side}"], batch_index, 2).mean(0)
        x = hz_to_cam(band_freqs_hz) if band_freqs_hz is not None else np.arange(1, sl.size + 1)
        axes[0].plot(x, sl, label=side)
    axes[0].set_xlabel("ERB number (Cams)" if band_freqs_hz is not None else "Band number")
    axes[0].set_ylabel("Specific loudness (sone/Cam)")
    axes[0].set_title("Mean short-term specific loudness")
    axes[0].legend()
    for ax, kind, name in ((axes[1], "stl", "Short-term"), (axes[2], "ltl", "Long-term")):
        curves = {
            side: _pick(stages[f"{kind}_loud_{side}"], batch_index, 1)
            for side in ("left", "right")
            if f"{kind}_loud_{side}" in stages
        }
        _draw_curves(ax, curves, float(frame_rate_hz), "Loudness (sone)", f"{name} loudness per ear")
    return fig


# --------------------------------------------------------------------------- public: psychophysics
@_styled
def plot_psychometric(
    x,
    proportion_correct,
    *,
    n_trials=None,
    fit=None,
    threshold=None,
    n_afc=None,
    xlabel="Level (dB)",
    label="data",
    ax=None,
) -> Figure:
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
def plot_staircase(
    levels, correct=None, *, reversals="auto", threshold=None, run=0, ylabel="Level (dB)", ax=None
) -> Figure:
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


# --------------------------------------------------------------------------- model stages
def _stage_data(value, info, batch_index: int):
    axes, data = info.axes, _np(value)
    if axes.startswith("B"):
        axes = axes[1:]
        data = data[batch_index] if data.ndim == len(axes) + 1 else data
    return axes, data


def stage_view(value, info, center_freqs_hz=None, mfc=None, freqs=None, batch_index=0, title=None) -> PlotView:
    """The :class:`PlotView` of one stage, chosen by its ``StageInfo`` (axes, unit, rate,
    start time): a waveform (T), channels over time (C, T), bands over frames (K, Z), a curve
    (K), a spectrum per frame (K, F with fixed ``freqs``), the components of the middle frame
    (K, F with ``freqs`` per frame) or the rms of each modulation filter (C, M, T).
    ``title`` (default: the stage's label) heads the panel."""
    axes, data = _stage_data(value, info, batch_index)
    rate, unit, start = info.rate_hz, info.unit, info.start_s
    title = _cap(info.label) if title is None else title
    fc = None if center_freqs_hz is None else np.ravel(_np(center_freqs_hz))
    if axes in ("T", "K"):
        t = start + np.arange(data.shape[-1]) / rate
        return lines_view({"": data}, t, ylabel=axis_label(info.quantity, unit), unit=unit, title=title)
    if axes == "CT":
        return cochleagram_view(data, rate, fc, quantity=info.quantity, unit=unit, title=title, start_s=start)
    if axes == "KZ":
        return frames_view(data, rate, fc, unit=unit, title=title, start_s=start)
    if axes == "CMT":
        return modulation_view(data, fc, mfc, title=f"{title}, rms over time" if title else "", unit=unit)
    if axes == "KF" and freqs is not None and np.ndim(_np(freqs)) == 1:
        return spectrum_frames_view(data, freqs, rate, unit=unit, title=title, start_s=start)
    if axes == "KF" and freqs is not None:
        return components_view(_pick(freqs, batch_index, 2), data, unit=unit, title=title, frame_rate_hz=rate)
    raise ValueError(f"no display for a stage of axes {info.axes!r} ({info.label})")


def ears_view(items, center_freqs_hz=None, batch_index=0, title=None) -> PlotView:
    """Both ears of a binaural model in one panel: ``items`` is a list of ``(value, info,
    freqs)`` of one quantity, one per ear (``info.ear``). Waveforms and curves overlay;
    bands over frames (K, Z) are averaged over frames (power mean for dB) and overlaid
    against frequency; spectral components (K, F) overlay as dots."""
    if not items:
        raise ValueError("items must hold one (value, info, freqs) per ear")
    info = items[0][1]
    names = [i.ear or str(n + 1) for n, (_, i, _) in enumerate(items)]
    data = [_stage_data(v, i, batch_index)[1] for v, i, _ in items]
    axes = info.axes.lstrip("B")
    title = f"{_cap(info.quantity)} (both ears)" if title is None else title
    unit = info.unit
    if axes in ("T", "K"):
        n = max(d.shape[-1] for d in data)
        t = info.start_s + np.arange(n) / info.rate_hz
        return lines_view(dict(zip(names, data)), t, ylabel=axis_label(info.quantity, unit), unit=unit, title=title)
    if axes == "KZ" and center_freqs_hz is not None:
        db = unit.startswith("dB")
        cam = hz_to_cam(np.ravel(_np(center_freqs_hz)))
        view = lines_view(
            {n: _mean_frames(d, None, db) for n, d in zip(names, data)},
            cam,
            ylabel=axis_label(info.quantity, unit),
            unit=unit,
            xlabel=FREQ_AXIS_LABEL,
            x_unit="Hz",
            title=f"{title}, {'power ' if db else ''}mean over time",
        )
        view.x_scale, view.x_ticks = "cam", _erb_tick_list(cam.min(), cam.max())
        if db:
            finite = np.concatenate([y[np.isfinite(y)] for y in view.lines.values()])
            if finite.size:
                view.ylim = (finite.max() - 100, finite.max() + 5)
        return view
    if axes == "KF" and all(f is not None and np.ndim(_np(f)) >= 2 for _, _, f in items):
        return components_view(
            [_pick(f, batch_index, 2) for _, _, f in items],
            data,
            unit=unit,
            title=title,
            frame_rate_hz=info.rate_hz,
            names=names,
        )
    raise ValueError(f"no both-ears display for a stage of axes {info.axes!r} ({info.label})")


def _draw_stage(ax, value, info, center_freqs_hz=None, mfc=None, freqs=None, batch_index=0, title=None):
    """One stage into ``ax``, chosen by its axes (``info``: a ``StageInfo``)."""
    return paint_view(ax, stage_view(value, info, center_freqs_hz, mfc, freqs, batch_index, title))


@_styled
def plot_stage(
    value, info, *, center_freqs_hz=None, mfc=None, freqs=None, batch_index=0, title=None, ax=None
) -> Figure:
    """One stage of a model as its ``StageInfo`` describes it (:mod:`workbench.models.base`):
    a waveform (axes T), a cochleagram (C, T), bands over frames (K, Z), a curve (K), a
    spectrum per frame (K, F; ``freqs`` from the stage ``info.freqs_key``) or a modulation
    spectrum (C, M, T). ``value`` batched or not; ``center_freqs_hz`` label C or Z, ``mfc`` M.
    Labels and units come from ``info`` (:func:`stage_view`)."""
    fig, ax = _one_axes(ax)
    _draw_stage(ax, value, info, center_freqs_hz, mfc, freqs, batch_index, title)
    return fig


@_styled
def plot_ears(items, *, center_freqs_hz=None, batch_index=0, title=None, ax=None) -> Figure:
    """Both ears' stages of one quantity in one panel (:func:`ears_view`); ``items``: a list
    of ``(value, info, freqs)``, e.g. Moore2016's ``stl_loud_left`` and ``stl_loud_right``."""
    fig, ax = _one_axes(ax)
    paint_view(ax, ears_view(items, center_freqs_hz, batch_index, title))
    return fig


def _joined(names: list[str]) -> str:
    names = [_cap(names[0])] + names[1:]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@_styled
def plot_stages(model, stages: dict, output=None, *, batch_index=0, ncols=2, title=None) -> Figure:
    """Draw every stage of any model in a grid, read from the model contract.

    ``model`` supplies ``stage_info``, ``center_freqs_hz``, ``mfc`` and ``output_stage``;
    ``stages`` is the dict returned with ``return_stages=True`` and ``output`` (optional) the
    model's first return value. Curves with the same unit share one panel; stages that only
    hold the frequencies of another (``freqs_key``) are not drawn on their own. Titles are
    the stages' labels, axes carry their units.
    """
    if not isinstance(stages, dict) or not stages:
        raise ValueError("stages must be the non-empty dict returned with return_stages=True")
    if not hasattr(model, "stage_info"):
        raise TypeError(
            f"model must follow the model contract (stage_info, center_freqs_hz), got {type(model).__name__}"
        )
    info, values = model.stage_info, dict(stages)
    if output is not None:
        values["output"] = model.output_stage(output)
    coords = {i.freqs_key for i in info.values() if i.freqs_key}
    panels: list[list[str]] = []
    for key in (k for k in info if k in values and k not in coords):
        curve = info[key].axes.lstrip("B") == "K"
        group = next(
            (p for p in panels if curve and info[p[0]].axes.lstrip("B") == "K" and info[p[0]].unit == info[key].unit),
            None,
        )
        group.append(key) if group else panels.append([key])
    fig, axes = _figure(len(panels), min(ncols, len(panels)), (5.2, 2.6))
    fc, mfc = model.center_freqs_hz, model.mfc
    for ax, keys in zip(axes, panels):
        i = info[keys[0]]
        if len(keys) > 1:
            curves = {info[k].label: _pick(values[k], batch_index, 1) for k in keys}
            n = max(np.size(c) for c in curves.values())
            heading = _joined([info[k].label for k in keys]) if len(keys) == 2 else f"{len(keys)} curves in {i.unit}"
            view = lines_view(curves, i.start_s + np.arange(n) / i.rate_hz, ylabel=i.unit, unit=i.unit, title=heading)
            paint_view(ax, view)
        else:
            _draw_stage(
                ax, values[keys[0]], i, None if fc is None else _np(fc), mfc, values.get(i.freqs_key), batch_index
            )
    fig.suptitle(title or type(model).__name__)
    return fig


@_styled
def plot_model_vs_human(
    x_model,
    y_model,
    x_human=None,
    y_human=None,
    *,
    sd_model=None,
    model_label="model",
    human_label="human",
    xlabel="Condition",
    ylabel="Threshold",
    log_x=False,
    title="Model vs human",
    ax=None,
) -> Figure:
    """Model thresholds (line, error bars = ``sd_model``) over human thresholds (squares)."""
    xm, ym = np.ravel(_np(x_model)).astype(float), np.ravel(_np(y_model)).astype(float)
    if xm.shape != ym.shape:
        raise ValueError(f"x_model and y_model need the same length, got {xm.size} and {ym.size}")
    fig, ax = _one_axes(ax, (5.0, 3.4))
    sd = None if sd_model is None else np.ravel(_np(sd_model)).astype(float)
    ax.errorbar(xm, ym, yerr=sd, fmt="o-", color="C0", capsize=3, label=model_label)
    if x_human is not None and y_human is not None:
        ax.plot(
            np.ravel(_np(x_human)), np.ravel(_np(y_human)), "s--", color="C3", mfc="none", label=human_label or "human"
        )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")
    return fig


_LABELS = {
    "rate_hz": "Modulation rate (Hz)",
    "level_db_spl": "Level (dB SPL)",
    "notch_width_hz": "Notch width (Hz)",
    "gap_s": "Masker-probe gap (s)",
    "threshold_db": "AM threshold, 20 log m (dB)",
    "delta_l_db": "JND, dL (dB)",
    "threshold_db_re_n0": "Tone threshold re N0 (dB)",
    "probe_level_db_spl": "Probe threshold (dB SPL)",
    "threshold_re_no_notch_db": "Threshold re no notch (dB)",
    "masker_level_db_spl": "Masker level (dB SPL)",
    "probe_hz": "Probe frequency (Hz)",
}


def plot_experiment(summary, x_name: str, y_name: str, human=None, *, log_x=False, title="", ax=None) -> Figure:
    """Model thresholds of one experiment (a summary table with columns ``x_name``, ``y_name``
    and optionally 'sd') over the human data ``human`` (a ``HumanData``-like object with
    ``x_name``, ``x``, ``y``, ``citation``, ``kind``; measured along another variable, its
    value is drawn at ``x_name`` = 0, e.g. the critical ratio at notch width 0)."""
    x_h = y_h = None
    if human is not None:
        x_h, y_h = (human.x, human.y) if human.x_name == x_name else ([0.0], human.y)
    sd = summary["sd"] if "sd" in summary else None
    return plot_model_vs_human(
        summary[x_name],
        summary[y_name],
        x_h,
        y_h,
        sd_model=sd,
        human_label=human.citation.split(",")[0] + f" ({human.kind})" if human else None,
        xlabel=_LABELS.get(x_name, x_name),
        ylabel=_LABELS.get(y_name, y_name),
        log_x=log_x,
        title=title,
        ax=ax,
    )


__all__ = [
    "STYLE",
    "NotebookFigure",
    "new_figure",
    "plot_waveform",
    "plot_spectrum",
    "plot_cochleagram",
    "plot_modulation_channel",
    "plot_modulation_spectrum",
    "impulse_responses",
    "plot_filter_responses",
    "plot_excitation_pattern",
    "plot_loudness_over_time",
    "plot_binaural_loudness",
    "plot_psychometric",
    "reversal_indices",
    "plot_staircase",
    "plot_stage",
    "plot_ears",
    "plot_stages",
    "plot_model_vs_human",
    "plot_experiment",
    "PlotView",
    "paint_view",
    "stage_view",
    "ears_view",
    "waveform_view",
    "spectrum_view",
    "axis_label",
]
