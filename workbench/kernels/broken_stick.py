"""The DRNL broken-stick compression ``sign(x) min(a|x|, b|x|^c)`` as one fused CPU pass.

Written with torch ops, the nonlinearity of the DRNL's compressive path is nine passes over a
``(B, C, T)`` float64 signal (abs, products, clamp, power, compare, select, sign), each with
its own output: about a fifth of Paulick2024's time. On CPU tensors (``backend='numba'``)
:func:`broken_stick` runs one compiled pass forward and one backward (a hand-written adjoint
that recomputes the branch from the saved input) with the same floating-point operations,
so the values equal the torch expression's to the last bit but for ``pow`` (libm's, within
1 ulp of torch's). The linear branch is written ``a * x`` (equal to ``sign(x) a|x|``), so the
gradient at x = 0 is the slope ``a`` instead of the 0 that ``sign`` would give. The device
path keeps the torch expression (elementwise, no recursion: it stays on the device as it is).

>>> import torch
>>> x = torch.tensor([[[-2.0, 0.0, 1e-4, 3.0]]], dtype=torch.float64)
>>> one = torch.ones(1, dtype=torch.float64)
>>> [round(v, 4) for v in broken_stick(x, 10 * one, one, 0.25 * one).flatten().tolist()]
[-1.1892, 0.0, 0.001, 1.3161]
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from workbench.kernels._numba import compiled, host_array64
from workbench.kernels.backend import resolve_backend
from workbench.kernels.memory import empty_output

__all__ = ["broken_stick"]


@numba.njit(cache=True, fastmath=False, error_model="numpy")
def _forward_kernel(x, a, b, c, floor, y):
    n_batch, n_chan, n_t = x.shape
    for i in range(n_batch):
        for k in range(n_chan):
            ak, bk, ck = a[k], b[k], c[k]
            for t in range(n_t):
                v = x[i, k, t]
                mag = abs(v)
                linear = ak * mag
                compressed = bk * max(mag, floor) ** ck
                if linear < compressed:
                    y[i, k, t] = ak * v
                else:  # sign(x) * compressed (x = 0 only where b <= 0: 0; NaN stays NaN)
                    y[i, k, t] = compressed if v > 0.0 else (-compressed if v < 0.0 else v * compressed)


@numba.njit(cache=True, fastmath=False, error_model="numpy")
def _backward_kernel(g, x, a, b, c, floor, gx, ga, gb, gc):
    """Adjoint of :func:`_forward_kernel`: ``gx`` per sample, ``ga``/``gb``/``gc`` per channel
    (summed over batch and time), as torch's autograd of :func:`_broken_stick_torch` gives them."""
    n_batch, n_chan, n_t = x.shape
    for k in range(n_chan):
        ga[k] = 0.0
        gb[k] = 0.0
        gc[k] = 0.0
    for i in range(n_batch):
        for k in range(n_chan):
            ak, bk, ck = a[k], b[k], c[k]
            sa = 0.0
            sb = 0.0
            sc = 0.0
            for t in range(n_t):
                v = x[i, k, t]
                gt = g[i, k, t]
                s = 1.0 if v > 0.0 else (-1.0 if v < 0.0 else 0.0)
                mag = abs(v)
                linear = ak * mag
                floored = max(mag, floor)
                power = floored**ck
                compressed = bk * power
                if linear < compressed:  # y = a x
                    gx[i, k, t] = gt * ak
                    sa += gt * v
                else:  # y = s b m^c with m = max(|x|, floor)
                    gs = gt * s
                    gx[i, k, t] = gs * bk * ck * floored ** (ck - 1.0) * s if mag >= floor else 0.0
                    sb += gs * power
                    sc += gs * compressed * math.log(floored)
            ga[k] += sa
            gb[k] += sb
            gc[k] += sc


_forward = compiled(_forward_kernel)
_backward = compiled(_backward_kernel)


class _BrokenStickCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a, b, c, floor):
        xd = x.detach().contiguous()
        y = empty_output(*x.shape, dtype=torch.float64)
        _forward(xd.numpy(), host_array64(a), host_array64(b), host_array64(c), floor, y.numpy())
        ctx.save_for_backward(xd, a, b, c)
        ctx.floor = floor
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, a, b, c = ctx.saved_tensors
        gx = empty_output(*x.shape, dtype=torch.float64)
        ga, gb, gc = (np.empty(a.shape[0]) for _ in range(3))
        _backward(
            host_array64(grad_y),
            x.numpy(),
            host_array64(a),
            host_array64(b),
            host_array64(c),
            ctx.floor,
            gx.numpy(),
            ga,
            gb,
            gc,
        )
        grads = [
            torch.from_numpy(v).to(p.dtype) if ctx.needs_input_grad[i + 1] else None
            for i, (v, p) in enumerate(((ga, a), (gb, b), (gc, c)))
        ]
        return (gx if ctx.needs_input_grad[0] else None, *grads, None)


def _broken_stick_torch(x, a, b, c, floor):
    a, b, c = a[:, None], b[:, None], c[:, None]
    mag = x.abs()
    linear = a * mag
    compressed = b * mag.clamp_min(floor) ** c
    # a * x rather than sign(x) * a|x| (the same number): its gradient at x = 0 is a, not 0
    return torch.where(linear < compressed, a * x, torch.sign(x) * compressed)


def broken_stick(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, *, backend: str = "auto"):
    """``sign(x) * min(a|x|, b|x|^c)`` on ``x (B, C, T)`` with per-channel ``a, b, c (C,)``.

    The power is taken on a magnitude floored at ``sqrt(tiny)`` of ``x``'s dtype so its
    gradient stays finite at x = 0 (there the linear branch is the smaller one anyway, and the
    gradient in ``x`` is ``a``).
    ``backend``: see :mod:`workbench.kernels.backend`; 'numba' (CPU, float64 only: the DRNL
    computes in float64; ``a, b, c`` of shape ``(C,)``) is the fused pass; everything else, the
    torch expression (which broadcasts ``a, b, c`` as ``(C, 1)``).
    Differentiable in ``x``, ``a``, ``b`` and ``c``.
    """
    floor = torch.finfo(x.dtype).tiny ** 0.5
    per_channel = x.dim() == 3 and a.shape == b.shape == c.shape == (x.shape[1],)
    if resolve_backend(x, backend) == "numba" and x.dtype == torch.float64 and per_channel:
        return _BrokenStickCPU.apply(x, a, b, c, floor)
    return _broken_stick_torch(x, a, b, c, floor)
