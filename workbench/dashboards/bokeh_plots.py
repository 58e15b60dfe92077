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
import weakref
from dataclasses import dataclass, field

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


def _line_data(view: PlotView, max_points: int) -> list[dict]:
    """The curves of a 'lines' or 'points' view as column data, each at most ``max_points``."""
    out = []
    for data in view.lines.values():
        if view.kind == "points":
            x, y = (np.asarray(a, dtype=float) for a in data)
        else:
            y = np.asarray(data, dtype=float)
            x = np.asarray(view.x[: y.size], dtype=float)
            x, y = _minmax_decimate(x, y, max_points, view.log_x)
        out.append({"x": x, "y": y})
    return out


def _image_data(view: PlotView, max_columns: int, max_rows: int) -> dict:
    """The image of an 'image' view, bounded in size, with its placement (x, y, dw, dh)."""
    image = _fewer_columns(np.asarray(view.image, dtype=float), max_columns)
    image, y0, dh = _uniform_rows(image, np.asarray(view.y_edges, dtype=float), max_rows)
    return {
        "image": image.astype(np.float32),
        "x": float(view.x[0]),
        "y": y0,
        "dw": float(view.x[-1] - view.x[0]),
        "dh": dh,
    }


@dataclass
class Drawing:
    """A view with its data already bounded for the browser (:func:`prepare`): the part of
    drawing that is array work, so it can run in a worker thread."""

    view: PlotView
    lines: list = field(default_factory=list)
    image: dict | None = None

    @property
    def layout(self) -> tuple:
        """What the figure's models depend on: two drawings with the same layout are drawn
        into one figure by changing its data, labels and ranges (:func:`redraw`)."""
        v = self.view
        named = tuple(bool(name) for name in v.lines) if v.kind != "image" else ()
        return (
            v.kind,
            v.log_x,
            named,
            v.kind == "image" or v.xlim is not None,
            v.kind == "image" or v.ylim is not None,
            bool(v.x_ticks),
            bool(v.y_ticks),
            bool(v.note),
        )


def prepare(
    view: PlotView, *, max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS, max_points: int = MAX_POINTS
) -> Drawing:
    """Bound ``view``'s data for the browser: at most ``max_columns`` x ``max_rows`` image
    cells, at most ``max_points`` points a curve."""
    if view.kind == "image":
        return Drawing(view, image=_image_data(view, max_columns, max_rows))
    return Drawing(view, lines=_line_data(view, max_points))


def _extent(drawing: Drawing, axis: str):
    """The (start, end) a Range1d axis shows, or None for a range fitted to the data."""
    v = drawing.view
    if v.kind == "image":
        im = drawing.image
        return (im["x"], im["x"] + im["dw"]) if axis == "x" else (float(v.y_edges[0]), float(v.y_edges[-1]))
    limits = v.xlim if axis == "x" else v.ylim
    return None if limits is None else tuple(float(b) for b in limits)


def _set_extent(rng, extent, previous):
    """Show ``extent`` on ``rng``, unless it is the extent shown before: then the reader's
    zoom stays while they move a slider. The reset tool returns to ``extent``."""
    if extent is None or extent == previous:
        return
    rng.update(start=extent[0], end=extent[1], reset_start=extent[0], reset_end=extent[1])


def _same_formatters(old: dict, new: dict) -> bool:
    return old.keys() == new.keys() and all((old[k].code, old[k].args) == (new[k].code, new[k].args) for k in new)


# The parts of a figure :func:`redraw` changes, kept beside it (Bokeh models take no new
# attributes); an entry goes with its figure.
_PARTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _skeleton(drawing: Drawing, height: int, x_range, css_class: str | None):
    """A figure with the models ``drawing``'s layout needs and none of its data."""
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, Range1d, Title
    from bokeh.palettes import Viridis256
    from bokeh.plotting import figure

    v = drawing.view
    kwargs = dict(
        height=height,
        sizing_mode="stretch_width",
        toolbar_location="above",
        tools="pan,box_zoom,wheel_zoom,reset",
        min_border_left=50,
    )
    if v.log_x:
        kwargs["x_axis_type"] = "log"
    if css_class:
        kwargs["css_classes"] = [css_class]
    kwargs["x_range"] = x_range if x_range is not None else (Range1d(0, 1) if _extent(drawing, "x") else None)
    kwargs["y_range"] = Range1d(0, 1) if _extent(drawing, "y") else None
    p = figure(**{k: a for k, a in kwargs.items() if a is not None})
    p.title.text_font_size = "11pt"
    p.toolbar.logo = None
    parts = {"layout": drawing.layout, "sources": [], "shared_x_range": x_range, "extent": {}}
    if v.kind == "image":
        parts["mapper"] = LinearColorMapper(palette=Viridis256, nan_color=(0, 0, 0, 0), high_color=Viridis256[-1])
        parts["sources"].append(ColumnDataSource({"image": []}))
        renderer = p.image(
            image="image", x=0, y=0, dw=1, dh=1, color_mapper=parts["mapper"], source=parts["sources"][0]
        )
        parts["glyph"] = renderer.glyph
        parts["bar"] = ColorBar(
            color_mapper=parts["mapper"],
            orientation="horizontal",
            height=10,
            location=(0, 0),
            title_text_font_size="9pt",
            title_text_font_style="normal",
        )
        p.add_layout(parts["bar"], "below")
        parts["hover"] = HoverTool()
        p.grid.visible = False
    else:
        renderers = []
        for i, named in enumerate(drawing.layout[2]):
            source = ColumnDataSource({"x": [], "y": []})
            legend = {"legend_label": f"line {i}"} if named else {}
            color = PALETTE[i % len(PALETTE)]
            if v.kind == "points":
                renderers.append(p.scatter("x", "y", source=source, size=5, color=color, **legend))
            else:
                alpha = 0.75 if len(v.lines) > 1 else 1.0
                renderers.append(
                    p.line("x", "y", source=source, color=color, line_width=1.3, line_alpha=alpha, **legend)
                )
            parts["sources"].append(source)
        parts["renderers"] = renderers
        parts["hover"] = HoverTool(renderers=renderers, mode="mouse" if v.kind == "points" else "vline")
        if p.legend:
            p.legend.click_policy = "hide"
            p.legend.location = "top_left"
            p.legend.label_text_font_size = "8pt"
    p.add_tools(parts["hover"])
    if v.note:
        parts["note"] = Title(text="", text_font_size="9pt", text_font_style="normal")
        p.add_layout(parts["note"], "above")
    _PARTS[p] = parts
    return p


def _fill(p, drawing: Drawing):
    """Put ``drawing``'s data, labels, ranges, ticks and readouts into its figure ``p``."""
    from bokeh.core.property.vectorization import value
    from bokeh.models import FixedTicker

    v, parts = drawing.view, _PARTS[p]
    p.title.text = v.title
    p.xaxis.axis_label = v.xlabel
    p.yaxis.axis_label = v.ylabel.replace("\n", " ")
    for axis, rng in (("x", p.x_range), ("y", p.y_range)):
        if axis == "x" and parts["shared_x_range"] is not None:
            continue  # the figure it shares the time axis with sets it
        extent = _extent(drawing, axis)
        _set_extent(rng, extent, parts["extent"].get(axis))
        parts["extent"][axis] = extent
    x_name = v.xlabel.split(" (")[0] or "x"
    y_name = v.ylabel.replace("\n", " ").split(" (")[0] or "y"
    if v.kind == "image":
        im = drawing.image
        parts["sources"][0].data = {"image": [im["image"]]}
        parts["glyph"].update(x=im["x"], y=im["y"], dw=im["dw"], dh=im["dh"])
        parts["mapper"].update(low=v.vmin, high=v.vmax)
        parts["bar"].title = v.value_label
        tooltips = [(x_name, "$x{custom}"), (y_name, "$y{custom}"), ("value", "@image{custom}")]
        formatters = {"$x": _axis_hover(v, "x"), "$y": _axis_hover(v, "y"), "@image": _hover_number(v.value_unit)}
    else:
        for source, renderer, data, name in zip(parts["sources"], parts["renderers"], drawing.lines, v.lines):
            source.data = data
            renderer.name = name or y_name  # the hover readout's series (no column of names to send)
        if p.legend:  # one legend item per named curve, in order (_skeleton)
            for item, name in zip(p.legend.items, [name for name in v.lines if name]):
                item.label = value(name)
        tooltips = [("", "$name"), (x_name, "@x{custom}"), ("value", "@y{custom}")]
        formatters = {"@x": _axis_hover(v, "x"), "@y": _hover_number(v.value_unit)}
    hover = parts["hover"]
    if hover.tooltips != tooltips:
        hover.tooltips = tooltips
    if not _same_formatters(hover.formatters, formatters):
        hover.formatters = formatters
    for axis, ticks in ((p.xaxis, v.x_ticks), (p.yaxis, v.y_ticks)):
        if not ticks:
            continue
        positions = [float(t) for t in ticks[0]]
        if isinstance(axis.ticker, FixedTicker):
            axis.ticker.ticks = positions
        else:
            axis.ticker = FixedTicker(ticks=positions)
        axis.major_label_overrides = {float(k): label for k, label in zip(*ticks)}
        if axis is p.xaxis:
            axis.major_label_orientation = 0.8 if len(positions) > 8 else "horizontal"
    if v.note:
        parts["note"].text = v.note.replace("\n", ": ", 1).replace("\n", ", ")


def bokeh_figure(
    view: PlotView | Drawing,
    *,
    height: int = 340,
    x_range=None,
    max_columns: int = MAX_COLUMNS,
    max_rows: int = MAX_ROWS,
    max_points: int = MAX_POINTS,
    css_class: str | None = None,
):
    """A Bokeh figure of ``view`` with zoom/pan/reset tools and hover readouts in units.

    ``view``: a :class:`~workbench.plots.PlotView` or the drawing :func:`prepare` made of it
    (then the ``max_*`` bounds are the drawing's). ``x_range``: a Bokeh range to share (two plots side
    by side zoom together in time). :func:`redraw` shows a later view in the same figure.
    """
    drawing = (
        view
        if isinstance(view, Drawing)
        else prepare(view, max_columns=max_columns, max_rows=max_rows, max_points=max_points)
    )
    p = _skeleton(drawing, height, x_range, css_class)
    _fill(p, drawing)
    return p


def redraw(fig, drawing: Drawing, *, x_range=None) -> bool:
    """Show ``drawing`` in ``fig``, a figure made by :func:`bokeh_figure`, by changing its
    data, labels, ranges and readouts in place (the browser receives those values, not a new
    figure; a zoom stays while the axes' extent stays). False, with ``fig`` unchanged, when
    ``fig`` cannot show it (another kind of plot, number of curves, axis type, shared range):
    then build a new figure.
    """
    parts = _PARTS.get(fig) if fig is not None else None
    if parts is None or parts["layout"] != drawing.layout:
        return False
    if parts["shared_x_range"] is not x_range:  # shares another range, or none where one is asked for
        return False
    _fill(fig, drawing)
    return True
