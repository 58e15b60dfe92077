"""DRNL filterbank and Paulick2024 IHC: AMT 1.6 reference, gradients, edge cases."""

import numpy as np
import pytest
import torch

from tests.reference.harness import compare_stages
from workbench.kernels.backend import use_backend
from workbench.kernels.ihc import membrane_scan
from workbench.stages.drnl import DRNLFilterbank, broken_stick, drnl_parameters
from workbench.stages.ihc import IHCPaulick2024, paulick2024_ihc, paulick2024_precharge_potential

FS = 44100


def _time_major(x, ref, key):
    return x[0].T.detach().numpy()[:: ref.stride(key)]


@pytest.mark.reference
@pytest.mark.parametrize("dtype,tol_bm,tol_ihc", [(torch.float64, 1e-4, 1e-3), (torch.float32, 1e-3, 1e-3)])
def test_drnl_ihc_match_amt(amt_reference, dtype, tol_bm, tol_ihc):
    ref = amt_reference("paulick2024")
    drnl = DRNLFilterbank(FS, ref["fc"], dtype=dtype)
    for stim in ref.stimuli:
        om = torch.from_numpy(ref[f"{stim}__om"].astype(np.float64)).to(dtype)[None]
        bm = drnl(om)
        ihc = paulick2024_ihc(bm, FS)
        errors = compare_stages(
            {
                "drnl": (_time_major(bm, ref, f"{stim}__bm"), ref[f"{stim}__bm"]),
                "ihc": (_time_major(ihc, ref, f"{stim}__ihc"), ref[f"{stim}__ihc"]),
            },
            {"drnl": tol_bm, "ihc": tol_ihc},
            label=f"{stim} {dtype}",
        )
        print(stim, dtype, errors)


def test_drnl_parameters_follow_amt():
    p = drnl_parameters([500.0, 1000.0, 1500.0, 4000.0])
    # a, b frozen at the 1500 Hz values above 1 kHz; c = 10^-0.60206 ~ 0.25
    assert torch.allclose(p["a"][2:], p["a"][2].expand(2)) and p["a"][1] != p["a"][2]
    assert torch.allclose(p["b"][3], torch.tensor(10 ** (1.61912 - 0.81867 * np.log10(1500.0)), dtype=torch.float64))
    assert abs(float(p["c"][0]) - 0.25) < 1e-5
    assert torch.all(p["a"][:1] < p["a"][1:2])


def test_drnl_level_growth_linear_compressive_linear():
    """Input-output function at 1 kHz: linear at low levels, ~0.2-0.3 dB/dB mid-range (the
    broken stick), back towards linear at very high levels (linear path)."""
    drnl = DRNLFilterbank(FS, [1000.0], dtype=torch.float64)
    t = torch.arange(int(0.1 * FS), dtype=torch.float64) / FS
    tone = np.sqrt(2) * torch.sin(2 * torch.pi * 1000 * t)[None] * 4.3e-4  # ~ middle-ear gain at 1 kHz
    out_db = {
        lvl: 10 * np.log10(float(drnl(tone * 20e-6 * 10 ** (lvl / 20))[..., 1000:].pow(2).mean()))
        for lvl in (0, 20, 50, 70, 100, 120)
    }
    assert out_db[20] - out_db[0] == pytest.approx(20.0, abs=0.01)
    assert out_db[70] - out_db[50] < 7.0
    assert out_db[120] - out_db[100] > 18.0


def test_precharge_potential_and_silence():
    assert paulick2024_precharge_potential(FS) == pytest.approx(-61.66e-3, abs=0.01e-3)
    out = IHCPaulick2024(FS)(torch.zeros(2, 3, 4410, dtype=torch.float64))
    # AMT pre-charges with a rounded resting conductance (3.3514 nS): silence drifts ~8 nV,
    # far below the adaptation stage's minimum levels (>= 1.17 uV).
    assert out.abs().max() < 1e-8
    bm = DRNLFilterbank(FS, [500.0, 2000.0], dtype=torch.float64)(torch.zeros(1, 100, dtype=torch.float64))
    assert bm.abs().max() == 0


def test_ihc_fused_kernel_matches_torch_path():
    gen = torch.Generator().manual_seed(6)
    velocity = 3e-3 * torch.randn(2, 3, 2000, generator=gen, dtype=torch.float64)
    velocity[0, 0, :10] = -1.0  # deep in the clamped region
    fused = paulick2024_ihc(velocity, FS)
    with use_backend("torch"):
        assert torch.allclose(fused, paulick2024_ihc(velocity, FS), rtol=1e-9, atol=1e-15)


def test_membrane_scan_torch_path_matches_numba():
    gen = torch.Generator().manual_seed(0)
    alpha = 0.6 + 0.35 * torch.rand(3, 2, 1000, generator=gen, dtype=torch.float64)
    beta = torch.randn(3, 2, 1000, generator=gen, dtype=torch.float64)
    numba_out = membrane_scan(alpha, beta)
    torch_out = membrane_scan(alpha, beta, backend="torch")
    assert torch.allclose(numba_out, torch_out, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_membrane_scan_gradcheck(backend):
    gen = torch.Generator().manual_seed(1)
    alpha = (0.5 + 0.4 * torch.rand(2, 40, generator=gen, dtype=torch.float64)).requires_grad_()
    beta = torch.randn(2, 40, generator=gen, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: membrane_scan(a, b, backend=backend), (alpha, beta))


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_ihc_gradcheck_wrt_velocity(backend):
    gen = torch.Generator().manual_seed(2)
    velocity = (1e-3 * torch.randn(1, 2, 30, generator=gen, dtype=torch.float64)).requires_grad_()
    with use_backend(backend):
        assert torch.autograd.gradcheck(lambda v: paulick2024_ihc(v, FS) * 1e3, (velocity,))


def test_drnl_gradcheck_input_and_learnable_parameters():
    drnl = DRNLFilterbank(FS, [800.0, 3000.0], learnable=True, dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    x = (1e-3 * torch.randn(1, 40, generator=gen, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(drnl, (x,), fast_mode=True)
    drnl(x).pow(2).sum().backward()
    assert all(torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in drnl.parameters())


def test_broken_stick_gradient_finite_at_zero():
    x = torch.tensor([[[0.0, 1e-9, -2.0]]], dtype=torch.float64, requires_grad=True)
    one = torch.ones(1, dtype=torch.float64)
    broken_stick(x, one * 100, one * 2, one * 0.25).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_bad_input():
    with pytest.raises(ValueError, match="center_freqs_hz"):
        DRNLFilterbank(FS, [100.0, 30000.0])
    with pytest.raises(ValueError, match="model"):
        DRNLFilterbank(FS, [1000.0], model="lopezpoveda")
    with pytest.raises(ValueError, match="subject"):
        DRNLFilterbank(FS, [1000.0], subject="HI")
    with pytest.raises(TypeError, match="dtype"):
        DRNLFilterbank(FS, [1000.0], dtype=torch.int32)
    with pytest.raises(ValueError, match="fs"):
        IHCPaulick2024(-1)
    with pytest.raises(ValueError, match="alpha and beta"):
        membrane_scan(torch.ones(2, 5), torch.ones(2, 4))
