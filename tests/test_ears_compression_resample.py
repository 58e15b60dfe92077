"""Outer/middle-ear FIRs, compressions and resampling (issue 3 stages)."""

import numpy as np
import pytest
import scipy.signal as ss
import torch

from tests.reference.harness import rel_error
from workbench.stages import compression, ears
from workbench.stages.resample import resample_fft, resample_poly, resampled_length


# ---------------------------------------------------------------- ears
@pytest.mark.parametrize("model", ["osses2021", "paulick2024"])
def test_fir_designs_match_amt_coefficients(amt_reference, model):
    ref = amt_reference(model)
    assert rel_error(ears.headphone_fir(44100), ref["hp_fir"]) < 1e-12
    assert rel_error(ears.middle_ear_fir(44100), ref["me_fir"]) < 1e-12


def test_middle_ear_peak_gain_matches_amt(amt_reference):
    ref = amt_reference("osses2021")
    gain_db = ears.peak_gain_db(ears.middle_ear_fir(44100))
    assert abs(gain_db - float(ref["me_gain_TF_dB"])) < 1e-4
    assert ears.MiddleEarFilter(44100).peak_gain_db == pytest.approx(gain_db)


def test_causal_outer_middle_ear_matches_paulick_om(amt_reference):
    """AMT 1.6 paulick2024: headphone then middle-ear FIR, causal, no delay compensation."""
    ref = amt_reference("paulick2024")
    hp = ears.HeadphoneFilter(44100, delay_compensation=False, dtype=torch.float64)
    me = ears.MiddleEarFilter(44100, normalize=False, delay_compensation=False, dtype=torch.float64)
    for stim in ref.stimuli:
        out = me(hp(torch.as_tensor(ref[f"{stim}__insig"])))
        assert rel_error(out.numpy(), ref[f"{stim}__om"]) < 1e-6


def test_fir_filter_equals_convolution_with_drop():
    rng = np.random.default_rng(1)
    x, b = rng.standard_normal((3, 200)), rng.standard_normal(33)
    for drop in (0, 17, 32):
        ours = ears.fir_filter(torch.as_tensor(x), torch.as_tensor(b), drop).numpy()
        full = np.stack([np.convolve(row, b) for row in x])
        np.testing.assert_allclose(ours, full[:, drop : drop + 200], atol=1e-12)
    with pytest.raises(ValueError, match="drop"):
        ears.fir_filter(torch.as_tensor(x), torch.as_tensor(b), -1)


def test_fir2_and_minimum_phase_properties():
    # Flat unit response -> a centred unit impulse.
    b = ears.fir2(64, [0, 1], [1, 1])
    assert b[32] == pytest.approx(1.0) and np.abs(np.delete(b, 32)).max() < 1e-12
    with pytest.raises(ValueError, match="order"):
        ears.fir2(63, [0, 1], [1, 1])
    with pytest.raises(ValueError, match="freqs"):
        ears.fir2(64, [0, 0.5, 0.4, 1], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="grid_n"):
        ears.fir2(64, [0, 1], [1, 1], grid_n=16)
    lin = ears.middle_ear_fir(44100, phase_type="zero")
    np.testing.assert_allclose(lin, lin[::-1], atol=1e-12 * np.abs(lin).max())
    mn = ears.minimum_phase(lin)
    np.testing.assert_allclose(np.abs(np.fft.fft(mn)), np.abs(np.fft.fft(lin)), rtol=1e-9)
    energy = lambda h: np.cumsum(h**2) / np.sum(h**2)  # noqa: E731
    assert np.all(energy(mn)[:256] >= energy(lin)[:256] - 1e-12)


def test_fir2_reproduces_glasberg2002_outer_middle_filter(amt_reference):
    """The same design at order 4096 (AMT glasberg2002's tfOuterMiddle1997 FIR)."""
    ref = amt_reference("glasberg2002")
    tf_db = ref["tfOuterMiddle_dB"].astype(np.float64)  # stored float32: floor ~1e-8
    b = ears.fir2(4096, np.linspace(0, 1, tf_db.size), 10 ** (tf_db / 10))
    assert rel_error(b, ref["outerMiddleFilter"]) < 1e-6


@pytest.mark.parametrize("fs", [16000, 22050, 48000])
def test_ear_filters_other_rates(fs):
    for taps in (ears.headphone_fir(fs), ears.middle_ear_fir(fs)):
        assert taps.shape == (513,) and np.all(np.isfinite(taps))
    f = ears.MiddleEarFilter(fs)
    h = np.abs(np.fft.rfft(f.taps.double().numpy(), 16384))
    assert h.max() == pytest.approx(1.0, rel=1e-6)  # normalised passband
    with pytest.raises(ValueError, match="phase_type"):
        ears.MiddleEarFilter(fs, phase_type="linear")
    with pytest.raises(ValueError, match="fs"):
        ears.headphone_fir(-1)


def test_jepsen2008_middle_ear():
    b = ears.middle_ear_fir(44100, filter_type="jepsen2008")
    np.testing.assert_allclose(b, b[::-1], atol=1e-15)  # linear phase, as AMT
    assert np.abs(np.fft.fft(b)).max() == pytest.approx(1e-8 * 10 ** (104 / 20))
    h = np.abs(np.fft.rfft(b, 44100))
    assert 600 < np.argmax(h) < 1100 and h[100] < 0.5 * h.max() and h[8000] < 0.2 * h.max()
    with pytest.raises(ValueError, match="filter_type"):
        ears.middle_ear_fir(44100, filter_type="goode")


def test_learnable_fir_gets_gradient():
    f = ears.HeadphoneFilter(16000, learnable=True)
    f(torch.randn(2, 400)).pow(2).sum().backward()
    assert f.taps.grad is not None and torch.isfinite(f.taps.grad).all()


# ---------------------------------------------------------------- compression
def test_broken_stick_values_and_continuity():
    knee = compression.knee_amplitude(30, 100)
    assert knee == pytest.approx(10**-3.5)
    x = torch.tensor([-1.0, -knee, -knee / 2, 0.0, knee / 2, knee, 2 * knee, 1.0], dtype=torch.float64)
    y = compression.broken_stick(x, 0.3, knee)
    expected = torch.where(x.abs() > knee, x.sign() * knee * (x.abs() / knee) ** 0.3, x)
    torch.testing.assert_close(y, expected)
    assert y[5] == pytest.approx(knee)  # continuous at the knee
    assert y[-1] == pytest.approx(knee * (1 / knee) ** 0.3)


def test_compression_module_gradients_finite_and_per_channel():
    x = torch.tensor([[[0.0, 1e-6, -1e-3, 0.5]] * 3], dtype=torch.float64, requires_grad=True)
    for kind in ("brokenstick", "power"):
        mod = compression.Compression(kind, n=[0.3, 0.5, 1.0], dtype=torch.float64)
        y = mod(x)
        y.sum().backward()
        assert torch.isfinite(x.grad).all()
        x.grad = None
        if kind == "power":
            torch.testing.assert_close(y[0, 2], x[0, 2].detach())  # n = 1 is identity
    assert torch.autograd.gradcheck(
        lambda v: compression.broken_stick(v, 0.3, 1e-3),
        torch.tensor([2e-3, -5e-3, 1e-4, -3e-4], dtype=torch.float64, requires_grad=True),
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"compression_type": "log"}, "compression_type"),
        ({"n": 0.0}, "compression_n"),
        ({"n": -0.3}, "compression_n"),
        ({"n": float("nan")}, "compression_n"),
        ({"knee_db": float("inf")}, "knee_db"),
        ({"dboffset": 0.0}, "dboffset"),
    ],
)
def test_compression_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compression.Compression(**kwargs)


# ---------------------------------------------------------------- resampling
@pytest.mark.parametrize("up, down", [(1, 4), (4, 1), (2, 3), (160, 441), (441, 160), (3, 3)])
@pytest.mark.parametrize("n", [1, 5, 301])
def test_resample_poly_matches_scipy(up, down, n):
    x = np.random.default_rng(n).standard_normal((2, 3, n))
    ours = resample_poly(torch.as_tensor(x), up, down).numpy()
    np.testing.assert_allclose(ours, ss.resample_poly(x, up, down, axis=-1), atol=1e-12)


def test_resample_poly_octave_filter():
    """GNU Octave's resample design: 291 taps for 1/4 (L = 145), beta 5.653, sum not 1."""
    from workbench.stages.resample import polyphase_design

    h, n_drop = polyphase_design(1, 4, "octave")
    taps = np.trim_zeros(h, "f")
    assert taps.size == 291 and n_drop == (145 + 3) // 4
    m = np.arange(-145, 146)
    np.testing.assert_allclose(taps, 0.25 * np.sinc(m / 4) * np.kaiser(291, 0.1102 * 51.3))
    # A slow tone passes both designs alike; lengths follow ceil(T/4).
    t = np.arange(4001) / 44100
    x = torch.as_tensor(np.sin(2 * np.pi * 100 * t))
    y_oct, y_mat = resample_poly(x, 1, 4, "octave"), resample_poly(x, 1, 4)
    assert y_oct.shape == y_mat.shape == (1001,)
    assert float((y_oct - y_mat)[20:-20].abs().max()) < 1e-3
    with pytest.raises(ValueError, match="filter"):
        resample_poly(x, 1, 4, "scipy")


def test_resample_poly_gradcheck_and_errors():
    x = torch.randn(1, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: resample_poly(v, 2, 3), (x,))
    for up, down in ((0, 1), (1, -2), (1.5, 1), (True, 1)):
        with pytest.raises(ValueError):
            resample_poly(x, up, down)


def _ltfat_fftresample(x, n_out):
    spec = np.fft.rfft(x)
    bins = n_out // 2 + 1
    spec = spec[:bins] if spec.size >= bins else np.pad(spec, (0, bins - spec.size))
    return np.fft.irfft(spec, n_out) * n_out / x.size


@pytest.mark.parametrize("n_in, n_out", [(11025, 4000), (1001, 300), (300, 1001), (64, 64)])
def test_resample_fft(n_in, n_out):
    x = np.random.default_rng(0).standard_normal(n_in)
    ours = resample_fft(torch.as_tensor(x), n_out).numpy()
    np.testing.assert_allclose(ours, _ltfat_fftresample(x, n_out), atol=1e-12)
    # A band-limited periodic signal is reproduced exactly at the new rate.
    t_in, t_out = np.arange(n_in) / n_in, np.arange(n_out) / n_out
    tone = lambda t: np.cos(2 * np.pi * 5 * t) + 0.5 * np.sin(2 * np.pi * 11 * t)  # noqa: E731
    np.testing.assert_allclose(resample_fft(torch.as_tensor(tone(t_in)), n_out).numpy(), tone(t_out), atol=1e-9)
    assert resampled_length(11025, 44100, 16000) == 4000
