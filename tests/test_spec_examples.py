"""Usage examples of the models' API (README, "The models' API") for Dau1997, Glasberg2002 and
Moore2016, run on short signals: constructor arguments, output shapes, stage keys and types.
Where the API's first draft printed torch_amt's numbers (channel and frame counts, sone
values) AMT or the paper wins (documented in the model docstrings): those are asserted
against our own rule.
"""

import numpy as np
import pytest
import torch

from tests.helpers import GLASBERG2002_COMPONENTS
from workbench.models.dau1997 import Dau1997
from workbench.models.glasberg2002 import Glasberg2002
from workbench.models.moore2016 import Moore2016
from workbench.stages.erb import erbspacebw
from workbench.stages.loudness import cam_grid
from workbench.units import hz_to_cam

DUR_S = 0.05


# --------------------------------------------------------------------------- Dau1997
def test_dau1997_basic_usage_and_mono():
    model = Dau1997(fs=44100, flow=80, fhigh=8000)
    assert isinstance(model.num_channels, int) and model.num_channels == 30  # AMT (spec: 31)
    audio = torch.randn(2, int(44100 * DUR_S))
    output = model(audio)
    assert isinstance(output, list) and len(output) == model.num_channels
    n_mod = [o.shape[1] for o in output]
    assert all(o.shape[0] == 2 and o.shape[2] == audio.shape[1] for o in output)
    assert n_mod == sorted(n_mod) and n_mod[0] < n_mod[-1]  # AMT: more filters at high fc
    output_mono = model(audio[0])
    assert output_mono[0].shape == (n_mod[0], audio.shape[1])
    torch.testing.assert_close(output_mono[5], output[5][0])
    assert model.fc.shape == (model.num_channels,) and model.fc.dtype == torch.float64
    for name in (
        "fs",
        "flow",
        "fhigh",
        "learnable",
        "return_stages",
        "dtype",
        "filterbank",
        "ihc",
        "adaptation",
        "modulation",
    ):
        assert hasattr(model, name), name


def test_dau1997_stages():
    model_debug = Dau1997(fs=44100, return_stages=True)
    audio = torch.randn(2, int(44100 * DUR_S))
    output, stages = model_debug(audio)
    assert list(stages) == ["filterbank", "ihc", "adaptation"]
    for v in stages.values():
        assert v.shape == (2, model_debug.num_channels, audio.shape[1])
    assert len(output) == model_debug.num_channels


def test_dau1997_learnable_and_optimizer():
    model_learnable = Dau1997(fs=44100, learnable=True)
    n_params = sum(p.numel() for p in model_learnable.parameters())
    assert n_params > 0 and all(p.requires_grad for p in model_learnable.parameters())
    optimizer = torch.optim.Adam(model_learnable.parameters(), lr=1e-3)
    out = model_learnable(torch.randn(1, 441))
    sum(o.pow(2).mean() for o in out).backward()
    model_learnable.distribute_gradients()
    optimizer.step()


@pytest.mark.parametrize("flow, fhigh", [(50, 8000), (80, 16000)])
def test_dau1997_frequency_ranges(flow, fhigh):
    model = Dau1997(fs=44100, flow=flow, fhigh=fhigh)
    expected = erbspacebw(flow, fhigh, 1.0, 1000.0)  # spec prints torch_amt's 35 / 39
    assert model.num_channels == expected.numel()
    torch.testing.assert_close(model.fc, expected.to(torch.float64))


def test_dau1997_custom_kwargs():
    x = torch.randn(1, 441)
    custom = [
        Dau1997(fs=44100, filterbank_kwargs={"n": 6}),
        Dau1997(fs=44100, adaptation_kwargs={"limit": 5.0, "tau": [0.01, 0.1, 0.2, 0.4, 0.8]}),
        Dau1997(fs=44100, modulation_kwargs={"Q": 1.0, "max_mfc": 200.0, "filter_type": "butterworth"}),
        Dau1997(
            fs=44100,
            flow=50,
            fhigh=12000,
            filterbank_kwargs={"n": 5, "erb_scale": 1.2},
            ihc_kwargs={"method": "breebaart2001"},
            adaptation_kwargs={"limit": 8.0, "minspl": -10.0},
            modulation_kwargs={"Q": 1.5, "max_mfc": 180.0},
        ),
        Dau1997(fs=44100, filterbank_kwargs={"n": 6}, adaptation_kwargs={"limit": 5.0}),
    ]
    assert custom[3].num_channels == erbspacebw(50, 12000, 1.2, 1000.0).numel()
    assert float(custom[2].mfc.max()) <= 200.0
    for model in custom:
        out = model(x)
        assert len(out) == model.num_channels
        assert all(torch.isfinite(o).all() for o in out)
    assert "num_channels" in repr(custom[0])


# --------------------------------------------------------------------------- Glasberg2002
GM_KEYS = ["stl", "specific_loudness", "excitation", "erb_excitation", "psd", "freqs"]


def _frames(n_samples, fs):  # 1 ms frames of the 32 kHz signal (paper; spec: hop 512)
    return round(n_samples * 32000 / fs) // 32 + 1


def test_glasberg2002_basic_stages_mono():
    model = Glasberg2002(fs=32000)
    n_erb = model.erb_integration.n_erb_bands
    assert isinstance(n_erb, int) and n_erb == 150
    audio = 0.02 * torch.randn(2, int(32000 * DUR_S))
    ltl = model(audio)
    n_frames = _frames(audio.shape[1], 32000)
    assert ltl.shape == (2, n_frames) and bool((ltl >= 0).all())
    model_debug = Glasberg2002(fs=32000, return_stages=True)
    ltl, stages = model_debug(audio)
    assert list(stages)[:6] == GM_KEYS
    assert stages["stl"].shape == (2, n_frames)
    for key in ("specific_loudness", "excitation", "erb_excitation"):
        assert stages[key].shape == (2, n_frames, 150), key
    n_freq = stages["freqs"].shape[0]
    assert stages["freqs"].dim() == 1 and stages["psd"].shape == (2, n_frames, n_freq)
    ltl_mono = model(audio[0])
    assert ltl_mono.shape == (n_frames,)
    fc = model.get_erb_frequencies()
    assert fc.shape == (150,) and 40 < float(fc.min()) < 60 and 14000 < float(fc.max()) < 16000
    for name in ("fs", "learnable", "return_stages", *GLASBERG2002_COMPONENTS):
        assert hasattr(model, name), name


def test_glasberg2002_learnable_parameters():
    model_learnable = Glasberg2002(fs=32000, learnable=True)
    n_params = sum(p.numel() for p in model_learnable.parameters())
    assert n_params > 0
    torch.optim.Adam(model_learnable.parameters(), lr=1e-3)
    params = model_learnable.get_learnable_parameters()
    assert tuple(params) == GLASBERG2002_COMPONENTS
    assert isinstance(params["loudness_integration"]["tau_attack"], float)
    assert params["erb_integration"]["bandwidth_scale"] == pytest.approx(1.0)
    assert Glasberg2002().get_learnable_parameters() == {}


def test_glasberg2002_custom_kwargs():
    model_custom_erb = Glasberg2002(fs=44100, erb_kwargs={"f_min": 80.0, "f_max": 12000.0, "erb_step": 0.5})
    expected = cam_grid(float(hz_to_cam(80.0)), float(hz_to_cam(12000.0)), 0.5).size  # spec: 75
    assert model_custom_erb.erb_integration.n_erb_bands == expected
    model_custom_temp = Glasberg2002(fs=32000, loudness_integration_kwargs={"tau_attack": 0.03, "tau_release": 0.30})
    assert float(model_custom_temp.loudness_integration.ltl.attack) == pytest.approx(1 - np.exp(-1 / 30))
    assert float(model_custom_temp.loudness_integration.ltl.release) == pytest.approx(1 - np.exp(-1 / 300))
    # the spec's dB/ERB spreading slopes do not exist in the roex model: a clear error
    with pytest.raises(TypeError, match="level_slope"):
        Glasberg2002(fs=32000, excitation_kwargs={"upper_slope_base": 30.0, "lower_slope_per_db": -0.5})
    with pytest.raises(TypeError, match="erb_kwargs"):
        Glasberg2002(specific_loudness_kwargs={"f_min": 50.0})
    model_44k = Glasberg2002(fs=44100)
    audio_44k = 0.02 * torch.randn(2, int(44100 * DUR_S))
    ltl_44k = model_44k(audio_44k)
    assert ltl_44k.shape == (2, _frames(audio_44k.shape[1], 44100))


def test_glasberg2002_reset_state_and_phon():
    model = Glasberg2002(fs=32000)
    signal1 = 0.02 * torch.randn(1, 1600)
    ltl1 = model(signal1)
    model.reset_state()
    signal2 = 0.02 * torch.randn(1, 1600)
    ltl2 = model(signal2)
    assert ltl1.shape == ltl2.shape
    ltl_phon = model.compute_loudness_level(ltl2)
    assert ltl_phon.shape == ltl2.shape and bool(torch.isfinite(ltl_phon).all())
    # 1 sone = 40 phon, doubling = +10 phon (ANSI table: within a few tenths)
    phon = model.compute_loudness_level(torch.tensor([1.0, 2.0, 4.0]))
    assert torch.allclose(phon, torch.tensor([40.0, 50.0, 60.0]), atol=1.5)
    assert "bands=150" in repr(model)


# --------------------------------------------------------------------------- Moore2016
MOORE_KEYS = [
    f"{k}_{s}"
    for k in ("filtered", "freqs", "levels", "excitation", "inst_spec_loud", "stl_spec_loud", "stl_loud", "ltl_loud")
    for s in ("left", "right")
]


def _moore_tone():
    t = np.linspace(0, DUR_S, int(32000 * DUR_S))
    tone_pa = np.sin(2 * np.pi * 1000 * t) * 0.02  # 60 dB SPL
    return torch.from_numpy(np.stack([tone_pa, tone_pa])).float().unsqueeze(0)


def test_moore2016_basic_and_stages():
    model = Moore2016(fs=32000)
    audio_stereo = _moore_tone()
    sLoud, lLoud, mLoud = model(audio_stereo)
    n_frames = audio_stereo.shape[-1] // 32 + 1  # AMT: 1 ms hop (spec: 512 samples)
    assert sLoud.shape == lLoud.shape == (1, n_frames) and mLoud.shape == (1,)
    assert sLoud.dtype == torch.float32 and float(sLoud.mean()) > 0
    model_debug = Moore2016(fs=32000, return_stages=True)
    (sLoud, lLoud, mLoud), stages = model_debug(audio_stereo)
    assert sorted(stages) == sorted(MOORE_KEYS)
    assert stages["excitation_left"].shape == (1, n_frames, 150)
    assert stages["filtered_left"].dim() == 2 and stages["filtered_left"].shape[0] == 1
    assert stages["freqs_left"].shape == stages["levels_left"].shape
    assert stages["freqs_left"].shape[:2] == (1, n_frames)
    for key in ("inst_spec_loud", "stl_spec_loud"):
        assert stages[f"{key}_right"].shape == (1, n_frames, 150)
    for key in ("stl_loud", "ltl_loud"):
        assert stages[f"{key}_left"].shape == (1, n_frames)
    mono = model(audio_stereo[0])
    assert mono[0].shape == (n_frames,) and mono[2].shape == ()


def test_moore2016_attributes_and_kwargs():
    model = Moore2016(fs=32000)
    assert model.fs == 32000 and isinstance(model.fs, int) and model.dtype == torch.float32
    for name in (
        "learnable",
        "return_stages",
        "outer_middle_ear",
        "spectrum",
        "excitation",
        "specific_loudness",
        "temporal_integration",
        "binaural_loudness",
        "ltl_agc_left",
        "ltl_agc_right",
    ):
        assert hasattr(model, name), name
    custom = Moore2016(
        fs=32000,
        outer_middle_ear_kwargs={"compensation_type": "tfOuterMiddle2007", "field_type": "free"},
        spectrum_kwargs={"hop_length": 32, "n_windows": 6},
        excitation_kwargs={"erb_lower": 1.75, "erb_upper": 39.0, "erb_step": 0.25},
        temporal_integration_kwargs={"attack_alpha": 0.045, "release_alpha": 0.033},
        binaural_loudness_kwargs={"sigma": 0.08, "p": 1.5978},
        ltl_agc_kwargs={"attack_alpha": 0.01, "release_alpha": 0.00133},
    )
    x = _moore_tone()
    for a, b in zip(custom(x), model(x)):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="fs"):
        Moore2016(fs=44100)
    with pytest.raises(ValueError, match="n_windows"):
        Moore2016(spectrum_kwargs={"n_windows": 4})


# --------------------------------------------------------------------------- bad settings
@pytest.mark.parametrize(
    "model, kwargs, match",
    [
        (Dau1997, dict(fs=44100, adaptation_kwargs={"limit": -1.0}), "limit"),
        (Dau1997, dict(fs=44100, adaptation_kwargs={"minspl": float("nan")}), "minspl"),
        (Dau1997, dict(fs=44100, adaptation_kwargs={"tau": [-0.1]}), "tau"),
        (Dau1997, dict(fs=44100, modulation_kwargs={"Q": 0.2}), "Q must be finite and > 0.5"),
        (Dau1997, dict(fs=44100, modulation_kwargs={"max_mfc": 1e6}), r"max_mfc must lie in \(0, fs/2 = 22050\)"),
        (Dau1997, dict(fs=44100, filterbank_kwargs={"n": 0}), "filterbank n"),
        (Dau1997, dict(fs=44100, filterbank_kwargs={"erb_scale": 0}), "erb_scale"),
        (Glasberg2002, dict(erb_kwargs={"f_min": 20000.0}), "f_min"),
        (Glasberg2002, dict(erb_kwargs={"bandwidth_scale": 0.0}), "bandwidth_scale"),
        (Glasberg2002, dict(specific_loudness_kwargs={"C": -1.0}), "C must be"),
        (Glasberg2002, dict(loudness_integration_kwargs={"tau_attack": 0.0}), "tau_attack"),
        (Glasberg2002, dict(loudness_integration_kwargs={"stl_attack": 2.0}), "0 < stl_attack <= 1"),
        (Glasberg2002, dict(multi_fft_kwargs={"n_ffts": [2048, 1024]}), "n_ffts"),
        (Moore2016, dict(binaural_loudness_kwargs={"p": float("nan")}), "p"),
        (Moore2016, dict(ltl_agc_kwargs={"release_alpha": 0.0}), "release_alpha"),
        (Moore2016, dict(outer_middle_ear_kwargs={"field_type": "near"}), "field_type"),
        (Moore2016, dict(excitation_kwargs={"erb_lower": 50.0}), "erb_lower"),
    ],
)
def test_bad_settings_name_the_argument_and_range(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model(**kwargs)
