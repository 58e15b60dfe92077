"""King2019: modulation filterbank stage, reference tests against AMT 1.4, bad input."""

import numpy as np
import pytest
import scipy.signal as ss
import torch

from workbench.dsp import analytic_signal, hilbert_envelope
from workbench.stages.modulation import King2019ModulationFilterbank, king2019_mfc


# ---------------------------------------------------------------- modulation filterbank stage
def test_mfc_spacing_matches_amt(amt_reference):
    ref = amt_reference("king2019")
    np.testing.assert_allclose(king2019_mfc().numpy(), ref["tone1k60__mfc"], rtol=1e-12)
    np.testing.assert_allclose(
        king2019_mfc(2, 150, n_mod=4).numpy(), np.exp(np.linspace(np.log(2), np.log(150), 4)), rtol=1e-12
    )


def test_bands_are_amt_butterworth_bandpasses():
    bank = King2019ModulationFilterbank(44100.0, dtype=torch.float64)
    f = np.geomspace(0.5, 20000, 300)
    for mfc, sos in zip(bank.mfc.numpy(), bank.sos.numpy()):
        centre = mfc * np.sqrt(5) / 2
        ref = ss.butter(2, [centre - mfc / 2, centre + mfc / 2], "bandpass", fs=44100.0, output="sos")
        np.testing.assert_allclose(
            ss.sosfreqz(sos, worN=f, fs=44100.0)[1], ss.sosfreqz(ref, worN=f, fs=44100.0)[1], atol=1e-7
        )


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
    rms = lambda v: np.sqrt(np.mean(v**2, -1, keepdims=True))  # noqa: E731
    expected = env * rms(raw[mfc > 10].numpy()) / rms(env)
    np.testing.assert_allclose(out[:, :, mfc > 10].numpy(), expected.transpose(1, 2, 0, 3), rtol=1e-10)
    # Silent input: no NaN (AMT sets the scale to 1).
    assert torch.equal(
        bank(torch.zeros(1, 1, 100, dtype=torch.float64)), torch.zeros(1, 1, 5, 100, dtype=torch.float64)
    )
    cosine = torch.tensor([1.0, 0, -1, 0] * 4, dtype=torch.float64)
    np.testing.assert_allclose(hilbert_envelope(cosine).numpy(), np.ones(16), atol=1e-12)
    for n in (1001, 1000):
        v = torch.randn(2, n, dtype=torch.float64)
        torch.testing.assert_close(hilbert_envelope(v), analytic_signal(v).abs())


def test_modulation_bank_gradients():
    bank = King2019ModulationFilterbank(2000.0, learnable=True, dtype=torch.float64)
    x = torch.randn(1, 2, 600, dtype=torch.float64, requires_grad=True)
    bank(x).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(bank.log_mfc.grad).all()
    assert bank.log_mfc.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mflow": 150.0, "mfhigh": 2.0}, "mflow"),
        ({"mflow": 0.0}, "mflow"),
        ({"mfhigh": -1.0}, "mfhigh"),
        ({"n_mod": 0}, "modbank_nmod"),
        ({"q_factor": 0.0}, "modbank_qfactor"),
        ({"mfhigh": 3900.0, "n_mod": 3}, "fs/2"),
    ],
)
def test_modulation_bank_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        King2019ModulationFilterbank(8000.0, **kwargs)


# ---------------------------------------------------------------- model vs AMT 1.4
def _model(ref, stim, **kw):
    from workbench.models.king2019 import King2019

    return King2019(44100, basef=float(ref[f"{stim}__basef"]), **kw)


@pytest.mark.parametrize("stim", ["tone1k60", "sam4k16", "noise65"])
def test_king2019_matches_amt_float64(amt_reference, stim):
    from tests.reference.harness import compare_stages
    from workbench.stages.modulation import king2019_modfilterbank

    ref = amt_reference("king2019")
    model = _model(ref, stim, subfs=float(ref[f"{stim}__subfs"]), return_stages=True, dtype=torch.float64)
    np.testing.assert_allclose(model.fc.numpy(), ref[f"{stim}__fc"], rtol=1e-12)
    np.testing.assert_allclose(model.mfc.numpy(), ref[f"{stim}__mfc"], rtol=1e-12)
    out, stages = model(torch.as_tensor(ref[f"{stim}__insig"])[None])
    assert out.shape == (1, 4000, 5, 5)
    # Modulation band-pass outputs before the Hilbert envelope (E_mod), at fs.
    bank = model.modulation_filterbank
    e_mod = king2019_modfilterbank(stages["adapted_response"], bank.sos, bank.mfc, None)
    low = (model.mfc <= 10).numpy()
    tm = lambda t, s: t[0].movedim(-1, 0).numpy()[::s]  # noqa: E731 - time-major, strided
    pairs = {
        key: (tm(stages[key], 4), ref[f"{stim}__{amt}"])
        for key, amt in [
            ("gtone_response", "gtone"),
            ("compressed_response", "compressed"),
            ("ihc", "ihc"),
            ("adapted_response", "adapted"),
        ]
    }
    e_ours, e_ref = tm(e_mod, 16).transpose(0, 1, 2), ref[f"{stim}__E_mod"]
    pairs["E_mod <= 10 Hz"] = (e_ours[..., low], e_ref[..., low])
    pairs["E_mod > 10 Hz"] = (e_ours[..., ~low], e_ref[..., ~low])
    o_ours, o_ref = out[0].numpy()[::2], ref[f"{stim}__intrep"]
    pairs["intrep <= 10 Hz"] = (o_ours[..., low], o_ref[..., low])
    pairs["intrep > 10 Hz"] = (o_ours[..., ~low], o_ref[..., ~low])
    tol = {
        "gtone_response": 1e-4,
        "compressed_response": 1e-3,
        "ihc": 1e-3,
        "adapted_response": 1e-3,
        "E_mod <= 10 Hz": 1e-1,
        "E_mod > 10 Hz": 1e-3,
        "intrep <= 10 Hz": 1e-1,
        "intrep > 10 Hz": 1e-3,
    }
    compare_stages(pairs, tol, label=f"king2019 {stim}")


def test_king2019_float32_output(amt_reference):
    ref = amt_reference("king2019")
    stim = "sam4k16"
    model = _model(ref, stim, subfs=16000.0)
    out = model(torch.as_tensor(ref[f"{stim}__insig"], dtype=torch.float32))
    assert out.dtype == torch.float32 and out.shape == (4000, 5, 5)
    high = (model.mfc > 10).numpy()
    err = np.linalg.norm(out.numpy()[::2][..., high] - ref[f"{stim}__intrep"][..., high])
    assert err / np.linalg.norm(ref[f"{stim}__intrep"][..., high]) < 1e-2


def test_king2019_api_shapes_and_gradients():
    from workbench.models.king2019 import King2019

    model = King2019(
        16000,
        basef=1000.0,
        compression_type="power",
        modbank_nmod=4,
        lp_150hz=True,
        return_stages=True,
        dtype=torch.float64,
    )
    assert model.num_channels == model.fc.numel() == 5 and model.mfc.numel() == 4
    x = (torch.randn(2, 1600, dtype=torch.float64) * 0.01).requires_grad_(True)
    out, stages = model(x)
    assert out.shape == (2, 1600, 5, 4)
    assert list(stages) == ["gtone_response", "compressed_response", "ihc", "adapted_response"]
    assert all(v.shape == (2, 5, 1600) for v in stages.values())
    out.pow(2).mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    full = King2019(16000, dtype=torch.float64)
    assert full.num_channels > 20 and full.fc[0] >= 80 and full.fc[-1] <= 8000
    sub = King2019(16000, basef=1000.0, subfs=1000)
    assert sub(torch.randn(1600) * 0.01).shape == (100, 5, 5)
    learn = King2019(16000, basef=1000.0, learnable=True, dtype=torch.float64)
    learn(torch.randn(800, dtype=torch.float64) * 0.01).pow(2).mean().backward()
    named = dict(learn.named_parameters())
    for name in (
        "adaptation_filter.cutoff_hz",
        "compression.n",
        "modulation_filterbank.log_mfc",
        "filterbank.center_freqs_hz",
    ):
        assert named[name].grad is not None and torch.isfinite(named[name].grad).all(), name


@pytest.mark.parametrize("compression_type", ["brokenstick", "power"])
def test_king2019_silent_input_has_finite_gradients(compression_type):
    from workbench.models.king2019 import King2019

    model = King2019(16000, basef=1000.0, compression_type=compression_type, learnable=True)
    x = torch.zeros(1, 1600, requires_grad=True)
    out = model(x)
    out.pow(2).mean().backward()
    assert torch.count_nonzero(out) == 0 and torch.isfinite(x.grad).all()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"compression_type": "log"}, ValueError, "compression_type"),
        ({"compression_n": 0.0}, ValueError, "compression_n"),
        ({"compression_n": -1.0}, ValueError, "compression_n"),
        ({"mflow": 150.0, "mfhigh": 2.0}, ValueError, "mflow"),
        ({"subfs": 32000}, ValueError, "subfs"),
        ({"subfs": 0}, ValueError, "subfs"),
        ({"basef": 0.0}, ValueError, "basef"),
        ({"basef": 9000.0}, ValueError, "basef"),
        ({"basef": -5.0}, ValueError, "basef"),
        ({"fs": -1}, ValueError, "fs"),
        ({"flow": 5000.0, "fhigh": 100.0}, ValueError, "flow"),
        ({"adt_hp_order": 0}, ValueError, "adt_hp_order"),
        ({"adt_hp_fc": 9000.0}, ValueError, "cutoff"),
        ({"adaptation_kwargs": {"order": 0}}, ValueError, "order"),
        ({"filterbank_kwargs": {"nonsense": 1}}, TypeError, "filterbank_kwargs"),
        ({"modulation_kwargs": {"q": 1}}, TypeError, "modulation_kwargs"),
        ({"dtype": torch.int32}, TypeError, "dtype"),
    ],
)
def test_king2019_bad_arguments(kwargs, err, match):
    from workbench.models.king2019 import King2019

    kwargs = {"fs": 16000, **kwargs}
    with pytest.raises(err, match=match):
        King2019(**kwargs)


def test_king2019_bad_input():
    from workbench.models.king2019 import King2019

    model = King2019(16000, basef=1000.0)
    for bad, err in [
        (torch.zeros(2, 3, 100), ValueError),
        (torch.tensor([1, 2, 3]), TypeError),
        (torch.tensor([0.0, float("nan"), 0.0]), ValueError),
        (torch.zeros(0), ValueError),
    ]:
        with pytest.raises(err, match="x"):
            model(bad)
