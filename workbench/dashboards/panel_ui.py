"""Panel front end of the dashboard components (used by :mod:`workbench.app` and notebooks).

Every widget is built from the registry's :class:`~workbench.dashboards.registry.ParamSpec`,
so the notebook (ipywidgets) and the app show the same controls. Computations run in a
worker thread; sliders are debounced; a spinner appears after 0.3 s; an error is shown in
the page and the session stays usable. Only numbers and fixed choices cross from the page
to the server: there is no free-text input, and uploads are decoded in memory.

What a student sees (:class:`StageExplorer`):

* stimulus A (the controls; sliders that do not apply to the chosen kind are disabled) and a
  kept stimulus B, each with a labelled player at a fixed, stated calibration
  (:data:`~workbench.dashboards.core.PLAYBACK_NOTE`), "A then B", and a warning when a
  sound would clip;
* the chosen stage as an interactive Bokeh plot (zoom in time and frequency, hover values in
  units), optionally next to stimulus B's or another model's;
* what the model is (two sentences and its citation), and downloads of the figure (PNG,
  SVG), the data (NPZ, CSV) and the stimulus (WAV).

Uploads (:class:`WavUpload`) are size-checked in the browser before anything is sent: a file
over :data:`~workbench.dashboards.core.MAX_UPLOAD_BYTES` is refused there with a message in
the page (it would otherwise exceed the websocket's message limit and silently end the
session); the server checks the size again when the file arrives, says which file is loaded
(name, duration, channels) and keeps the previous one when a file is rejected. Messages in
the page never show exception class names or object reprs: unexpected errors are logged on
the server and the page says so.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import html
import io
import re
from dataclasses import replace

import numpy as np
import panel as pn
import param
from panel.custom import JSComponent

from workbench.dashboards import compute, core
from workbench.dashboards.core import STIMULUS_CONTROLS, Debouncer, Explorer, StimulusSpec
from workbench.dashboards.registry import MODELS, ParamSpec, model_class, model_spec

# The process's slider threads (sized by `workbench serve --threads`); experiments never run
# here (they have their own worker processes), so a slider move never waits behind one.
EXECUTOR = compute.SERVICE.executor
PNG_DPI = 96
PLOT_HEIGHT = 340
MEDIA_HEIGHT = 280  # the stimulus waveform and spectrum
COMPARE = {
    "nothing": "none",
    "stimulus B (same model and stage)": "stimulus",
    "another model (same stimulus A)": "model",
}


class WavUpload(JSComponent):
    """A WAV file picker that refuses files over ``max_bytes`` in the browser, before sending.

    ``value``: the accepted file's bytes as base64 text (set by the browser) and ``filename``
    its name. A refused file sends only its size: ``rejected_bytes`` and an incremented
    ``n_rejected``; the browser shows its own message at once (``.upload-note``). ``status``
    (set by the server) replaces that note once the server has checked the file.
    """

    value = param.String(default="", doc="base64 contents of the last accepted file")
    filename = param.String(default="", doc="name of the last file sent (as the browser reports it)")
    max_bytes = param.Integer(default=core.MAX_UPLOAD_BYTES, bounds=(1, None))
    rejected_bytes = param.Integer(default=0, doc="size of the last refused file")
    n_rejected = param.Integer(default=0, doc="number of files refused in the browser")
    status = param.String(default="", doc="the server's word on the last file")
    status_ok = param.Boolean(default=True)

    _esm = """
export function render({ model, el }) {
  const input = document.createElement("input");
  input.type = "file";
  input.accept = ".wav,audio/wav,audio/x-wav";
  input.setAttribute("aria-label", "upload a WAV file");
  const note = document.createElement("div");
  note.className = "upload-note";
  note.setAttribute("role", "status");
  const mb = (n) => (n / 1e6).toFixed(1) + " MB";
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    if (file.size > model.max_bytes) {
      note.textContent = `Not sent: this file is ${mb(file.size)}; the limit is ${mb(model.max_bytes)} ` +
                         `(about 10 s of audio). Choose a shorter WAV file.`;
      note.className = "upload-note upload-refused";
      input.value = "";
      model.rejected_bytes = file.size;
      model.n_rejected = model.n_rejected + 1;
      return;
    }
    note.textContent = `Sending ${mb(file.size)} ...`;
    note.className = "upload-note";
    const reader = new FileReader();
    reader.onload = () => {
      model.filename = file.name.slice(0, 120);
      model.value = String(reader.result).split(",")[1] || "";
      note.textContent = `Sent (${mb(file.size)}); checking ...`;
    };
    reader.onerror = () => { note.textContent = "The file could not be read."; };
    reader.readAsDataURL(file);
  });
  const show = () => {
    if (!model.status) return;
    note.textContent = model.status;
    note.className = model.status_ok ? "upload-note upload-accepted" : "upload-note upload-refused";
  };
  model.on("status", show);
  model.on("status_ok", show);
  el.append(input, note);
}
"""
    _stylesheets = [
        ".upload-note { font-size: 0.9em; margin-top: 4px; } "
        ".upload-refused { color: #b00020; font-weight: 600; } .upload-accepted { color: #1b5e20; }"
    ]


class ABPlayer(JSComponent):
    """Players for stimulus A and the kept stimulus B, and "A then B".

    ``*_src``: ``data:audio/wav;base64,...`` at the fixed playback calibration (never
    normalised); ``*_label``: what the sound is; ``*_duration_s``: its length, shown as
    seconds (the browser's own player shows 0:00 for sounds under 1 s). The audio elements
    (``audio.audio-a``, ``audio.audio-b``) have no controls of their own.
    """

    a_src = param.String(default="")
    a_label = param.String(default="")
    a_duration_s = param.Number(default=0.0)
    b_src = param.String(default="")
    b_label = param.String(default="")
    b_duration_s = param.Number(default=0.0)
    gap_s = param.Number(default=0.4, bounds=(0, 5))

    _esm = """
export function render({ model, el }) {
  const rows = {};
  let sequence = null;
  const fmt = (s) => (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
  const stopAll = () => {
    sequence = null;
    for (const r of Object.values(rows)) {
      r.audio.pause();
      r.audio.currentTime = 0;
      r.button.textContent = "▶ " + r.name;
    }
  };
  const makeRow = (name, key) => {
    const row = document.createElement("div");
    row.className = "player-row player-" + key;
    const button = document.createElement("button");
    button.className = "play-" + key;
    button.textContent = "▶ " + name;
    button.setAttribute("aria-label", "play stimulus " + name);
    const label = document.createElement("span");
    label.className = "player-label label-" + key;
    const time = document.createElement("span");
    time.className = "player-time time-" + key;
    const audio = document.createElement("audio");
    audio.className = "audio-" + key;
    audio.preload = "auto";
    row.append(button, label, time, audio);
    const r = { name, key, row, button, label, time, audio };
    button.addEventListener("click", () => {
      if (!audio.paused) { stopAll(); return; }
      stopAll();
      if (!audio.src) return;
      audio.play();
      button.textContent = "■ " + name;
    });
    audio.addEventListener("timeupdate", () => {
      time.textContent = fmt(audio.currentTime) + " / " + fmt(model[key + "_duration_s"]);
    });
    audio.addEventListener("ended", () => {
      button.textContent = "▶ " + name;
      time.textContent = fmt(model[key + "_duration_s"]);
      if (sequence === "ab" && key === "a" && rows.b.audio.src) {
        setTimeout(() => {
          if (sequence !== "ab") return;
          sequence = null;
          rows.b.audio.play();
          rows.b.button.textContent = "■ B";
        }, 1000 * model.gap_s);
      }
    });
    rows[key] = r;
    return r;
  };
  const a = makeRow("A", "a"), b = makeRow("B", "b");
  const both = document.createElement("button");
  both.className = "play-ab";
  both.textContent = "▶ A then B";
  both.addEventListener("click", () => {
    stopAll();
    if (!a.audio.src) return;
    sequence = "ab";
    a.audio.play();
    a.button.textContent = "■ A";
  });
  const update = () => {
    for (const r of [a, b]) {
      const src = model[r.key + "_src"];
      if (src && r.audio.getAttribute("src") !== src) { r.audio.pause(); r.audio.src = src; }
      if (!src) { r.audio.removeAttribute("src"); }
      r.label.textContent = model[r.key + "_label"] || (r.key === "b" ? "not set: press \\"Keep A as B\\"" : "");
      r.time.textContent = src ? fmt(model[r.key + "_duration_s"]) : "";
      r.button.disabled = !src;
    }
    both.disabled = !(model.a_src && model.b_src);
  };
  for (const p of ["a_src", "a_label", "a_duration_s", "b_src", "b_label", "b_duration_s"]) model.on(p, update);
  update();
  el.append(a.row, b.row, both);
}
"""
    _stylesheets = [
        ".player-row { display: flex; align-items: center; gap: 6px; margin: 3px 0; flex-wrap: wrap; } "
        ".player-row button, .play-ab { min-width: 48px; padding: 3px 8px; } "
        ".player-label { font-size: 0.9em; flex: 1 1 150px; } "
        ".player-time { font-size: 0.85em; color: #555; font-variant-numeric: tabular-nums; }"
    ]


def panel_widget(p: ParamSpec):
    """A Panel widget for one parameter spec (a choice between :data:`core.STIMULUS_KINDS` is
    shown by its labels)."""
    common = dict(label=p.label, css_classes=[f"param-{p.name}"])
    if p.kind == "float":
        return pn.widgets.FloatSlider(start=p.low, end=p.high, step=p.step, value=p.default, **common)
    if p.kind == "int":
        return pn.widgets.IntSlider(start=int(p.low), end=int(p.high), step=int(p.step or 1), value=p.default, **common)
    if p.kind == "choice":
        if set(p.options) <= set(core.STIMULUS_LABELS):
            return pn.widgets.Select(options={core.STIMULUS_LABELS[o]: o for o in p.options}, value=p.default, **common)
        return pn.widgets.Select(options=list(p.options), value=p.default, **common)
    if p.kind == "bool":
        return pn.widgets.Checkbox(value=p.default, **common)
    raise ValueError(f"kind must be float/int/choice/bool, got {p.kind!r}")


def _plain(text: str, limit: int = 80) -> str:
    """A browser-supplied name as plain text for Markdown (no markup, no HTML)."""
    return html.escape(re.sub(r"[^\w .()+,-]", "_", str(text))[:limit]) or "unnamed file"


def describe_upload(info: dict) -> str:
    if not info:
        return "no file loaded"
    channels = "stereo" if info.get("channels") == 2 else "mono"
    return (
        f"{_plain(info.get('name') or 'uploaded file')}: {info['duration_s']:.2f} s, {channels}, "
        f"{info['fs'] / 1000:g} kHz"
    )


def _merge_ab(a, b):
    """One view with the lines of ``a`` (named A ...) and ``b`` (named B ...)."""
    out = replace(a, lines={f"A {k}".strip(): v for k, v in a.lines.items()})
    out.lines.update({f"B {k}".strip(): v for k, v in b.lines.items()})
    if b.x.size > a.x.size:
        out.x = b.x
    if a.xlim is not None and b.xlim is not None:
        out.xlim = (min(a.xlim[0], b.xlim[0]), max(a.xlim[1], b.xlim[1]))
    if a.ylim is not None and b.ylim is not None:
        top = max(a.ylim[1], b.ylim[1])
        out.ylim = (top - (a.ylim[1] - a.ylim[0]), top)
    if a.note and b.note:
        out.note = f"A: {a.note.split(chr(10), 1)[-1]}; B: {b.note.split(chr(10), 1)[-1]}".replace(chr(10), ", ")
    return out


def _share_scales(a, b):
    """Two views of the same quantity on one colour (images) or value (curves) scale, so a
    comparison reads at a glance; views in different units keep their own."""
    if a.kind != b.kind or a.value_unit != b.value_unit or not a.value_unit and a.value_label != b.value_label:
        return
    if a.kind == "image":
        a.vmin = b.vmin = min(a.vmin, b.vmin)
        a.vmax = b.vmax = max(a.vmax, b.vmax)
        a.extend = b.extend = "max" if "max" in (a.extend, b.extend) else "neither"
    elif a.kind == "lines":
        values = [v[np.isfinite(v)] for view in (a, b) for v in view.lines.values()]
        values = [v for v in values if v.size]
        if values and a.ylim is None and b.ylim is None:
            lo, hi = min(v.min() for v in values), max(v.max() for v in values)
            pad = 0.05 * (hi - lo or 1.0)
            a.ylim = b.ylim = (lo - pad, hi + pad)


def _draw(pane, drawing, height: int, x_range=None):
    """Show a drawing (:func:`bokeh_plots.prepare`) in ``pane``: in its figure, in place, when
    the figure fits (only the new data and labels go to the browser, and a zoom stays), else
    in a new figure."""
    from workbench.dashboards import bokeh_plots

    if not bokeh_plots.redraw(pane.object, drawing, x_range=x_range):
        pane.object = bokeh_plots.bokeh_figure(drawing, height=height, x_range=x_range)
    elif getattr(pn.state.curdoc, "session_context", None) is None:
        pane.param.trigger("object")  # outside a server (a notebook's comm) the pane resends the figure


def responsive_row(*items, **kwargs):
    """Items side by side that wrap under each other on a narrow (phone-sized) screen."""
    return pn.FlexBox(*items, flex_wrap="wrap", align_items="flex-start", sizing_mode="stretch_width", **kwargs)


def _plot_pane(css_class: str, **kwargs):
    """An empty Bokeh pane for one of the explorer's plots: at least 300 px wide, sharing a
    :func:`responsive_row` with its neighbours (``css_class`` names it for the page's CSS and tests)."""
    return pn.pane.Bokeh(
        None,
        css_classes=[css_class],
        sizing_mode="stretch_width",
        min_width=300,
        styles={"flex": "1 1 420px"},
        **kwargs,
    )


def _side_column(*items, width: int, **kwargs):
    """A column of controls beside the plots: ``width`` px in a :func:`responsive_row`, from
    ``width - 40`` px (it shrinks first) up to ``width + 20`` px."""
    return pn.Column(
        *items,
        sizing_mode="stretch_width",
        max_width=width + 20,
        min_width=width - 40,
        styles={"flex": f"0 1 {width}px"},
        **kwargs,
    )


class StageExplorer:
    """Stimulus designer (A and a kept B) + players + model picker + stage viewer for one session."""

    def __init__(self, model: str = "Dau1997", explorer: Explorer | None = None):
        from workbench.dashboards import bokeh_plots  # noqa: F401 - Bokeh loads here, not at import time

        self.explorer = explorer or Explorer()
        self.debouncer = Debouncer()
        self._quiet = True  # programmatic widget changes during construction trigger nothing
        self.stimulus_widgets = {p.name: panel_widget(p) for p in STIMULUS_CONTROLS}
        self.stimulus_widgets["snr_db"].description = core.SNR_DEFINITION
        self._used_box = pn.Column(sizing_mode="stretch_width", margin=0)
        self._unused_card = pn.Card(
            collapsed=True,
            sizing_mode="stretch_width",
            css_classes=["unused-settings"],
            header_color="#666",
            margin=(5, 5),
        )
        self.upload = WavUpload(css_classes=["wav-upload"])
        self.model_select = pn.widgets.Select(
            label="model", options=list(MODELS), value=model, css_classes=["model-select"]
        )
        self.param_widgets: dict = {}
        self._stimulus_key = None
        self.param_box = pn.Column(sizing_mode="stretch_width")
        self.stage_select = pn.widgets.Select(label="stage", css_classes=["stage-select"])
        self.model_about = pn.pane.Markdown("", css_classes=["model-about"], sizing_mode="stretch_width")
        self.about = pn.pane.Markdown("", css_classes=["stage-about"], sizing_mode="stretch_width")
        self.plot = _plot_pane("stage-plot")
        self.compare_plot = _plot_pane("compare-plot", visible=False)
        self.waveform_plot = _plot_pane("waveform-plot")
        self.spectrum_plot = _plot_pane("spectrum-plot")
        self.stimulus_plot = self.waveform_plot  # the stimulus views (waveform first)
        self.plot_box = responsive_row(self.plot, self.compare_plot, css_classes=["plots"])
        self.readout = pn.pane.Markdown("", css_classes=["readout"], sizing_mode="stretch_width")
        # what the (canvas-drawn) plot shows, in words: for screen readers and for tests
        self.plot_caption = pn.pane.Markdown(
            "",
            css_classes=["plot-caption"],
            sizing_mode="stretch_width",
            styles={"font-size": "0.85em", "color": "#444"},
        )
        self.compare_readout = pn.pane.Markdown(
            "", css_classes=["compare-readout"], sizing_mode="stretch_width", visible=False
        )
        self.stimulus_readout = pn.pane.Markdown("", css_classes=["stimulus-readout"], sizing_mode="stretch_width")
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["error-message"])
        self.spinner = pn.indicators.LoadingSpinner(value=True, visible=False, size=28)
        # players: A (the controls), B (kept with the button), A then B
        self.player = ABPlayer(css_classes=["stimulus-audio"], sizing_mode="stretch_width")
        self.audio = self.player  # (name kept for callers of the single player)
        self.playback_note = pn.pane.Markdown(
            f"<small>{core.PLAYBACK_NOTE}</small>", css_classes=["playback-note"], sizing_mode="stretch_width"
        )
        self.clip_warning = pn.pane.Alert("", alert_type="warning", visible=False, css_classes=["clip-warning"])
        self.keep_b = pn.widgets.Button(
            label="Keep A as B",
            css_classes=["keep-b"],
            color="primary",
            width=150,
            description="Store the current stimulus as B, to play and plot next to A",
        )
        self.spec_b: StimulusSpec | None = None
        self.upload_status = pn.pane.Markdown("", css_classes=["upload-status"])
        # comparison
        self.compare_select = pn.widgets.Select(
            label="compare with", options=COMPARE, value="none", css_classes=["compare-select"]
        )
        self.compare_model = pn.widgets.Select(
            label="second model",
            options=list(MODELS),
            value=[m for m in MODELS if m != model][0],
            css_classes=["compare-model"],
            visible=False,
        )
        self.compare_stage = pn.widgets.Select(label="its stage", css_classes=["compare-stage"], visible=False)
        # downloads (made on click, in a worker thread)
        labels = {
            "png": "Figure (PNG)",
            "svg": "Figure (SVG)",
            "npz": "Data (NPZ)",
            "csv": "Data as plotted (CSV)",
            "wav": "Stimulus A (WAV)",
        }
        self.downloads = {
            fmt: pn.widgets.FileDownload(
                label=label,
                callback=self._download(fmt),
                filename=f"file.{fmt}",
                css_classes=[f"download-{fmt}"],
                color="light",
                width=170,
            )
            for fmt, label in labels.items()
        }
        self.result = None  # the last run shown (stimulus A)
        self.stage_key = None
        for name, w in self.stimulus_widgets.items():
            w.param.watch(functools.partial(self._on_stimulus_change, name), "value")
        self.upload.param.watch(self._on_upload, "value")
        self.upload.param.watch(self._on_refused, "n_rejected")
        self.model_select.param.watch(self._on_model, "value")
        self.stage_select.param.watch(self._on_change, "value")
        self.keep_b.on_click(self._on_keep_b)
        self.compare_select.param.watch(self._on_compare_mode, "value")
        self.compare_model.param.watch(self._on_compare_model, "value")
        self.compare_stage.param.watch(self._on_change, "value")
        self._build_params(model)
        self._build_compare_stages(self.compare_model.value)
        self._apply_stimulus_kind()
        self._quiet = False

    # ----------------------------------------------------------------------------- state
    def stimulus_spec(self) -> StimulusSpec:
        values = {k: w.value for k, w in self.stimulus_widgets.items()}
        return StimulusSpec(**values, upload_digest=self.explorer.upload_digest)

    def params(self) -> dict:
        return {k: w.value for k, w in self.param_widgets.items()}

    def _binaural(self, name: str | None = None) -> bool:
        return "E" in getattr(model_class(name or self.model_select.value), "input_axes", "BT")

    def _apply_stimulus_kind(self):
        """Disable the stimulus controls the chosen kind (and model) does not use."""
        kind = self.stimulus_widgets["kind"].value
        used = set(StimulusSpec.applies(kind))
        stereo_upload = kind == "upload" and self.explorer.upload_info.get("channels") == 2
        if not self._binaural() or stereo_upload:
            used.discard("ears")
        for name, w in self.stimulus_widgets.items():
            if name != "kind":
                w.disabled = name not in used
        order = [n for n in self.stimulus_widgets if n != "kind"]
        used_now = [self.stimulus_widgets[n] for n in order if n in used]
        unused_now = [self.stimulus_widgets[n] for n in order if n not in used]
        # take each widget out of its old box before putting it in the new one (one parent at a time)
        self._used_box[:] = [w for w in self._used_box if w in used_now]
        self._unused_card[:] = [w for w in self._unused_card if w in unused_now]
        self._used_box[:] = used_now
        self._unused_card[:] = unused_now
        self._unused_card.title = f"Settings not used by this stimulus ({core.STIMULUS_LABELS[kind]}; disabled)"
        self._unused_card.visible = len(self._unused_card) > 0

    def _build_params(self, name: str):
        spec = model_spec(name)
        quiet, self._quiet = self._quiet, True
        try:
            self.param_widgets = {p.name: panel_widget(p) for p in spec.params}
            for w in self.param_widgets.values():
                w.param.watch(self._on_change, "value")
            self.param_box[:] = list(self.param_widgets.values()) or [pn.pane.Markdown("*no parameters to set*")]
            options = core.stage_choices(self.explorer.model(name, self.params()).stage_info)
            self.stage_select.options = options
            self.stage_select.value = next(iter(options.values()))
            self.model_about.object = (
                f"**{name}**: {spec.about}<br><small>{spec.citation}</small>"
                if spec.citation
                else f"**{name}**: {spec.about}"
            )
        finally:
            self._quiet = quiet

    def _build_compare_stages(self, name: str):
        quiet, self._quiet = self._quiet, True
        try:
            options = core.stage_choices(self.explorer.model(name).stage_info)
            self.compare_stage.options = options
            self.compare_stage.value = next(iter(options.values()))
        finally:
            self._quiet = quiet

    def _refresh_stage_labels(self, result):
        """Stage labels can depend on parameters (Paulick2024 without its outer ear): keep the
        picker's labels those of the model as it ran, and its value."""
        options = core.stage_choices(result.info)
        if options != self.stage_select.options and self.stage_select.value in options.values():
            quiet, self._quiet = self._quiet, True
            try:
                value = self.stage_select.value
                self.stage_select.options = options
                self.stage_select.value = value
            finally:
                self._quiet = quiet

    # ----------------------------------------------------------------------------- events
    # Watchers are plain functions: they see ``_quiet`` at the moment of the change (a
    # coroutine watcher would run later, after construction, and refresh once per widget set
    # up) and schedule one debounced refresh.
    def _later(self, debounce: bool = True):
        pn.state.execute(self.refresh if debounce else self._refresh_now)

    async def _refresh_now(self):
        await self.refresh(debounce=False)

    def _on_model(self, event):
        self._build_params(event.new)
        self._apply_stimulus_kind()
        self._later()

    def _on_change(self, *events):
        if not self._quiet:
            self._later()

    def _on_stimulus_change(self, name, event):
        if self._quiet:
            return
        if name == "kind":
            self._apply_stimulus_kind()
        elif event.obj.disabled:  # a setting the chosen stimulus does not use: nothing to redo
            return
        self._later()

    def _on_compare_mode(self, event):
        mode = event.new
        self.compare_model.visible = self.compare_stage.visible = mode == "model"
        self.compare_plot.visible = self.compare_readout.visible = mode != "none"
        if not self._quiet:
            self._later()

    def _on_compare_model(self, event):
        self._build_compare_stages(event.new)
        if not self._quiet:
            self._later()

    def _on_keep_b(self, event=None):
        spec = self.stimulus_spec()
        if spec.kind == "upload":
            self.explorer.pin_upload(spec.upload_digest)
        self.spec_b = spec.canonical()
        self._stimulus_key = None  # redraw the players and stimulus views
        if self.compare_select.value == "none":
            self.compare_select.value = "stimulus"  # schedules the refresh
        else:
            self._later(debounce=False)

    async def _on_upload(self, event):
        await self.load_upload(event.new)

    async def load_upload(self, data: bytes | str, name: str | None = None):
        """Take a WAV file as stimulus A, as the upload widget does: ``data`` is the file's
        bytes or the browser's base64 text of them, ``name`` its file name (default: the
        widget's). An accepted file becomes the stimulus (kind 'upload') and the view
        refreshes; a rejected one shows why in :attr:`error` and keeps the previous file."""
        if not data:
            return
        name = name or self.upload.filename or "uploaded.wav"
        previous = self.explorer.upload_info
        keep = f" The previous file ({describe_upload(previous)}) is still loaded." if previous else ""
        if isinstance(data, str):  # base64 from the browser; decoded here, in memory
            if len(data) > (core.MAX_UPLOAD_BYTES + 2) * 4 // 3 + 4:
                return self._reject(f"the file is larger than {core.MAX_UPLOAD_BYTES / 1e6:g} MB", keep)
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return self._reject("the file did not arrive intact; please try again", keep)
        try:
            self.explorer.set_upload(data, name=name)
        except (ValueError, TypeError) as exc:
            return self._reject(str(exc), keep)
        text = describe_upload(self.explorer.upload_info)
        self.upload_status.object = f"Loaded: {text}"
        self.upload.status_ok, self.upload.status = True, f"Sent and loaded: {text}"
        quiet, self._quiet = self._quiet, True
        try:
            self.stimulus_widgets["kind"].value = "upload"
        finally:
            self._quiet = quiet
        self._apply_stimulus_kind()
        await self.refresh(debounce=False)

    def _reject(self, reason: str, keep: str = ""):
        self._show_error(f"Upload rejected: {reason}")
        self.upload.status_ok, self.upload.status = False, f"Sent, but not loaded: {reason}.{keep}"

    def _on_refused(self, event):
        size = self.upload.rejected_bytes
        self._show_error(
            f"Upload rejected in the browser, nothing was sent: the file is {size / 1e6:.1f} MB; "
            f"the limit is {core.MAX_UPLOAD_BYTES / 1e6:g} MB (about 10 s of audio)"
        )

    def close(self):
        """The session ended: stop pending work and free the caches (models, stage outputs)."""
        self.debouncer.bump()
        self.explorer.close()

    def _show_error(self, message: str):
        self.error.object = message
        self.error.visible = True

    # ----------------------------------------------------------------------------- work
    def _compare_request(self, stim, params):
        """(model, stimulus, params, stage) of the comparison plot, or None."""
        mode = self.compare_select.value
        if mode == "stimulus":
            if self.spec_b is None:
                return 'Keep a stimulus as B first ("Keep A as B"), then change A.'
            return self.model_select.value, self.spec_b, params, self.stage_select.value
        if mode == "model":
            return self.compare_model.value, stim, None, self.compare_stage.value
        return None

    async def refresh(self, debounce: bool = True):
        """Recompute (debounced, in a worker thread) and redraw; errors go to the page."""
        if debounce:
            if not await self.debouncer.settled():
                return
        generation = self.debouncer.bump()
        name, stage_key = self.model_select.value, self.stage_select.value
        try:
            stim, params = self.stimulus_spec(), self.params()
            compare = self._compare_request(stim, params)
            work = lambda: self.compute(name, stim, params, stage_key, generation, compare)  # noqa: E731
            result, (drawing, caption), other = await core.run_with_progress(
                work, self._busy, self._idle, executor=EXECUTOR
            )
        except core.Superseded:
            return
        except Exception as exc:  # shown in the page; the session keeps working
            if self.debouncer.is_latest(generation):
                self._show_error(core.user_message(exc))
            return
        if not self.debouncer.is_latest(generation):
            return
        with pn.io.unlocked():  # the plots' new data, labels and readouts go out as one patch
            self.error.visible = False
            self.result, self.stage_key = result, stage_key
            self._refresh_stage_labels(result)
            _draw(self.plot, drawing, PLOT_HEIGHT)
            self.plot_caption.object = caption
            info = result.info[core.view_keys(stage_key)[0]]
            label = {v: k for k, v in self.stage_select.options.items()}.get(stage_key, info.label)
            self.about.object = f"**{label}**: {info.about}"
            self.readout.object = core.format_readout(core.readout(result, stage_key))
            self._show_compare(other, drawing)
            self._update_download_names()
            self.stimulus_readout.object = (
                f"**A**: {stim.describe()}"
                + (f" · **B**: {self.spec_b.describe()}" if self.spec_b else "")
                + f" · model input at {result.fs:g} Hz"
            )
        media_key = (stim.canonical(), self.spec_b, result.fs)
        if self._stimulus_key != media_key:  # the stimulus views follow after the stage plot
            loop = asyncio.get_running_loop()
            media = await loop.run_in_executor(EXECUTOR, self.stimulus_media, stim, result.fs, self.spec_b)
            if self.debouncer.is_latest(generation):
                self._stimulus_key = media_key
                with pn.io.unlocked():
                    self._show_media(stim, media)

    def _show_compare(self, other, drawing):
        if other is None:
            self.compare_plot.object = None
            self.compare_readout.object = ""
            return
        if isinstance(other, str):
            self.compare_plot.object = None
            self.compare_readout.object = f"*{other}*"
            return
        result_b, drawing_b, key_b = other
        same_x = drawing_b.view.xlabel == drawing.view.xlabel and drawing_b.view.log_x == drawing.view.log_x
        _draw(self.compare_plot, drawing_b, PLOT_HEIGHT, x_range=self.plot.object.x_range if same_x else None)
        which = "B" if self.compare_select.value == "stimulus" else result_b.model
        self.compare_readout.object = f"**{which}**: " + core.format_readout(
            {
                k: v
                for k, v in core.readout(result_b, key_b).items()
                if k not in ("compute time (ms)", "stages computed")
            }
        )

    def _show_media(self, stim, media):
        (wave, spectrum), play_a, play_b = media
        _draw(self.waveform_plot, wave, MEDIA_HEIGHT)
        _draw(self.spectrum_plot, spectrum, MEDIA_HEIGHT)
        update = dict(
            a_src="data:audio/wav;base64," + base64.b64encode(play_a.wav).decode("ascii"),
            a_label=f"A: {stim.describe()}",
            a_duration_s=play_a.duration_s,
        )
        if play_b is not None:
            update.update(
                b_src="data:audio/wav;base64," + base64.b64encode(play_b.wav).decode("ascii"),
                b_label=f"B: {self.spec_b.describe()}",
                b_duration_s=play_b.duration_s,
            )
        else:
            update.update(b_src="", b_label="", b_duration_s=0.0)
        self.player.param.update(**update)
        warnings = [
            f"{name}: {p.warning()}" for name, p in (("A", play_a), ("B", play_b)) if p is not None and p.clipped
        ]
        self.clip_warning.object = " ".join(warnings)
        self.clip_warning.visible = bool(warnings)

    def compute(self, name, stim, params, stage_key, generation=None, compare=None):
        """Blocking part (worker thread): the model run (cached), the stage plot's drawing
        (:func:`bokeh_plots.prepare`) and, with ``compare`` (model, stimulus, params, stage),
        the second one. Stops early with :class:`core.Superseded` once a newer request exists."""
        from workbench.dashboards import bokeh_plots, figures

        stale = None if generation is None else (lambda: not self.debouncer.is_latest(generation))
        result = self.explorer.run(name, stim, params, is_stale=stale)
        if stale is not None and stale():
            raise core.Superseded()
        view = figures.stage_view(result, stage_key)
        other = compare if isinstance(compare, str) else None
        view_b = None
        if compare is not None and other is None:
            model_b, stim_b, params_b, key_b = compare
            result_b = self.explorer.run(model_b, stim_b, params_b, is_stale=stale)
            view_b = figures.stage_view(result_b, key_b)
            view_b.title = f"{view_b.title} (B)" if model_b == name else f"{model_b}: {view_b.title}"
            if model_b == name:
                view.title = f"{view.title} (A)"
            _share_scales(view, view_b)
        caption = (
            f"Plot: {view.title} of {name} for {stim.describe()}; x: {view.xlabel}; "
            f"y: {view.ylabel.replace(chr(10), ' ')}" + (f"; colour: {view.value_label}" if view.value_label else "")
        )
        if view_b is not None:
            other = (result_b, bokeh_plots.prepare(view_b), key_b)
        return result, (bokeh_plots.prepare(view), caption), other

    def stimulus_media(self, stim, fs, spec_b=None):
        """Waveform/spectrum drawings of A (and B) and their calibrated playback (worker thread)."""
        from workbench.dashboards import bokeh_plots, figures

        x = self.explorer.stimulus(stim, fs).numpy()
        wave, spectrum = figures.stimulus_views(x, fs)
        play_b = None
        if spec_b is None:
            wave.title, spectrum.title = "Stimulus A: waveform", "Stimulus A: spectrum"
        else:
            xb = self.explorer.stimulus(spec_b, fs).numpy()
            play_b = core.playback(xb, fs)
            wave, spectrum = (_merge_ab(a, b) for a, b in zip((wave, spectrum), figures.stimulus_views(xb, fs)))
            wave.title, spectrum.title = "Stimuli A and B: waveforms", "Stimuli A and B: spectra"
        return (bokeh_plots.prepare(wave), bokeh_plots.prepare(spectrum)), core.playback(x, fs), play_b

    # ----------------------------------------------------------------------------- downloads
    def _download(self, fmt: str):
        async def make():
            from workbench.dashboards import downloads

            result, key = self.result, self.stage_key
            if result is None:
                raise ValueError("nothing to download yet: wait for the first plot")
            if fmt == "wav":
                stim = result.stimulus

                def job():
                    return downloads.stimulus_wav(self.explorer.stimulus(stim, result.fs).numpy(), result.fs, stim)

            elif fmt in ("png", "svg"):
                job = lambda: downloads.figure_file(result, key, fmt)  # noqa: E731
            elif fmt == "npz":
                job = lambda: downloads.stage_npz(result, key)  # noqa: E731
            else:
                job = lambda: downloads.stage_csv(result, key)  # noqa: E731
            filename, data = await asyncio.get_running_loop().run_in_executor(EXECUTOR, job)
            self.downloads[fmt].filename = filename
            return io.BytesIO(data)

        return make

    def _update_download_names(self):
        from workbench.dashboards import downloads

        stem = downloads.file_stem(self.result, self.stage_key)
        for fmt, w in self.downloads.items():
            w.filename = (
                f"{stem}.{fmt}"
                if fmt != "wav"
                else downloads.safe_name(self.result.stimulus.kind, f"{self.result.stimulus.level_db_spl:g}dBSPL")
                + ".wav"
            )

    def _busy(self):  # (a Bokeh pane's own ``loading`` edits its figure outside the document lock)
        self.spinner.visible = True
        self.plot_box.loading = True

    def _idle(self):
        self.spinner.visible = False
        self.plot_box.loading = False

    # ----------------------------------------------------------------------------- layout
    def stimulus_controls(self):
        """The stimulus column: kind and settings of A, the players, B, and the upload."""
        return _side_column(
            "### Stimulus A",
            self.stimulus_widgets["kind"],
            self._used_box,
            self._unused_card,
            pn.pane.Markdown("or upload a WAV (≤ 5 MB, ≤ 10 s; stereo stays stereo for binaural models):"),
            self.upload,
            self.upload_status,
            "### Listen",
            self.player,
            self.keep_b,
            self.clip_warning,
            self.playback_note,
            width=320,
            css_classes=["stimulus-controls"],
        )

    def stimulus_view(self):
        return pn.Column(
            self.stimulus_readout, responsive_row(self.waveform_plot, self.spectrum_plot), sizing_mode="stretch_width"
        )

    def download_row(self):
        return responsive_row(
            pn.pane.Markdown("**Download:**", margin=(12, 5, 5, 10)),
            *self.downloads.values(),
            css_classes=["downloads"],
        )

    def model_view(self):
        controls = _side_column(
            self.model_select,
            self.param_box,
            self.stage_select,
            self.compare_select,
            self.compare_model,
            self.compare_stage,
            width=300,
        )
        main = pn.Column(
            self.model_about,
            pn.Row(self.spinner, self.about, sizing_mode="stretch_width"),
            self.readout,
            self.plot_box,
            self.plot_caption,
            self.compare_readout,
            self.download_row(),
            sizing_mode="stretch_width",
            min_width=300,
            styles={"flex": "1 1 480px"},
        )
        return responsive_row(controls, main)


_WARMED = []


def warm_up_in_background(models=None, duration_s: float = 0.05):
    """Once per server process: run ``models`` (default: the first available, which the app
    opens with) on a short tone in a worker thread, so numba compiles their kernels before the
    first student arrives. Other models compile on first use (warming all of them would keep
    a 2-core machine busy for a minute)."""
    if _WARMED:
        return
    _WARMED.append(True)

    def warm():
        explorer = Explorer(cache_size=1)
        for name in models or list(MODELS)[:1]:
            try:
                explorer.run(name, StimulusSpec(duration_s=duration_s))
            except Exception:  # a broken model shows its error in the page later, not here
                pass

    EXECUTOR.submit(warm)


_PHONE_TEMPLATE = (
    "{% extends base %}\n{% block preamble %}"
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "{{ super() }}{% endblock %}"
)


def use_device_width(doc) -> None:
    """Serve ``doc``'s page with ``<meta name="viewport" content="width=device-width">``: without
    it a phone lays the page out 980 px wide and shrinks it to unreadable size."""
    import jinja2

    doc.template = jinja2.Template(_PHONE_TEMPLATE)


def start(explorer_view: StageExplorer):
    """Schedule the first computation once the page is loaded (server) or now (notebook); a
    served page gets the phone viewport (:func:`use_device_width`)."""
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        use_device_width(pn.state.curdoc)
        pn.state.onload(lambda: asyncio.ensure_future(explorer_view.refresh(debounce=False)))
    else:
        pn.state.execute(lambda: explorer_view.refresh(debounce=False))


__all__ = ["ABPlayer", "WavUpload", "StageExplorer", "panel_widget", "responsive_row", "start", "warm_up_in_background"]
