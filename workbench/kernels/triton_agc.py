"""Triton kernels: the loudness models' attack/release AGC, forward and adjoint.

Twins of ``workbench.kernels.agc._agc_forward``/``_agc_backward``: one lane per row (frame
sequence), float64 arithmetic, the attack/release choice of every frame stored as int8 for
the adjoint (it is piecewise constant in the inputs). ``attack``/``release`` arrive as a
float64 tensor ``(2,)``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.kernels._triton_rows import program_rows, row_grid
from workbench.kernels.backend import shape_only


@triton.jit
def forward_kernel(x_ptr, y0_ptr, coef_ptr, y_ptr, up_ptr, n_rows, n_t, BLOCK: tl.constexpr):
    rows, live = program_rows(n_rows, BLOCK)
    attack = tl.load(coef_ptr)
    release = tl.load(coef_ptr + 1)
    prev = tl.load(y0_ptr + rows, mask=live, other=0.0).to(tl.float64)
    for t in range(n_t):
        xt = tl.load(x_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64)
        up = xt > prev
        prev = prev + tl.where(up, attack, release) * (xt - prev)
        tl.store(y_ptr + rows * n_t + t, prev.to(y_ptr.dtype.element_ty), mask=live)
        tl.store(up_ptr + rows * n_t + t, up.to(tl.int8), mask=live)


@triton.jit
def backward_kernel(
    g_ptr, x_ptr, y_ptr, y0_ptr, up_ptr, coef_ptr, gx_ptr, gy0_ptr, gcoef_ptr, n_rows, n_t, BLOCK: tl.constexpr
):
    rows, live = program_rows(n_rows, BLOCK)
    attack = tl.load(coef_ptr)
    release = tl.load(coef_ptr + 1)
    y0 = tl.load(y0_ptr + rows, mask=live, other=0.0).to(tl.float64)
    u = tl.zeros([BLOCK], dtype=tl.float64)
    g_attack = tl.zeros([BLOCK], dtype=tl.float64)
    g_release = tl.zeros([BLOCK], dtype=tl.float64)
    for step in range(n_t):
        t = n_t - 1 - step
        u = u + tl.load(g_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64)
        first = rows * 0 + t == 0
        prev = tl.where(first, y0, tl.load(y_ptr + rows * n_t + t - 1, mask=live & (~first), other=0.0).to(tl.float64))
        up = tl.load(up_ptr + rows * n_t + t, mask=live, other=0) != 0
        term = u * (tl.load(x_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64) - prev)
        g_attack = g_attack + tl.where(up, term, 0.0)
        g_release = g_release + tl.where(up, 0.0, term)
        a = tl.where(up, attack, release)
        tl.store(gx_ptr + rows * n_t + t, (a * u).to(gx_ptr.dtype.element_ty), mask=live)
        u = (1.0 - a) * u
    tl.store(gy0_ptr + rows, u.to(gy0_ptr.dtype.element_ty), mask=live)
    tl.store(gcoef_ptr + rows * 2, g_attack, mask=live)
    tl.store(gcoef_ptr + rows * 2 + 1, g_release, mask=live)


def forward(x: torch.Tensor, y0: torch.Tensor, coef: torch.Tensor):
    """Rows ``x (R, T)``, initial states ``y0 (R,)``, ``coef = [attack, release]`` float64."""
    n_rows, n_t = x.shape
    y = torch.empty_like(x)
    up = torch.empty(x.shape, dtype=torch.int8, device=x.device)
    if shape_only(x):
        return y, up
    grid, block = row_grid(n_rows)
    forward_kernel[grid](x, y0, coef, y, up, n_rows, n_t, BLOCK=block, num_warps=1)
    return y, up


def backward(g, x, y, y0, up, coef):
    """Gradients of ``x`` ``(R, T)``, ``y0`` ``(R,)`` and ``[attack, release]`` per row ``(R, 2)``."""
    n_rows, n_t = x.shape
    gx = torch.empty_like(x)
    gy0 = torch.empty_like(y0)
    gcoef = torch.empty((n_rows, 2), dtype=torch.float64, device=x.device)
    if shape_only(x, g):
        return gx, gy0, gcoef
    grid, block = row_grid(n_rows)
    backward_kernel[grid](g.contiguous(), x, y, y0, up, coef, gx, gy0, gcoef, n_rows, n_t, BLOCK=block, num_warps=1)
    return gx, gy0, gcoef
