"""Dashboard component logic without a browser: registry, stimuli, uploads, caching, readouts,
debounce, delayed progress, the Panel session object and the ``serve`` command line."""

import asyncio
import base64
import io
import time
import wave
from dataclasses import replace

import numpy as np
import pytest
import torch

from workbench.dashboards import core, registry
from workbench.dashboards.core import Explorer, StimulusSpec
from workbench.dashboards.registry import MODELS, ModelSpec, ParamSpec
from workbench.models.base import AuditoryModel, StageInfo
from workbench.units import to_model_input


class FakeModel(AuditoryModel):
    """Tiny stand-in model on the model contract: 'filterbank' = the input times channel gains,
    'ihc' = its square, output their channel sum; input in AMT full scale."""

    calls = 0
    input_unit, dboffset = "amt", 100.0

    def __init__(self, fs, gain=1.0, return_stages=False):
        super().__init__()
        self.fs, self.gain, self.return_stages, self.dtype = fs, gain, return_stages, torch.float32
        self.center_freqs_hz = torch.tensor([500.0, 1000.0, 2000.0])

    @property
    def stage_info(self):
        return {
            "filterbank": StageInfo("filterbank", "a.u.", "BCT", self.fs),
            "ihc": StageInfo("ihc", "a.u.", "BCT", self.fs),
            "output": StageInfo("output", "a.u.", "BK", self.fs),
        }

    def _run(self, x):
        FakeModel.calls += 1
        if x.abs().max() > 1.0:
            raise ValueError("input too loud for the fake model")
        if x.abs().max() < 1e-4:
            raise RuntimeError("an internal failure deep inside the model")
        fb = x[:, None, :] * self.gain * torch.tensor([0.5, 1.0, 0.25])[None, :, None]
        return fb.sum(1), {"filterbank": fb, "ihc": fb**2}


FAKE = ModelSpec(
    "FakeModel", __name__, 8000, params=(ParamSpec("gain", "gain", "float", 1.0, 0.1, 10.0, 0.1),), about="test model"
)


@pytest.fixture
def fake(monkeypatch):
    from workbench.dashboards import compute

    monkeypatch.setitem(MODELS, "FakeModel", FAKE)
    compute.SERVICE.cache.clear()  # the shared cache outlives sessions: start each test empty
    FakeModel.calls = 0
    return FAKE


def run(coro):
    """asyncio.run in a fresh thread (a browser test may keep a loop running in this one)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def wav_bytes_int16(samples, fs=16000, channels=1):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(fs)
        w.writeframes((np.asarray(samples) * 20000).astype("<i2").tobytes())
    return buf.getvalue()


# ------------------------------------------------------------------------------- registry
def test_registry_describes_six_models():
    assert set(MODELS) == {"Dau1997", "Osses2021", "King2019", "Paulick2024", "Glasberg2002", "Moore2016"}
    for name, spec in MODELS.items():
        kwargs = spec.constructor_kwargs()
        assert kwargs["fs"] == spec.fs
        model = registry.model_class(name)(**kwargs)
        assert model.input_unit in ("pa", "amt") and list(model.stage_info)[-1] == "output"
    assert MODELS["Dau1997"].constructor_kwargs({"limit": 5})["adaptation_kwargs"] == {"limit": 5.0}


def test_registry_rejects_bad_parameters():
    spec = MODELS["King2019"]
    with pytest.raises(ValueError, match="compression_n"):
        spec.constructor_kwargs({"compression_n": 5.0})
    with pytest.raises(ValueError, match="compression_type"):
        spec.constructor_kwargs({"compression_type": "os.system('x')"})
    with pytest.raises(ValueError, match="unknown parameter"):
        spec.constructor_kwargs({"__class__": 1})
    with pytest.raises(ValueError, match="model must be one of"):
        registry.model_spec("NoSuchModel")


def test_a_broken_model_shows_its_own_error(monkeypatch):
    monkeypatch.setitem(MODELS, "Ghost", ModelSpec("Ghost", "workbench.models.ghost_not_there", 8000, (), ""))
    with pytest.raises(ImportError, match="ghost_not_there"):
        Explorer().run("Ghost", StimulusSpec(duration_s=0.05))


# ------------------------------------------------------------------------------- stimuli
@pytest.mark.parametrize("kind", [k for k in core.STIMULUS_KINDS if k != "upload"])
def test_stimulus_kinds_have_their_level(kind):
    spec = StimulusSpec(kind=kind, level_db_spl=70.0, duration_s=0.2, notch_width_hz=400.0)
    x = core.make_stimulus(spec, 32000)
    assert x.shape == (6400,) and x.dtype == torch.float64 and torch.isfinite(x).all()
    steady = x[800:-800]
    if kind == "clicks":  # peak-equivalent SPL: the peak of a 70 dB SPL sine
        assert float(x.abs().max()) == pytest.approx(np.sqrt(2) * 20e-6 * 10 ** (70 / 20), rel=1e-9)
        return
    level = 20 * torch.log10(steady.pow(2).mean().sqrt() / 20e-6)
    # tone in noise: the tone 20 dB above the noise spectrum level, i.e. 70 - 10 log10(9580 Hz) + 20 dB SPL
    tone_db = 70 - 10 * np.log10(9980 - 400) + 20
    expected = 10 * np.log10(10**7 + 10 ** (tone_db / 10)) if kind == "tone_in_noise" else 70.0
    assert abs(float(level) - expected) < 1.0, (kind, float(level))
    assert spec.describe()


def test_one_snr_definition_tone_re_noise_spectrum_level():
    """The explorer's tone in noise uses the Experiments tab's definition: tone level re N0."""
    from workbench.psychophysics import experiments

    spec = StimulusSpec(kind="tone_in_noise", level_db_spl=70.0, snr_db=18.0, duration_s=0.3)
    mixture = core.make_stimulus(spec, 44100)
    masker = core.make_stimulus(replace(spec, kind="notched_noise"), 44100)  # the same noise token
    tone = mixture - masker
    n0 = 70.0 - 10 * np.log10(core.MASKER_BAND_HZ[1] - core.MASKER_BAND_HZ[0])
    tone_db = float(20 * torch.log10(tone[2000:-2000].pow(2).mean().sqrt() / 20e-6))
    assert tone_db - n0 == pytest.approx(18.0, abs=0.05)
    assert "18 dB re N0" in spec.describe() and "spectrum level N0" in spec.describe()
    experiment = experiments.make_experiment("tone_in_noise")
    assert experiment.unit == "dB re noise spectrum level"  # what the Experiments tab tracks
    assert "spectrum level" in core.SNR_DEFINITION and "Experiments" in core.SNR_DEFINITION
    with pytest.raises(ValueError, match="notch_width_hz"):
        core.make_stimulus(replace(spec, notch_width_hz=4000.0, frequency_hz=500.0), 44100)


def test_unused_settings_do_not_recompute(fake):
    e = Explorer()
    tone = StimulusSpec(duration_s=0.05)
    first = e.run("FakeModel", tone)
    for name, value in (("mod_rate_hz", 30.0), ("snr_db", 5.0), ("f0_hz", 300.0), ("ears", "left")):
        again = e.run("FakeModel", replace(tone, **{name: value}))  # a tone has no modulation, SNR, f0; mono model
        assert again.cached, name
    assert FakeModel.calls == 1 and first.stimulus == tone.canonical(binaural=False)
    assert not e.run("FakeModel", replace(tone, frequency_hz=2000.0)).cached
    assert StimulusSpec.applies("tone_in_noise") == (
        "level_db_spl",
        "ears",
        "duration_s",
        "frequency_hz",
        "notch_width_hz",
        "snr_db",
    )
    assert "duration_s" not in StimulusSpec.applies("upload")


def test_stimulus_spec_validation():
    with pytest.raises(ValueError, match="kind"):
        StimulusSpec(kind="../../etc/passwd").validated()
    with pytest.raises(ValueError, match="level_db_spl"):
        StimulusSpec(level_db_spl=300).validated()
    with pytest.raises(ValueError, match="no WAV file uploaded"):
        core.make_stimulus(StimulusSpec(kind="upload"), 16000)
    assert "1000 Hz tone" in StimulusSpec().describe()


def test_model_input_calibration_and_ears():
    from workbench import Dau1997, Moore2016

    x = torch.ones(1, 10, dtype=torch.float64)
    full = to_model_input(x, Dau1997(16000, fhigh=4000))
    assert full.shape == (1, 10) and torch.allclose(full, torch.full((1, 10), 0.5, dtype=torch.float64), rtol=1e-4)
    left = to_model_input(x, Moore2016(), "left")  # rms 1 = 100 dB SPL = 2 Pa (1.9999 up to 20 uPa)
    assert left.shape == (1, 2, 10) and left[0, 0].sum() == 10 and left[0, 1].sum() == 0
    with pytest.raises(ValueError, match="ears"):
        to_model_input(x, Moore2016(), "both")


# ------------------------------------------------------------------------------- uploads
def test_decode_wav_accepts_a_small_wav_and_rejects_others():
    t = np.arange(1600) / 16000
    samples, fs = core.decode_wav(wav_bytes_int16(np.sin(2 * np.pi * 440 * t)))
    assert fs == 16000 and samples.shape == (1600,)
    with pytest.raises(ValueError, match="not a WAV"):
        core.decode_wav(b"print('hello')" * 10)
    with pytest.raises(ValueError, match="limit is"):
        core.decode_wav(b"RIFF" + b"\0" * 100, max_bytes=50)
    with pytest.raises(ValueError, match="long"):
        core.decode_wav(wav_bytes_int16(np.zeros(16000) + 0.1), max_seconds=0.5)
    with pytest.raises(ValueError, match="silent"):
        core.decode_wav(wav_bytes_int16(np.zeros(1600)))
    with pytest.raises(ValueError, match="decode"):
        core.decode_wav(b"RIFF\x10\0\0\0WAVE" + b"junk" * 20)


def test_uploaded_sound_is_resampled_and_set_to_level():
    e = Explorer()
    t = np.arange(8000) / 16000
    digest = e.set_upload(wav_bytes_int16(0.5 * np.sin(2 * np.pi * 300 * t)))
    x = e.stimulus(StimulusSpec(kind="upload", level_db_spl=50, upload_digest=digest), 32000)
    assert x.shape == (16000,)
    assert abs(float(20 * torch.log10(x.pow(2).mean().sqrt() / 20e-6)) - 50) < 0.01


def test_wav_bytes_plays_back():
    data = core.wav_bytes(np.stack([np.ones(100), -np.ones(100)]), 8000)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 100)


# ------------------------------------------------------------------------------- explorer
def test_explorer_caches_runs_and_recomputes_only_on_change(fake):
    e = Explorer()
    stim = StimulusSpec(duration_s=0.05, level_db_spl=60)
    r1 = e.run("FakeModel", stim, {"gain": 2.0})
    assert not r1.cached and FakeModel.calls == 1
    assert set(r1.stages) == {"filterbank", "ihc", "output"} and r1.stages["filterbank"].shape == (3, 400)
    r2 = e.run("FakeModel", stim, {"gain": 2.0})  # same settings: from the cache
    assert r2.cached and FakeModel.calls == 1
    e.run("FakeModel", stim, {"gain": 3.0})
    assert FakeModel.calls == 2
    assert e.stimulus(stim, 8000) is e.stimulus(stim, 8000)  # made once, then from the cache


def test_readout_changes_with_the_stimulus(fake):
    e = Explorer()
    low = core.readout(e.run("FakeModel", StimulusSpec(duration_s=0.05, level_db_spl=40)), "filterbank")
    high = core.readout(e.run("FakeModel", StimulusSpec(duration_s=0.05, level_db_spl=60)), "filterbank")
    assert abs(high["stimulus level (dB SPL)"] - low["stimulus level (dB SPL)"] - 20) < 0.01
    assert high["filterbank: rms (a.u.)"] == pytest.approx(10 * low["filterbank: rms (a.u.)"], rel=1e-6)
    assert high["most active channel"] == "1000 Hz"
    text = core.format_readout(high)
    assert "**1000 Hz**" in text and "compute time (ms)" in text


def test_sessions_share_computations_by_content_but_not_state(fake):
    a, b = Explorer(), Explorer()
    a.set_upload(wav_bytes_int16(np.sin(np.arange(1600) / 3)))
    assert a.upload_digest and not b.upload_digest
    first = a.run("FakeModel", StimulusSpec(duration_s=0.05))
    assert not first.cached and FakeModel.calls == 1
    assert a.run("FakeModel", StimulusSpec(duration_s=0.05)).cached
    # the same computation asked for by another session: a hit in the shared cache, same arrays
    other = b.run("FakeModel", StimulusSpec(duration_s=0.05))
    assert other.cached and FakeModel.calls == 1 and other.stages["ihc"] is first.stages["ihc"]
    # but b never sees a's upload
    a.run("FakeModel", StimulusSpec(kind="upload", duration_s=0.05, level_db_spl=50))
    with pytest.raises(ValueError, match="no WAV file uploaded yet"):
        b.run("FakeModel", StimulusSpec(kind="upload", duration_s=0.05, level_db_spl=50))


def test_debouncer_keeps_only_the_last_call():
    d = core.Debouncer(0.05)

    async def burst():
        return await asyncio.gather(*(d.settled() for _ in range(5)))

    assert run(burst()) == [True] + [False] * 3 + [True]  # the first at once, the last after the quiet
    time.sleep(0.06)
    assert run(d.settled())  # after a quiet spell: at once


@pytest.mark.parametrize("work_s, shown", [(0.0, False), (0.5, True)])
def test_progress_shown_only_for_slow_work(work_s, shown):
    events = []
    result = run(
        core.run_with_progress(
            lambda: time.sleep(work_s) or 42, lambda: events.append("show"), lambda: events.append("hide"), delay_s=0.25
        )
    )
    assert result == 42
    assert events == (["show", "hide"] if shown else [])


# ------------------------------------------------------------------------------- Panel session
def test_panel_explorer_updates_and_survives_errors(fake):
    pytest.importorskip("panel")
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="FakeModel")
    run(view.refresh(debounce=False))
    assert not view.error.visible and "filterbank" in view.readout.object
    first = view.readout.object
    view.stimulus_widgets["level_db_spl"].value = 100.0  # 100 dB SPL = rms 1, peak 1.41: the model raises
    run(view.refresh(debounce=False))
    assert view.error.visible and "too loud" in view.error.object
    view.stimulus_widgets["level_db_spl"].value = 50.0  # the session still works
    run(view.refresh(debounce=False))
    assert not view.error.visible and view.readout.object != first
    assert base64.b64decode(view.player.a_src.split(",", 1)[1])[:4] == b"RIFF"
    assert view.player.a_label == "A: " + view.stimulus_spec().describe() and view.player.a_duration_s == 0.5
    view.stimulus_widgets["level_db_spl"].value = 0.0  # an internal error: a plain sentence, no class name
    run(view.refresh(debounce=False))
    assert view.error.visible and "failed unexpectedly" in view.error.object
    assert "RuntimeError" not in view.error.object and "internal failure" not in view.error.object


def test_panel_explorer_rejects_bad_upload(fake):
    pytest.importorskip("panel")
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="FakeModel")
    run(view.load_upload(b"#!/bin/sh\nrm -rf /\n" * 5))
    assert view.error.visible and "Upload rejected" in view.error.object
    assert view.explorer.upload_digest == ""
    # a RIFF header and garbage, as the browser sends it (base64): a clean message, no object repr
    garbage = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8).decode()
    run(view.load_upload(garbage))
    message = view.error.object
    assert message.startswith("Upload rejected: could not decode the WAV file"), message
    assert " at 0x" not in message and "<" not in message and "Error:" not in message and "BytesIO" not in message
    run(view.load_upload("not base64 !!"))
    assert "did not arrive intact" in view.error.object
    view.upload.rejected_bytes, view.upload.n_rejected = 16_000_000, 1  # what the browser sends for a big file
    assert "nothing was sent: the file is 16.0 MB; the limit is 5 MB" in view.error.object
    good = base64.b64encode(wav_bytes_int16(0.3 * np.sin(np.arange(1600) / 3))).decode()
    run(view.load_upload(good))
    assert view.explorer.upload_digest and view.stimulus_widgets["kind"].value == "upload"


def test_explorer_close_frees_the_session(fake):
    e = Explorer()
    e.set_upload(wav_bytes_int16(np.sin(np.arange(1600) / 3)))
    e.close()
    assert e.closed and e.upload_info == {}
    with pytest.raises(ValueError, match="no WAV file uploaded"):  # the samples are gone
        e.stimulus(StimulusSpec(kind="upload"), 8000)
    with pytest.raises(core.Superseded):
        e.run("FakeModel", StimulusSpec(duration_s=0.05))


def test_stage_picker_follows_the_model_contract():
    pytest.importorskip("panel")
    from workbench.dashboards.panel_ui import StageExplorer

    view = StageExplorer(model="Moore2016")
    keys = list(view.stage_select.options.values())
    assert keys[0] == "filtered_left" and keys[-1] == "output" and "freqs_left" not in keys  # a coordinate stage


def test_experiments_tab_defaults_to_the_casp_observer():
    pytest.importorskip("panel")
    from workbench.dashboards.experiments_ui import ExperimentPanel

    panel = ExperimentPanel()
    assert panel.view() is not None and panel.controls["observer"].value == "paulick2024"


# ------------------------------------------------------------------------------- serve
def test_serve_binds_localhost_by_default():
    from workbench.cli import serve_command

    settings = serve_command(port=5099, dry_run=True)
    assert settings["address"] == "127.0.0.1" and settings["port"] == 5099
    assert settings["allowed_hosts"] == ["127.0.0.1:5099", "localhost:5099"]
    custom = serve_command(
        port=8000, address="0.0.0.0", allow_websocket_origin=["class.example.org", "10.0.0.5:9000"], dry_run=True
    )
    assert custom["allowed_hosts"] == ["127.0.0.1:8000", "localhost:8000", "class.example.org:8000", "10.0.0.5:9000"]
    assert serve_command(port=8000, address="192.168.1.20", dry_run=True)["allowed_hosts"][-1] == "192.168.1.20:8000"
    with pytest.raises(SystemExit):
        serve_command(port=0, dry_run=True)
    with pytest.raises(SystemExit):
        serve_command(session_lifetime_s=float("nan"), dry_run=True)


@pytest.mark.parametrize(
    "host, ok",
    [
        ("127.0.0.1:5099", True),
        ("localhost:5099", True),
        ("LOCALHOST:5099", True),
        ("class.example.org:5099", True),
        ("evil.example:5099", False),
        ("127.0.0.1:5100", False),
        ("127.0.0.1", False),
        ("", False),
        (None, False),
        ("127.0.0.1.evil.example:5099", False),
        ("[::1]:5099", False),
        ("localhost:5099@evil.example", False),
    ],
)
def test_host_header_allowlist(host, ok):
    from workbench.app import allowed_hosts, host_allowed

    allowed = allowed_hosts(5099, "127.0.0.1", ["class.example.org"])
    assert host_allowed(host, allowed) is ok
    assert host_allowed("[::1]:5099", allowed_hosts(5099, "::1"))
    assert host_allowed("anything:1", allowed_hosts(5099, extra=["*"]))


# ------------------------------------------------------------------------------- real models
def test_paulick2024_outer_ear_is_stapes_velocity():
    from workbench import Paulick2024

    info = Paulick2024(44100, n_channels=5).stage_info["outerear"]
    assert (info.label, info.unit) == ("stapes velocity", "m/s")
    bare = Paulick2024(44100, n_channels=5, use_outerear=False).stage_info["outerear"]
    assert bare.unit == "Pa" and "no outer/middle ear" in bare.label


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_every_stage_is_drawn(name):
    from workbench.dashboards import figures

    e = Explorer()
    result = e.run(name, StimulusSpec(duration_s=0.1, level_db_spl=60))
    for key in core.stage_choices(result.info).values():
        values = core.readout(result, key)
        for stage in core.view_keys(key):  # one stage, or both ears' stages of one quantity
            info = result.info[stage]
            assert np.isfinite(values[f"{info.label}: max ({info.unit})"]), key
        fig = figures.stage_figure(result, key)
        assert len(figures.png_bytes(fig, dpi=30)) > 1000
        # labels and units from the model contract: the stage's label as title, its unit on an axis
        # or the colour bar, no internal key names; levels summarised without an rms of dB values
        view = figures.stage_view(result, key)
        stages = core.view_keys(key)
        info = result.info[stages[0]]
        title = info.label if len(stages) == 1 else f"{info.quantity} (both ears)"
        assert view.title.lower().startswith(title.lower()) and "'" not in view.title, (key, view.title)
        shown_unit = info.unit.replace("Pa^2", "dB re (20 µPa)²")
        assert shown_unit in view.ylabel.replace("\n", " ") + view.value_label or info.axes.endswith("MT"), key
        assert not any(k.endswith(f"rms ({info.unit})") for k in values if info.unit.startswith("dB")), key
        if info.axes.lstrip("B") == "T":  # time re the stimulus onset (Moore2016's FIR output starts 32 ms early)
            assert view.x[0] == pytest.approx(info.start_s)
    for key, info in result.info.items():
        assert info.about and info.label and info.unit, key
        assert "sone/ERB" not in info.unit and (info.unit != "sone/Cam" or "specific loudness" in info.label)
    ears = {i.start_s for i in result.info.values()}
    assert ears <= {0.0, -0.032}  # the loudness models' ear filter keeps its 32 ms delay on the time axis


@pytest.mark.parametrize("name", [n for n, s in registry.MODELS.items() if s.chain])
def test_stage_chain_matches_forward_and_recomputes_only_downstream(name):
    spec = registry.model_spec(name)
    keys = [key for key, _ in spec.chain]
    e = Explorer()
    stim = StimulusSpec(duration_s=0.05)
    result = e.run(name, stim)
    assert result.recomputed == tuple(keys)
    model = e.model(name, spec.defaults())
    assert keys == list(model.stage_info)
    with torch.no_grad():
        output, stages = model(to_model_input(e.stimulus(stim, spec.fs)[None], model))
    for key in stages:
        np.testing.assert_array_equal(result.stages[key], stages[key][0].numpy())
    np.testing.assert_array_equal(result.stages["output"], model.output_stage(output)[0].double().numpy())
    late = [p for p in spec.params if p.stage and p.stage != keys[0]]
    for p in late:  # a late parameter reuses every stage before the one it acts at
        value = p.high if p.kind in ("float", "int") else p.options[-1]
        again = e.run(name, stim, {p.name: value})
        assert again.recomputed == tuple(keys[keys.index(p.stage) :])


# ------------------------------------------------------------------------------- experiments
QUICK = {"n_final_reversals": 4, "n_threshold_reversals": 4, "step_sizes": (4.0, 2.0)}


def test_experiment_task_runs_staircases_and_fits():
    from workbench.dashboards import experiments_ui as ex

    r = ex.run_task("discrimination: level of a 1 kHz tone", "level", 60.0, n_runs=1, seed=1, procedure=QUICK)
    assert r.summary["n_runs"] == 1 and r.n_trials.sum() == len(r.result.staircase.values[0])
    assert np.all((r.proportion_correct >= 0) & (r.proportion_correct <= 1))
    track, psy = ex.task_figures(r)
    assert track.axes and psy.axes
    assert "threshold" in ex.summary_text(r)
    with pytest.raises(ValueError, match="task must be one of"):
        ex.run_task("rm -rf", "level", 60.0)
    with pytest.raises(ValueError, match="level_db_spl"):
        ex.run_task("discrimination: level of a 1 kHz tone", "level", 1000.0)


def test_experiment_panel_runs_and_reports_errors():
    from workbench.dashboards.experiments_ui import ExperimentPanel
    from workbench.dashboards.workers import InlinePool

    view = ExperimentPanel(pool=InlinePool(), procedure=QUICK)
    view.view()
    view.controls["observer"].value = "level"
    view.controls["n_runs"].value = 1
    view.condition.value = 200.0  # beyond the widget's range on purpose: a message, not a crash
    run(view.run())
    assert view.message.visible and "level_db_spl" in view.message.object
    view.condition.value = 60.0
    run(view.run())
    assert not view.message.visible and "threshold" in view.summary.object
    assert view.track.object[:4] == b"\x89PNG" and not view.run_button.disabled and not view.cancel_button.visible
    assert "Finished" in view.progress_text.object
    # the run's results download as CSV: every trial of every run, after the summary
    assert view.download.visible
    data = view.download.callback().getvalue().decode()  # what the download button sends
    lines = data.splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    outcome = view.history[-1]
    assert lines[header].startswith("run,trial,") and "observer: level" in data and "seed:" in data
    assert len(lines) - header - 1 == sum(len(r["values"]) for r in outcome.runs) > 0
    assert view.download.filename.endswith("_trials.csv")


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_every_parameter_widget_value_builds_the_model(name):
    cls = registry.model_class(name)
    spec = registry.model_spec(name)
    for p in spec.params:
        values = p.options if p.kind == "choice" else (True, False) if p.kind == "bool" else (p.low, p.high)
        for value in values:
            cls(**spec.constructor_kwargs({p.name: value}), return_stages=True)
