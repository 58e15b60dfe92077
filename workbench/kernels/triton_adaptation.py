"""Triton kernels: AMT's adaptation loops with the overshoot limiter, forward and adjoint.

Twins of ``workbench.kernels.adaptation._forward_kernel``/``_backward_kernel`` (same float64
arithmetic, one lane per row, the loop states in registers). Instead of storing every
state for the backward pass (``T x L`` values per row), the forward pass keeps the states
every ``CHUNK`` samples; the backward pass walks the chunks from the end, recomputes a
chunk's states from its checkpoint into a small scratch buffer and runs the adjoint over
it, so memory stays at ``L (T / CHUNK + CHUNK)`` values per row.

Per-row constants (steady states ``s0``, limiter maxima, output offset and scale) come in
as float64 tensors; the limit itself is a host-side flag (``LIMITING``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.kernels._triton_rows import program_rows, row_grid
from workbench.kernels.backend import interpreting, shape_only

CHUNK = 256  # samples between checkpoints on a GPU (one chunk of the whole signal when interpreting)
# Per-step helpers are written inline rather than as nested @triton.jit functions: the Triton
# interpreter (how these kernels are tested without a GPU) pays ~0.1 ms per nested call. The
# forward recursion over a chunk, shared by both kernels, is one call per chunk; the rows'
# constants are loaded by one call per program.


@triton.jit
def _program_constants(a1_ptr, maxv_ptr, floor_ptr, mult_ptr, n_rows, NL: tl.constexpr, BLOCK: tl.constexpr):
    """The program's rows and their constants, shared by both kernels: input floor, output
    scale, and per loop the coefficient ``a1`` and the limiter maximum (tuples over loops)."""
    rows, live = program_rows(n_rows, BLOCK)
    floor = tl.load(floor_ptr + rows, mask=live, other=1.0)
    mult = tl.load(mult_ptr + rows, mask=live, other=0.0)
    a1 = ()
    maxv = ()
    for j in tl.static_range(NL):
        a1 = a1 + (tl.load(a1_ptr + j),)
        maxv = maxv + (tl.load(maxv_ptr + rows * NL + j, mask=live, other=1.0),)
    return rows, live, floor, mult, a1, maxv


@triton.jit
def _run_chunk(
    x_row,
    y_row,
    scratch_row,
    c,
    n_t,
    s,
    a1,
    maxv,
    floor,
    corr,
    mult,
    rows,
    live,
    NL: tl.constexpr,
    CH: tl.constexpr,
    LIMITING: tl.constexpr,
    KEEP_STATES: tl.constexpr,
):
    """The loops over chunk ``c`` from the states ``s`` (a tuple over the loops), returning the
    states after it. Writes the output ``(v - corr) * mult`` into ``y_row`` or, with
    ``KEEP_STATES`` (the backward pass), the states before every step into ``scratch_row``."""
    for i in range(CH):
        t = c * CH + i
        ok = live & (rows * 0 + t < n_t)  # vector compare (the interpreter rejects scalar masks)
        v = tl.maximum(tl.load(x_row + t, mask=ok, other=0.0).to(tl.float64), floor)
        new_s = ()
        for j in tl.static_range(NL):
            if KEEP_STATES:
                tl.store(scratch_row + i * NL + j, s[j], mask=live)
            q = v / s[j]
            if LIMITING:  # AMT overshoot limiter above 1 (inline: see the note above)
                lim = 2.0 * maxv[j] / (1.0 + tl.exp(-2.0 / maxv[j] * (q - 1.0))) - (maxv[j] - 1.0)
                q = tl.where(q > 1.0, lim, q)
            new_s = new_s + (a1[j] * s[j] + (1.0 - a1[j]) * q,)
            v = q
        s = new_s
        if not KEEP_STATES:
            tl.store(y_row + t, ((v - corr) * mult).to(y_row.dtype.element_ty), mask=ok)
    return s


@triton.jit
def forward_kernel(
    x_ptr,
    y_ptr,
    ckpt_ptr,
    a1_ptr,
    s0_ptr,
    maxv_ptr,
    floor_ptr,
    corr_ptr,
    mult_ptr,
    n_rows,
    n_t,
    n_chunks,
    NL: tl.constexpr,
    CH: tl.constexpr,
    LIMITING: tl.constexpr,
    SAVE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    rows, live, floor, mult, a1, maxv = _program_constants(a1_ptr, maxv_ptr, floor_ptr, mult_ptr, n_rows, NL, BLOCK)
    corr = tl.load(corr_ptr + rows, mask=live, other=0.0)
    s = ()
    for j in tl.static_range(NL):
        s = s + (tl.load(s0_ptr + rows * NL + j, mask=live, other=1.0),)
    x_row = x_ptr + rows * n_t
    y_row = y_ptr + rows * n_t
    for c in range(n_chunks):
        if SAVE:
            for j in tl.static_range(NL):
                tl.store(ckpt_ptr + (rows * n_chunks + c) * NL + j, s[j], mask=live)
        s = _run_chunk(x_row, y_row, x_row, c, n_t, s, a1, maxv, floor, corr, mult, rows, live, NL, CH, LIMITING, False)


@triton.jit
def backward_kernel(
    gy_ptr,
    x_ptr,
    gx_ptr,
    ga_ptr,
    ckpt_ptr,
    scratch_ptr,
    a1_ptr,
    maxv_ptr,
    floor_ptr,
    mult_ptr,
    n_rows,
    n_t,
    n_chunks,
    NL: tl.constexpr,
    CH: tl.constexpr,
    LIMITING: tl.constexpr,
    BLOCK: tl.constexpr,
):
    rows, live, floor, mult, a1, maxv = _program_constants(a1_ptr, maxv_ptr, floor_ptr, mult_ptr, n_rows, NL, BLOCK)
    zero = tl.zeros([BLOCK], dtype=tl.float64)
    gs = ()  # adjoint of the loop states at t + 1
    ga = ()  # gradient of the loop coefficients, accumulated over time
    for _ in tl.static_range(NL):
        gs = gs + (zero,)
        ga = ga + (zero,)
    x_row = x_ptr + rows * n_t
    scratch_row = scratch_ptr + rows * (CH * NL)
    for cc in range(n_chunks):
        c = n_chunks - 1 - cc
        # 1) states of this chunk, recomputed from its checkpoint (the forward arithmetic)
        s = ()
        for j in tl.static_range(NL):
            s = s + (tl.load(ckpt_ptr + (rows * n_chunks + c) * NL + j, mask=live, other=1.0),)
        s = _run_chunk(
            x_row, x_row, scratch_row, c, n_t, s, a1, maxv, floor, floor, floor, rows, live, NL, CH, LIMITING, True
        )
        # 2) adjoint over the chunk, last sample first
        for ii in range(CH):
            i = CH - 1 - ii
            t = c * CH + i
            ok = live & (rows * 0 + t < n_t)  # vector compare (the interpreter rejects scalar masks)
            x_t = tl.load(x_row + t, mask=ok, other=0.0).to(tl.float64)
            st = ()
            w = (tl.maximum(x_t, floor),)  # w[j]: input of loop j; w[NL]: output
            quot = ()  # quotient of loop j before limiting
            for j in tl.static_range(NL):
                st = st + (tl.load(scratch_row + i * NL + j, mask=live, other=1.0),)
                q = w[j] / st[j]
                quot = quot + (q,)
                if LIMITING:
                    lim = 2.0 * maxv[j] / (1.0 + tl.exp(-2.0 / maxv[j] * (q - 1.0))) - (maxv[j] - 1.0)
                    q = tl.where(q > 1.0, lim, q)
                w = w + (q,)
            g = tl.load(gy_ptr + rows * n_t + t, mask=ok, other=0.0).to(tl.float64) * mult
            new_gs = ()
            new_ga = ()
            for j in tl.static_range(NL - 1, -1, -1):
                sj = st[j]
                g_total = g + gs[j] * (1.0 - a1[j])
                ga_j = ga[j] + gs[j] * (sj - w[j + 1])
                g_v = g_total
                if LIMITING:
                    e = tl.exp(-2.0 / maxv[j] * (quot[j] - 1.0))
                    g_v = tl.where(quot[j] > 1.0, g_total * 4.0 * e / ((1.0 + e) * (1.0 + e)), g_total)
                g = g_v / sj
                gs_j = gs[j] * a1[j] - g_v * w[j] / (sj * sj)
                new_gs = (tl.where(ok, gs_j, gs[j]),) + new_gs
                new_ga = (tl.where(ok, ga_j, ga[j]),) + new_ga
            gs = new_gs
            ga = new_ga
            grad = tl.where(x_t > floor, g, 0.0)
            tl.store(gx_ptr + rows * n_t + t, grad.to(gx_ptr.dtype.element_ty), mask=ok)
    for j in tl.static_range(NL):
        tl.store(ga_ptr + rows * NL + j, ga[j], mask=live)


def _chunk(n_t: int) -> int:
    """Checkpoint spacing: ``CHUNK`` on a GPU; the whole signal in the interpreter, where every
    padded step of a partial last chunk costs as much as a real one."""
    return max(int(n_t), 1) if interpreting() else CHUNK


def _constants(min_level: torch.Tensor, limit: float, n_loops: int):
    """Per-row s0 ``(R, L)``, limiter maxima ``(R, L)``, output offset and scale ``(R,)``."""
    m = min_level.to(torch.float64)
    powers = 1.0 / 2.0 ** torch.arange(1, n_loops + 1, dtype=torch.float64, device=m.device)
    s0 = m[:, None] ** powers
    corr = m ** (1.0 / 2.0**n_loops)
    return s0.contiguous(), ((1.0 - s0 * s0) * limit - 1.0).contiguous(), corr, 100.0 / (1.0 - corr)


def forward(x: torch.Tensor, a1: torch.Tensor, min_level: torch.Tensor, limit: float, save: bool):
    """Rows ``x (R, T)`` -> (output ``(R, T)``, checkpoints or None)."""
    n_rows, n_t = x.shape
    n_loops = a1.shape[0]
    s0, maxv, corr, mult = _constants(min_level, limit, n_loops)
    chunk = _chunk(n_t)
    n_chunks = triton.cdiv(n_t, chunk)
    ckpt = torch.empty((n_rows, n_chunks, n_loops) if save else (1,), dtype=torch.float64, device=x.device)
    y = torch.empty_like(x)
    if shape_only(x):
        return y, (ckpt if save else None)
    grid, block = row_grid(n_rows)
    forward_kernel[grid](
        x,
        y,
        ckpt,
        a1.contiguous(),
        s0,
        maxv,
        min_level.to(torch.float64).contiguous(),
        corr,
        mult,
        n_rows,
        n_t,
        n_chunks,
        NL=n_loops,
        CH=chunk,
        LIMITING=limit > 1.0,
        SAVE=save,
        BLOCK=block,
        num_warps=1,
    )
    return y, (ckpt if save else None)


def backward(
    grad_y: torch.Tensor, x: torch.Tensor, a1: torch.Tensor, min_level: torch.Tensor, limit: float, ckpt: torch.Tensor
):
    """Adjoint: gradient of the rows ``x`` and per-row gradients of ``a1`` ``(R, L)``."""
    n_rows, n_t = x.shape
    n_loops = a1.shape[0]
    _, maxv, _, mult = _constants(min_level, limit, n_loops)
    gx = torch.empty_like(x)
    ga = torch.empty((n_rows, n_loops), dtype=torch.float64, device=x.device)
    chunk = _chunk(n_t)
    scratch = torch.empty((n_rows, chunk, n_loops), dtype=torch.float64, device=x.device)
    if shape_only(x, grad_y):
        return gx, ga
    grid, block = row_grid(n_rows)
    backward_kernel[grid](
        grad_y.contiguous(),
        x,
        gx,
        ga,
        ckpt,
        scratch,
        a1.contiguous(),
        maxv,
        min_level.to(torch.float64).contiguous(),
        mult,
        n_rows,
        n_t,
        ckpt.shape[1],
        NL=n_loops,
        CH=chunk,
        LIMITING=limit > 1.0,
        BLOCK=block,
        num_warps=1,
    )
    return gx, ga
