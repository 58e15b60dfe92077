"""Input contract of every model (issue 13, "Models"): the declared level range, loudness up to
its top, argument types (booleans, sampling rates), clear errors for edge cases, dB stages."""

import math
import re

import numpy as np
import pytest
import torch

import workbench
from tests.helpers import SMALL_MODELS
from workbench import stimuli
from workbench.models.moore2016 import diotic
from workbench.units import ATMOSPHERE_PEAK_DB_SPL, to_model_input

SMALL = SMALL_MODELS
MODELS = list(SMALL)
LOUDNESS = ("Glasberg2002", "Moore2016")


def make(name, **kwargs):
    return getattr(workbench, name)(**{**SMALL[name], **kwargs})


def signal_pa(model, seconds=0.05, level_db=60.0):
    return to_model_input(stimuli.tone(1000.0, seconds, model.fs, level_db), model)


def loudness(model, x_pa):
    out = model(to_model_input(x_pa, model))
    return out[1] if isinstance(out, tuple) and not model.return_stages else out


# ------------------------------------------------------------------ level range (contract)
@pytest.mark.parametrize("name", MODELS)
def test_every_model_declares_its_input_range(name):
    low, high = make(name).input_range_db_spl
    assert low == -math.inf
    assert high == (pytest.approx(143.01, abs=0.01) if name in LOUDNESS else ATMOSPHERE_PEAK_DB_SPL)
    assert ATMOSPHERE_PEAK_DB_SPL == pytest.approx(20 * math.log10(101325 / 20e-6), abs=0.01)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", MODELS)
def test_finite_but_huge_input_is_refused_with_its_level_and_the_range(name, dtype):
    """3e38 (float32) and 1e39 (float64, which a float32 model would round to inf) are finite:
    the error gives their level in dB SPL and the model's range, not 'NaN or inf'."""
    model = make(name)
    x = signal_pa(model)
    for value in (3e38, 1e39 if dtype == torch.float64 else 1e30):
        big = torch.full_like(x, value, dtype=dtype)
        with pytest.raises(ValueError) as err:
            model(big)
        msg = str(err.value)
        assert re.search(r"peak level of \d+\.\d dB SPL", msg) and "input_range_db_spl = (-inf, " in msg, msg
        assert model.input_name in msg and "NaN" not in msg


@pytest.mark.parametrize("name", MODELS)
def test_input_at_the_top_of_the_range_runs_and_just_above_is_refused(name):
    model = make(name)
    top = model.input_range_db_spl[1]
    unit = 1.0 if model.input_unit == "pa" else workbench.units.pa_per_amt_unit(model.dboffset)
    peak = 20e-6 * 10 ** (top / 20) / unit
    x = signal_pa(model)
    x = x / x.abs().max() * peak * (1 - 1e-6)
    out = model(x)
    flat = [out] if isinstance(out, torch.Tensor) else list(out)
    assert all(bool(torch.isfinite(t).all()) for t in flat)
    with pytest.raises(ValueError, match=rf"peak level of {top + 0.5:.1f} dB SPL"):
        model(x * 10 ** (0.5 / 20))


# ------------------------------------------------------------------ loudness up to the top
@pytest.mark.parametrize("name", LOUDNESS)
def test_loudness_rises_with_level_up_to_the_top_and_excitation_has_no_nan(name):
    """Up to 140 dB SPL rms (the top of the range): 1 kHz, 3 kHz (where the ear's gain drives the
    level per ERB above 137.3 dB SPL, beyond which the lower skirt is held flat) and noise."""
    model = make(name, return_stages=True)
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(3200, generator=gen, dtype=torch.float64)
    noise = (noise / noise.abs().max()).float()  # peak 1 Pa: 94 dB SPL peak
    kinds = {
        "1 kHz": lambda db: stimuli.tone(1000.0, 0.1, 32000, db),
        "3 kHz": lambda db: stimuli.tone(3000.0, 0.1, 32000, db),
        "noise": lambda db: noise * 10 ** ((db + 3.0103 - 93.9794) / 20),
    }  # same peak as the tones
    for kind, make_signal in kinds.items():
        previous = -1.0
        for level_db in range(60, 141, 4):
            ltl, stages = model(make_signal(level_db) if name == "Glasberg2002" else diotic(make_signal(level_db)))
            sone = float((ltl if name == "Glasberg2002" else ltl[1]).max())
            exc = stages["excitation"] if name == "Glasberg2002" else stages["excitation_left"]
            assert not bool(torch.isnan(exc).any()), (kind, level_db)
            assert sone > previous, (kind, level_db, sone, previous)
            previous = sone
        assert previous > 100


@pytest.mark.parametrize("name", LOUDNESS)
def test_above_the_range_the_device_path_still_gives_finite_rising_loudness(name):
    """On a GPU the level is not checked (that would read the samples); the excitation stage
    keeps the loudness finite and rising there too (it used to fall: 1221 sone at 141 dB, 417 at
    145 dB). The model's range is opened to skip the CPU level check, as a device forward does."""
    model = make(name, return_stages=True)
    model.input_range_db_spl = (-math.inf, math.inf)
    previous = -1.0
    for level_db in (135, 141, 145, 150, 160, 180):
        x = stimuli.tone(3000.0, 0.1, 32000, level_db)
        x = x[None] if name == "Glasberg2002" else diotic(x)[None]
        out, stages = model(x)
        sone = float((out if name == "Glasberg2002" else out[1]).max())
        exc = stages["excitation"] if name == "Glasberg2002" else stages["excitation_left"]
        assert math.isfinite(sone) and sone > previous and not bool(torch.isnan(exc).any()), level_db
        previous = sone


# ------------------------------------------------------------------ relevance range, dB stages
@pytest.mark.parametrize(
    "value, error",
    [
        (-10.0, ValueError),
        (0.0, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (1000.0, ValueError),
        ("60", TypeError),
        (None, TypeError),
    ],
)
@pytest.mark.parametrize("name, key", [("Glasberg2002", "multi_fft_kwargs"), ("Moore2016", "spectrum_kwargs")])
def test_range_db_is_validated(name, key, value, error):
    """range_db=-10 (Glasberg2002) and nan (Moore2016) used to give 0 sone silently."""
    with pytest.raises(error) as err:
        make(name, **{key: {"range_db": value}})
    msg = str(err.value)
    assert f"{key}['range_db']" in msg and ("(0, 300]" in msg or "> 0" in msg or "number" in msg), msg


@pytest.mark.parametrize("name", LOUDNESS)
def test_db_stages_are_minus_inf_only_where_no_power_and_say_so(name):
    """A 1 kHz tone: bands no component reaches hold -inf dB (documented in the stage's
    'about' and docstring), never NaN; no other stage holds -inf."""
    model = make(name, return_stages=True)
    x = stimuli.tone(1000.0, 0.1, 32000, 60.0)
    _, stages = model(x if name == "Glasberg2002" else diotic(x))
    info = model.stage_info
    db_keys = [k for k in stages if info[k].unit == "dB SPL" and not k.startswith("levels")]
    assert db_keys
    for key, value in stages.items():
        if key in db_keys:
            assert bool(torch.isneginf(value).any()) and not bool(torch.isnan(value).any()), key
            assert "-inf dB" in info[key].about, key
        elif not key.startswith(("freqs_", "levels_")):  # Moore2016: NaN marks absent components
            assert bool(torch.isfinite(value).all()), key
    doc = workbench.stages.loudness.RoexExcitation.__doc__ + workbench.stages.loudness.ERBIntegration.__doc__
    assert doc.count("``-inf``") >= 2


# ------------------------------------------------------------------ argument types
BOOL_ARGS = {
    "Dau1997": ("learnable", "return_stages"),
    "Osses2021": ("learnable", "return_stages"),
    "King2019": ("learnable", "return_stages", "lp_150hz"),
    "Paulick2024": ("learnable", "return_stages", "use_outerear"),
    "Glasberg2002": ("learnable", "return_stages", "streaming"),
    "Moore2016": ("learnable", "return_stages"),
}


@pytest.mark.parametrize("value", ["no", "False", 1, 0, None, 1.0])
@pytest.mark.parametrize("name", MODELS)
def test_boolean_arguments_must_be_booleans(name, value):
    """learnable='no' and return_stages='no' used to act as True."""
    for arg in BOOL_ARGS[name]:
        with pytest.raises(TypeError, match=rf"{arg}.* must be True or False, got {re.escape(repr(value))}"):
            make(name, **{arg: value})
    assert make(name, learnable=np.bool_(False)).learnable is False


@pytest.mark.parametrize("name", MODELS)
def test_fs_as_numpy_number_or_0d_tensor(name):
    fs = SMALL[name]["fs"]
    reference = make(name)
    x = signal_pa(reference)
    expected = reference(x)
    for value in (np.float32(fs), np.int64(fs), np.float64(fs), torch.tensor(float(fs)), torch.tensor(fs)):
        model = make(name, fs=value)
        assert float(model.fs) == fs and isinstance(model.fs, (int, float))
        got = model(x)
        for a, b in zip(
            got if isinstance(got, (list, tuple)) else [got],
            expected if isinstance(expected, (list, tuple)) else [expected],
        ):
            torch.testing.assert_close(a, b)
    for bad, error in (
        (torch.tensor([fs, fs]), TypeError),
        (np.float32("nan"), ValueError),
        (True, TypeError),
        ("16000", TypeError),
        (torch.tensor(float(fs), device="meta"), TypeError),
    ):
        with pytest.raises(error, match="fs"):
            make(name, fs=bad)


# ------------------------------------------------------------------ edge cases with clear errors
@pytest.mark.parametrize("name", MODELS)
def test_meta_input_needs_a_meta_model(name):
    """A CPU model given a meta tensor says what to do; a meta model runs (shapes only)."""
    model = make(name)
    x = signal_pa(model)
    with pytest.raises(ValueError, match=r"meta tensor .* model.to\('meta'\)"):
        model(x.to("meta"))
    out = model.to("meta")(x.to("meta"))
    flat = [out] if isinstance(out, torch.Tensor) else list(out)
    assert all(t.is_meta for t in flat)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_paulick2024_too_short_input(n):
    model = make("Paulick2024")
    with pytest.raises(ValueError, match=rf"x is too short: {n} samples, need at least 4"):
        model(torch.zeros(1, n))
    assert model(torch.zeros(1, 4))[0].shape[-1] == 1


def test_king2019_highpass_cutoff_named_as_given():
    with pytest.raises(
        ValueError,
        match=r"^adt_hp_fc \(high-pass cutoff\) must lie in \(0, fs/2 = 8000\) Hz, got "
        r"30000",
    ):
        workbench.King2019(16000, adt_hp_fc=30000)
    with pytest.raises(ValueError, match=r"^adaptation_kwargs\['cutoff_hz'\] .*\(0, fs/2 = 8000\) Hz"):
        workbench.King2019(16000, adaptation_kwargs={"cutoff_hz": 30000})
    with pytest.raises(ValueError, match=r"^adt_hp_order must be an integer in \[1, 16\]"):
        workbench.King2019(16000, adt_hp_order=0)


def test_paulick2024_defaults_follow_fs():
    """fhigh: 8000 Hz, or 0.4 fs below 20 kHz; max_mfc: 1000 Hz, or 0.4 fs/4 below 10 kHz."""
    from workbench.models.paulick2024 import default_fhigh, default_max_mfc

    assert workbench.Paulick2024().fhigh == 8000.0  # 44.1 kHz: AMT's defaults
    assert workbench.Paulick2024(fs=22050).fhigh == 8000.0
    assert workbench.Paulick2024(fs=16000, n_channels=2).fhigh == 6400.0
    model = workbench.Paulick2024(fs=8000)
    assert model.fhigh == 3200.0 == default_fhigh(8000) and default_max_mfc(8000) == 800.0
    out = model(to_model_input(stimuli.tone(1000.0, 0.1, 8000, 60.0), model))
    assert len(out) == 50 and out[0].shape[-1] == 200 and all(bool(torch.isfinite(o).all()) for o in out)
    assert workbench.Paulick2024(fs=8000, fhigh=3600).fhigh == 3600.0  # used to fail naming max_mfc
    with pytest.raises(ValueError, match=r"fhigh must be below the Nyquist frequency fs/2 = 4000 Hz"):
        workbench.Paulick2024(fs=8000, fhigh=4000)
    with pytest.raises(
        ValueError,
        match=r"modulation_kwargs\['max_mfc'\] must lie in \(0, 1000\) Hz: the "
        r"modulation stage runs at fs / 4 = 2000 Hz",
    ):
        workbench.Paulick2024(fs=8000, modulation_kwargs={"max_mfc": 1000.0})
    with pytest.raises(ValueError, match=r"fhigh defaults to min\(8000 Hz, 0.4 fs\) = 200 Hz at fs = 500 Hz"):
        workbench.Paulick2024(fs=500)
