"""Interactive Bokeh plots of :class:`~workbench.plots.PlotView` for the app: zoom into time
and frequency (box zoom, wheel zoom, pan, reset) and hover readouts in the plot's units.

The views are the ones the matplotlib figures are painted from (labels and units from the
model contract), so the app and the exported figures agree. What is sent to the browser is
bounded: images at most ``max_columns`` columns and ``max_rows`` rows (non-uniform rows,
e.g. FFT bins on the ERB-rate axis, are resampled to a uniform grid by nearest row), curves
at most ``max_points`` points (the minimum and maximum of each of ``max_points / 2`` bins,
so peaks stay visible).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from workbench.plots import PlotView

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
MAX_COLUMNS = 800
MAX_ROWS = 300
MAX_POINTS = 8000

_FMT = """
const v = value;
if (v === null || v === undefined || Number.isNaN(v)) return "no value";
const a = Math.abs(v);
const text = (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(3) : v.toPrecision(4);
return text + (unit ? " " + unit : "");
"""
_CAM_TO_HZ = """
const hz = (Math.pow(10, value / 21.366) - 1) / 4.368e-3;
return hz >= 1000 ? (hz / 1000).toFixed(3) + " kHz" : hz.toFixed(1) + " Hz";
"""
_ROW_NAME = """
let i = 0;
while (i < edges.length - 2 && value > edges[i + 1]) i++;
return names[i];
"""
_COLUMN_NAME = """
const i = Math.min(names.length - 1, Math.max(0, Math.round(value)));
return names[i];
"""


def _hover_number(unit: str):
    from bokeh.models import CustomJSHover

    return CustomJSHover(code=_FMT, args={"unit": unit})


def _axis_hover(view: PlotView, axis: str):
    """A formatter for the x or y coordinate under the mouse, in the axis's own terms."""
    from bokeh.models import CustomJSHover

    scale = view.x_scale if axis == "x" else view.y_scale
    if axis == "x" and view.column_names:
        return CustomJSHover(code=_COLUMN_NAME, args={"names": list(view.column_names)})
    if axis == "y" and view.kind == "image" and view.row_names:
        return CustomJSHover(
            code=_ROW_NAME, args={"edges": [float(e) for e in view.y_edges], "names": list(view.row_names)}
        )
    if scale == "cam":
        return CustomJSHover(code=_CAM_TO_HZ)
    return _hover_number(view.x_unit if axis == "x" else view.y_unit)


def _minmax_decimate(x: np.ndarray, y: np.ndarray, max_points: int, log_x: bool):
    """At most ``max_points`` points of a curve: the min and max of each bin along x."""
    n = x.size
    if n <= max_points:
        return x, y
    coord = np.log10(np.maximum(x, 1e-300)) if log_x else x
    edges = np.linspace(coord[0], coord[-1], max_points // 2 + 1)
    group = np.clip(np.searchsorted(edges, coord, side="right") - 1, 0, max_points // 2 - 1)
    filled = np.where(np.isfinite(y), y, -np.inf)
    order = np.lexsort((filled, group))
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    ends = np.r_[starts[1:], order.size] - 1
    keep = np.unique(np.concatenate([order[starts], order[ends]]))
    return x[keep], y[keep]


def _uniform_rows(image: np.ndarray, edges: np.ndarray, max_rows: int):
    """Rows resampled (nearest row) onto a uniform grid spanning ``edges`` when the rows are
    not evenly spaced; returns (image, y0, dh)."""
    widths = np.diff(edges)
    if widths.min() > 0.98 * widths.max() and image.shape[0] <= max_rows:
        return image, float(edges[0]), float(edges[-1] - edges[0])
    n = min(max_rows, max(image.shape[0], 50))
    centres = edges[0] + (np.arange(n) + 0.5) * (edges[-1] - edges[0]) / n
    rows = np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, image.shape[0] - 1)
    return image[rows], float(edges[0]), float(edges[-1] - edges[0])


def _fewer_columns(image: np.ndarray, max_columns: int) -> np.ndarray:
    n = image.shape[1]
    if n <= max_columns:
        return image
    block = math.ceil(n / max_columns)
    pad = (-n) % block
    padded = np.pad(image, [(0, 0), (0, pad)], constant_values=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block stays NaN (absent filter)
        return np.nanmean(padded.reshape(image.shape[0], -1, block), axis=-1)


def bokeh_figure(
    view: PlotView,
    *,
    height: int = 340,
    x_range=None,
    max_columns: int = MAX_COLUMNS,
    max_rows: int = MAX_ROWS,
    max_points: int = MAX_POINTS,
    css_class: str | None = None,
):
    """A Bokeh figure of ``view`` with zoom/pan/reset tools and hover readouts in units.

    ``x_range``: a Bokeh range to share (two plots side by side zoom together in time).
    """
    from bokeh.models import ColorBar, ColumnDataSource, FixedTicker, HoverTool, LinearColorMapper, Range1d, Title
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure

    kwargs = dict(
        height=height,
        sizing_mode="stretch_width",
        toolbar_location="above",
        tools="pan,box_zoom,wheel_zoom,reset",
        x_axis_label=view.xlabel,
        y_axis_label=view.ylabel.replace("\n", " "),
        title=view.title,
        min_border_left=50,
    )
    if view.log_x:
        kwargs["x_axis_type"] = "log"
    if css_class:
        kwargs["css_classes"] = [css_class]
    if x_range is not None:
        kwargs["x_range"] = x_range
    elif view.kind == "image":
        kwargs["x_range"] = Range1d(float(view.x[0]), float(view.x[-1]))
    elif view.xlim is not None:
        kwargs["x_range"] = Range1d(*(float(v) for v in view.xlim))
    if view.kind == "image":
        kwargs["y_range"] = Range1d(float(view.y_edges[0]), float(view.y_edges[-1]))
    elif view.ylim is not None:
        kwargs["y_range"] = Range1d(*(float(v) for v in view.ylim))
    p = figure(**kwargs)
    p.title.text_font_size = "11pt"
    p.toolbar.logo = None
    x_fmt, y_fmt = _axis_hover(view, "x"), _axis_hover(view, "y")
    x_name = view.xlabel.split(" (")[0] or "x"
    y_name = view.ylabel.replace("\n", " ").split(" (")[0] or "y"

    if view.kind == "image":
        image = _fewer_columns(np.asarray(view.image, dtype=float), max_columns)
        image, y0, dh = _uniform_rows(image, np.asarray(view.y_edges, dtype=float), max_rows)
        x0, dw = float(view.x[0]), float(view.x[-1] - view.x[0])
        mapper = LinearColorMapper(
            palette=Viridis256, low=view.vmin, high=view.vmax, nan_color=(0, 0, 0, 0), high_color=Viridis256[-1]
        )
        source = ColumnDataSource({"image": [image.astype(np.float32)]})
        p.image(image="image", x=x0, y=y0, dw=dw, dh=dh, color_mapper=mapper, source=source)
        bar = ColorBar(
            color_mapper=mapper,
            title=view.value_label,
            orientation="horizontal",
            height=10,
            location=(0, 0),
            title_text_font_size="9pt",
            title_text_font_style="normal",
        )
        p.add_layout(bar, "below")
        p.add_tools(
            HoverTool(
                tooltips=[(x_name, "$x{custom}"), (y_name, "$y{custom}"), ("value", "@image{custom}")],
                formatters={"$x": x_fmt, "$y": y_fmt, "@image": _hover_number(view.value_unit)},
            )
        )
        p.grid.visible = False
    else:
        renderers = []
        for i, (name, data) in enumerate(view.lines.items()):
            if view.kind == "points":
                x, y = (np.asarray(a, dtype=float) for a in data)
            else:
                y = np.asarray(data, dtype=float)
                x = np.asarray(view.x[: y.size], dtype=float)
                x, y = _minmax_decimate(x, y, max_points, view.log_x)
            source = ColumnDataSource({"x": x, "y": y, "series": [name or y_name] * x.size})
            color = PALETTE[i % len(PALETTE)]
            legend = {"legend_label": name} if name else {}
            if view.kind == "points":
                renderers.append(p.scatter("x", "y", source=source, size=5, color=color, **legend))
            else:
                renderers.append(
                    p.line(
                        "x",
                        "y",
                        source=source,
                        color=color,
                        line_width=1.3,
                        line_alpha=0.75 if len(view.lines) > 1 else 1.0,
                        **legend,
                    )
                )
        p.add_tools(
            HoverTool(
                renderers=renderers,
                mode="mouse" if view.kind == "points" else "vline",
                tooltips=[("", "@series"), (x_name, "@x{custom}"), ("value", "@y{custom}")],
                formatters={"@x": x_fmt, "@y": _hover_number(view.value_unit)},
            )
        )
        if any(view.lines) and len(view.lines) > 0 and p.legend:
            p.legend.click_policy = "hide"
            p.legend.location = "top_left"
            p.legend.label_text_font_size = "8pt"
    if view.x_ticks:
        p.xaxis.ticker = FixedTicker(ticks=list(view.x_ticks[0]))
        p.xaxis.major_label_overrides = {float(k): v for k, v in zip(*view.x_ticks)}
        if len(view.x_ticks[0]) > 8:
            p.xaxis.major_label_orientation = 0.8
    if view.y_ticks:
        p.yaxis.ticker = FixedTicker(ticks=list(view.y_ticks[0]))
        p.yaxis.major_label_overrides = {float(k): v for k, v in zip(*view.y_ticks)}
    if view.note:
        p.add_layout(
            Title(
                text=view.note.replace("\n", ": ", 1).replace("\n", ", "),
                text_font_size="9pt",
                text_font_style="normal",
            ),
            "above",
        )
    return p
