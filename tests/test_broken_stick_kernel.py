"""The fused DRNL broken stick (``workbench.kernels.broken_stick``) against its torch expression."""

import pytest
import torch

from workbench.kernels.broken_stick import broken_stick


def _inputs(seed=0, shape=(2, 4, 300)):
    g = torch.Generator().manual_seed(seed)
    levels = torch.logspace(-9, 0, shape[-1], dtype=torch.float64)
    x = torch.randn(*shape, generator=g, dtype=torch.float64) * levels
    x[0, 0, :20] = 0.0  # exact zeros (a filter's output before the sound starts)
    a = (100 + 50 * torch.rand(shape[1], generator=g, dtype=torch.float64)).requires_grad_()
    b = (1 + torch.rand(shape[1], generator=g, dtype=torch.float64)).requires_grad_()
    c = (0.1 + 0.2 * torch.rand(shape[1], generator=g, dtype=torch.float64)).requires_grad_()
    return x.requires_grad_(), a, b, c


def test_fused_pass_equals_the_torch_expression_forward_and_backward():
    x, a, b, c = _inputs()
    fused = broken_stick(x, a, b, c)
    plain = broken_stick(x, a, b, c, backend="torch")
    assert torch.allclose(fused, plain, rtol=1e-15, atol=0)  # pow: libm vs torch, within an ulp
    assert bool((fused[0, 0, :20] == 0).all())
    g = torch.randn(fused.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for got, want in zip(torch.autograd.grad(fused, (x, a, b, c), g), torch.autograd.grad(plain, (x, a, b, c), g)):
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-300)


def test_gradients_match_finite_differences_including_exact_zeros():
    x, a, b, c = _inputs(shape=(1, 2, 30))
    assert torch.autograd.gradcheck(broken_stick, (x, a, b, c))
    (gx,) = torch.autograd.grad(broken_stick(x, a, b, c).sum(), x)
    assert torch.equal(gx[0, 0, :20], a[0].detach().expand(20))  # the slope of the linear branch at 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_other_layouts_take_the_torch_expression(dtype):
    x = torch.linspace(-1, 1, 11, dtype=dtype).reshape(1, 1, 11)
    one = torch.ones(1, dtype=dtype)
    y = broken_stick(x, 10 * one, one, 0.5 * one)
    assert y.dtype == dtype and torch.allclose(y, torch.sign(x) * torch.minimum(10 * x.abs(), x.abs().sqrt()))
