"""The device code path (Triton kernels) against the numba kernels, on CPU.

Without a GPU the Triton kernels run under ``TRITON_INTERPRET=1`` (set in conftest): the same
kernel source the GPU compiles, executed with numpy. Every kernel is compared with its
numba twin forward and backward, float64 to 1e-12 relative and float32 to 1e-5 (signal
gradients; coefficient gradients in float64, where float32 sums are ill-conditioned), and
gradchecked where small. ``triton_compile_check.py`` compiles every kernel for sm_90 (the
H200) with the installed Triton, which catches code only the interpreter accepts.
Interpreter cases stay small (<= 64 rows x 1000 steps): the interpreter pays ~30 us per
operation and step.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as sps
import torch

from tests.helpers import modulation_bank_layout
from workbench.kernels.adaptation import adaptation_loops
from workbench.kernels.agc import agc
from workbench.kernels.backend import resolve_backend, triton_available, use_backend
from workbench.kernels.ihc import ihc_membrane, membrane_scan
from workbench.kernels.iir import FFT_MAX_BYTES, lfilter, sosfilt
from workbench.kernels.modfilter import modulation_bandpass_bank
from workbench.stages.ihc import paulick2024_ihc_constants

pytestmark = pytest.mark.skipif(not triton_available(), reason="triton is not installed")
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
REPO = Path(__file__).resolve().parents[1]


def rel(a, b):
    """Max abs difference relative to the max magnitude of the reference ``b``."""
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def run_both(fn, inputs, weights):
    """Outputs and input gradients of ``fn(*inputs, backend=...)`` for numba and triton."""
    results = {}
    for backend in ("numba", "triton"):
        leaves = [t.detach().clone().requires_grad_(t.requires_grad) for t in inputs]
        out = fn(*leaves, backend=backend)
        (out.real * weights).sum().backward()
        results[backend] = [out] + [t.grad for t in leaves if t.requires_grad]
    return results["numba"], results["triton"]


def assert_twins(numba, triton, dtype, n_signal_grads=None):
    tol = TOL[dtype]
    checked = numba if n_signal_grads is None else numba[: 1 + n_signal_grads]
    for k, (a, b) in enumerate(zip(checked, triton)):
        assert rel(b, a) <= tol, f"output/gradient {k}: {rel(b, a):.2e} > {tol}"


def test_interpreter_is_active_for_cpu_tensors():
    assert os.environ.get("TRITON_INTERPRET") == "1"
    assert resolve_backend(torch.zeros(1), "triton") == "triton"
    with use_backend("triton"):
        assert resolve_backend(torch.zeros(1)) == "triton"
    assert resolve_backend(torch.zeros(1)) == "numba"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend(torch.zeros(1), "cuda")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_complex_cascade_matches_numba(dtype):
    """Gammatone-like cascade: 4 complex one-pole sections per channel, real input."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 400, generator=gen, dtype=dtype, requires_grad=True)
    pole = torch.polar(torch.full((5,), 0.97, dtype=torch.float64), torch.linspace(0.1, 1.0, 5, dtype=torch.float64))
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    sos = torch.zeros(5, 4, 6, dtype=cdtype)
    sos[..., 0], sos[..., 3], sos[..., 4] = 0.03, 1, -pole[:, None]
    numba, triton = run_both(
        lambda x, backend: sosfilt(sos, x, backend=backend), [x], torch.randn(3, 5, 400, generator=gen, dtype=dtype)
    )
    assert triton[0].dtype == cdtype
    assert_twins(numba, triton, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_biquad_cascade_matches_numba(dtype):
    gen = torch.Generator().manual_seed(1)
    sos = torch.tensor(
        np.stack([sps.butter(4, f, fs=44100, output="sos") for f in (300.0, 1000.0, 5000.0)]),
        dtype=dtype,
        requires_grad=True,
    )
    x = torch.randn(2, 3, 500, generator=gen, dtype=dtype, requires_grad=True)
    numba, triton = run_both(
        lambda s, x, backend: sosfilt(s, x, backend=backend),
        [sos, x],
        torch.randn(2, 3, 500, generator=gen, dtype=dtype),
    )
    # float32 coefficient gradients are sums of ill-conditioned terms: checked in float64 only
    assert_twins(numba, triton, dtype, n_signal_grads=None if dtype == torch.float64 else 0)
    assert rel(triton[2], numba[2]) <= TOL[dtype]  # signal gradient


def test_lfilter_gradcheck_and_order_limit():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 20, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.5, 0.2, -0.1], dtype=torch.float64, requires_grad=True)
    a = torch.tensor([1.0, -1.2, 0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, a, x: lfilter(b, a, x, backend="triton"), (b, a, x))
    bc = torch.tensor([0.3 + 0.1j, 0.2j], dtype=torch.complex128, requires_grad=True)
    ac = torch.tensor([1, -0.8 * np.exp(0.4j)], dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, a, x: lfilter(b, a, x, backend="triton"), (bc, ac, x))
    sos = torch.tensor([[0.3, 0.1, 0.05, 1, -0.5, 0.2], [0.2, 0.0, 0.0, 1, -0.9, 0.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: sosfilt(sos, x, backend="triton"), (x,))
    with pytest.raises(ValueError, match="order <= 2"):
        lfilter(torch.ones(4), torch.tensor([1.0, 0.1, 0.1, 0.1]), torch.ones(8), backend="triton")


def test_fft_method_refuses_huge_grids():
    """A 2 Hz pole at 44.1 kHz needs a 2^20-point grid per row: refused, with the size."""
    pole = np.exp(-2 * np.pi * 2.0 / 44100)
    x = torch.zeros(int(2 * FFT_MAX_BYTES / 2**23), 100)
    with pytest.raises(ValueError, match=r"point grid per row .* GiB"):
        lfilter(torch.tensor([1 - pole]), torch.tensor([1.0, -pole]), x, method="fft")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("limit", [10.0, 0.0])
def test_adaptation_matches_numba(dtype, limit):
    gen = torch.Generator().manual_seed(3)
    x = (2 * torch.rand(2, 3, 300, generator=gen, dtype=dtype)) ** 3 * 1e-2
    x[..., 80:150] = 0  # below the floor: no gradient there
    x.requires_grad_()
    tau = torch.tensor([0.005, 0.05, 0.129, 0.253, 0.5], dtype=dtype, requires_grad=True)
    floor = torch.tensor([1e-5, 3e-5, 1e-4], dtype=dtype)
    numba, triton = run_both(
        lambda x, t, backend: adaptation_loops(x, t, 44100.0, limit, floor, backend=backend),
        [x, tau],
        torch.randn(2, 3, 300, generator=gen, dtype=dtype),
    )
    assert_twins(numba, triton, dtype)


def test_adaptation_gradcheck():
    x = (0.1 * torch.rand(1, 2, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)).requires_grad_()
    tau = torch.tensor([0.005, 0.05], dtype=torch.float64, requires_grad=True)
    floor = torch.tensor(1e-5, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x, t: adaptation_loops(x, t, 1000.0, 10.0, floor, backend="triton"), (x, tau)
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_agc_matches_numba(dtype):
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(3, 4, 300, generator=gen, dtype=dtype, requires_grad=True)
    initial = torch.rand(3, 4, generator=gen, dtype=dtype, requires_grad=True)
    attack = torch.tensor(0.045, dtype=dtype, requires_grad=True)
    release = torch.tensor(0.033, dtype=dtype, requires_grad=True)
    numba, triton = run_both(
        lambda x, y0, a, r, backend: agc(x, a, r, y0, backend=backend),
        [x, initial, attack, release],
        torch.randn(3, 4, 300, generator=gen, dtype=dtype),
    )
    assert_twins(numba, triton, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ihc_membrane_matches_numba(dtype):
    gen = torch.Generator().manual_seed(6)
    velocity = 3e-3 * torch.randn(2, 3, 400, generator=gen, dtype=dtype)
    velocity[0, 0, :10] = -1.0  # deep in the clamped region
    velocity.requires_grad_()
    constants = paulick2024_ihc_constants(44100.0)
    numba, triton = run_both(
        lambda v, backend: ihc_membrane(v, constants, backend=backend),
        [velocity],
        torch.randn(2, 3, 400, generator=gen, dtype=dtype),
    )
    assert_twins(numba, triton, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_membrane_scan_matches_numba(dtype):
    gen = torch.Generator().manual_seed(7)
    alpha = (0.6 + 0.35 * torch.rand(3, 500, generator=gen, dtype=dtype)).requires_grad_()
    beta = torch.randn(3, 500, generator=gen, dtype=dtype, requires_grad=True)
    numba, triton = run_both(
        lambda a, b, backend: membrane_scan(a, b, backend=backend),
        [alpha, beta],
        torch.randn(3, 500, generator=gen, dtype=dtype),
    )
    assert_twins(numba, triton, dtype)


def test_torch_scan_has_no_underflow_nan():
    """Regression: the old chunked closed form divided by cumulative products of alpha, which
    underflow after 4096 samples in float32 (65536 in float64) and gave NaN."""
    for dtype, length in ((torch.float32, 8192), (torch.float64, 70000)):
        alpha = torch.full((2, length), 0.9, dtype=dtype)
        beta = torch.rand(2, length, generator=torch.Generator().manual_seed(8), dtype=dtype)
        out = membrane_scan(alpha, beta, backend="torch")
        assert torch.isfinite(out).all()
        assert rel(out, membrane_scan(alpha, beta, backend="numba")) < (1e-5 if dtype == torch.float32 else 1e-12)


def _bank_case(dtype, length=300):
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(2, 2, length, generator=gen, dtype=dtype, requires_grad=True)
    lowpassed = torch.randn(2, 2, length, generator=gen, dtype=dtype, requires_grad=True)
    rho = torch.tensor([0.9, 0.95, 0.8], dtype=dtype, requires_grad=True)
    theta = torch.tensor([0.1, 0.3, 0.7], dtype=dtype, requires_grad=True)
    gain = (2 * (1 - rho)).detach().requires_grad_()
    layout = modulation_bank_layout()
    return [x, lowpassed, rho, theta, gain], layout, torch.randn(2, 7, length, generator=gen, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_modulation_bank_matches_numba(dtype):
    inputs, layout, weights = _bank_case(dtype)
    numba, triton = run_both(
        lambda *a, backend: modulation_bandpass_bank(*a, **layout, backend=backend), inputs, weights
    )
    assert_twins(numba, triton, dtype)


def test_modulation_bank_torch_path_float32():
    """Regression: the torch path copied float64 rows into a float32 output and raised."""
    inputs, layout, _ = _bank_case(torch.float32, length=50)
    out = modulation_bandpass_bank(*inputs, **layout, backend="torch")
    assert out.dtype == torch.float32
    assert rel(out, modulation_bandpass_bank(*inputs, **layout, backend="numba")) < 1e-5


def test_kernels_compile_for_h200():
    """Every kernel variant compiles to sm_90 machine code (no GPU needed)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "triton_compile_check.py"), "90"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "compiled" in proc.stdout and "local stores 0" in proc.stdout
