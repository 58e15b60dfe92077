"""Plots: every function renders (Agg) and its figure holds the right axes, labels and data."""

import importlib

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from workbench import plots  # noqa: E402
from workbench import stimuli as st  # noqa: E402
from workbench.models.base import AuditoryModel, StageInfo  # noqa: E402
from workbench.stages.decision import stack_representation  # noqa: E402
from workbench.units import cam_to_hz, to_model_input  # noqa: E402

FS = 8000.0
G = torch.Generator().manual_seed(0)


def meshes(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh)]


def main_axes(fig):
    """Axes that are neither colour bars nor secondary axes."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and type(ax).__name__ == "Axes"]


def render(fig):
    fig.canvas.draw()  # forces the whole figure through Agg
    return fig


# --------------------------------------------------------------------------- signals
def test_waveform_annotates_level_and_units():
    x = st.tone(1000, 0.1, FS, 60, ramp_s=0, dtype=torch.float64)
    fig = render(plots.plot_waveform(x, FS))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Pressure (Pa)"
    assert "60.00 dB SPL" in ax.texts[0].get_text()
    y = ax.lines[0].get_ydata()
    assert np.isclose(np.abs(y).max(), np.sqrt(2) * 0.02, rtol=1e-3)
    s = st.stereo(st.tone(500, 0.1, FS, 70, ramp_s=0), st.tone(500, 0.1, FS, 64, ramp_s=0)) / 2
    fig = render(plots.plot_waveform(s, FS, calibration="fullscale", dboffset=100))
    txt = fig.axes[0].texts[0].get_text()
    assert "left: 70.00 dB SPL" in txt and "right: 64.00 dB SPL" in txt and len(fig.axes[0].lines) == 2
    assert "full scale" in fig.axes[0].get_ylabel()


def test_spectrum_peak_reads_the_tone_level():
    x = st.tone(1000, 0.5, FS, 55, ramp_s=0, dtype=torch.float64)
    ax = render(plots.plot_spectrum(x, FS)).axes[0]
    f, lev = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    assert abs(f[np.argmax(lev)] - 1000) < 2 and abs(lev.max() - 55) < 0.05
    assert ax.get_xscale() == "log" and "dB SPL" in ax.get_ylabel() and ax.get_xlabel() == "Frequency (Hz)"


# --------------------------------------------------------------------------- auditory stages
def test_cochleagram_on_erb_axis_with_hz_labels():
    fc = cam_to_hz(np.linspace(3, 30, 20))
    data = torch.rand(2, 20, 800, generator=G)
    fig = render(plots.plot_cochleagram(data, FS, fc, value_label="IHC (a.u.)", batch_index=1))
    ax = main_axes(fig)[0]
    (mesh,) = meshes(ax)
    shown = mesh.get_array().reshape(20, 800)  # each channel averaged over 3 periods of its CF
    assert data[1].min() <= shown.min() and shown.max() <= data[1].max() and shown.std() < data[1].std() / 2
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "1k" in labels and "Hz" in ax.get_ylabel() and ax.get_xlabel() == "Time (s)"
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "IHC (a.u.), mean over 3 periods"  # colour bar
    raw = render(plots.plot_cochleagram(data, FS, None, batch_index=1))  # no CFs, short: drawn as they are
    assert np.allclose(meshes(main_axes(raw)[0])[0].get_array().reshape(20, 800), data[1].numpy())
    # long signed stage: block rms keeps the range and says so
    long = torch.randn(30, 44100, generator=G, dtype=torch.float64)
    fig = render(plots.plot_cochleagram(long, 44100, None))
    arr = meshes(main_axes(fig)[0])[0].get_array()
    assert arr.shape[-1] <= 1200 and abs(arr.mean() - 1.0) < 0.05
    assert "rms per" in fig.axes[1].get_ylabel() and main_axes(fig)[0].get_ylabel() == "Channel number"


def _amt_intrep(n_aud=6, t=500):
    """(B, C, M, T) with NaN for absent filters: fewer modulation filters in low channels, as
    AMT's list of (B, M_i, T) gives them (``model.output_stage``)."""
    rep, mask = stack_representation([torch.rand(1, 4 + (i > 2) * 2, t, generator=G) for i in range(n_aud)])
    return rep.masked_fill(~mask[..., None], float("nan"))


def test_modulation_channel_and_spectrum():
    intrep = _amt_intrep()
    mfc = [0, 5, 10, 16.7, 27.8, 46.3]
    fig = render(plots.plot_modulation_channel(intrep, 4, FS, mfc, center_freq_hz=1000))
    ax = main_axes(fig)[0]
    assert meshes(ax)[0].get_array().size == 6 * 500 and ax.get_ylabel() == "Modulation filter fc (Hz)"
    assert [t.get_text() for t in ax.get_yticklabels()][3] == "16.7" and "1000 Hz" in ax.get_title()
    fc = cam_to_hz(np.arange(10, 16))
    fig = render(plots.plot_modulation_spectrum(intrep, fc, mfc))
    arr = meshes(main_axes(fig)[0])[0].get_array()
    assert arr.shape == (6, 6) and np.ma.count_masked(arr) == 3 * 2  # absent filters are blank
    assert np.isclose(arr.max(), 0.0) and arr.min() >= -60
    ax = main_axes(render(plots.plot_modulation_spectrum(intrep, fc, torch.tensor(mfc))))[0]
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "46.3"
    king = torch.rand(1, 5, 4, 300, generator=G)  # (B, C, M, T), every filter present
    fig = render(plots.plot_modulation_spectrum(king))
    ax = main_axes(fig)[0]
    assert meshes(ax)[0].get_array().shape == (5, 4) and ax.get_ylabel() == "Auditory channel number"
    with pytest.raises(ValueError, match="channel"):
        plots.plot_modulation_channel(intrep, 9, FS)


def test_filter_responses_from_impulse_responses_and_callable():
    # two resonators at 500 and 2000 Hz (damped cosines): peaks must sit there
    t = np.arange(2048) / FS
    irs = np.stack([np.exp(-200 * t) * np.cos(2 * np.pi * f * t) for f in (500, 2000)])
    ax = render(plots.plot_filter_responses(irs, FS, [500, 2000])).axes[0]
    peaks = [line.get_xdata()[np.argmax(line.get_ydata())] for line in ax.lines[:2]]
    assert abs(peaks[0] - 500) < 10 and abs(peaks[1] - 2000) < 10
    assert ax.get_ylabel() == "Gain (dB)" and ax.get_xscale() == "log"
    bank = lambda x: torch.stack([x, 0.5 * x, 0.25 * x], dim=1)  # noqa: E731 - flat gains 0, -6, -12 dB
    ax = render(plots.plot_filter_responses(bank, FS, n_fft=256)).axes[0]
    assert len(ax.lines) == 3 and np.allclose([ln.get_ydata().mean() for ln in ax.lines], [0, -6.02, -12.04], atol=0.01)


# --------------------------------------------------------------------------- loudness
def test_excitation_pattern_and_loudness_over_time():
    erb = 1.75 + 0.25 * np.arange(150)
    exc = torch.tensor(60 - (erb - 15.6) ** 2 / 4).repeat(1, 20, 1)  # (B, frames, bands), peak at 1 kHz
    sl = torch.clamp(exc / 60, min=0)
    fig = render(plots.plot_excitation_pattern(exc, cam_to_hz(erb), sl))
    a, b = main_axes(fig)
    assert a.get_ylabel() == "Excitation level (dB SPL)" and b.get_ylabel() == "Specific loudness (sone/Cam)"
    x, y = a.lines[0].get_xdata(), a.lines[0].get_ydata()
    assert abs(x[np.argmax(y)] - 15.5) <= 0.25 and np.isclose(y.max(), exc.max().item(), atol=0.1)
    assert abs(cam_to_hz(x[np.argmax(y)]) - 1000) < 30
    assert a.get_xlabel() == "ERB number (Cams)"
    ax = render(plots.plot_loudness_over_time(torch.linspace(0, 4, 500), torch.linspace(0, 3, 500))).axes[0]
    assert len(ax.lines) == 2 and ax.get_ylabel() == "Loudness (sone)"
    assert np.isclose(ax.lines[0].get_xdata()[-1], 0.499) and np.isclose(ax.lines[1].get_ydata().max(), 3)


def _moore_stages(b=1, frames=40, t=1600):
    st_ = {}
    for side, gain in (("left", 1.0), ("right", 0.5)):
        st_[f"filtered_{side}"] = torch.randn(b, t, generator=G)
        st_[f"freqs_{side}"] = torch.rand(b, frames, 10, generator=G) * 16000
        st_[f"levels_{side}"] = torch.rand(b, frames, 10, generator=G) * 60
        for k in ("excitation", "inst_spec_loud", "stl_spec_loud"):
            st_[f"{k}_{side}"] = gain * torch.rand(b, frames, 150, generator=G)
        st_[f"stl_loud_{side}"] = gain * torch.linspace(0, 2, frames).repeat(b, 1)
        st_[f"ltl_loud_{side}"] = gain * torch.linspace(0, 1.5, frames).repeat(b, 1)
    return st_


def test_binaural_loudness_left_right():
    fig = render(plots.plot_binaural_loudness(_moore_stages()))
    axes = main_axes(fig)
    assert len(axes) == 3 and all(len(ax.lines) == 2 for ax in axes)
    stl = axes[1].lines
    assert np.isclose(stl[0].get_ydata().max(), 2) and np.isclose(stl[1].get_ydata().max(), 1)
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["left", "right"]
    with pytest.raises(ValueError, match="stl_loud_left"):
        plots.plot_binaural_loudness({"stl_spec_loud_left": torch.ones(3, 150)})


# --------------------------------------------------------------------------- psychophysics
def test_psychometric_and_staircase():
    x = np.array([-10, -5, 0, 5, 10.0])
    p = np.array([0.52, 0.6, 0.75, 0.92, 0.99])
    fit = lambda v: 0.5 + 0.5 / (1 + np.exp(-(np.asarray(v)) / 3))  # noqa: E731
    ax = render(plots.plot_psychometric(x, p, n_trials=[20] * 5, fit=fit, threshold=0.0, n_afc=2)).axes[0]
    assert np.allclose(ax.collections[0].get_offsets()[:, 1], p)
    assert ax.get_ylabel() == "Proportion correct" and ax.get_ylim()[0] == pytest.approx(0.4)
    assert len(ax.lines) == 3  # fit, chance, threshold
    levels = [10, 8, 6, 8, 6, 4, 6, 4, 6]
    correct = [1, 1, 0, 1, 1, 0, 1, 0, 1]
    ax = render(plots.plot_staircase(levels, correct, reversals=[2, 3, 5, 6, 7], threshold=5.0)).axes[0]
    assert ax.get_xlabel() == "Trial" and ax.get_ylabel() == "Level (dB)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == ["track", "correct", "incorrect", "reversals"]
    assert len(ax.lines[1].get_xdata()) == 6 and len(ax.lines[2].get_xdata()) == 3
    with pytest.raises(ValueError, match="correct"):
        plots.plot_staircase(levels, correct[:3])
    assert list(plots.reversal_indices(levels)) == [2, 3, 5, 6, 7]

    result = type("Result", (), {})()  # duck-typed procedures.StaircaseResult
    result.values, result.correct, result.thresholds = [levels, [1, 2]], [correct, [1, 1]], np.array([5.5, np.nan])
    ax = render(plots.plot_staircase(result)).axes[0]
    assert np.allclose(ax.lines[3].get_xdata(), [3, 4, 6, 7, 8])  # reversals found automatically (1-based trials)
    assert ax.lines[4].get_ydata()[0] == 5.5


# --------------------------------------------------------------------------- plot_stages, synthetic
class FakeModel(AuditoryModel):
    """The model contract with one stage of every kind of axes plots can draw."""

    return_stages = True

    def __init__(self, fs=FS, n_channels=8):
        super().__init__()
        self.fs, self.center_freqs_hz = fs, torch.as_tensor(cam_to_hz(np.linspace(4, 25, n_channels)))
        self.mfc = torch.tensor([0, 5, 10, 16.7, 27.8, 46.3])

    @property
    def stage_info(self):
        fs, rate = self.fs, 100.0
        return {
            "outer": StageInfo("outer ear", "Pa", "BT", fs),
            "ihc": StageInfo("inner hair cell", "V", "BCT", fs),
            "bands": StageInfo("excitation", "dB SPL", "BKZ", rate),
            "psd": StageInfo("spectrum", "Pa^2/Hz", "BKF", rate, freqs_key="freqs"),
            "freqs": StageInfo("component frequencies", "Hz", "F"),
            "stl": StageInfo("short-term loudness", "sone", "BK", rate),
            "ltl": StageInfo("long-term loudness", "sone", "BK", rate),
            "output": StageInfo("modulation filterbank", "MU", "BCMT", fs),
        }


def _fake_stages(b=2, c=8, t=900, k=50):
    return {
        "outer": torch.randn(b, t, generator=G),
        "ihc": torch.rand(b, c, t, generator=G),
        "bands": 60 * torch.rand(b, k, c, generator=G),
        "psd": torch.rand(b, k, 129, generator=G),
        "freqs": torch.linspace(0, FS / 2, 129),
        "stl": torch.rand(b, k, generator=G),
        "ltl": torch.rand(b, k, generator=G),
    }


def test_plot_stages_from_the_contract():
    model, stages = FakeModel(), _fake_stages()
    output = [torch.rand(2, 4 + (i > 3) * 2, 900, generator=G) for i in range(8)]
    fig = render(plots.plot_stages(model, stages, output, title="fake"))
    axes = main_axes(fig)
    # outer, ihc, bands, psd, the two loudness curves in one panel, output; 'freqs' only labels 'psd'
    assert len(axes) == 6, [ax.get_title() for ax in axes]
    assert fig.get_suptitle() == "fake"
    for ax in axes:  # units on every axis
        assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    titles = [ax.get_title() for ax in axes]
    assert titles[1] == "Inner hair cell" and titles[-1] == "Modulation filterbank, rms over time"
    assert not any("'" in t for t in titles)  # labels from the contract, no internal key names
    assert titles[4] == "Short-term loudness and long-term loudness"  # (3 or more: "N curves in sone")
    assert "Hz" in axes[-1].get_ylabel() and len(axes[4].lines) == 2 and axes[4].get_ylabel() == "sone"
    assert axes[0].get_ylabel() == "Outer ear (Pa)"
    bars = [ax.get_ylabel().replace("\n", " ") for ax in fig.axes if ax.get_label() == "<colorbar>"]
    # units on colour bars: the psd in dB with its reference, the modulation rms re its stated maximum
    assert any(b.split(",")[0] == "V" for b in bars) and "dB re (20 µPa)²/Hz" in bars
    assert any(b.startswith("RMS over time, dB re the largest (") and b.endswith(" MU)") for b in bars)
    # unbatched stages (as a model gives them for 1-D input) draw alike
    render(plots.plot_stages(model, {k: v[0] if k != "freqs" else v for k, v in stages.items()}))


def test_plot_stage_rejects_an_unknown_layout():
    with pytest.raises(ValueError, match="axes"):
        plots.plot_stage(torch.rand(3, 4, 5), StageInfo("odd", "a.u.", "BEZ"))


def test_plot_stages_rejects_bad_input():
    with pytest.raises(TypeError, match="contract"):
        plots.plot_stages(None, {"ihc": torch.rand(1, 3, 10)})
    with pytest.raises(ValueError, match="stages"):
        plots.plot_stages(FakeModel(), {})


# --------------------------------------------------------------------------- real models (as they land)
REAL = {
    "Dau1997": dict(fs=44100),
    "Osses2021": dict(fs=44100),
    "King2019": dict(fs=44100),
    "Paulick2024": dict(fs=44100),
    "Glasberg2002": dict(fs=32000),
    "Moore2016": dict(fs=32000),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REAL))
def test_plot_stages_real_models(name):
    fs = REAL[name]["fs"]
    model = getattr(importlib.import_module(f"workbench.models.{name.lower()}"), name)(return_stages=True, **REAL[name])
    tone = st.tone(1000, 0.1, fs, 60, calibration="pa", dtype=torch.float32)
    x = st.stereo(tone, 0.5 * tone) if "E" in model.input_axes else tone  # binaural: right ear 6 dB down
    with torch.no_grad():
        output, stages = model(to_model_input(x[None], model, ears=None))
    fig = render(plots.plot_stages(model, stages, output))
    axes = main_axes(fig)
    drawn = [k for k in stages if not k.startswith(("freqs", "levels", "stl_loud", "ltl_loud")) and k != "stl"]
    assert len(axes) >= len(drawn)
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    fc = model.center_freqs_hz
    for key in [k for k in stages if model.stage_info[k].axes == "BCT"]:
        data = stages[key][0].detach().double()
        fig = render(plots.plot_cochleagram(stages[key], model.stage_info[key].rate_hz, fc))
        arr = meshes(main_axes(fig)[0])[0].get_array()
        assert 0 < arr.max() <= data.abs().max().item() * (1 + 1e-6)  # block mean/rms within the data range
        assert main_axes(fig)[0].get_ylabel().startswith("Frequency")
    if model.stage_info["output"].axes == "BCMT":
        rep = model.output_stage(output)
        fig = render(plots.plot_modulation_spectrum(rep, fc, model.mfc))
        assert meshes(main_axes(fig)[0])[0].get_array().shape[0] == model.num_channels
        render(plots.plot_modulation_channel(rep, model.num_channels // 2, fs, model.mfc))
    if callable(getattr(model, "filterbank", None)) and fc is not None:
        ax = render(plots.plot_filter_responses(model.filterbank, fs, fc, n_fft=8192)).axes[0]
        peaks = np.array([ln.get_xdata()[np.argmax(ln.get_ydata())] for ln in ax.lines[: len(fc)]])
        assert np.allclose(peaks, np.asarray(fc), rtol=0.1, atol=15)  # each filter peaks at its centre
    if "excitation" in stages:
        fig = render(plots.plot_excitation_pattern(stages["excitation"], fc, stages["specific_loudness"]))
        peak_erb = main_axes(fig)[0].lines[0].get_xdata()[np.argmax(main_axes(fig)[0].lines[0].get_ydata())]
        assert abs(cam_to_hz(peak_erb) - 1000) < 150  # 1 kHz tone excites 1 kHz
    if "stl_loud_left" in stages:
        fig = render(plots.plot_binaural_loudness(stages))
        left, right = main_axes(fig)[1].lines
        assert left.get_ydata().max() > right.get_ydata().max()  # left ear 6 dB louder


def test_draws_into_given_axes_and_leaves_pyplot_alone():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    x = st.tone(500, 0.05, FS, 50)
    assert plots.plot_waveform(x, FS, ax=ax1) is fig and plots.plot_spectrum(x, FS, ax=ax2) is fig
    assert len(ax1.lines) == 1 and len(ax2.lines) == 1
    plots.plot_stages(FakeModel(n_channels=4), {"ihc": torch.rand(1, 4, 100)})
    assert plt.get_fignums() == before  # figures are never registered with pyplot
