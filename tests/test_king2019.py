"""King2019: modulation filterbank stage, reference tests against AMT 1.4, bad input."""

import numpy as np
import pytest
import scipy.signal as ss
import torch

from workbench.stages.modulation import (King2019ModulationFilterbank, analytic_envelope,
                                         butter_bandpass2_sos, king2019_mfc)


# ---------------------------------------------------------------- modulation filterbank stage
def test_mfc_spacing_matches_amt(amt_reference):
    ref = amt_reference("king2019")
    np.testing.assert_allclose(king2019_mfc().numpy(), ref["tone1k60__mfc"], rtol=1e-12)
    np.testing.assert_allclose(king2019_mfc(2, 150, n_mod=4).numpy(),
                               np.exp(np.linspace(np.log(2), np.log(150), 4)), rtol=1e-12)


@pytest.mark.parametrize("fs", [16000.0, 44100.0])
def test_bandpass_sections_equal_butter(fs):
    edges = np.array([[1.236, 3.236], [30.0, 70.0], [500.0, 900.0]])
    sos = butter_bandpass2_sos(torch.tensor(edges[:, 0], dtype=torch.float64),
                               torch.tensor(edges[:, 1], dtype=torch.float64), fs)
    assert sos.shape == (3, 2, 6)
    for i, e in enumerate(edges):
        ref = ss.butter(2, e, "bandpass", fs=fs, output="sos")
        f = np.geomspace(0.5, fs / 2 * 0.99, 400)
        _, h_ours = ss.sosfreqz(sos[i].numpy(), worN=f, fs=fs)
        _, h_ref = ss.sosfreqz(ref, worN=f, fs=fs)
        np.testing.assert_allclose(h_ours, h_ref, atol=1e-8)


def test_float32_low_band_is_stable():
    """The 2 Hz band as sections stays finite and close to float64 in float32."""
    bank64 = King2019ModulationFilterbank(44100.0, dtype=torch.float64)
    bank32 = King2019ModulationFilterbank(44100.0, dtype=torch.float32)
    x = torch.randn(1, 2, 44100, dtype=torch.float64)
    y64, y32 = bank64(x), bank32(x.float())
    assert torch.isfinite(y32).all()
    err = (y32.double() - y64).norm(dim=-1) / y64.norm(dim=-1)
    assert float(err.max()) < 1e-3


def test_envelope_above_cut_and_waveform_below():
    fs = 8000.0
    bank = King2019ModulationFilterbank(fs, dtype=torch.float64)
    x = torch.randn(2, 3, 4000, dtype=torch.float64)
    out = bank(x)
    assert out.shape == (2, 3, 5, 4000)
    raw = torch.as_tensor(np.stack([ss.sosfilt(s, x.numpy(), axis=-1) for s in bank.sos.numpy()]))
    mfc = bank.mfc
    torch.testing.assert_close(out[:, :, mfc <= 10], raw[mfc <= 10].permute(1, 2, 0, 3))
    env = np.abs(ss.hilbert(raw[mfc > 10].numpy(), axis=-1))
    rms = lambda v: np.sqrt(np.mean(v ** 2, -1, keepdims=True))  # noqa: E731
    expected = env * rms(raw[mfc > 10].numpy()) / rms(env)
    np.testing.assert_allclose(out[:, :, mfc > 10].numpy(), expected.transpose(1, 2, 0, 3), rtol=1e-10)
    # Silent input: no NaN (AMT sets the scale to 1).
    assert torch.equal(bank(torch.zeros(1, 1, 100, dtype=torch.float64)),
                       torch.zeros(1, 1, 5, 100, dtype=torch.float64))
    np.testing.assert_allclose(analytic_envelope(torch.tensor([1.0, 0, -1, 0] * 4, dtype=torch.float64)).numpy(),
                               np.ones(16), atol=1e-12)


def test_modulation_bank_gradients():
    bank = King2019ModulationFilterbank(2000.0, learnable=True, dtype=torch.float64)
    x = torch.randn(1, 2, 600, dtype=torch.float64, requires_grad=True)
    bank(x).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(bank.log_mfc.grad).all()
    assert bank.log_mfc.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"mflow": 150.0, "mfhigh": 2.0}, "mflow"),
    ({"mflow": 0.0}, "mflow"),
    ({"mfhigh": -1.0}, "mfhigh"),
    ({"n_mod": 0}, "modbank_nmod"),
    ({"q_factor": 0.0}, "modbank_qfactor"),
    ({"mfhigh": 3900.0, "n_mod": 3}, "fs/2"),
])
def test_modulation_bank_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        King2019ModulationFilterbank(8000.0, **kwargs)
