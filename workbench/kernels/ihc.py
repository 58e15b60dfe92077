"""Paulick2024 IHC membrane recursion with hand-written backward passes.

The forward-Euler membrane update of ``paulick2024_ihc`` is linear in the membrane
potential once the MET conductance is known (the conductance depends on the input only), so
the sequential part is the time-varying first-order recursion

    u[n] = alpha[n] * u[n-1] + beta[n],    u[-1] = 0,

on rows of ``(..., T)`` tensors. Backward: lam[n] = g[n] + alpha[n+1] lam[n+1];
dL/dbeta = lam, dL/dalpha[n] = lam[n] u[n-1].

``ihc_membrane`` fuses the whole IHC (MET conductance from the velocity, then the
recursion) in one pass per direction: numba on CPU, Triton on the device path
(:mod:`workbench.kernels.triton_ihc`), which avoids a dozen full-size temporaries.
``membrane_scan`` is the bare recursion for given ``alpha``/``beta`` with the same
backends. ``backend='torch'`` uses torch ops and a blocked scan (sequential inside chunks
of 16 samples, recursion over the chunk ends; no division, so no underflow), any device.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from workbench.kernels import _tiles as tiles
from workbench.kernels._lanes import LANES, ihc_forward, scan_forward
from workbench.kernels._numba import compiled, host_array
from workbench.kernels._vmath import EXP_INT, expm1
from workbench.kernels.backend import (
    device_constant,
    load_triton_kernels,
    resolve_backend,
)
from workbench.kernels.memory import empty_output_like_numpy

_CHUNK = 16


@numba.njit(cache=True, fastmath=False)
def _scan_numba(alpha, beta, out):
    for row in range(alpha.shape[0]):
        u = 0.0
        for n in range(alpha.shape[1]):
            u = alpha[row, n] * u + beta[row, n]
            out[row, n] = u


@numba.njit(cache=True, fastmath=False)
def _adjoint_numba(alpha, grad_out, lam):
    for row in range(alpha.shape[0]):
        acc = 0.0
        for n in range(alpha.shape[1] - 1, -1, -1):
            acc = grad_out[row, n] + (alpha[row, n + 1] * acc if n + 1 < alpha.shape[1] else 0.0)
            lam[row, n] = acc


@numba.njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _terms_from(c, d, clamped, e0, e01):
    """dG and d(dG)/d(velocity) from the clamped drive ``d`` and ``e0 = expm1(-d / s1)``,
    ``e01 = expm1(-d (1/s0 + 1/s1))`` (see :func:`_ihc_terms`)."""
    d_change = c[2] * e0 + c[2] * c[3] * e01
    denom = c[4] + d_change
    g_change = -c[5] * d_change / (denom * c[4])
    # dD/dd = -f0/s1 (1 + f1) - f0 f1 / s0 ; dG/dd = -Gmax dD/dd / D^2
    f0 = c[2] * (1.0 + e0)
    f0f1 = c[2] * c[3] * (1.0 + e01)
    slope = c[5] * (f0 * c[7] + f0f1 * (c[6] + c[7])) / (denom * denom) * c[0]
    return g_change, 0.0 if clamped else slope


@numba.njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _ihc_terms(velocity, c, table):
    """Conductance change dG (re rest) and d(dG)/d(velocity) for one sample.

    c = (gain, clamp_min, f0_rest, f1_rest, d_rest, g_max, 1/s0, 1/s1, ...). The two
    ``expm1`` are the vectorisable ones of :mod:`workbench.kernels._vmath` (within a few
    ulp of libm's), so the loops over samples that call this run as SIMD code."""
    d = c[0] * velocity
    clamped = d < c[1]
    d = c[1] if clamped else d
    return _terms_from(c, d, clamped, expm1(-d * c[7], table), expm1(-d * (c[6] + c[7]), table))


@numba.njit(cache=True, fastmath=False, error_model="numpy", inline="always")
def _ihc_terms_libm(velocity, c):
    """:func:`_ihc_terms` with libm's ``expm1``, for the backward pass: its loop does not
    vectorise (the slope's selects), and scalar libm calls are the cheaper scalar code. The
    two ``expm1`` differ by a few ulp, far below any gradient tolerance."""
    d = c[0] * velocity
    clamped = d < c[1]
    d = c[1] if clamped else d
    return _terms_from(c, d, clamped, math.expm1(-d * c[7]), math.expm1(-d * (c[6] + c[7])))


TILE = 256


# LANES rows side by side in time-major tiles (see _lanes.py): the conductance terms of a
# tile are computed elementwise (vectorised), then the membrane recursion runs per lane.


@numba.njit(cache=True, fastmath=False, error_model="numpy", parallel=True)
def _ihc_forward_kernel(velocity, c, table, out):
    """c[8:] = (alpha_rest, beta_rest, step, step * (E_P - V_pre))."""
    rows, n_t = velocity.shape
    for g in numba.prange((rows + LANES - 1) // LANES):
        r0 = g * LANES
        n_lanes = min(LANES, rows - r0)
        z = np.zeros(LANES)
        tile_a = np.zeros(TILE * LANES)
        tile_b = np.zeros(TILE * LANES)
        for t0 in range(0, n_t, TILE):
            nt = min(TILE, n_t - t0)
            tiles.load(velocity, r0, n_lanes, t0, nt, n_t, 1, 0, False, tile_a)
            for i in range(nt * LANES):
                g_change, _ = _ihc_terms(tile_a[i], c, table)
                tile_a[i] = c[8] - c[10] * g_change
                tile_b[i] = c[11] * g_change
            ihc_forward(tile_a, tile_b, nt, c[9], z)
            tiles.store(tile_b, out, r0, n_lanes, t0, nt, n_t, 1, 0, False)


@numba.njit(cache=True, fastmath=False, error_model="numpy", parallel=True)
def _ihc_backward_kernel(velocity, c, table, out, grad_out, grad_velocity):
    """lam[n] = g[n] + alpha[n+1] lam[n+1]; grad_v = lam (c11 - c10 out[n-1]) slope."""
    rows, n_t = velocity.shape
    for g in numba.prange((rows + LANES - 1) // LANES):
        r0 = g * LANES
        n_lanes = min(LANES, rows - r0)
        lam = np.zeros(LANES)
        carry = np.zeros(LANES)  # alpha of the sample after the tile (0 after the last one)
        tile_v = np.zeros(TILE * LANES)
        tile_a = np.zeros(TILE * LANES)
        tile_g = np.zeros(TILE * LANES)
        tile_s = np.zeros(TILE * LANES)
        tile_p = np.zeros(TILE * LANES)
        for t0 in range(0, n_t, TILE):  # t0 counts from the end: reversed tiles
            nt = min(TILE, n_t - t0)
            tiles.load(velocity, r0, n_lanes, t0, nt, n_t, 1, 0, True, tile_v)
            tiles.load(grad_out, r0, n_lanes, t0, nt, n_t, 1, 0, True, tile_g)
            # out[n - 1] in reversed order is out shifted by one sample (0 before the start)
            for lane in range(n_lanes):
                r = np.uint64(r0 + lane)
                for k in range(nt):
                    t = n_t - 1 - t0 - k
                    tile_p[np.uint64(k * LANES + lane)] = out[r, np.uint64(t - 1)] if t > 0 else 0.0
            for i in range(nt * LANES):
                g_change, slope = _ihc_terms_libm(tile_v[i], c)
                tile_s[i] = slope
                tile_v[i] = c[8] - c[10] * g_change  # alpha
            # alpha[n + 1] in reversed order: the previous position, the carry at the first
            tile_a[:LANES] = carry
            tile_a[LANES : nt * LANES] = tile_v[: (nt - 1) * LANES]
            carry[:] = tile_v[(nt - 1) * LANES : nt * LANES]
            scan_forward(tile_a, tile_g, nt, lam)  # tile_g <- lam
            for i in range(nt * LANES):
                tile_g[i] = tile_g[i] * (c[11] - c[10] * tile_p[i]) * tile_s[i]
            tiles.store(tile_g, grad_velocity, r0, n_lanes, t0, nt, n_t, 1, 0, True)


_ihc_forward = compiled(_ihc_forward_kernel)
_ihc_backward = compiled(_ihc_backward_kernel)


class _IHCMembrane(torch.autograd.Function):
    @staticmethod
    def forward(ctx, velocity, constants):
        v = host_array(_as_rows(velocity))
        out = empty_output_like_numpy(v)
        _ihc_forward(v, constants, EXP_INT, out)
        ctx.constants = constants
        ctx.save_for_backward(velocity, torch.from_numpy(out))
        return torch.from_numpy(out).reshape(velocity.shape)

    @staticmethod
    def backward(ctx, grad_out):
        velocity, out = ctx.saved_tensors
        v = host_array(_as_rows(velocity))
        grad = empty_output_like_numpy(v)
        _ihc_backward(v, ctx.constants, EXP_INT, out.numpy(), host_array(_as_rows(grad_out)), grad)
        return torch.from_numpy(grad).reshape(velocity.shape), None


class _IHCMembraneDevice(torch.autograd.Function):
    @staticmethod
    def forward(ctx, velocity, constants):
        rows = _as_rows(velocity).contiguous()
        out = load_triton_kernels("ihc").ihc_forward(rows, constants)
        ctx.save_for_backward(rows, out, constants)
        return out.reshape(velocity.shape)

    @staticmethod
    def backward(ctx, grad_out):
        rows, out, constants = ctx.saved_tensors
        grad = load_triton_kernels("ihc").ihc_backward(rows, constants, out, _as_rows(grad_out).to(rows.dtype))
        return grad.reshape(grad_out.shape), None


def _ihc_torch(velocity: torch.Tensor, c: np.ndarray) -> torch.Tensor:
    """The fused IHC as torch ops plus the blocked scan (reference path, any device)."""
    displacement = (c[0] * velocity).clamp_min(c[1])
    d_change = c[2] * torch.expm1(-displacement * c[7]) + c[2] * c[3] * torch.expm1(-displacement * (c[6] + c[7]))
    g_change = -c[5] * d_change / ((c[4] + d_change) * c[4])
    return membrane_scan(c[8] - c[10] * g_change, c[9] + c[11] * g_change, backend="torch")


def ihc_membrane(velocity: torch.Tensor, constants: np.ndarray, backend: str = "auto") -> torch.Tensor:
    """Fused IHC: receptor potential re pre-charge from BM velocity ``(..., T)``.

    ``constants`` (float64, 12 values): gain, displacement clamp, f0_rest, f1_rest, D_rest,
    G_max, 1/s0, 1/s1, alpha_rest, beta_rest, step = Ts/Cm, step (E_P - V_pre); see
    ``workbench.stages.ihc.paulick2024_ihc``. Differentiable in ``velocity``.
    ``backend``: see :mod:`workbench.kernels.backend`.
    """
    kind = resolve_backend(velocity, backend)
    if kind == "numba":
        return _IHCMembrane.apply(velocity, constants)
    if kind == "triton":
        return _IHCMembraneDevice.apply(velocity, device_constant(constants, velocity.device))
    return _ihc_torch(velocity, constants)


def _scan_torch(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Blocked scan of rows ``(N, T)``: sequential inside chunks, recursion over chunk ends.

    Only products of ``alpha`` are formed (never quotients), so long rows cannot underflow
    into 0/0 (a cumulative product that reaches 0 is exactly the vanished influence of the
    distant past)."""
    rows, length = alpha.shape
    if length <= _CHUNK:
        out, u = [], torch.zeros_like(beta[:, 0])
        for n in range(length):
            u = alpha[:, n] * u + beta[:, n]
            out.append(u)
        return torch.stack(out, dim=1)
    pad = (-length) % _CHUNK
    a = torch.nn.functional.pad(alpha, (0, pad), value=1.0).reshape(rows, -1, _CHUNK)
    b = torch.nn.functional.pad(beta, (0, pad)).reshape(rows, -1, _CHUNK)
    local, prod = [], []
    u, p = torch.zeros_like(b[..., 0]), torch.ones_like(a[..., 0])
    for i in range(_CHUNK):  # within every chunk at once
        u = a[..., i] * u + b[..., i]
        p = p * a[..., i]
        local.append(u)
        prod.append(p)
    local, prod = torch.stack(local, -1), torch.stack(prod, -1)
    ends = _scan_torch(prod[..., -1], local[..., -1])  # state at the end of every chunk
    start = torch.nn.functional.pad(ends[:, :-1], (1, 0))
    return (prod * start[..., None] + local).reshape(rows, -1)[:, :length]


def _as_rows(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1])


class _MembraneScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, alpha, beta, kind):
        a, b = _as_rows(alpha), _as_rows(beta)
        if kind == "numba":
            a_np, b_np = host_array(a), host_array(b)
            out = empty_output_like_numpy(b_np)
            _scan_numba(a_np, b_np, out)
            out = torch.from_numpy(out)
        elif kind == "triton":
            out = load_triton_kernels("ihc").scan(a, b)
        else:
            out = _scan_torch(a, b)
        out = out.reshape(beta.shape)
        ctx.save_for_backward(alpha, out)
        ctx.kind = kind
        return out

    @staticmethod
    def backward(ctx, grad_out):
        alpha, out = ctx.saved_tensors
        a, g = _as_rows(alpha), _as_rows(grad_out).to(alpha.dtype)
        if ctx.kind == "numba":
            g_np = host_array(g)
            lam = empty_output_like_numpy(g_np)
            _adjoint_numba(host_array(a), g_np, lam)
            lam = torch.from_numpy(lam)
        elif ctx.kind == "triton":
            lam = load_triton_kernels("ihc").scan(a, g, adjoint=True)
        else:
            # the last sample has no successor; its factor multiplies a zero state
            alpha_next = torch.nn.functional.pad(a[:, 1:], (0, 1), value=1.0)
            lam = _scan_torch(alpha_next.flip(-1), g.flip(-1)).flip(-1)
        lam = lam.reshape(out.shape)
        previous = torch.nn.functional.pad(out[..., :-1], (1, 0))
        return lam * previous, lam, None


def membrane_scan(alpha: torch.Tensor, beta: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """``u[n] = alpha[n] u[n-1] + beta[n]`` along the last axis with ``u[-1] = 0``.

    ``alpha``, ``beta``: real float tensors of equal shape ``(..., T)`` on one device.
    Differentiable in both. ``backend``: see :mod:`workbench.kernels.backend`.

    >>> import torch
    >>> membrane_scan(torch.full((1, 3), 0.5), torch.ones(1, 3))
    tensor([[1.0000, 1.5000, 1.7500]])
    """
    if alpha.shape != beta.shape or alpha.dtype != beta.dtype:
        raise ValueError(
            f"alpha and beta must share shape and dtype, got {tuple(alpha.shape)} "
            f"{alpha.dtype} and {tuple(beta.shape)} {beta.dtype}"
        )
    return _MembraneScan.apply(alpha, beta, resolve_backend(beta, backend))
