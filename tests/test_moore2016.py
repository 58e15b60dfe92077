"""Moore2016: AMT 1.4 reference (every stored case and stage), API, bad input, gradients."""

import numpy as np
import pytest
import torch

from tests.reference.harness import compare_stages
from workbench.kernels.agc import agc
from workbench.kernels.backend import use_backend
from workbench.kernels.excitation import roex_lower
from workbench.models.moore2016 import Moore2016, diotic, monaural
from workbench.stages.resample import resample

STIMULI = ["tone1k40", "tone1k60", "sam4k16", "noise65", "diotic1k60", "dichotic1k60_50"]
STAGES = [
    "cochlea",
    "instSpecLoudL",
    "instSpecLoudR",
    "stSpecLoudL",
    "stSpecLoudR",
    "stLoudL",
    "stLoudR",
    "ltLoudL",
    "ltLoudR",
    "shorttermloudness",
    "longtermloudness",
    "monauralSTL",
    "loudness",
]


@pytest.fixture(scope="module")
def models():
    return {
        torch.float64: Moore2016(dtype=torch.float64, return_stages=True),
        torch.float32: Moore2016(dtype=torch.float32, return_stages=True),
    }


def stereo_pa(ref, stim):
    x = torch.as_tensor(ref[f"{stim}__insig_pa"])
    return x.T.contiguous() if x.dim() == 2 else diotic(x)  # AMT: a mono column is diotic


def ours_vs_amt(model, ref, stim):
    (s_loud, l_loud, m_loud), st = model(stereo_pa(ref, stim))
    f = lambda t: t.detach().double().numpy()  # noqa: E731
    cochlea = np.stack([f(st["filtered_left"]), f(st["filtered_right"])], 1) / (2 * np.sqrt(2))  # Pa -> AMT units
    ours = {
        "cochlea": cochlea,
        "instSpecLoudL": f(st["inst_spec_loud_left"]),
        "instSpecLoudR": f(st["inst_spec_loud_right"]),
        "stSpecLoudL": f(st["stl_spec_loud_left"]),
        "stSpecLoudR": f(st["stl_spec_loud_right"]),
        "stLoudL": f(st["stl_loud_left"]),
        "stLoudR": f(st["stl_loud_right"]),
        "ltLoudL": f(st["ltl_loud_left"]),
        "ltLoudR": f(st["ltl_loud_right"]),
        "shorttermloudness": f(s_loud),
        "longtermloudness": f(l_loud),
        "monauralSTL": f(s_loud),
        "loudness": f(m_loud),
    }
    return {k: (ours[k], ref[f"{stim}__{k}"]) for k in STAGES}


@pytest.mark.reference
@pytest.mark.parametrize("stim", STIMULI)
def test_reference_float64(amt_reference, models, stim):
    ref = amt_reference("moore2016")
    errors = compare_stages(ours_vs_amt(models[torch.float64], ref, stim), dict.fromkeys(STAGES, 1e-5), stim)
    print(stim, {k: f"{v:.1e}" for k, v in errors.items()})


@pytest.mark.reference
@pytest.mark.parametrize("stim", ["tone1k40", "noise65", "dichotic1k60_50"])
def test_reference_float32(amt_reference, models, stim):
    ref = amt_reference("moore2016")
    # spec: 1e-3; ~2e-7 reached
    compare_stages(ours_vs_amt(models[torch.float32], ref, stim), dict.fromkeys(STAGES, 1e-4), stim)


@pytest.mark.reference
def test_band_grid_and_filter_data(amt_reference, models):
    ref = amt_reference("moore2016")
    cams = models[torch.float64].excitation.cams
    np.testing.assert_allclose(cams, ref["erb_scale"], atol=1e-12)
    np.testing.assert_array_equal(models[torch.float64].ear_fir.numpy(), ref["ff_32000_vecCoefficients"])


def test_shapes_batch_and_single(models):
    m = models[torch.float64]
    x = torch.randn(3, 2, 3200, dtype=torch.float64) * 0.01
    (s, ltl, mx), st = m(x)
    assert s.shape == ltl.shape == (3, 101) and mx.shape == (3,)
    assert st["excitation_left"].shape == (3, 101, 150) and st["filtered_right"].shape == (3, 3200 + 2048)
    assert st["levels_left"].shape == st["freqs_left"].shape == (3, 101, 960)
    (s1, l1, m1), _ = m(x[1])
    assert s1.shape == (101,)
    torch.testing.assert_close(s1, s[1], rtol=1e-12, atol=1e-12)  # batch rows are independent
    assert m.get_erb_frequencies().shape == (150,)


def test_silence_is_zero(models):
    (s, ltl, mx), _ = models[torch.float64](torch.zeros(2, 3200, dtype=torch.float64))
    assert float(s.abs().max()) == 0.0 and float(mx) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="resample"):
        Moore2016(fs=44100)
    m = Moore2016()
    with pytest.raises(ValueError, match="diotic"):
        m(torch.randn(1, 3200))
    with pytest.raises(ValueError, match="diotic"):
        m(torch.randn(3200))
    with pytest.raises(ValueError, match="NaN"):
        m(torch.full((2, 3200), float("nan")))
    with pytest.raises(ValueError, match="inf"):
        m(torch.full((2, 3200), float("inf")))
    with pytest.raises(ValueError, match="empty"):
        m(torch.zeros(2, 0))
    with pytest.raises(TypeError, match="floating"):
        m(torch.zeros(2, 3200, dtype=torch.int16))
    with pytest.raises(TypeError, match="unknown"):
        Moore2016(spectrum_kwargs={"hop_lenght": 32})
    with pytest.raises(ValueError, match=r"peak level of 143.5 dB SPL.*input_range_db_spl"):
        m(diotic(torch.full((3200,), 300.0)))  # DC of 143.5 dB SPL


def test_input_helpers():
    x = torch.randn(441, dtype=torch.float64)
    y = resample(x, 44100, 32000)
    assert y.shape[-1] == 320
    assert diotic(x).shape == (2, 441) and monaural(x, "right")[0].abs().sum() == 0


def test_agc_gradcheck_and_fallback():
    torch.manual_seed(0)
    x = torch.rand(3, 12, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    r = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    y0 = torch.rand(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a, r, y0: agc(x, a, r, initial=y0), (x, a, r, y0))
    torch.testing.assert_close(agc(x, a, r, y0), agc(x, a, r, y0, backend="torch"), rtol=1e-13, atol=1e-15)


def test_excitation_kernel_gradcheck_and_fallback():
    torch.manual_seed(1)
    freqs = torch.tensor([100.0, 300.0, 700.0, 1500.0], dtype=torch.float64)
    fc = torch.tensor([200.0, 800.0, 2000.0], dtype=torch.float64)
    p_c = 4 * fc / (24.673 * (4.368e-3 * fc + 1))
    present = torch.tensor([True, False, True, True])  # component 1 absent (I == 0)

    def spread(values):  # (2, 3) present intensities -> (2, 4) with a structural zero
        return torch.zeros(2, 4, dtype=values.dtype).masked_scatter(present, values)

    values = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    slope = (0.5 + torch.rand(2, 4, dtype=torch.float64)).requires_grad_(True)
    fn = lambda v, s: roex_lower(spread(v), s, freqs, p_c, p_c / fc, fc)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (values, slope))
    for backend in ("numba", "torch"):
        inten = spread(values.detach()).requires_grad_(True)
        out = roex_lower(inten, slope, freqs, p_c, p_c / fc, fc, backend=backend)
        out.sum().backward()
        assert float(inten.grad[:, 1].abs().max()) == 0.0  # absent: no gradient
    torch.testing.assert_close(
        fn(values, slope), roex_lower(spread(values), slope, freqs, p_c, p_c / fc, fc, backend="torch")
    )


def test_model_gradient_flows():
    m = Moore2016(dtype=torch.float64, learnable=True)
    x = (torch.randn(2, 1600, dtype=torch.float64) * 0.05).requires_grad_(True)
    s, ltl, mx = m(x)
    (ltl.sum() + s.sum()).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert m.specific_loudness.C.grad is not None and m.temporal_integration.attack.grad is not None


def test_device_fallback_paths_match(models):
    """The torch reference paths (AGC loop, all-pairs excitation) give the same model output
    as the numba kernels (the Triton path is compared in tests/test_device_path.py)."""
    x = torch.randn(2, 1600, dtype=torch.float64) * 0.05
    (s_ref, l_ref, _), _ = models[torch.float64](x)
    with use_backend("torch"):
        (s, ltl, _), _ = models[torch.float64](x)
    torch.testing.assert_close(s, s_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ltl, l_ref, rtol=1e-10, atol=1e-12)


def test_loudness_level_conversion(models):
    m = models[torch.float64]
    phon = m.compute_loudness_level(torch.tensor([1.0, 4.166], dtype=torch.float64))
    np.testing.assert_allclose(phon.numpy(), [40.03, 60.0], atol=0.02)
    torch.testing.assert_close(m.compute_loudness_from_level(phon), torch.tensor([1.0, 4.166], dtype=torch.float64))


@pytest.mark.slow
def test_whole_model_gradcheck():
    """End-to-end gradient (spectrum, excitation kernel incl. the level-dependent slope,
    specific loudness, AGCs, inhibition) against finite differences on a short signal."""
    torch.manual_seed(0)
    m = Moore2016(dtype=torch.float64)
    x = (torch.randn(2, 24, dtype=torch.float64) * 0.2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: m(x)[0], (x,), eps=1e-7, atol=1e-6, rtol=1e-4)
