"""Triton kernels: the Paulick2024 IHC membrane (fused with the MET conductance) and the
generic first-order scan ``u[n] = alpha[n] u[n-1] + beta[n]``, forward and adjoint.

Twins of ``workbench.kernels.ihc._ihc_forward_numba``/``_ihc_backward_numba`` and
``_scan_numba``/``_adjoint_numba``: one lane per row, float64 arithmetic. ``expm1`` is not
available to the Triton interpreter, so it is computed with Kahan's formula
``(e^x - 1) x / log(e^x)`` for |x| < 0.5 (a few ulp) and ``e^x - 1`` elsewhere.
The 12 IHC constants arrive as a float64 tensor, in the order documented in
:func:`workbench.kernels.ihc.ihc_membrane`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.kernels._triton_rows import program_rows, row_grid
from workbench.kernels.backend import shape_only


@triton.jit
def _conductance(velocity, c0, c1, c2, c3, c4, c5, c6, c7):
    """Conductance change re rest and its slope w.r.t. the velocity (see ``_ihc_terms``)."""
    d = c0 * velocity
    clamped = d < c1
    d = tl.where(clamped, c1, d)
    x0 = -d * c7
    u0 = tl.exp(x0)
    l0 = tl.log(u0)
    e0 = tl.where(tl.abs(x0) < 0.5, tl.where(u0 == 1.0, x0, (u0 - 1.0) * x0 / tl.where(l0 == 0.0, 1.0, l0)), u0 - 1.0)
    x01 = -d * (c6 + c7)
    u01 = tl.exp(x01)
    l01 = tl.log(u01)
    e01 = tl.where(
        tl.abs(x01) < 0.5, tl.where(u01 == 1.0, x01, (u01 - 1.0) * x01 / tl.where(l01 == 0.0, 1.0, l01)), u01 - 1.0
    )
    d_change = c2 * e0 + c2 * c3 * e01
    denom = c4 + d_change
    g_change = -c5 * d_change / (denom * c4)
    f0 = c2 * (1.0 + e0)
    f0f1 = c2 * c3 * (1.0 + e01)
    slope = tl.where(clamped, 0.0, c5 * (f0 * c7 + f0f1 * (c6 + c7)) / (denom * denom) * c0)
    return g_change, slope


@triton.jit
def ihc_kernel(v_ptr, out_ptr, gout_ptr, gv_ptr, c_ptr, n_rows, n_t, BACKWARD: tl.constexpr, BLOCK: tl.constexpr):
    rows, live = program_rows(n_rows, BLOCK)
    c = ()
    for j in tl.static_range(12):
        c = c + (tl.load(c_ptr + j),)
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = c  # named as in ihc_membrane's table
    u = tl.zeros([BLOCK], dtype=tl.float64)  # forward: potential; backward: adjoint lambda
    alpha_next = tl.zeros([BLOCK], dtype=tl.float64)
    for step in range(n_t):
        t = n_t - 1 - step if BACKWARD else step
        velocity = tl.load(v_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64)
        g_change, slope = _conductance(velocity, c0, c1, c2, c3, c4, c5, c6, c7)
        if BACKWARD:
            u = tl.load(gout_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64) + alpha_next * u
            first = rows * 0 + t == 0
            previous = tl.load(out_ptr + rows * n_t + t - 1, mask=live & (~first), other=0.0).to(tl.float64)
            tl.store(
                gv_ptr + rows * n_t + t, (u * (c11 - c10 * previous) * slope).to(gv_ptr.dtype.element_ty), mask=live
            )
            alpha_next = c8 - c10 * g_change
        else:
            u = (c8 - c10 * g_change) * u + c9 + c11 * g_change
            tl.store(out_ptr + rows * n_t + t, u.to(out_ptr.dtype.element_ty), mask=live)


@triton.jit
def scan_kernel(alpha_ptr, beta_ptr, out_ptr, n_rows, n_t, ADJOINT: tl.constexpr, BLOCK: tl.constexpr):
    """Forward: out = scan(alpha, beta). Adjoint: out[n] = beta[n] + alpha[n+1] out[n+1]."""
    rows, live = program_rows(n_rows, BLOCK)
    u = tl.zeros([BLOCK], dtype=tl.float64)
    for step in range(n_t):
        t = n_t - 1 - step if ADJOINT else step
        beta = tl.load(beta_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64)
        if ADJOINT:
            last = rows * 0 + t == n_t - 1
            alpha = tl.load(alpha_ptr + rows * n_t + t + 1, mask=live & (~last), other=0.0).to(tl.float64)
        else:
            alpha = tl.load(alpha_ptr + rows * n_t + t, mask=live, other=0.0).to(tl.float64)
        u = alpha * u + beta
        tl.store(out_ptr + rows * n_t + t, u.to(out_ptr.dtype.element_ty), mask=live)


def _run_ihc(velocity, constants, out, grad_out, grad, backward: bool):
    """One launch of :func:`ihc_kernel` over the rows (none for tensors without data)."""
    if shape_only(velocity, grad_out):
        return
    grid, block = row_grid(velocity.shape[0])
    ihc_kernel[grid](
        velocity, out, grad_out, grad, constants, *velocity.shape, BACKWARD=backward, BLOCK=block, num_warps=1
    )


def ihc_forward(velocity: torch.Tensor, constants: torch.Tensor) -> torch.Tensor:
    """Rows ``(R, T)`` of BM velocity -> receptor potential re pre-charge (V)."""
    out = torch.empty_like(velocity)
    _run_ihc(velocity, constants, out, velocity, out, backward=False)  # gout, gv: unused
    return out


def ihc_backward(velocity: torch.Tensor, constants: torch.Tensor, out: torch.Tensor, grad_out: torch.Tensor):
    """Gradient of the velocity rows from the gradient of the potential."""
    grad = torch.empty_like(velocity)
    _run_ihc(velocity, constants, out, grad_out.contiguous(), grad, backward=True)
    return grad


def scan(alpha: torch.Tensor, beta: torch.Tensor, adjoint: bool = False) -> torch.Tensor:
    """Rows ``(R, T)``: the scan, or with ``adjoint`` the backward recursion of its gradient."""
    out = torch.empty_like(beta)
    if shape_only(alpha, beta):
        return out
    grid, block = row_grid(beta.shape[0])
    scan_kernel[grid](
        alpha.contiguous(),
        beta.contiguous(),
        out,
        beta.shape[0],
        beta.shape[1],
        ADJOINT=adjoint,
        BLOCK=block,
        num_warps=1,
    )
    return out
