"""The linear IIR engine: scipy equivalence, FFT path, gradients, broadcasting, errors."""

import numpy as np
import pytest
import scipy.signal as sps
import torch

from workbench.kernels.iir import lfilter, section, sosfilt


def _random_stable(order, rng, complex_=False):
    radii = rng.uniform(0.3, 0.95, order)
    angles = rng.uniform(0, np.pi, order)
    poles = radii * np.exp(1j * angles)
    if complex_:
        a = np.poly(poles)
        b = rng.standard_normal(order + 1) + 1j * rng.standard_normal(order + 1)
    else:
        a = np.real(np.poly(np.concatenate([poles, poles.conj()])))[: order + 1]
        a = np.real(np.poly(np.concatenate([poles[: order // 2 + 1], poles[: order // 2 + 1].conj()])))
        b = rng.standard_normal(len(a))
    return b, a


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_scipy_per_row_filters(dtype):
    rng = np.random.default_rng(0)
    filters = [_random_stable(4, rng) for _ in range(3)]
    na = max(len(a) for _, a in filters)
    b, a = np.zeros((3, na)), np.zeros((3, na))
    for i, (bi, ai) in enumerate(filters):
        b[i, : len(bi)], a[i, : len(ai)] = bi, ai
    a[:, 0] *= 2.0  # non-monic denominators are normalised
    x = rng.standard_normal((2, 3, 500))
    y = lfilter(torch.tensor(b, dtype=dtype), torch.tensor(a, dtype=dtype), torch.tensor(x, dtype=dtype))
    expected = np.stack([[sps.lfilter(b[i], a[i], x[j, i]) for i in range(3)] for j in range(2)])
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    assert y.dtype == dtype and y.shape == (2, 3, 500)
    assert np.abs(y.numpy() - expected).max() / np.abs(expected).max() < tol


def test_complex_coefficients_real_signal():
    rng = np.random.default_rng(1)
    pole = 0.97 * np.exp(1j * 0.3)
    x = rng.standard_normal(300)
    y = lfilter(torch.tensor([1 - abs(pole) + 0j]), torch.tensor([1, -pole]), torch.tensor(x))
    expected = sps.lfilter([1 - abs(pole)], [1, -pole], x)
    assert y.is_complex()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_fft_path_equals_recursion():
    rng = np.random.default_rng(2)
    sos = sps.butter(4, 2.5, fs=44100, output="sos")  # a very slow lowpass: long impulse response
    x = torch.tensor(rng.standard_normal((2, 4000)))
    y_rec = sosfilt(torch.tensor(sos), x)
    y_fft = sosfilt(torch.tensor(sos), x, method="fft")
    expected = sps.sosfilt(sos, x.numpy())
    scale = np.abs(expected).max()
    np.testing.assert_allclose(y_rec.numpy(), expected, rtol=0, atol=1e-10 * scale)
    # FFT round-off over a 2^14-point transform: relative to the signal's peak.
    np.testing.assert_allclose(y_fft.numpy(), expected, rtol=0, atol=1e-8 * scale)


@pytest.mark.parametrize("complex_", [False, True])
def test_gradcheck_recursive(complex_):
    rng = np.random.default_rng(3)
    if complex_:
        a = torch.tensor([1, -0.8 * np.exp(0.4j)], dtype=torch.complex128, requires_grad=True)
        b = torch.tensor([0.3 + 0.1j, 0.2j], dtype=torch.complex128, requires_grad=True)
    else:
        a = torch.tensor([1.0, -1.2, 0.5], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([0.5, 0.2, -0.1], dtype=torch.float64, requires_grad=True)
    x = torch.tensor(rng.standard_normal((2, 20)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, a, x: lfilter(b, a, x), (b, a, x))
    assert torch.autograd.gradcheck(lambda b, a, x: lfilter(b, a, x, method="fft"), (b, a, x))


def test_gradcheck_non_monic_broadcast():
    b = torch.tensor([[1.0, 0.5], [0.2, 0.1]], dtype=torch.float64, requires_grad=True)
    a = torch.tensor([[2.0, -0.4], [1.5, 0.3]], dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 2, 15, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b, a, x: lfilter(b, a, x), (b, a, x))


def test_errors():
    x = torch.randn(10)
    with pytest.raises(ValueError, match="a\\[..., 0\\]"):
        lfilter(torch.tensor([1.0]), torch.tensor([0.0, 1.0]), x)
    with pytest.raises(ValueError, match="method"):
        lfilter(torch.tensor([1.0]), torch.tensor([1.0]), x, method="bogus")
    with pytest.raises(ValueError, match="sos"):
        sosfilt(torch.ones(3, 5), x)


@pytest.mark.parametrize("complex_", [False, True])
def test_fused_sos_equals_section_by_section(complex_):
    """Without autograd, sosfilt runs all sections in one pass: same numbers as one by one."""
    rng = np.random.default_rng(4)
    sos = torch.tensor(sps.butter(6, [300, 900], btype="bandpass", fs=8000, output="sos"))
    if complex_:
        sos = sos.to(torch.complex128) * torch.tensor([1, 1, 1, 1, 1, 1]) + 0j
        sos[..., 4] = sos[..., 4] * np.exp(0.1j)
    x = torch.tensor(rng.standard_normal((2, 3, 700)))
    fused = sosfilt(sos, x)
    sequential = x
    for k in range(sos.shape[0]):
        sequential = lfilter(sos[k, :3], sos[k, 3:], sequential)
    assert torch.equal(fused, sequential)
    xg = x.clone().requires_grad_(True)
    assert torch.equal(sosfilt(sos, xg).detach(), sequential)  # autograd path, same numbers


def test_fused_first_order_cascade_equals_section_by_section():
    """The first-order fast path (gammatone-style complex sections, IHC lowpasses) gives the same numbers."""
    pole = 0.99 * np.exp(0.2j)
    b = torch.tensor([[1 - 0.99 + 0j], [0.5 + 0.1j]])
    a = torch.tensor([[1, -pole], [1, -0.9 * np.exp(0.5j)]])
    x = torch.tensor(np.random.default_rng(5).standard_normal((3, 2, 400)))
    sos = section(b, a).unsqueeze(-2).expand(2, 4, 6)
    sequential = x
    for _ in range(4):
        sequential = lfilter(b, a, sequential)
    assert torch.equal(sosfilt(sos, x), sequential)
    lp_b = torch.tensor([[0.1, 0.1]], dtype=torch.float64)
    lp_a = torch.tensor([[1.0, -0.8]], dtype=torch.float64)
    sequential = x
    for _ in range(5):
        sequential = lfilter(lp_b, lp_a, sequential)
    assert torch.equal(sosfilt(section(lp_b, lp_a).unsqueeze(-2).expand(1, 5, 6), x), sequential)
