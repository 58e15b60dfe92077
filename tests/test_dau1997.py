"""Dau1997 against MATLAB AMT 1.4 (every reference case), API, gradients and bad input."""

import numpy as np
import pytest
import torch

from tests.reference.harness import compare_stages
from workbench.models.dau1997 import Dau1997

FS = 44100


def _time_major(stage: torch.Tensor) -> np.ndarray:
    return stage[0].detach().numpy().T  # (1, F, T) -> (T, F)


def _intrep(out: list[torch.Tensor], n_mod: int = 12) -> np.ndarray:
    """List of (1, M_i, T) -> AMT's (T, F, 12) layout, NaN where a channel has fewer filters."""
    full = np.full((out[0].shape[-1], len(out), n_mod), np.nan)
    for c, o in enumerate(out):
        full[:, c, : o.shape[1]] = o[0].detach().numpy().T
    return full


@pytest.fixture(scope="module")
def model64():
    return Dau1997(FS, return_stages=True, dtype=torch.float64)


@pytest.mark.reference
@pytest.mark.parametrize("stimulus", ["tone1k60", "sam4k16", "noise65"])
def test_matches_amt_float64_every_stage(amt_reference, model64, stimulus):
    ref = amt_reference("dau1997")
    assert stimulus in ref.stimuli
    out, stages = model64(torch.from_numpy(ref[f"{stimulus}__insig"]).unsqueeze(0))
    results = {}
    for ours, key in (("filterbank", "bm"), ("ihc", "ihc"), ("adaptation", "adapt")):
        k = f"{stimulus}__{key}"
        results[key] = (_time_major(stages[ours])[:: ref.stride(k)], ref[k])
    k = f"{stimulus}__intrep"
    results["intrep"] = (_intrep(out)[:: ref.stride(k)], ref[k])
    errors = compare_stages(
        results, {"bm": 1e-5, "ihc": 1e-5, "adapt": 1e-4, "intrep": 1e-4}, label=f"dau1997/{stimulus} float64"
    )
    print(stimulus, errors)


@pytest.mark.reference
def test_matches_amt_float32_final(amt_reference):
    ref = amt_reference("dau1997")
    model = Dau1997(FS, dtype=torch.float32)
    for stimulus in ref.stimuli:
        out = model(torch.from_numpy(ref[f"{stimulus}__insig"]).float().unsqueeze(0))
        k = f"{stimulus}__intrep"
        compare_stages(
            {"intrep": (_intrep(out)[:: ref.stride(k)], ref[k])}, {"intrep": 1e-3}, label=f"dau1997/{stimulus} float32"
        )


@pytest.mark.reference
def test_frequencies_and_counts_equal_amt(amt_reference, model64):
    ref = amt_reference("dau1997")
    assert model64.num_channels == 30
    np.testing.assert_allclose(model64.fc.numpy(), ref["fc"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(model64.mfc.numpy(), ref["mfc_last"], rtol=1e-9, atol=0)
    for stimulus in ref.stimuli:
        counts = ref[f"{stimulus}__n_mfc"].astype(int)
        assert [len(m) for m in model64.mfc_per_channel] == counts.tolist()
        table = ref[f"{stimulus}__mfc"]
        for c, m in enumerate(model64.mfc_per_channel):
            np.testing.assert_allclose(m.numpy(), table[c, : counts[c]], rtol=1e-9, atol=1e-12)


def test_shapes_mono_batch_and_stages():
    model = Dau1997(16000, fhigh=4000, return_stages=True)
    x = torch.randn(2, 1600) * 0.05
    out, stages = model(x)
    assert len(out) == model.num_channels
    assert all(o.shape == (2, len(m), 1600) for o, m in zip(out, model.mfc_per_channel))
    assert set(stages) == {"filterbank", "ihc", "adaptation"}
    assert all(v.shape == (2, model.num_channels, 1600) for v in stages.values())
    mono, mono_stages = model(x[1])
    assert mono[0].shape == out[0].shape[1:] and mono_stages["ihc"].shape == (model.num_channels, 1600)
    for a, b in zip(mono, out):  # batch rows are processed independently
        torch.testing.assert_close(a, b[1], rtol=1e-5, atol=1e-4)
    plain = Dau1997(16000, fhigh=4000)(x)
    assert isinstance(plain, list) and len(plain) == model.num_channels


def test_custom_kwargs_are_applied():
    model = Dau1997(
        FS,
        filterbank_kwargs={"n": 3, "erb_scale": 2.0},
        ihc_kwargs={"method": "breebaart2001"},
        adaptation_kwargs={"limit": 5.0, "tau": [0.01, 0.1, 0.2]},
        modulation_kwargs={"Q": 1.0, "max_mfc": 150.0, "filter_type": "butterworth"},
    )
    assert model.filterbank.order == 3 and model.num_channels == 15
    assert model.ihc.filter_order == 5 and model.adaptation.limit == 5.0
    assert model.adaptation.tau_s.numel() == 3 and float(model.mfc.max()) <= 150.0
    out = model(torch.randn(4410) * 0.05)
    assert all(torch.isfinite(o).all() for o in out)


def test_learnable_parameters_all_receive_gradients():
    model = Dau1997(16000, flow=500, fhigh=2000, learnable=True, dtype=torch.float64)
    params = dict(model.named_parameters())
    expected = {
        "filterbank.center_freqs_hz",
        "filterbank.bandwidth_factor",
        "ihc.cutoff_hz",
        "adaptation.tau_s",
        "modulation.mfc_hz",
        "modulation.bandwidth_hz",
        "modulation.lowpass_cutoff_hz",
        "modulation.prefilter_cutoff_hz",
    }
    assert expected <= set(params)
    torch.manual_seed(0)
    x = torch.randn(2, 3200, dtype=torch.float64) * 0.05
    loss = sum(o.square().mean() for o in model(x))
    loss.backward()
    model.distribute_gradients()
    for name, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert bool((p.grad != 0).all()), name


@pytest.mark.slow
def test_gradcheck_end_to_end_float64():
    model = Dau1997(8000, flow=700, fhigh=1300, dtype=torch.float64, learnable=True)
    assert 2 <= model.num_channels <= 5
    torch.manual_seed(0)
    x = (torch.randn(1, 48, dtype=torch.float64) * 0.3).requires_grad_()

    def fn(x, tau):
        return torch.cat(torch.func.functional_call(model, {"adaptation.tau_s": tau}, (x,)), dim=1)

    tau = model.adaptation.tau_s.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(fn, (x, tau), eps=1e-7, atol=1e-5, rtol=1e-3, fast_mode=True)


@pytest.mark.parametrize(
    "bad,exc,match",
    [
        (torch.tensor([0.0, float("nan"), 1.0] * 10), ValueError, "NaN"),
        (torch.zeros(0), ValueError, "empty"),
        (torch.zeros(1), ValueError, "too short"),
        (torch.zeros(100, dtype=torch.int16), TypeError, "floating-point"),
        (torch.zeros(1, 1, 100), ValueError, "dims"),
    ],
)
def test_bad_input_raises(bad, exc, match):
    model = Dau1997(16000, fhigh=4000)
    with pytest.raises(exc, match=match):
        model(bad)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(fs=16000, fhigh=8000), ValueError, "fhigh"),
        (dict(fs=44100, flow=9000, fhigh=8000), ValueError, "flow"),
        (dict(fs=0), ValueError, "fs"),
        (dict(fs=-44100), ValueError, "fs"),
        (dict(fs=44100, filterbank_kwargs={"ordr": 4}), TypeError, "filterbank_kwargs"),
        (dict(fs=44100, ihc_kwargs={"methd": "dau1996"}), TypeError, "ihc_kwargs"),
        (dict(fs=44100, adaptation_kwargs={"limt": 5}), TypeError, "adaptation_kwargs"),
        (dict(fs=44100, modulation_kwargs={"q": 2}), TypeError, "modulation_kwargs"),
        (dict(fs=44100, dtype=torch.int32), TypeError, "dtype"),
    ],
)
def test_bad_configuration_raises(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Dau1997(**kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the CUDA path is untested here")
def test_cuda_matches_cpu_float64():
    model = Dau1997(16000, fhigh=4000, dtype=torch.float64, return_stages=True)
    torch.manual_seed(0)
    x = torch.randn(2, 1600, dtype=torch.float64) * 0.05
    out_cpu, stages_cpu = model(x)
    out_gpu, stages_gpu = model.to("cuda")(x.cuda())
    for key in stages_cpu:
        ref = stages_cpu[key]
        torch.testing.assert_close(stages_gpu[key].cpu(), ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
    for a, b in zip(out_cpu, out_gpu):
        torch.testing.assert_close(b.cpu(), a, rtol=1e-5, atol=1e-5 * float(a.abs().max()))


def test_adaptation_torch_backend_end_to_end_equals_numba():
    x = torch.randn(1, 800, dtype=torch.float64) * 0.05
    ref = Dau1997(16000, fhigh=4000, dtype=torch.float64)(x)
    alt = Dau1997(16000, fhigh=4000, dtype=torch.float64, adaptation_kwargs={"backend": "torch"})(x)
    for a, b in zip(ref, alt):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)
