"""Triton kernel: cascades of first/second-order IIR sections, one lane per row.

The numba twin is ``workbench.kernels.iir._sos_forward_kernel`` (and ``_forward_kernel``
for one section): transposed direct form II per section, sections in series inside one
time step, the state of every section held in registers. Real or complex coefficients and
signals (complex tensors are passed as their interleaved real view). Coefficients arrive
as float64 tensors ``(rows, n_sections, 10)`` = ``[b0 b1 b2 a1 a2]`` as (re, im) pairs
(``a0 == 1``); the arithmetic and the states are float64 for every signal dtype, like the
numba kernel's (float32 rows are rounded once, on output). ``REVERSE`` runs the recursion
backwards in time, which is how the adjoint (backward pass) of a filter is computed:
filtering the reversed gradient by the conjugated sections.

This module imports triton; load it through
:func:`workbench.kernels.backend.load_triton_kernels`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.kernels._triton_rows import program_rows, row_grid
from workbench.kernels.backend import shape_only

MAX_SECTIONS = 8  # sections fused per launch; longer cascades take several launches


@triton.jit
def cascade_kernel(
    x_ptr,
    y_ptr,
    coef_ptr,
    n_rows,
    n_t,
    x_row_stride,
    y_row_stride,
    NS: tl.constexpr,
    X_COMPLEX: tl.constexpr,
    COMPLEX: tl.constexpr,
    F64: tl.constexpr,
    REVERSE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    rows, live = program_rows(n_rows, BLOCK)
    dt = tl.float64 if F64 else tl.float32
    zero = tl.zeros([BLOCK], dtype=dt)
    # coefficients of every section into registers (tuples unroll over the sections)
    b0r = ()
    b0i = ()
    b1r = ()
    b1i = ()
    b2r = ()
    b2i = ()
    a1r = ()
    a1i = ()
    a2r = ()
    a2i = ()
    z0r = ()
    z0i = ()
    z1r = ()
    z1i = ()
    for k in tl.static_range(NS):
        base = coef_ptr + rows * (NS * 10) + k * 10
        b0r = b0r + (tl.load(base + 0, mask=live, other=0.0).to(dt),)
        b0i = b0i + (tl.load(base + 1, mask=live, other=0.0).to(dt),)
        b1r = b1r + (tl.load(base + 2, mask=live, other=0.0).to(dt),)
        b1i = b1i + (tl.load(base + 3, mask=live, other=0.0).to(dt),)
        b2r = b2r + (tl.load(base + 4, mask=live, other=0.0).to(dt),)
        b2i = b2i + (tl.load(base + 5, mask=live, other=0.0).to(dt),)
        a1r = a1r + (tl.load(base + 6, mask=live, other=0.0).to(dt),)
        a1i = a1i + (tl.load(base + 7, mask=live, other=0.0).to(dt),)
        a2r = a2r + (tl.load(base + 8, mask=live, other=0.0).to(dt),)
        a2i = a2i + (tl.load(base + 9, mask=live, other=0.0).to(dt),)
        z0r = z0r + (zero,)
        z0i = z0i + (zero,)
        z1r = z1r + (zero,)
        z1i = z1i + (zero,)
    x_row = x_ptr + rows * x_row_stride
    y_row = y_ptr + rows * y_row_stride
    for step in range(n_t):
        t = n_t - 1 - step if REVERSE else step
        if X_COMPLEX:
            vr = tl.load(x_row + 2 * t, mask=live, other=0.0).to(dt)
            vi = tl.load(x_row + 2 * t + 1, mask=live, other=0.0).to(dt)
        else:
            vr = tl.load(x_row + t, mask=live, other=0.0).to(dt)
            vi = zero
        n0r = ()
        n0i = ()
        n1r = ()
        n1i = ()
        for k in tl.static_range(NS):
            if COMPLEX:
                outr = b0r[k] * vr - b0i[k] * vi + z0r[k]
                outi = b0r[k] * vi + b0i[k] * vr + z0i[k]
                n0r = n0r + (z1r[k] + (b1r[k] * vr - b1i[k] * vi) - (a1r[k] * outr - a1i[k] * outi),)
                n0i = n0i + (z1i[k] + (b1r[k] * vi + b1i[k] * vr) - (a1r[k] * outi + a1i[k] * outr),)
                n1r = n1r + ((b2r[k] * vr - b2i[k] * vi) - (a2r[k] * outr - a2i[k] * outi),)
                n1i = n1i + ((b2r[k] * vi + b2i[k] * vr) - (a2r[k] * outi + a2i[k] * outr),)
                vr = outr
                vi = outi
            else:
                outr = b0r[k] * vr + z0r[k]
                n0r = n0r + (z1r[k] + b1r[k] * vr - a1r[k] * outr,)
                n1r = n1r + (b2r[k] * vr - a2r[k] * outr,)
                n0i = n0i + (zero,)
                n1i = n1i + (zero,)
                vr = outr
        z0r = n0r
        z0i = n0i
        z1r = n1r
        z1i = n1i
        if COMPLEX:
            tl.store(y_row + 2 * t, vr.to(y_ptr.dtype.element_ty), mask=live)
            tl.store(y_row + 2 * t + 1, vi.to(y_ptr.dtype.element_ty), mask=live)
        else:
            tl.store(y_row + t, vr.to(y_ptr.dtype.element_ty), mask=live)


def pack_sections(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Monic sections ``b (R, S, 3)``, ``a (R, S, 3)`` -> float64 ``(R, S, 10)`` kernel layout."""

    def pairs(c):
        c = c.detach()
        if c.is_complex():
            return torch.view_as_real(c.to(torch.complex128).resolve_conj())
        return torch.stack([c.to(torch.float64), torch.zeros_like(c, dtype=torch.float64)], -1)

    bp, ap = pairs(b), pairs(a)
    return torch.cat([bp.flatten(-2), ap[..., 1:, :].flatten(-2)], -1).contiguous()


def _real_view(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Contiguous rows ``(R, T)`` as a real tensor and its row stride in real elements."""
    t = t.resolve_conj().contiguous()
    if t.is_complex():
        return torch.view_as_real(t), 2 * t.shape[-1]
    return t, t.shape[-1]


def cascade(coef: torch.Tensor, x: torch.Tensor, out_dtype: torch.dtype, reverse: bool = False) -> torch.Tensor:
    """Run packed sections ``coef (R, S, 10)`` over rows ``x (R, T)``; output ``(R, T)`` of
    ``out_dtype`` (complex when the coefficients or ``x`` are). ``reverse``: backwards in time."""
    n_rows, n_t = x.shape
    if n_rows == 0 or n_t == 0 or shape_only(x, coef):
        return torch.zeros(x.shape, dtype=out_dtype, device=x.device)
    f64 = True  # float64 states and arithmetic for every signal dtype, as the numba twin
    y = x
    for start in range(0, coef.shape[1], MAX_SECTIONS):
        part = coef[:, start : start + MAX_SECTIONS].contiguous()
        src, src_stride = _real_view(y)
        out = torch.empty((n_rows, n_t), dtype=out_dtype, device=x.device)
        dst, dst_stride = _real_view(out)
        grid, block = row_grid(n_rows)
        cascade_kernel[grid](
            src,
            dst,
            part,
            n_rows,
            n_t,
            src_stride,
            dst_stride,
            NS=part.shape[1],
            X_COMPLEX=y.is_complex(),
            COMPLEX=out_dtype.is_complex,
            F64=f64,
            REVERSE=reverse,
            BLOCK=block,
            num_warps=1,
        )
        y = out
    return y
