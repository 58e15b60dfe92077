"""Issue 13's list of hangs and unclear errors: each gets a ValueError/TypeError naming the
argument and its allowed range (or a flagged result), never a hang, an internal exception or a
silent NaN/inf."""

import math
import warnings

import numpy as np
import pytest
import soundfile
import torch

from workbench import stimuli as S
from workbench.psychophysics import procedures as P

FS = 44100


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(expvarstart=0, stepmin=(-1, 8)), ValueError, r"stepmin\[0\].*\(0, 8\]"),  # looped forever
        (
            dict(expvarstart=0, expvarstepstart=math.inf),
            ValueError,
            r"expvarstepstart must be finite",
        ),  # looped forever
        (dict(expvarstart=0, expvarstepstart=8.0, stepmin=(1e-300, 8)), ValueError, r"more than 64 step sizes"),
        (dict(expvarstart=0, expvarsteprule=(1.0, 2)), ValueError, r"expvarsteprule\[0\].*\(0, 1\)"),
        (dict(expvarstart=0, stepmin=(1, 0)), ValueError, r"stepmin\[1\].*\[1, 1000\]"),
        (dict(expvarstart=math.nan), ValueError, r"expvarstart must be finite"),
        (dict(expvarstart=0, rule=(2,)), ValueError, r"rule must be a pair"),
    ],
)
def test_from_amt_never_hangs(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        P.Staircase.from_amt(**kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(step_sizes=2.0), TypeError, r"step_sizes must be a sequence of finite steps > 0"),
        (dict(step_sizes=(4.0, math.inf)), ValueError, r"step_sizes\[1\] must be finite, in \(0, inf\]"),
        (dict(step_sizes=(4.0, 0.0)), ValueError, r"step_sizes\[1\]"),
        (dict(step_sizes=(4.0, math.nan)), ValueError, r"step_sizes\[1\]"),
        (dict(step_sizes=()), ValueError, r"step_sizes must hold 1 to 64 steps"),
        (dict(bounds=(1, 2, 3)), ValueError, r"bounds must be \(lower, upper\)"),
        (dict(bounds=(math.nan, 2)), ValueError, r"bounds\[0\] \(lower\)"),
        (dict(max_trials=10**9), ValueError, r"max_trials must be an integer in \[1, 100000\]"),
        (dict(n_final_reversals=10**6), ValueError, r"n_final_reversals must be an integer in \[1, 1000\]"),
        (dict(start_value=math.inf), ValueError, r"start_value must be finite"),
    ],
)
def test_staircase_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        P.Staircase(**{"start_value": 1.5, **kwargs})


def test_staircase_runs_are_bounded_in_trials():
    # a listener who is right half of the time at every level never converges: max_trials stops it
    proc = P.Staircase(
        start_value=0.0, step_sizes=(1.0,), n_final_reversals=1000, n_threshold_reversals=None, max_trials=300
    )
    rng = np.random.default_rng(0)
    with pytest.warns(RuntimeWarning, match="max_trials"):
        res = proc.run(lambda v: rng.random(v.shape) < 0.5, n_runs=3)
    assert res.n_trials.max() == 300 and res.status == ["max_trials"] * 3
    with pytest.raises(TypeError, match="respond must return booleans"):
        proc.run(lambda v: np.full(v.shape, math.nan))


def test_levitt_target_checks_its_rule():
    with pytest.raises(ValueError, match=r"n_down must be an integer in \[1, 100\], got 0"):
        P.levitt_target(0)
    with pytest.raises(TypeError, match="n_up"):
        P.levitt_target(2, 1.5)


def test_psychometric_stays_a_probability():
    with pytest.raises(ValueError, match=r"lapse \(below 1 - guess\) must be finite, in \[0, 0.5\)"):
        P.psychometric([0.0, 1.0], 0.0, 1.0, lapse=1.5)
    with pytest.raises(ValueError, match=r"guess must be finite, in \[0, 1\)"):
        P.psychometric([0.0], 0.0, 1.0, guess=-0.2)
    with pytest.raises(ValueError, match="x must not contain NaN"):
        P.psychometric([math.nan], 0.0, 1.0)
    with pytest.raises(ValueError, match="p must lie strictly between"):
        P.psychometric_inverse(math.nan, 0.0, 1.0)
    rng = np.random.default_rng(1)
    for guess in (0.0, 0.5, 0.99):
        for lapse in (0.0, (1 - guess) * 0.999):
            p = P.psychometric(
                rng.normal(0, 1e3, 1000), rng.normal(), 10 ** rng.uniform(-3, 3), guess=guess, lapse=lapse
            )
            assert np.all((p >= 0) & (p <= 1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_correct=[math.nan, 12, 17, 19]), r"n_correct must hold whole numbers.*no NaN"),
        (dict(n_correct=[6.5, 12, 17, 19]), r"n_correct must hold whole numbers"),
        (dict(n_trials=[20, 20, math.inf, 20]), r"n_trials must hold whole numbers in \[1, 1e9\]"),
        (dict(lapse=1.5), r"lapse \(below 1 - 1/n_alternatives\) must be finite, in \[0, 0.5\)"),
        (dict(max_lapse=2), r"max_lapse \(below 1 - 1/n_alternatives\) must be finite, in \(0, 0.5\)"),
        (dict(values=[0.0, 1.0, math.nan, 2.0]), r"values must be finite"),
        (dict(shape="weibull", values=[-1.0, 1.0, 2.0, 3.0]), r"values must be > 0 for a Weibull fit"),
    ],
)
def test_fit_rejects_bad_data(kwargs, match):
    base = dict(values=[-2.0, 0.0, 2.0, 4.0], n_correct=[6, 12, 17, 19], n_trials=[20, 20, 20, 20], n_bootstrap=0)
    with pytest.raises(ValueError, match=match):
        P.fit_psychometric(**{**base, **kwargs})


def test_degenerate_fits_are_flagged_not_reported_as_results():
    x, n = [1.0, 2.0, 3.0, 4.0], [10, 10, 10, 10]
    with pytest.warns(RuntimeWarning, match="unreliable.*all trials correct"):
        fit = P.fit_psychometric(x, [10, 10, 10, 10], n, n_bootstrap=50, seed=0)
    assert not fit.reliable and any("outside the tested range" in i for i in fit.issues)
    assert any("zero width" in i for i in fit.issues)
    with pytest.warns(RuntimeWarning, match="unreliable.*no psychometric transition"):
        fit = P.fit_psychometric(x, [5, 5, 5, 5], n, n_bootstrap=50, seed=0)
    assert not fit.reliable
    # a real psychometric function: no warning, reliable
    obs = P.PsychometricObserver(threshold=2.0, slope=0.8, seed=3)
    data = P.constant_stimuli(np.linspace(-6, 10, 9), 150, obs.respond, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = P.fit_psychometric(data["values"], data["n_correct"], data["n_trials"], n_bootstrap=60, seed=5)
    assert fit.reliable and fit.issues == ()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: S.silence(0.1, FS, channels=-1), ValueError, r"channels must be an integer in \[1, 1024\], got -1"),
        (lambda: S.silence(0.1, FS, channels=2.5), TypeError, r"channels must be an integer"),
        (lambda: S.tone(1000, 1 / FS, FS), ValueError, r"ramp_s = 0.01 s: two ramps are longer than the signal"),
        (lambda: S.tone(1000, 1 / FS, FS, ramp_s=0), ValueError, r"waveform is silent.*check duration_s and freq_hz"),
        (lambda: S.tone(1000, 0.1, FS, 1000), ValueError, r"level_db_spl must lie in \[-200, 194\] dB SPL, got"),
        (
            lambda: S.tone(1000, 0.1, FS, dboffset=math.nan, calibration="fullscale"),
            ValueError,
            r"dboffset must lie in",
        ),
        (lambda: S.rms(torch.zeros(0)), ValueError, r"x must hold at least one sample"),
        (lambda: S.rms(torch.tensor([1.0, math.nan])), ValueError, r"x contains NaN"),
        (lambda: S.db_to_pa(math.nan), ValueError, r"level_db_spl must not contain NaN"),
        (lambda: S.tone(1000, 1e6, FS), ValueError, r"duration_s asks for .* samples; one call makes at most"),
        (lambda: S.noise(0.1, FS, batch=10**6), ValueError, r"batch x duration_s"),
        (lambda: S.harmonic_complex(1e-6, 0.1, FS), ValueError, r"f0_hz = 1e-06 Hz has .* harmonics"),
        (lambda: S.tone(1000, 0.1, FS, device="banana"), ValueError, r"device must be"),
        (lambda: S.tone(1000, 0.1, 1e12), ValueError, r"fs must be at most"),
        (lambda: S.dichotic(torch.ones(100), FS, itd_s=1e9), ValueError, r"itd_s must lie in \[-1, 1\]"),
    ],
)
def test_stimuli_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_stimuli_never_return_inf_or_nan():
    for kw in (dict(), dict(calibration="fullscale", dboffset=-100.0)):  # the loudest allowed levels fit float32
        x = S.complex_tone([500.0, 1000.0, 2000.0], 0.1, FS, 194, dtype=torch.float32, **kw)
        assert bool(torch.isfinite(x).all())
    x = S.tone(1000, 0.1, FS, -200, dtype=torch.float32)  # and the softest is not flushed to zero
    assert bool((S.rms(x) > 0).all())
    assert math.isfinite(float(S.rms(torch.full((10,), 1e30, dtype=torch.float32))))  # x * x would overflow


def test_wav_errors_are_ours(tmp_path):
    with pytest.raises(FileNotFoundError, match="path .*missing.wav' does not exist"):
        S.load_wav(tmp_path / "missing.wav")
    (tmp_path / "garbage.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + bytes(range(200)))
    with pytest.raises(ValueError, match=r"garbage.wav' is not a readable WAV/FLAC file") as info:
        S.load_wav(tmp_path / "garbage.wav")
    assert "Libsndfile" not in str(info.value) and " at 0x" not in str(info.value)
    soundfile.write(str(tmp_path / "nan.wav"), np.array([0.1, math.nan, 0.2]), 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match="holds NaN or inf samples"):
        S.load_wav(tmp_path / "nan.wav")
    with pytest.raises(FileNotFoundError, match="folder of path"):
        S.save_wav(tmp_path / "no" / "x.wav", torch.ones(10) * 0.1, 8000)
    with pytest.raises(ValueError, match=r"subtype must be one of \[.*'FLOAT'.*\] for a WAV file, got 'XYZ'"):
        S.save_wav(tmp_path / "x.wav", torch.ones(10) * 0.1, 8000, subtype="XYZ")
    with pytest.raises(ValueError, match=r"path must end in one of \('.wav', '.flac'\)"):
        S.save_wav(tmp_path / "x.mp3", torch.ones(10) * 0.1, 8000)
    with pytest.raises(TypeError, match="path must be a file path"):
        S.load_wav(None)


def test_tmtf_negative_duration_is_named():
    from workbench.psychophysics.experiments import tmtf

    with pytest.raises(ValueError, match="duration_s"):
        tmtf(duration_s=-1)
