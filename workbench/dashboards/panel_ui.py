"""Panel front end of the dashboard components (used by :mod:`workbench.app` and notebooks).

Every widget is built from the registry's :class:`~workbench.dashboards.registry.ParamSpec`,
so the notebook (ipywidgets) and the app show the same controls. Computations run in a
worker thread; sliders are debounced; a spinner appears after 0.3 s; an error is shown in
the page and the session stays usable. Only numbers and fixed choices cross from the page
to the server: there is no free-text input, and uploads are decoded in memory.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import panel as pn

from workbench.dashboards import core
from workbench.dashboards.core import STIMULUS_CONTROLS, Debouncer, Explorer, StimulusSpec
from workbench.dashboards.registry import MODELS, ParamSpec, model_spec

# Shared worker threads (only the threads are shared: every session has its own Explorer).
EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="workbench-dash")
PNG_DPI = 96


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
        self.upload = pn.widgets.FileInput(accept=".wav", multiple=False, css_classes=["wav-upload"])
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
        try:
            self.explorer.set_upload(event.new)
        except (ValueError, TypeError) as exc:
            self._show_error(f"Upload rejected: {exc}")
            return
        self.stimulus_widgets["kind"].value = "upload"  # triggers a refresh
        await self.refresh()

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
                self._show_error(f"{type(exc).__name__}: {exc}")
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
