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

from workbench.kernels.backend import device_constant, load_triton_kernels, resolve_backend

_CHUNK = 16


@numba.njit(cache=False, fastmath=False)
def _scan_numba(alpha, beta, out):
    for row in range(alpha.shape[0]):
        u = 0.0
        for n in range(alpha.shape[1]):
            u = alpha[row, n] * u + beta[row, n]
            out[row, n] = u


@numba.njit(cache=False, fastmath=False)
def _adjoint_numba(alpha, grad_out, lam):
    for row in range(alpha.shape[0]):
        acc = 0.0
        for n in range(alpha.shape[1] - 1, -1, -1):
            acc = grad_out[row, n] + (alpha[row, n + 1] * acc if n + 1 < alpha.shape[1] else 0.0)
            lam[row, n] = acc


@numba.njit(cache=False, fastmath=False)
def _ihc_terms(velocity, c):
    """Conductance change dG (re rest) and d(dG)/d(velocity) for one sample.

    c = (gain, clamp_min, f0_rest, f1_rest, d_rest, g_max, 1/s0, 1/s1, ...)."""
    d = c[0] * velocity
    clamped = d < c[1]
    if clamped:
        d = c[1]
    e0 = math.expm1(-d * c[7])
    e01 = math.expm1(-d * (c[6] + c[7]))
    d_change = c[2] * e0 + c[2] * c[3] * e01
    denom = c[4] + d_change
    g_change = -c[5] * d_change / (denom * c[4])
    # dD/dd = -f0/s1 (1 + f1) - f0 f1 / s0 ; dG/dd = -Gmax dD/dd / D^2
    f0 = c[2] * (1.0 + e0)
    f0f1 = c[2] * c[3] * (1.0 + e01)
    slope = 0.0 if clamped else c[5] * (f0 * c[7] + f0f1 * (c[6] + c[7])) / (denom * denom) * c[0]
    return g_change, slope


@numba.njit(cache=False, fastmath=False)
def _ihc_forward_numba(velocity, c, out):
    """c[8:] = (alpha_rest, beta_rest, step, step * (E_P - V_pre))."""
    for row in range(velocity.shape[0]):
        u = 0.0
        for n in range(velocity.shape[1]):
            g_change, _ = _ihc_terms(velocity[row, n], c)
            u = (c[8] - c[10] * g_change) * u + c[9] + c[11] * g_change
            out[row, n] = u


@numba.njit(cache=False, fastmath=False)
def _ihc_backward_numba(velocity, c, out, grad_out, grad_velocity):
    for row in range(velocity.shape[0]):
        lam = 0.0
        alpha_next = 0.0
        for n in range(velocity.shape[1] - 1, -1, -1):
            lam = grad_out[row, n] + alpha_next * lam
            g_change, slope = _ihc_terms(velocity[row, n], c)
            previous = out[row, n - 1] if n > 0 else 0.0
            grad_velocity[row, n] = lam * (c[11] - c[10] * previous) * slope
            alpha_next = c[8] - c[10] * g_change


class _IHCMembrane(torch.autograd.Function):
    @staticmethod
    def forward(ctx, velocity, constants):
        v = _as_rows(velocity).detach().contiguous().numpy()
        out = np.empty_like(v)
        _ihc_forward_numba(v, constants, out)
        ctx.constants = constants
        ctx.save_for_backward(velocity, torch.from_numpy(out))
        return torch.from_numpy(out).reshape(velocity.shape)

    @staticmethod
    def backward(ctx, grad_out):
        velocity, out = ctx.saved_tensors
        v = _as_rows(velocity).detach().contiguous().numpy()
        grad = np.empty_like(v)
        _ihc_backward_numba(v, ctx.constants, out.numpy(), _as_rows(grad_out).contiguous().numpy(), grad)
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
            a_np, b_np = a.detach().contiguous().numpy(), b.detach().contiguous().numpy()
            out = np.empty_like(b_np)
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
            g_np = g.detach().contiguous().numpy()
            lam = np.empty_like(g_np)
            _adjoint_numba(a.detach().contiguous().numpy(), g_np, lam)
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
        raise ValueError(f"alpha and beta must share shape and dtype, got {tuple(alpha.shape)} "
                         f"{alpha.dtype} and {tuple(beta.shape)} {beta.dtype}")
    return _MembraneScan.apply(alpha, beta, resolve_backend(beta, backend))
