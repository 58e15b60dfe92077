"""Osses2021 against AMT 1.4 (every stored stimulus and stage), API, bad input."""

import numpy as np
import pytest
import torch

from tests.reference.harness import compare_stages
from workbench.models.osses2021 import Osses2021

TOL = {"filterbank": 1e-4, "ihc": 1e-3, "adaptation": 1e-3, "intrep": 1e-3}


@pytest.fixture(scope="module")
def model64():
    return Osses2021(44100, return_stages=True, dtype=torch.float64)


def _intrep(out, n_time, stride):
    """List of (M_i, T) -> time-major (T/stride, F, max M) with NaN padding, as AMT stores it."""
    full = np.full((n_time, len(out), max(o.shape[0] for o in out)), np.nan)
    for i, o in enumerate(out):
        full[:, i, : o.shape[0]] = o.detach().numpy().T[::stride]
    return full


@pytest.mark.parametrize("stim", ["tone1k60", "sam4k16", "noise65"])
def test_osses2021_matches_amt_float64(amt_reference, model64, stim):
    ref = amt_reference("osses2021")
    np.testing.assert_allclose(model64.fc.numpy(), ref["fc"], rtol=1e-12)
    np.testing.assert_allclose(model64.mfc.numpy(), ref["mfc_last"], rtol=1e-12)
    assert model64.modulation.num_mod_channels == ref[f"{stim}__n_mfc"].astype(int).tolist()
    x = torch.as_tensor(ref[f"{stim}__insig"])
    out, stages = model64(x)
    assert stages["middleear"].shape == x.shape  # output length = input length
    pairs = {
        key: (stages[key].numpy().T[:: ref.stride(f"{stim}__{amt}")], ref[f"{stim}__{amt}"])
        for key, amt in [("filterbank", "bm"), ("ihc", "ihc"), ("adaptation", "adapt")]
    }
    intrep = ref[f"{stim}__intrep"]
    pairs["intrep"] = (_intrep(out, intrep.shape[0], ref.stride(f"{stim}__intrep")), intrep)
    compare_stages(pairs, TOL, label=f"osses2021 {stim}")


def test_osses2021_float32_output(amt_reference):
    ref = amt_reference("osses2021")
    model = Osses2021(44100)
    out = model(torch.as_tensor(ref["sam4k16__insig"], dtype=torch.float32)[None])
    assert out[0].dtype == torch.float32
    intrep = ref["sam4k16__intrep"]
    ours = _intrep([o[0] for o in out], intrep.shape[0], ref.stride("sam4k16__intrep"))
    compare_stages({"intrep": (ours, intrep)}, {"intrep": 1e-2}, label="osses2021 float32")


def test_ear_front_end_is_amt_delay_compensated_fir(model64):
    """Headphone then middle ear: causal FIR on the zero-padded signal, 257 samples dropped,
    middle-ear output x 10^(-peak dB / 20)."""
    from workbench.stages.ears import headphone_fir, middle_ear_fir, peak_gain_db

    x = np.random.default_rng(3).standard_normal(3000) * 0.01
    _, stages = model64(torch.as_tensor(x))
    hp, me = headphone_fir(44100), middle_ear_fir(44100)
    expect_hp = np.convolve(np.concatenate([x, np.zeros(257)]), hp)[257 : 257 + x.size]
    expect_me = np.convolve(np.concatenate([expect_hp, np.zeros(257)]), me)[257 : 257 + x.size]
    expect_me *= 10 ** (-peak_gain_db(me) / 20)
    np.testing.assert_allclose(stages["headphone"].numpy(), expect_hp, atol=1e-12)
    np.testing.assert_allclose(stages["middleear"].numpy(), expect_me, atol=1e-10)


def test_osses2021_api_shapes_phase_and_gradients():
    model = Osses2021(16000, flow=200, fhigh=4000, phase_type="zero", return_stages=True, dtype=torch.float64)
    x = (torch.randn(2, 1600, dtype=torch.float64) * 0.01).requires_grad_(True)
    out, stages = model(x)
    assert list(stages) == ["headphone", "middleear", "filterbank", "ihc", "adaptation"]
    assert stages["headphone"].shape == stages["middleear"].shape == (2, 1600)
    assert stages["filterbank"].shape == (2, model.num_channels, 1600)
    assert len(out) == model.num_channels and all(o.shape[::2] == (2, 1600) for o in out)
    sum(o.pow(2).mean() for o in out).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    minimum = Osses2021(16000, flow=200, fhigh=4000, dtype=torch.float64)
    assert not torch.allclose(minimum.middleear.taps, model.middleear.taps)
    # 'zero': the middle-ear stage is zero phase (no shift of a centred pulse's peak).
    pulse = torch.zeros(1001, dtype=torch.float64)
    pulse[500] = 1
    assert int(model.middleear(pulse).abs().argmax()) == 500
    single = Osses2021(16000, flow=200, fhigh=4000)(torch.randn(800) * 0.01)
    assert single[0].dim() == 2 and single[0].shape[-1] == 800
    learn = Osses2021(16000, fhigh=4000, learnable=True)
    sum(o.pow(2).mean() for o in learn(torch.randn(1, 1600) * 0.01)).backward()
    learn.distribute_gradients()
    for name, p in learn.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert learn.headphone.taps.grad.abs().sum() > 0 and learn.middleear.taps.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"phase_type": "linear"}, ValueError, "phase_type"),
        ({"phase_type": None}, ValueError, "phase_type"),
        ({"headphone_kwargs": {"filter_type": "x"}}, TypeError, "headphone_kwargs"),
        ({"middleear_kwargs": {"gain": 2}}, TypeError, "middleear_kwargs"),
        ({"middleear_kwargs": {"filter_type": "goode"}}, ValueError, "filter_type"),
        ({"ihc_kwargs": 5}, TypeError, "ihc_kwargs"),
        ({"adaptation_kwargs": {"limt": 5}}, TypeError, "adaptation_kwargs"),
        ({"fs": 0}, ValueError, "fs"),
        ({"flow": 5000.0, "fhigh": 100.0}, ValueError, "flow"),
        ({"dtype": torch.float16}, TypeError, "dtype"),
    ],
)
def test_osses2021_bad_arguments(kwargs, err, match):
    kwargs = {"fs": 16000, "fhigh": 4000.0, **kwargs}
    with pytest.raises(err, match=match):
        Osses2021(**kwargs)


def test_osses2021_bad_input():
    model = Osses2021(16000, flow=200, fhigh=4000)
    for bad, err in [
        (torch.zeros(2, 3, 100), ValueError),
        (np.arange(10), TypeError),
        (torch.tensor([0.0, float("inf")]), ValueError),
        (torch.zeros(1), ValueError),
    ]:
        with pytest.raises(err, match="x"):
            model(bad)
