"""Panel front end of the dashboard components (used by :mod:`workbench.app` and notebooks).

Every widget is built from the registry's :class:`~workbench.dashboards.registry.ParamSpec`,
so the notebook (ipywidgets) and the app show the same controls. Computations run in a
worker thread; sliders are debounced; a spinner appears after 0.3 s; an error is shown in
the page and the session stays usable. Only numbers and fixed choices cross from the page
to the server: there is no free-text input, and uploads are decoded in memory.

Uploads (:class:`WavUpload`) are size-checked in the browser before anything is sent: a file
over :data:`~workbench.dashboards.core.MAX_UPLOAD_BYTES` is refused there with a message in
the page (it would otherwise exceed the websocket's message limit and silently end the
session); the server checks the size again when the file arrives. Messages in the page never
show exception class names or object reprs: unexpected errors are logged on the server and
the page says so.
"""

from __future__ import annotations

import asyncio
import base64
import binascii

import panel as pn
import param
from panel.custom import JSComponent

from workbench.dashboards import compute, core
from workbench.dashboards.core import STIMULUS_CONTROLS, Debouncer, Explorer, StimulusSpec
from workbench.dashboards.registry import MODELS, ParamSpec, model_spec

# The process's slider threads (sized by `workbench serve --threads`); experiments never run
# here (they have their own worker processes), so a slider move never waits behind one.
EXECUTOR = compute.SERVICE.executor
PNG_DPI = 96


class WavUpload(JSComponent):
    """A WAV file picker that refuses files over ``max_bytes`` in the browser, before sending.

    ``value``: the accepted file's bytes as base64 text (set by the browser). A refused file
    sends only its size: ``rejected_bytes`` and an incremented ``n_rejected``; the browser
    shows its own message at once (``.upload-note``).
    """

    value = param.String(default="", doc="base64 contents of the last accepted file")
    max_bytes = param.Integer(default=core.MAX_UPLOAD_BYTES, bounds=(1, None))
    rejected_bytes = param.Integer(default=0, doc="size of the last refused file")
    n_rejected = param.Integer(default=0, doc="number of files refused in the browser")

    _esm = """
export function render({ model, el }) {
  const input = document.createElement("input");
  input.type = "file";
  input.accept = ".wav,audio/wav,audio/x-wav";
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
      model.value = String(reader.result).split(",")[1] || "";
      note.textContent = `Sent (${mb(file.size)}).`;
    };
    reader.onerror = () => { note.textContent = "The file could not be read."; };
    reader.readAsDataURL(file);
  });
  el.append(input, note);
}
"""
    _stylesheets = [".upload-note { font-size: 0.9em; margin-top: 4px; } "
                    ".upload-refused { color: #b00020; font-weight: 600; }"]


def panel_widget(p: ParamSpec):
    """A Panel widget for one parameter spec."""
    common = dict(label=p.label, css_classes=[f"param-{p.name}"])
    if p.kind == "float":
        return pn.widgets.FloatSlider(start=p.low, end=p.high, step=p.step, value=p.default, **common)
    if p.kind == "int":
        return pn.widgets.IntSlider(start=int(p.low), end=int(p.high), step=int(p.step or 1), value=p.default, **common)
    if p.kind == "choice":
        return pn.widgets.Select(options=list(p.options), value=p.default, **common)
    if p.kind == "bool":
        return pn.widgets.Checkbox(value=p.default, **common)
    raise ValueError(f"kind must be float/int/choice/bool, got {p.kind!r}")


class StageExplorer:
    """Stimulus designer + model picker + stage viewer + audio player for one session."""

    def __init__(self, model: str = "Dau1997", explorer: Explorer | None = None):
        self.explorer = explorer or Explorer()
        self.debouncer = Debouncer()
        self.stimulus_widgets = {p.name: panel_widget(p) for p in STIMULUS_CONTROLS}
        self.upload = WavUpload(css_classes=["wav-upload"])
        self.model_select = pn.widgets.Select(label="model", options=list(MODELS), value=model,
                                              css_classes=["model-select"])
        self.param_widgets: dict = {}
        self._stimulus_key = None
        self.param_box = pn.Column()
        self.stage_select = pn.widgets.Select(label="stage", css_classes=["stage-select"])
        self.about = pn.pane.Markdown("", css_classes=["stage-about"])
        # PNGs are rendered in the worker thread, so the event loop only ships bytes.
        self.plot = pn.pane.PNG(None, css_classes=["stage-plot"], sizing_mode="stretch_width", max_width=900)
        self.stimulus_plot = pn.pane.PNG(None, css_classes=["stimulus-plot"], sizing_mode="stretch_width",
                                         max_width=1000)
        self.readout = pn.pane.Markdown("", css_classes=["readout"])
        self.stimulus_readout = pn.pane.Markdown("", css_classes=["stimulus-readout"])
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["error-message"])
        self.spinner = pn.indicators.LoadingSpinner(value=True, visible=False, size=28)
        self.audio = pn.pane.Audio(None, name="stimulus", css_classes=["stimulus-audio"])
        for w in self.stimulus_widgets.values():
            w.param.watch(self._on_change, "value")
        self.upload.param.watch(self._on_upload, "value")
        self.upload.param.watch(self._on_refused, "n_rejected")
        self.model_select.param.watch(self._on_model, "value")
        self.stage_select.param.watch(self._on_change, "value")
        self._build_params(model)

    # ----------------------------------------------------------------------------- state
    def stimulus_spec(self) -> StimulusSpec:
        values = {k: w.value for k, w in self.stimulus_widgets.items()}
        return StimulusSpec(**values, upload_digest=self.explorer.upload_digest)

    def params(self) -> dict:
        return {k: w.value for k, w in self.param_widgets.items()}

    def _build_params(self, name: str):
        spec = model_spec(name)
        self.param_widgets = {p.name: panel_widget(p) for p in spec.params}
        for w in self.param_widgets.values():
            w.param.watch(self._on_change, "value")
        self.param_box[:] = list(self.param_widgets.values()) or [pn.pane.Markdown("*no parameters to set*")]
        options = core.stage_choices(self.explorer.model(name, self.params()).stage_info)
        self.stage_select.options = options
        self.stage_select.value = next(iter(options.values()))

    # ----------------------------------------------------------------------------- events
    async def _on_model(self, event):
        self._build_params(event.new)
        await self.refresh()

    async def _on_change(self, *events):
        await self.refresh()

    async def _on_upload(self, event):
        data = event.new
        if not data:
            return
        if isinstance(data, str):  # base64 from the browser; decoded here, in memory
            if len(data) > (core.MAX_UPLOAD_BYTES + 2) * 4 // 3 + 4:
                self._show_error(f"Upload rejected: the file is larger than {core.MAX_UPLOAD_BYTES / 1e6:g} MB")
                return
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                self._show_error("Upload rejected: the file did not arrive intact; please try again")
                return
        try:
            self.explorer.set_upload(data)
        except (ValueError, TypeError) as exc:
            self._show_error(f"Upload rejected: {exc}")
            return
        self.stimulus_widgets["kind"].value = "upload"  # triggers a refresh
        await self.refresh()

    def _on_refused(self, event):
        size = self.upload.rejected_bytes
        self._show_error(f"Upload rejected in the browser, nothing was sent: the file is {size / 1e6:.1f} MB; "
                         f"the limit is {core.MAX_UPLOAD_BYTES / 1e6:g} MB (about 10 s of audio)")

    def close(self):
        """The session ended: stop pending work and free the caches (models, stage outputs)."""
        self.debouncer.bump()
        self.explorer.close()

    def _show_error(self, message: str):
        self.error.object = message
        self.error.visible = True

    async def refresh(self, debounce: bool = True):
        """Recompute (debounced, in a worker thread) and redraw; errors go to the page."""
        if debounce:
            if not await self.debouncer.settled():
                return
        generation = self.debouncer.bump()
        name, stage_key = self.model_select.value, self.stage_select.value
        try:
            stim, params = self.stimulus_spec(), self.params()
            work = lambda: self.compute(name, stim, params, stage_key, generation)  # noqa: E731
            result, stage_png = await core.run_with_progress(work, self._busy, self._idle, executor=EXECUTOR)
        except core.Superseded:
            return
        except Exception as exc:  # shown in the page; the session keeps working
            if self.debouncer.is_latest(generation):
                self._show_error(core.user_message(exc))
            return
        if not self.debouncer.is_latest(generation):
            return
        self.error.visible = False
        self.plot.object = stage_png
        info = result.info[stage_key]
        self.about.object = f"**{info.label}** ({info.unit}): {info.about}"
        self.readout.object = core.format_readout(core.readout(result, stage_key))
        self.stimulus_readout.object = f"{stim.describe()} · model input at {result.fs:g} Hz"
        if self._stimulus_key != (stim, result.fs):  # the stimulus views follow after the stage plot
            loop = asyncio.get_running_loop()
            stim_png, wav = await loop.run_in_executor(EXECUTOR, self.stimulus_media, stim, result.fs)
            if self.debouncer.is_latest(generation):
                self._stimulus_key = (stim, result.fs)
                self.stimulus_plot.object = stim_png
                self.audio.sample_rate = int(result.fs)
                self.audio.object = wav

    def compute(self, name, stim, params, stage_key, generation=None):
        """Blocking part (worker thread): the model run (cached) and the stage plot as PNG.
        Stops early with :class:`core.Superseded` once a newer request exists."""
        from workbench.dashboards import figures

        stale = None if generation is None else (lambda: not self.debouncer.is_latest(generation))
        result = self.explorer.run(name, stim, params, is_stale=stale)
        if stale is not None and stale():
            raise core.Superseded()
        return result, figures.png_bytes(figures.stage_figure(result, stage_key), dpi=PNG_DPI)

    def stimulus_media(self, stim, fs):
        """Waveform/spectrum PNG and WAV bytes of the stimulus (worker thread)."""
        from workbench.dashboards import figures

        x = self.explorer.stimulus(stim, fs)
        return figures.png_bytes(figures.stimulus_figure(x, fs), dpi=PNG_DPI), core.wav_bytes(x.numpy(), fs)

    def _busy(self):
        self.spinner.visible = True
        self.plot.loading = True

    def _idle(self):
        self.spinner.visible = False
        self.plot.loading = False

    # ----------------------------------------------------------------------------- layout
    def stimulus_controls(self):
        return pn.Column("### Stimulus", *self.stimulus_widgets.values(),
                         pn.pane.Markdown("or upload a WAV (≤ 5 MB, ≤ 10 s):"), self.upload, self.audio,
                         width=300)

    def stimulus_view(self):
        return pn.Column(self.stimulus_readout, self.stimulus_plot, sizing_mode="stretch_width")

    def model_view(self):
        controls = pn.Column(self.model_select, self.param_box, self.stage_select, width=300)
        return pn.Row(controls, pn.Column(pn.Row(self.spinner, self.about), self.readout, self.plot,
                                          sizing_mode="stretch_width"), sizing_mode="stretch_width")


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


def start(explorer_view: StageExplorer):
    """Schedule the first computation once the page is loaded (server) or now (notebook)."""
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.onload(lambda: asyncio.ensure_future(explorer_view.refresh(debounce=False)))
    else:
        pn.state.execute(lambda: explorer_view.refresh(debounce=False))
