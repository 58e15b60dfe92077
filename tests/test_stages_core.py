"""Core DSP stages: ERB scale, Butterworth design, gammatone, IHC, adaptation loops."""

import math

import numpy as np
import pytest
import scipy.signal as sps
import torch

from tests.helpers import freqz, modulation_bank_layout, sos_to_ba
from workbench.kernels.adaptation import adaptation_loops
from workbench.stages.adaptation import AdaptLoop, min_level_from_db
from workbench.stages.erb import erbspace, erbspacebw
from workbench.stages.filters import butter, first_order_lowpass
from workbench.stages.gammatone import GammatoneFilterbank, default_bandwidth_factor, gammatone_coefficients
from workbench.stages.ihc import IHCEnvelope
from workbench.units import erb_bandwidth_hz, erb_number_to_hz, hz_to_erb_number

FS = 44100.0


# ----------------------------------------------------------------------------- ERB scale
def test_erb_scale_round_trip_and_values():
    f = torch.tensor([0.0, 50.0, 1000.0, 8000.0], dtype=torch.float64)
    assert torch.allclose(erb_number_to_hz(hz_to_erb_number(f)), f, rtol=1e-12, atol=1e-9)
    assert float(hz_to_erb_number(1000.0)) == pytest.approx(9.2645 * math.log(1 + 4.37), rel=1e-12)
    assert float(erb_bandwidth_hz(1000.0)) == pytest.approx(24.7 + 1000 / 9.265, rel=1e-12)


def test_erbspacebw_matches_amt_dau1997_grid():
    fc = erbspacebw(80, 8000, 1.0, 1000)
    assert fc.numel() == 30
    assert float(fc[0]) == pytest.approx(107.7, abs=0.05) and float(fc[-1]) == pytest.approx(7469.7, abs=0.05)
    assert bool((fc == 1000).any() or torch.isclose(fc, torch.tensor(1000.0, dtype=torch.float64)).any())
    steps = torch.diff(hz_to_erb_number(fc))
    assert torch.allclose(steps, torch.ones_like(steps), atol=1e-12)
    centred = erbspacebw(100, 4000, 1.0)
    lo, hi = hz_to_erb_number(torch.tensor([100.0, 4000.0], dtype=torch.float64))
    e = hz_to_erb_number(centred)
    assert float(e[0] - lo) == pytest.approx(float(hi - e[-1]), abs=1e-9)
    sp = erbspace(100, 4000, 7)
    assert float(sp[0]) == pytest.approx(100) and float(sp[-1]) == pytest.approx(4000)
    with pytest.raises(ValueError, match="basef"):
        erbspacebw(80, 8000, 1.0, 9000)


# ------------------------------------------------------------------------------- filters
@pytest.mark.parametrize(
    "order,cutoff,btype",
    [
        (1, 1000.0, "low"),
        (2, 2.5, "low"),
        (5, 3000.0, "low"),
        (2, 3.0, "high"),
        (3, 500.0, "high"),
        (1, (100.0, 200.0), "bandpass"),
        (2, (10.0, 300.0), "bandpass"),
    ],
)
def test_butter_matches_scipy(order, cutoff, btype):
    ours = butter(order, cutoff, FS, btype).numpy()
    ref = sps.butter(order, cutoff, btype, fs=FS, output="sos")
    f = np.array([1.0, 7.0, 50.0, 150.0, 800.0, 3000.0, 12000.0])
    h_ours = sps.sosfreqz(ours, f, fs=FS)[1]
    h_ref = sps.sosfreqz(ref, f, fs=FS)[1]
    assert np.abs(h_ours - h_ref).max() < 1e-10


def test_butter_is_differentiable_in_cutoff_and_first_order_helper():
    cutoff = torch.tensor(150.0, dtype=torch.float64, requires_grad=True)
    b, a = sos_to_ba(butter(1, cutoff, FS))
    gain = freqz(b, a, [300.0], FS).abs().sum()
    gain.backward()
    assert cutoff.grad is not None and float(cutoff.grad) > 0  # wider passband -> more gain at 300 Hz
    b1, a1 = first_order_lowpass(1000.0, FS)
    rb, ra = sps.butter(1, 1000.0, fs=FS)
    assert np.allclose(b1.numpy(), rb, rtol=1e-14) and np.allclose(a1.numpy(), ra, rtol=1e-14)
    with pytest.raises(ValueError, match="cutoff_hz"):
        butter(2, 30000.0, FS)


# ----------------------------------------------------------------------------- gammatone
def test_gammatone_default_betamul_and_unit_gain_at_fc():
    assert default_bandwidth_factor(4) == pytest.approx(1.01859, abs=5e-6)
    fc = torch.tensor([100.0, 1000.0, 6000.0], dtype=torch.float64)
    b, a = gammatone_coefficients(fc, torch.full_like(fc, default_bandwidth_factor(4)), FS)
    for k in range(3):
        grid = torch.linspace(0.5, 1.5, 2001, dtype=torch.float64) * fc[k]
        h = freqz(b[k], a[k], grid, FS).abs() ** 4  # four identical sections
        assert float(h.max()) == pytest.approx(1.0, abs=1e-6)
        assert float(grid[h.argmax()]) == pytest.approx(float(fc[k]), rel=2e-3)


def test_gammatone_float32_stable_for_low_channels_and_shapes():
    fb = GammatoneFilterbank(FS, [40.0, 80.0, 1000.0], dtype=torch.float32)
    t = torch.arange(22050) / FS
    x = torch.sin(2 * math.pi * 80 * t)
    y = fb(x)
    assert y.shape == (3, 22050) and torch.isfinite(y).all()
    assert float(y[1, -4410:].abs().max()) == pytest.approx(1.0, abs=0.02)  # unit gain at fc
    assert fb(x.repeat(2, 1)).shape == (2, 3, 22050)


# ----------------------------------------------------------------------------------- IHC
def test_ihc_methods_match_scipy():
    x = torch.randn(2, 3, 2000, dtype=torch.float64)
    for method, cutoff, order in [("dau1996", 1000, 1), ("breebaart2001", 2000, 5), ("king2019", 1000, 1)]:
        y = IHCEnvelope(FS, method, dtype=torch.float64)(x)
        b, a = sps.butter(1, cutoff, fs=FS)
        ref = np.maximum(x.numpy(), 0)
        for _ in range(order):
            ref = sps.lfilter(b, a, ref, axis=-1)
        assert np.abs(y.numpy() - ref).max() < 1e-12
    with pytest.raises(ValueError, match="method"):
        IHCEnvelope(FS, "dau1997")


# ---------------------------------------------------------------------------- adaptation
def _adaptloop_loop(x, fs, limit, minlvl, tau):
    """Plain-Python transcription of the AMT recursion (comp_adaptloop), one row."""
    a1 = np.exp(-1 / (np.asarray(tau) * fs))
    b0 = 1 - a1
    n = len(tau)
    state = minlvl ** (1 / 2.0 ** np.arange(1, n + 1))
    corr = minlvl ** (1 / 2.0**n)
    maxv = (1 - state**2) * limit - 1
    out = np.empty_like(x)
    for i, v in enumerate(np.maximum(x, minlvl)):
        for j in range(n):
            v = v / state[j]
            if limit > 1 and v > 1:
                v = 2 * maxv[j] / (1 + np.exp(-2 / maxv[j] * (v - 1))) - (maxv[j] - 1)
            state[j] = a1[j] * state[j] + b0[j] * v
        out[i] = v
    return (out - corr) * 100 / (1 - corr)


@pytest.mark.parametrize("limit", [10.0, 5.0, 0.0])
def test_adaptation_matches_plain_recursion_per_channel_floor(limit):
    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal((2, 3, 500))) * np.array([1e-4, 1e-2, 0.5])[:, None]
    floors = np.array([1e-5, 3e-5, 2e-6])
    tau = (0.005, 0.05, 0.129, 0.253, 0.5)
    stage = AdaptLoop(FS, tau_s=tau, limit=limit, min_level=floors, dtype=torch.float64)
    ours = stage(torch.from_numpy(x)).numpy()
    for bi in range(2):
        for c in range(3):
            ref = _adaptloop_loop(x[bi, c], FS, limit, floors[c], tau)
            assert np.abs(ours[bi, c] - ref).max() <= 1e-9 * np.abs(ref).max()
    # torch fallback (used on CUDA) gives the same numbers
    fb = adaptation_loops(
        torch.from_numpy(x),
        torch.tensor(tau, dtype=torch.float64),
        FS,
        limit,
        torch.from_numpy(floors).expand(2, 3),
        backend="torch",
    )
    assert np.abs(fb.numpy() - ours).max() <= 1e-9 * np.abs(ours).max()


def test_adaptation_presets_and_floor():
    assert float(min_level_from_db(0.0)) == pytest.approx(1e-5)
    assert AdaptLoop(FS, preset="osses2021").limit == 5.0
    assert AdaptLoop(FS).limit == 10.0
    with pytest.raises(ValueError, match="preset"):
        AdaptLoop(FS, preset="dau")
    with pytest.raises(ValueError, match="min_level"):
        AdaptLoop(FS, min_level=[1e-5, 2e-5])(torch.rand(1, 3, 100))


@pytest.mark.parametrize("limit", [10.0, 0.0])
def test_adaptation_gradcheck_signal_and_tau(limit):
    torch.manual_seed(0)
    x = torch.rand(2, 80, dtype=torch.float64) ** 2 * 0.01 + 1e-6
    x[:, 20:40] *= 100  # onset that drives the overshoot limiter
    x.requires_grad_()
    tau = torch.tensor([0.0005, 0.001, 0.003], dtype=torch.float64, requires_grad=True)
    floor = torch.tensor(1e-5, dtype=torch.float64)
    fn = lambda x, tau: adaptation_loops(x, tau, FS, limit, floor, backend="numba")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, tau), eps=1e-7, atol=1e-5, rtol=1e-4)


def test_adaptation_learnable_tau_gets_gradient():
    stage = AdaptLoop(FS, learnable=True, dtype=torch.float64)
    x = torch.rand(1, 2, 2000, dtype=torch.float64) * 0.1
    stage(x).square().mean().backward()
    assert stage.tau_s.grad is not None and torch.isfinite(stage.tau_s.grad).all()
    assert bool((stage.tau_s.grad != 0).all())


# ---------------------------------------------------------------------------- modulation
from workbench.kernels.modfilter import modulation_bandpass_bank  # noqa: E402
from workbench.stages.modulation import ModulationFilterbank, modulation_center_freqs  # noqa: E402


def test_modulation_center_freqs_follow_amt_rule():
    top = modulation_center_freqs(8000.0)  # min(fc/4, 1000) = 1000 Hz -> 12 filters
    assert len(top) == 12 and top[:3] == [0.0, 5.0, 10.0]
    assert np.allclose(np.diff(np.log(top[3:])), math.log(5 / 3))
    assert top[3] == pytest.approx(50 / 3) and top[-1] <= 1000
    assert modulation_center_freqs(107.7) == [0.0, 5.0, 10.0, 50 / 3]  # 4 filters, fc/4 = 26.9 Hz
    assert modulation_center_freqs(20.0) == [0.0, 5.0]  # top 5 Hz: MATLAB fix() truncation
    assert modulation_center_freqs(30.0) == [0.0, 5.0, 10.0]  # top 7.5 Hz still keeps 10 Hz
    assert max(modulation_center_freqs(8000.0, max_mfc=150.0)) < 150


@pytest.mark.parametrize("filter_type", ["efilt", "butterworth"])
def test_each_modulation_bandpass_peaks_at_its_mfc(filter_type):
    bank = ModulationFilterbank(FS, [8000.0], filter_type=filter_type, dtype=torch.float64)
    mfc = bank.mfc_hz
    if filter_type == "efilt":
        rho, theta, gain = bank.efilt_poles()
        b = gain.to(torch.complex128).unsqueeze(-1)
        a = torch.stack([torch.ones_like(b[:, 0]), -torch.polar(rho, theta)], -1)
    for k, f0 in enumerate(mfc):
        grid = torch.linspace(0.3, 3.0, 2701, dtype=torch.float64) * f0
        if filter_type == "efilt":
            h = freqz(b[k], a[k], grid, FS).abs()
            assert float(h.max()) == pytest.approx(2.0, rel=1e-6)  # unit gain x AMT's 2
        else:
            w = bank.bandwidth_hz[k]
            low = torch.sqrt(w * w / 4 + f0 * f0) - w / 2
            sos = butter(1, torch.stack([low, low + w]), FS, "bandpass")
            h = freqz(*sos_to_ba(sos), grid, FS).abs()
        assert float(grid[h.argmax()]) == pytest.approx(float(f0), rel=5e-3)
        assert float(h[0]) < 0.8 * float(h.max())  # a band-pass, not a low-pass


def test_modulation_bank_selects_the_modulation_rate():
    bank = ModulationFilterbank(FS, [8000.0], lowpass_150_hz=False, dtype=torch.float64)
    t = torch.arange(int(FS), dtype=torch.float64) / FS
    idx = 3  # 16.67 Hz band: envelope output x 1/sqrt(2)
    f0 = float(bank.mfc[idx])
    on = bank(torch.cos(2 * math.pi * f0 * t).reshape(1, 1, -1))[0][0, idx, 22050:]
    off = bank(torch.cos(2 * math.pi * 150.0 * t).reshape(1, 1, -1))[0][0, idx, 22050:]
    assert float(on.mean()) == pytest.approx(1 / math.sqrt(2), rel=1e-2)  # small negative-frequency leak
    assert float(off.mean()) < 0.1 * float(on.mean())


def _bank_case(dtype=torch.float64, batch=2, length=120):
    torch.manual_seed(0)
    x = torch.randn(batch, 2, length, dtype=dtype)
    lowpassed = torch.randn(batch, 2, length, dtype=dtype)
    rho = torch.tensor([0.9, 0.95, 0.8], dtype=dtype)
    theta = torch.tensor([0.1, 0.3, 0.7], dtype=dtype)
    gain = 2 * (1 - rho)
    layout = modulation_bank_layout()
    return x, lowpassed, rho, theta, gain, layout


def test_fused_modulation_kernel_equals_lfilter_path_and_gradcheck():
    x, lowpassed, rho, theta, gain, layout = _bank_case()
    fused = modulation_bandpass_bank(x, lowpassed, rho, theta, gain, **layout, backend="numba")
    plain = modulation_bandpass_bank(x, lowpassed, rho, theta, gain, **layout, backend="torch")
    torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-12)
    args = [t.detach().clone().requires_grad_() for t in _bank_case(length=40)[:5]]
    fn = lambda *a: modulation_bandpass_bank(*a, **layout, backend="numba")  # noqa: E731
    assert torch.autograd.gradcheck(fn, tuple(args), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_butterworth_bank_learnable_gradients_and_plain_outputs():
    bank = ModulationFilterbank(8000.0, [2000.0], filter_type="butterworth", learnable=True, dtype=torch.float64)
    x = torch.randn(1, 1, 4000, dtype=torch.float64)
    sum(o.square().mean() for o in bank(x)).backward()
    for name in ("mfc_hz", "bandwidth_hz", "lowpass_cutoff_hz", "prefilter_cutoff_hz"):
        grad = getattr(bank, name).grad
        assert grad is not None and torch.isfinite(grad).all() and bool((grad != 0).all()), name
    plain = ModulationFilterbank(8000.0, [2000.0], phase_insensitive=False, dtype=torch.float64)
    assert bool((plain(x)[0][0, 4] < 0).any())  # band-pass outputs, not envelopes


# ------------------------------------------------------------------ filter design on any device
@pytest.mark.parametrize(
    "btype, cutoffs",
    [("low", (2.5, 150.0, 3000.0)), ("high", (3.0, 300.0)), ("bandpass", ((2.0, 9.0), (100.0, 300.0)))],
)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_butter_matches_scipy_batched(btype, cutoffs, order):
    """The index-paired design (no host reads) has scipy's transfer function, and a batch of
    cutoffs designs every filter at once."""
    sos = butter(order, torch.tensor(cutoffs, dtype=torch.float64), FS, btype)
    assert sos.shape[0] == len(cutoffs)
    w = np.linspace(0.5, 15000, 2000)
    for k, cutoff in enumerate(cutoffs):
        ref = sps.butter(order, cutoff, btype=btype, fs=FS, output="sos")
        assert sos[k].shape == ref.shape
        h = sps.sosfreqz(sos[k].numpy(), worN=w, fs=FS)[1]
        h_ref = sps.sosfreqz(ref, worN=w, fs=FS)[1]
        assert np.abs(h - h_ref).max() < 1e-9 * np.abs(h_ref).max()  # sections may come in another order


def test_butter_follows_the_cutoff_device():
    """Regression: the design multiplied CPU prototype tensors with on-device cutoffs (the
    models' modulation banks raised on CUDA). Meta tensors stand in for a GPU here."""
    for btype, cutoff in (
        ("low", torch.tensor(2.5)),
        ("high", torch.tensor(3.0)),
        ("bandpass", torch.tensor([2.0, 9.0])),
    ):
        sos = butter(2, cutoff.to("meta", torch.float64), FS, btype)
        assert sos.is_meta and sos.shape[-1] == 6
    bank = ModulationFilterbank(FS, [1000.0, 4000.0], learnable=True, dtype=torch.float64).to("meta")
    out = bank(torch.zeros(1, 2, 100, device="meta", dtype=torch.float64))
    assert all(o.is_meta for o in out)
