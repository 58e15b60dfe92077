"""Adaptation loops (Puschel 1988; Dau et al. 1996/1997) as AMT's comp_adaptloop computes them.

Each loop divides its input by its state and low-passes its own output into that state
(RC time constant ``tau``); outputs above 1 are compressed by AMT's overshoot limiter
``f(v) = 2m / (1 + exp(-2 (v - 1) / m)) - (m - 1)`` with ``m = (1 - s0^2) * limit - 1``
(``limit <= 1``: no limiting). Input is clamped to the floor ``min_level``; loop states
start at the floor's steady state ``s0_k = min_level^(2^-k)``; the output is mapped to model
units ``(y - corr) * 100 / (1 - corr)`` with ``corr = min_level^(2^-L)``.

``adaptation_loops`` is differentiable w.r.t. the signal and the loop coefficients (hence
the time constants), with a hand-written adjoint on every compiled backend: a numba kernel on
CPU, a Triton kernel on the device path (:mod:`workbench.kernels.triton_adaptation`, which
checkpoints the loop states instead of storing them all), or, as a reference, a torch
recursion over samples that autograd differentiates.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from workbench.kernels import _tiles as tiles
from workbench.kernels._lanes import (
    EXP_NEG_INT,
    LANES,
    adaptation_backward,
    adaptation_loop,
    adaptation_loop_save,
)
from workbench.kernels._numba import compiled, host_array, host_array64
from workbench.kernels.backend import load_triton_kernels, resolve_backend
from workbench.kernels.memory import empty_output_like_numpy


@numba.njit(cache=True, fastmath=False)
def _constants(min_level, limit, n_loops):
    """Per-row steady states s0 (L, R), output offset/scale (R,), limiter maxima (L, R)."""
    n_rows = min_level.shape[0]
    s0 = np.empty((n_loops, n_rows))
    for j in range(n_loops):
        s0[j] = min_level ** (1.0 / 2.0 ** (j + 1))
    corr = min_level ** (1.0 / 2.0**n_loops)
    maxvalue = (1.0 - s0 * s0) * limit - 1.0
    return s0, corr, 100.0 / (1.0 - corr), maxvalue


TILE = 256


# Forward: LANES rows side by side in time-major tiles, loop after loop over each tile (a
# loop's input at time t is the previous loop's output at t, so this is the per-row order of
# operations of the former kernel, bitwise). The backward kernel steps through time with the
# rows innermost. Signals are read in their (rows, time) layout and dtype; arithmetic is
# float64.


@numba.njit(cache=True, fastmath=False, parallel=True)
def _forward_kernel(x, a1, min_level, limit, table, y, states, save):
    """``states`` ``(T, L, rows rounded up to LANES)`` receives the loop states when ``save``."""
    n_rows, n_t = x.shape
    n_loops = a1.shape[0]
    s, corr, mult, maxv = _constants(min_level, limit, n_loops)
    limiting = limit > 1.0
    flat = states.reshape(-1)
    stride = n_loops * states.shape[2]
    for g in numba.prange((n_rows + LANES - 1) // LANES):
        r0 = g * LANES
        n_lanes = min(LANES, n_rows - r0)
        c = np.ones((n_loops, LANES))  # padding lanes: harmless constants (never stored)
        z = np.ones((n_loops, LANES))
        floor = np.zeros(LANES)
        offset = np.zeros(LANES)
        scale = np.zeros(LANES)
        for lane in range(n_lanes):
            for j in range(n_loops):
                c[j, lane] = maxv[j, r0 + lane]
                z[j, lane] = s[j, r0 + lane]
            floor[lane] = min_level[r0 + lane]
            offset[lane] = corr[r0 + lane]
            scale[lane] = mult[r0 + lane]
        tile = np.ones(TILE * LANES)  # padding lanes keep quotients near 1: no decay to denormals
        for t0 in range(0, n_t, TILE):
            nt = min(TILE, n_t - t0)
            for lane in range(n_lanes):
                row = np.uint64(r0 + lane)
                for n in range(nt):
                    tile[np.uint64(n * LANES + lane)] = max(x[row, np.uint64(t0 + n)], floor[lane])
            for j in range(n_loops):
                if save:
                    adaptation_loop_save(
                        tile,
                        nt,
                        a1[j],
                        limiting,
                        c[j],
                        z[j],
                        table,
                        flat,
                        (t0 * n_loops + j) * states.shape[2] + r0,
                        stride,
                    )
                else:
                    adaptation_loop(tile, nt, a1[j], limiting, c[j], z[j], table)
            for lane in range(n_lanes):
                row = np.uint64(r0 + lane)
                for n in range(nt):
                    y[row, np.uint64(t0 + n)] = (tile[np.uint64(n * LANES + lane)] - offset[lane]) * scale[lane]


_forward = compiled(_forward_kernel)


@numba.njit(cache=True, fastmath=False, error_model="numpy", parallel=True)
def _backward_kernel(gy, x, a1, min_level, limit, table, states, gx, ga):
    """Adjoint, LANES rows side by side over reversed tiles (``_lanes.adaptation_backward``);
    ``ga`` ``(L, rows)`` receives each row's coefficient gradients."""
    n_rows, n_t = x.shape
    n_loops = a1.shape[0]
    s0, corr, mult, maxv = _constants(min_level, limit, n_loops)
    limiting = limit > 1.0
    flat = states.reshape(-1)
    srow = states.shape[2]
    for g in numba.prange((n_rows + LANES - 1) // LANES):
        r0 = g * LANES
        n_lanes = min(LANES, n_rows - r0)
        m = np.ones(n_loops * LANES)
        fm = np.zeros(2 * LANES)
        for lane in range(n_lanes):
            for j in range(n_loops):
                m[j * LANES + lane] = maxv[j, r0 + lane]
            fm[lane] = min_level[r0 + lane]
            fm[LANES + lane] = mult[r0 + lane]
        w = np.ones((n_loops + 1) * LANES)
        v = np.zeros(n_loops * LANES)
        ev = np.zeros(n_loops * LANES)
        gs = np.zeros(n_loops * LANES)
        gacc = np.zeros(n_loops * LANES)
        tile_x = np.zeros(TILE * LANES)
        tile_g = np.zeros(TILE * LANES)
        for t_end in range(n_t, 0, -TILE):
            t0 = max(0, t_end - TILE)
            nt = t_end - t0
            tiles.load(x, r0, n_lanes, t0, nt, n_t, 1, 0, False, tile_x)
            tiles.load(gy, r0, n_lanes, t0, nt, n_t, 1, 0, False, tile_g)
            for i in range(nt * LANES):  # padding lanes: a harmless input (never stored)
                if i % LANES >= n_lanes:
                    tile_x[i] = 1.0
            adaptation_backward(
                tile_x,
                tile_g,
                nt,
                n_loops,
                a1,
                limiting,
                m,
                fm,
                table,
                flat,
                t0 * n_loops * srow + r0,
                srow,
                w,
                v,
                ev,
                gs,
                gacc,
            )
            tiles.store(tile_g, gx, r0, n_lanes, t0, nt, n_t, 1, 0, False)
        for lane in range(n_lanes):
            for j in range(n_loops):
                ga[j, r0 + lane] += gacc[j * LANES + lane]


_backward = compiled(_backward_kernel)


class _AdaptLoopFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, a1, min_level, limit):
        xd = host_array(x)
        y = empty_output_like_numpy(xd)
        save = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        n_rows, n_t = xd.shape
        padded = -(-n_rows // LANES) * LANES
        states = empty_output_like_numpy(xd, (n_t, a1.shape[0], padded) if save else (1, 1, 1))
        _forward(xd, host_array64(a1), host_array64(min_level), float(limit), EXP_NEG_INT, y, states, save)
        ctx.limit = float(limit)
        if save:
            ctx.save_for_backward(x, a1, min_level)
            ctx.states = states
        return torch.from_numpy(y)

    @staticmethod
    def backward(ctx, gy):
        x, a1, min_level = ctx.saved_tensors
        xd = host_array(x)
        gx = empty_output_like_numpy(xd)
        ga = np.zeros((a1.shape[0], xd.shape[0]))
        _backward(
            host_array(gy.to(x.dtype)),
            xd,
            host_array64(a1),
            host_array64(min_level),
            ctx.limit,
            EXP_NEG_INT,
            ctx.states,
            gx,
            ga,
        )
        grad_x = torch.from_numpy(gx) if ctx.needs_input_grad[0] else None
        grad_a = torch.from_numpy(ga.sum(1)).to(a1.dtype) if ctx.needs_input_grad[1] else None
        return grad_x, grad_a, None, None


class _AdaptLoopDevice(torch.autograd.Function):
    """Triton forward/adjoint; ``a1`` float64 on the device, ``min_level`` one value per row."""

    @staticmethod
    def forward(ctx, x, a1, min_level, limit):
        kernels = load_triton_kernels("adaptation")
        save = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        y, ckpt = kernels.forward(x.contiguous(), a1.detach(), min_level, limit, save)
        if save:
            ctx.save_for_backward(x, a1, min_level, ckpt)
            ctx.limit = limit
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, a1, min_level, ckpt = ctx.saved_tensors
        gx, ga = load_triton_kernels("adaptation").backward(
            grad_y.to(x.dtype), x.contiguous(), a1.detach(), min_level, ctx.limit, ckpt
        )
        grad_a = ga.sum(0).to(a1.dtype) if ctx.needs_input_grad[1] else None
        return (gx if ctx.needs_input_grad[0] else None), grad_a, None, None


def _adaptation_torch(x, a1, min_level, limit):
    """Device-resident reference recursion (autograd differentiates it); rows x time."""
    n_loops = a1.shape[0]
    m = min_level.unsqueeze(-1)  # (R, 1)
    powers = 2.0 ** -torch.arange(1, n_loops + 1, dtype=x.dtype, device=x.device)
    s0 = m**powers  # (R, L)
    corr = min_level ** (2.0**-n_loops)
    mult = 100.0 / (1.0 - corr)
    maxv = (1.0 - s0 * s0) * limit - 1.0
    state = list(s0.unbind(-1))
    xs = torch.maximum(x, m)
    out = []
    for t in range(x.shape[-1]):
        v = xs[:, t]
        for j in range(n_loops):
            v = v / state[j]
            if limit > 1.0:
                lim = 2.0 * maxv[:, j] / (1.0 + torch.exp(-2.0 / maxv[:, j] * (v - 1.0))) - (maxv[:, j] - 1.0)
                v = torch.where(v > 1.0, lim, v)
            state[j] = a1[j] * state[j] + (1.0 - a1[j]) * v
        out.append(v)
    return (torch.stack(out, -1) - corr.unsqueeze(-1)) * mult.unsqueeze(-1)


def adaptation_loops(
    x: torch.Tensor, tau_s: torch.Tensor, fs: float, limit: float, min_level: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """Run the adaptation loops along the last axis.

    x : ``(..., T)`` non-negative envelope (AMT units, dboffset 100).
    tau_s : ``(L,)`` loop time constants in seconds (may require grad).
    limit : overshoot limit (AMT ``limit``; <= 1 disables limiting).
    min_level : floor, a tensor broadcastable to ``x.shape[:-1]`` (one value per channel).
    backend : 'auto' (numba on CPU, Triton on CUDA), 'numba', 'triton' or 'torch' (the
        reference recursion as torch ops, a Python loop over samples: slow), see
        :mod:`workbench.kernels.backend`.
    Returns ``(..., T)`` in model units.
    """
    lead = x.shape[:-1]
    rows = x.reshape(-1, x.shape[-1])
    m = torch.as_tensor(min_level, dtype=x.dtype, device=x.device).expand(lead).reshape(-1)
    # float64: for tau = 0.5 s, 1 - a1 = 4.5e-5 would carry a 1e-3 relative error in float32
    a1 = torch.exp(-1.0 / (tau_s.to(device=x.device, dtype=torch.float64) * fs))
    kind = resolve_backend(x, backend)
    if kind == "numba":
        y = _AdaptLoopFunction.apply(rows, a1, m, float(limit)).to(x.dtype)
    elif kind == "triton":
        y = _AdaptLoopDevice.apply(rows, a1, m, float(limit))
    else:
        y = _adaptation_torch(rows, a1.to(x.dtype), m, float(limit))
    return y.reshape(x.shape)
