"""What a teacher and students see in the model explorer, without a browser: calibrated
playback, labels and units from the model contract, downloads of the right type, A/B
comparison, disabled settings, uploads (stereo kept, rejections consistent), the Bokeh plots."""

import base64
import io
import json
import math
import re
import wave

import numpy as np
import pytest
import torch

from tests.test_dashboards import FAKE, FakeModel, run, wav_bytes_int16
from workbench import stimuli
from workbench.dashboards import core, downloads, figures
from workbench.dashboards.core import Explorer, StimulusSpec
from workbench.dashboards.registry import MODELS

pn = pytest.importorskip("panel")


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setitem(MODELS, "FakeModel", FAKE)
    FakeModel.calls = 0
    return FAKE


def _pcm(wav_bytes):
    with wave.open(io.BytesIO(wav_bytes)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels()) / 32767.0


def _db(x):
    return 20 * math.log10(float(np.sqrt(np.mean(np.square(x)))))


# --------------------------------------------------------------------------- calibrated sound
def test_playback_keeps_levels_at_the_stated_calibration():
    quiet, loud = (stimuli.tone(1000, 0.5, 32000, level, ramp_s=0, dtype=torch.float64) for level in (79, 89))
    a, b = core.playback(quiet.numpy(), 32000), core.playback(loud.numpy(), 32000)
    assert a.wav != b.wav  # (they were byte-identical when playback was normalised to one peak)
    assert _db(_pcm(b.wav)) - _db(_pcm(a.wav)) == pytest.approx(10.0, abs=0.01)
    assert _db(_pcm(a.wav)) == pytest.approx(79 - core.PLAYBACK_DBOFFSET, abs=0.01)  # rms 1 = 100 dB SPL
    assert a.level_db_spl == pytest.approx(79, abs=0.01) and a.duration_s == 0.5 and not a.clipped
    assert a.warning() == "" and "100 dB SPL" in core.PLAYBACK_NOTE
    # a sine clips above 97 dB SPL; noise (crest factor ~4) well before: stated with the clean limit
    assert not core.playback(stimuli.tone(1000, 0.1, 32000, 96.9, ramp_s=0).numpy(), 32000).clipped
    noise = core.playback(stimuli.noise(0.5, 32000, 95, seed=1).numpy(), 32000)
    assert noise.clipped and noise.peak_db_fs > 0
    assert re.search(r"plays cleanly up to about \d+ dB SPL", noise.warning())
    assert noise.clean_up_to_db_spl == pytest.approx(95 - noise.peak_db_fs, abs=0.2)  # (ramps: rms 0.1 dB down)
    assert np.abs(_pcm(noise.wav)).max() <= 32768 / 32767  # clipped, never wrapped around
    stereo = core.playback(np.stack([quiet.numpy(), 0.5 * quiet.numpy()]), 32000)
    left, right = _pcm(stereo.wav).T
    assert _db(left) - _db(right) == pytest.approx(6.02, abs=0.01)  # the ILD is played


def test_players_show_label_duration_and_b(fake):
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="FakeModel")
    view.stimulus_widgets["duration_s"].value = 0.3
    run(view.refresh(debounce=False))
    assert view.player.a_label == "A: 1000 Hz tone, 60 dB SPL, 300 ms" and view.player.a_duration_s == 0.3
    assert view.player.b_src == "" and not view.clip_warning.visible
    view.keep_b.clicks += 1  # "Keep A as B": B is this tone; compare A with B
    assert view.spec_b == view.stimulus_spec().canonical() and view.compare_select.value == "stimulus"
    view.stimulus_widgets["level_db_spl"].value = 70.0
    run(view.refresh(debounce=False))
    a = _pcm(base64.b64decode(view.player.a_src.split(",")[1]))
    b = _pcm(base64.b64decode(view.player.b_src.split(",")[1]))
    assert _db(a) - _db(b) == pytest.approx(10.0, abs=0.01)
    assert view.player.b_label.startswith("B: 1000 Hz tone, 60 dB SPL")
    assert view.compare_plot.object is not None and view.compare_readout.object.startswith("**B**")
    # on one colour scale, so the 10 dB difference shows
    images = [fig.renderers[0].glyph.color_mapper for fig in (view.plot.object, view.compare_plot.object)]
    assert (images[0].low, images[0].high) == (images[1].low, images[1].high)


# --------------------------------------------------------------------------- settings that do not apply
def test_settings_a_kind_does_not_use_are_disabled_and_do_not_refresh(fake, monkeypatch):
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="FakeModel")
    widgets = view.stimulus_widgets
    assert not widgets["frequency_hz"].disabled and widgets["mod_rate_hz"].disabled
    assert widgets["ears"].disabled  # a monaural model
    scheduled = []
    monkeypatch.setattr(view, "refresh", lambda debounce=True: scheduled.append(debounce))
    widgets["mod_rate_hz"].value = 40.0
    widgets["snr_db"].value = 3.0
    assert scheduled == []  # disabled: nothing recomputed
    widgets["kind"].value = "sam_noise"
    assert scheduled == [True] and not widgets["mod_rate_hz"].disabled and widgets["frequency_hz"].disabled
    controls = view.stimulus_controls()
    unused = next(card for card in controls.select(pn.Card) if "unused-settings" in card.css_classes)
    assert widgets["frequency_hz"] in unused and widgets["mod_rate_hz"] not in unused
    assert widgets["mod_rate_hz"] in controls.select(pn.widgets.Widget)  # shown with the settings in use
    assert "not used by this stimulus (AM noise" in unused.title
    binaural = StageExplorer(model="Moore2016")
    assert not binaural.stimulus_widgets["ears"].disabled
    assert widgets["snr_db"].description == core.SNR_DEFINITION


def test_every_library_stimulus_kind_is_offered():
    from workbench.dashboards.panel_ui import panel_widget

    kinds = {
        "tone",
        "sam_tone",
        "fm_tone",
        "harmonic_complex",
        "clicks",
        "noise",
        "band_noise",
        "notched_noise",
        "sam_noise",
        "tone_in_noise",
        "upload",
    }
    assert set(core.STIMULUS_KINDS) == kinds
    select = panel_widget(core.STIMULUS_CONTROLS[0])
    assert select.options["notched noise"] == "notched_noise" and select.options["harmonic complex tone"]
    with pytest.raises(ValueError, match="n_harmonics x f0_hz"):
        core.make_stimulus(StimulusSpec(kind="harmonic_complex", f0_hz=1000, n_harmonics=40), 32000)
    with pytest.raises(ValueError, match="bandwidth_hz"):
        core.make_stimulus(StimulusSpec(kind="band_noise", frequency_hz=200, bandwidth_hz=1000), 32000)


# --------------------------------------------------------------------------- uploads
def test_stereo_upload_stays_stereo_for_a_binaural_model(monkeypatch):
    e = Explorer()
    t = np.arange(8000) / 16000
    tone = np.sin(2 * np.pi * 500 * t)
    left_right = np.stack([0.5 * tone, 0.25 * tone], 1).ravel()  # interleaved frames, right 6 dB down
    digest = e.set_upload(wav_bytes_int16(left_right, channels=2), name="duet.wav")
    assert e.upload_info == {"name": "duet.wav", "duration_s": 0.5, "channels": 2, "fs": 16000.0}
    x = e.stimulus(StimulusSpec(kind="upload", level_db_spl=60, upload_digest=digest), 32000)
    assert x.shape == (2, 16000)
    assert 20 * torch.log10(x[0].pow(2).mean().sqrt() / x[1].pow(2).mean().sqrt()) == pytest.approx(6.02, abs=0.05)
    assert 10 * torch.log10(x.pow(2).mean() / 20e-6**2) == pytest.approx(60.0, abs=0.01)  # both ears together
    seen = {}
    from workbench.models.moore2016 import Moore2016

    original = Moore2016.forward
    monkeypatch.setattr(
        Moore2016, "forward", lambda self, audio: seen.setdefault("x", audio) is None or original(self, audio)
    )
    result = e.run("Moore2016", StimulusSpec(kind="upload", level_db_spl=60, duration_s=0.1))
    assert seen["x"].shape == (1, 2, 16000) and not torch.equal(seen["x"][0, 0], seen["x"][0, 1])
    values = core.readout(result, "output")
    assert values["left / right ear (dB SPL)"] == "62.0 / 56.0"  # 60 dB SPL over both, 6 dB apart


def test_a_rejected_upload_keeps_the_previous_file_and_says_so(fake):
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="FakeModel")
    good = base64.b64encode(wav_bytes_int16(0.3 * np.sin(np.arange(8000) / 3))).decode()
    view.upload.filename = "<script>alert(1)</script>tone.wav"
    run(view.load_upload(good))
    digest, status = view.explorer.upload_digest, view.upload_status.object
    assert view.stimulus_widgets["kind"].value == "upload" and view.upload.status_ok
    assert "0.50 s, mono, 16 kHz" in status and "<script>" not in status and "tone.wav" in status
    view.upload.filename = "broken.wav"
    run(view.load_upload(base64.b64encode(b"RIFF1234WAVEjunk" * 8).decode()))
    assert view.explorer.upload_digest == digest and view.upload_status.object == status  # nothing changed
    assert not view.upload.status_ok and "not loaded" in view.upload.status
    assert "previous file" in view.upload.status and "tone.wav" in view.upload.status
    assert not re.search(r"0x[0-9a-f]+|[A-Z][a-z]+Error|Exception|<", view.upload.status)  # no reprs, no classes


# --------------------------------------------------------------------------- readout
def _result(stages, info, **kw):
    return core.RunResult(
        "X",
        {},
        StimulusSpec(),
        32000.0,
        stages,
        info,
        np.array([500.0, 1000.0]),
        None,
        0.01,
        input_pa=np.full(100, 0.02),
        **kw,
    )


def test_readout_numbers_fit_the_unit_and_say_what_was_computed():
    from workbench.models.base import StageInfo

    excitation = np.array([[40.0, 57.85], [-90.0, 50.0]])  # dB: an rms of these is meaningless
    info = {
        "excitation": StageInfo("excitation pattern", "dB SPL", "BKZ", 1000.0),
        "stl": StageInfo("short-term loudness", "sone", "BK", 1000.0),
        "output": StageInfo("long-term loudness", "sone", "BK", 1000.0),
    }
    stages = {"excitation": excitation, "stl": np.array([1.0, 3.0]), "output": np.array([0.5, 1.0])}
    first = core.readout(_result(stages, info, recomputed=("excitation", "stl", "output")), "excitation")
    assert first["excitation pattern: max (dB SPL)"] == 57.85
    power_mean = first["excitation pattern: power mean (dB SPL)"]
    assert power_mean <= 57.85 and power_mean == pytest.approx(10 * np.log10(np.mean(10 ** (excitation / 10))))
    assert not any("rms" in k for k in first) and first["excitation pattern: largest at"] == "1000 Hz"
    assert first["stages computed"] == "all"  # a first view never says "cached"
    loud = core.readout(_result(stages, info, cached=True), "stl")
    assert loud["short-term loudness: mean (sone)"] == 2.0
    assert loud["stages computed"].startswith("none: an earlier run with these settings was reused")


# --------------------------------------------------------------------------- labels from the contract
def test_stage_views_read_labels_and_units_from_the_contract(fake):
    result = Explorer().run("FakeModel", StimulusSpec(duration_s=0.05))
    view = figures.stage_view(result, "filterbank")
    assert view.title == "Filterbank" and "a.u." in view.value_label and view.ylabel.startswith("Frequency")
    fig = figures.stage_figure(result, "filterbank")
    assert fig.get_suptitle() == "FakeModel · 1000 Hz tone, 60 dB SPL, 50 ms"
    assert [a.get_title() for a in fig.axes if a.get_label() != "<colorbar>"] == ["Filterbank"]


# --------------------------------------------------------------------------- downloads
def test_downloads_are_files_of_their_type(fake):
    result = Explorer().run("FakeModel", StimulusSpec(duration_s=0.05))
    name, png = downloads.figure_file(result, "filterbank", "png")
    assert name == "FakeModel_filterbank_tone.png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    name, svg = downloads.figure_file(result, "ihc", "svg")
    assert name.endswith(".svg") and b"<svg" in svg[:500]
    name, npz = downloads.stage_npz(result, "filterbank")
    data = np.load(io.BytesIO(npz))
    assert np.array_equal(data["filterbank"], result.stages["filterbank"])
    assert data["filterbank__time_s"].shape == (400,) and data["center_freqs_hz"].tolist() == [500, 1000, 2000]
    about = json.loads(str(data["about"]))
    assert about["stages"]["filterbank"]["unit"] == "a.u." and about["model"] == "FakeModel"
    name, csv = downloads.stage_csv(result, "output")
    lines = csv.decode().splitlines()
    assert name.endswith(".csv") and lines[0] == "# Output" and lines[2].startswith("Time (s),")
    assert len(lines) == 3 + 400
    x = core.make_stimulus(StimulusSpec(level_db_spl=70, duration_s=0.2), 32000)
    name, wav = downloads.stimulus_wav(x.numpy(), 32000, StimulusSpec(level_db_spl=70))
    assert name == "tone_70dBSPL.wav" and wav[:4] == b"RIFF"
    with pytest.raises(ValueError, match="fmt"):
        downloads.figure_file(result, "filterbank", "gif")


def test_downloaded_wav_reads_back_at_its_level(tmp_path):
    x = stimuli.tone(500, 0.2, 32000, 103.0, ramp_s=0, dtype=torch.float64)  # above full scale: kept (float)
    _, data = downloads.stimulus_wav(x.numpy(), 32000)
    (tmp_path / "s.wav").write_bytes(data)
    back, fs = stimuli.load_wav(tmp_path / "s.wav", dtype=torch.float64)
    assert fs == 32000 and float(stimuli.level_db_spl(back)) == pytest.approx(103.0, abs=1e-3)


def test_experiment_results_download_as_csv():
    from workbench.dashboards import experiments_ui as ex

    quick = {"n_final_reversals": 4, "n_threshold_reversals": 4, "step_sizes": (4.0, 2.0)}
    r = ex.run_task("discrimination: level of a 1 kHz tone", "level", 60.0, n_runs=1, seed=1, procedure=quick)
    name, data = downloads.experiment_csv(r)
    lines = data.decode().splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    assert name.endswith("_trials.csv") and lines[header].startswith("run,trial,")
    assert len(lines) - header - 1 == len(r.result.staircase.values[0])


def test_downloads_in_the_panel_explorer(fake):
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="FakeModel")
    run(view.refresh(debounce=False))
    for fmt, head in (("png", b"\x89PNG"), ("npz", b"PK"), ("csv", b"# "), ("wav", b"RIFF"), ("svg", b"<?xml")):
        button = view.downloads[fmt]
        data = run(button.callback()).getvalue()
        assert data.startswith(head) and button.filename.endswith(f".{fmt}"), fmt


# --------------------------------------------------------------------------- interactive plots
def test_bokeh_plots_zoom_and_hover_in_units(fake):
    from bokeh.models import HoverTool

    from workbench.dashboards import bokeh_plots

    result = Explorer().run("FakeModel", StimulusSpec(duration_s=0.05))
    fig = bokeh_plots.bokeh_figure(figures.stage_view(result, "filterbank"))
    tools = {type(t).__name__ for t in fig.tools}
    assert {"BoxZoomTool", "WheelZoomTool", "PanTool", "ResetTool", "HoverTool"} <= tools
    (hover,) = [t for t in fig.tools if isinstance(t, HoverTool)]
    assert [name for name, _ in hover.tooltips] == ["Time", "Frequency", "value"]
    assert hover.formatters["@image"].args["unit"] == "a.u."
    assert hover.formatters["$y"].args["names"] == ["500 Hz", "1000 Hz", "2000 Hz"]  # the channel under the mouse
    long = np.sin(np.arange(200_000) / 3.0)
    view = figures.stimulus_views(long, 44100)[0]
    fig = bokeh_plots.bokeh_figure(view)
    assert len(fig.renderers[0].data_source.data["x"]) <= bokeh_plots.MAX_POINTS  # bounded, peaks kept
    assert np.max(fig.renderers[0].data_source.data["y"]) == pytest.approx(long.max())


def _drawn(fig):
    """What a stage figure shows: title, axis labels, fixed ranges, data, hover readouts."""
    from bokeh.models import ColumnDataSource, HoverTool, Range1d

    ranges = [(r.start, r.end) for r in (fig.x_range, fig.y_range) if isinstance(r, Range1d)]
    data = [
        {k: np.asarray(v[0] if k == "image" else v).tolist() for k, v in src.data.items()}
        for src in fig.select({"type": ColumnDataSource})
    ]
    (hover,) = fig.select({"type": HoverTool})
    formats = {k: (f.code, f.args) for k, f in hover.formatters.items()}
    return (fig.title.text, fig.xaxis.axis_label, fig.yaxis.axis_label, ranges, data, hover.tooltips, formats)


def test_bokeh_redraw_in_place_equals_a_new_figure(fake):
    """A slider move patches the figure (same models, new data and labels), and the result
    is what a new figure of the new view shows; another layout asks for a new figure."""
    from workbench.dashboards import bokeh_plots

    explorer = Explorer()
    run_a = explorer.run("FakeModel", StimulusSpec(duration_s=0.05, level_db_spl=60))
    run_b = explorer.run("FakeModel", StimulusSpec(duration_s=0.08, level_db_spl=75, frequency_hz=2000))
    for key in ("filterbank", "output"):
        view_a, view_b = figures.stage_view(run_a, key), figures.stage_view(run_b, key)
        fig = bokeh_plots.bokeh_figure(view_a)
        models = {m.id for m in fig.references()}
        assert bokeh_plots.redraw(fig, bokeh_plots.prepare(view_b))
        assert _drawn(fig) == _drawn(bokeh_plots.bokeh_figure(view_b))
        assert _drawn(fig) != _drawn(bokeh_plots.bokeh_figure(view_a))
        assert {m.id for m in fig.references() if type(m).__name__ not in ("CustomJSHover", "FixedTicker")} <= models
    image = bokeh_plots.bokeh_figure(figures.stage_view(run_a, "filterbank"))
    assert not bokeh_plots.redraw(image, bokeh_plots.prepare(figures.stage_view(run_a, "output")))
    assert not bokeh_plots.redraw(None, bokeh_plots.prepare(view_a))


def test_bokeh_legend_names_the_named_curves_only():
    """Curves without a name get no legend item: the items carry the named curves' names, in
    order, when drawn and when redrawn."""
    from workbench.dashboards import bokeh_plots
    from workbench.plots import PlotView

    def view(first, second):
        x = np.arange(4.0)
        return PlotView("lines", "t", "time (s)", "y", x, lines={"": x, first: 2 * x, second: 3 * x})

    fig = bokeh_plots.bokeh_figure(view("left", "right"))
    assert [item.label.value for item in fig.legend.items] == ["left", "right"]
    assert bokeh_plots.redraw(fig, bokeh_plots.prepare(view("top", "bottom")))
    assert [item.label.value for item in fig.legend.items] == ["top", "bottom"]


def test_model_descriptions_have_two_sentences_and_a_citation():
    for name, spec in MODELS.items():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", spec.about.strip()) if s]
        assert len(sentences) == 2, (name, spec.about)
        assert re.search(r"\((19|20)\d\d\)", spec.citation), name
