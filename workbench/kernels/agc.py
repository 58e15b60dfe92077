"""Attack/release AGC recursion of the loudness models (Glasberg & Moore 2002, Moore et al. 2016).

Frame by frame, with zero (or a given) initial state::

    a[n] = attack  if x[n] > y[n-1] else release
    y[n] = y[n-1] + a[n] * (x[n] - y[n-1])

``agc(x, attack, release, initial=None)`` runs it along the last dim of ``x`` (``(..., T)``),
every leading index independently. ``attack``/``release`` are python floats or scalar tensors
(differentiable). On CPU a numba kernel runs forward and backward; the backward is the
adjoint of the recursion with the attack/release choice frozen (the choice is piecewise
constant in the inputs)::

    u[n] = g[n] + (1 - a[n+1]) u[n+1]         (run backwards, u = dL/dy total)
    dL/dx[n] = a[n] u[n],   dL/da = sum_n u[n] (x[n] - y[n-1]),   dL/dy[-1] = (1 - a[0]) u[0]

On the device path a Triton kernel pair computes the same (:mod:`workbench.kernels.triton_agc`);
``backend='torch'`` is a reference loop over frames that autograd differentiates.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from workbench.kernels._numba import host_array
from workbench.kernels.backend import load_triton_kernels, resolve_backend

__all__ = ["agc"]


@numba.njit(cache=True, fastmath=False)
def _agc_forward(x, y0, attack, release, y, is_attack):
    rows, n = x.shape
    for r in range(rows):
        prev = y0[r]
        for t in range(n):
            xt = x[r, t]
            up = xt > prev
            a = attack if up else release
            prev = prev + a * (xt - prev)
            y[r, t] = prev
            is_attack[r, t] = up


@numba.njit(cache=True, fastmath=False)
def _agc_backward(g, x, y, y0, is_attack, attack, release, gx):
    """Fill gx; return (grad_attack, grad_release) summed and grad y0 per row in gy0."""
    rows, n = x.shape
    ga = 0.0
    gr = 0.0
    gy0 = np.zeros(rows, dtype=x.dtype)
    for r in range(rows):
        u = 0.0
        for t in range(n - 1, -1, -1):
            u = u + g[r, t]
            prev = y[r, t - 1] if t > 0 else y0[r]
            if is_attack[r, t]:
                a = attack
                ga += u * (x[r, t] - prev)
            else:
                a = release
                gr += u * (x[r, t] - prev)
            gx[r, t] = a * u
            u = (1.0 - a) * u
        gy0[r] = u
    return ga, gr, gy0


class _AGCFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y0, attack, release):
        shape = x.shape
        xn = host_array(x.reshape(-1, shape[-1]))
        y0n = host_array(y0.reshape(-1))
        a, r = float(attack), float(release)
        y = np.empty_like(xn)
        is_attack = np.empty(xn.shape, dtype=np.bool_)
        _agc_forward(xn, y0n, a, r, y, is_attack)
        ctx.save_for_backward(x, y0, attack, release)
        ctx.state = (xn, y0n, y, is_attack)
        out = torch.from_numpy(y).reshape(shape)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, y0, attack, release = ctx.saved_tensors
        xn, y0n, y, is_attack = ctx.state
        g = host_array(grad_out.reshape(xn.shape)).astype(xn.dtype, copy=False)
        gx = np.empty_like(xn)
        ga, gr, gy0 = _agc_backward(g, xn, y, y0n, is_attack, float(attack), float(release), gx)
        grad_x = torch.from_numpy(gx).reshape(x.shape)
        grad_y0 = torch.from_numpy(gy0).reshape(y0.shape) if ctx.needs_input_grad[1] else None
        grad_a = torch.tensor(ga, dtype=attack.dtype) if ctx.needs_input_grad[2] else None
        grad_r = torch.tensor(gr, dtype=release.dtype) if ctx.needs_input_grad[3] else None
        return grad_x, grad_y0, grad_a, grad_r


class _AGCDevice(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y0, attack, release):
        kernels = load_triton_kernels("agc")
        shape = x.shape
        rows = x.reshape(-1, shape[-1]).contiguous()
        y0r = y0.reshape(-1).contiguous()
        coef = torch.stack([attack.detach(), release.detach()]).to(torch.float64)
        y, up = kernels.forward(rows, y0r, coef)
        ctx.save_for_backward(rows, y, y0r, up, coef, attack, release)
        ctx.shapes = shape, y0.shape
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, grad_out):
        rows, y, y0r, up, coef, attack, release = ctx.saved_tensors
        shape, y0_shape = ctx.shapes
        gx, gy0, gcoef = load_triton_kernels("agc").backward(
            grad_out.reshape(rows.shape).to(rows.dtype), rows, y, y0r, up, coef
        )
        total = gcoef.sum(0)
        grad_y0 = gy0.reshape(y0_shape) if ctx.needs_input_grad[1] else None
        grad_a = total[0].to(attack.dtype) if ctx.needs_input_grad[2] else None
        grad_r = total[1].to(release.dtype) if ctx.needs_input_grad[3] else None
        return gx.reshape(shape), grad_y0, grad_a, grad_r


def _agc_torch(x, y0, attack, release):
    """Device-resident reference loop (autograd differentiates it)."""
    prev = y0
    out = []
    for t in range(x.shape[-1]):
        xt = x[..., t]
        a = torch.where(xt > prev, attack, release)
        prev = prev + a * (xt - prev)
        out.append(prev)
    return torch.stack(out, dim=-1)


def agc(x: torch.Tensor, attack, release, initial: torch.Tensor | None = None, backend: str = "auto") -> torch.Tensor:
    """Attack/release smoothing along the last dim of ``x`` (frames); see the module docstring.

    ``initial``: state before the first frame, shape ``x.shape[:-1]`` (default zeros).
    ``backend``: see :mod:`workbench.kernels.backend`. Returns a tensor shaped like ``x``.
    """
    attack = torch.as_tensor(attack, dtype=x.dtype, device=x.device)
    release = torch.as_tensor(release, dtype=x.dtype, device=x.device)
    y0 = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device) if initial is None else initial.to(x)
    if x.shape[-1] == 0:
        return x.clone()
    kind = resolve_backend(x, backend)
    if kind == "numba":
        return _AGCFunction.apply(x, y0.expand(x.shape[:-1]), attack, release)
    if kind == "triton":
        return _AGCDevice.apply(x, y0.expand(x.shape[:-1]), attack, release)
    return _agc_torch(x, y0, attack, release)
