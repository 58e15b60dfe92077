"""Paulick2024 IHC membrane recursion with a hand-written backward pass.

The forward-Euler membrane update of ``paulick2024_ihc`` is linear in the membrane
potential once the MET conductance is known (the conductance depends on the input only), so
the sequential part is the time-varying first-order recursion

    u[n] = alpha[n] * u[n-1] + beta[n],    u[-1] = 0,

on rows of ``(..., T)`` tensors. ``membrane_scan`` runs it with numba on CPU and with a
chunked parallel scan (cumulative products within chunks of 16 samples, recursion over the
chunk ends) on other devices. Backward: lam[n] = g[n] + alpha[n+1] lam[n+1];
dL/dbeta = lam, dL/dalpha[n] = lam[n] u[n-1]. The chunked scan divides by cumulative
products of alpha, so it assumes |alpha| is not tiny (the IHC gives 0.3 < alpha < 1 for
fs >= 8 kHz).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

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


def _scan_torch(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Device-resident scan of rows ``(N, T)``: chunk-local closed form, recursion on chunk ends."""
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
    prod = torch.cumprod(a, dim=-1)
    local = prod * torch.cumsum(b / prod, dim=-1)
    ends = _scan_torch(prod[..., -1], local[..., -1])
    start = torch.nn.functional.pad(ends[:, :-1], (1, 0))
    return (prod * start[..., None] + local).reshape(rows, -1)[:, :length]


def _use_numba(x: torch.Tensor) -> bool:
    return x.device.type == "cpu"


def _as_rows(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1])


class _MembraneScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, alpha, beta):
        a, b = _as_rows(alpha), _as_rows(beta)
        if _use_numba(a):
            a_np, b_np = a.detach().contiguous().numpy(), b.detach().contiguous().numpy()
            out = np.empty_like(b_np)
            _scan_numba(a_np, b_np, out)
            out = torch.from_numpy(out)
        else:
            out = _scan_torch(a, b)
        out = out.reshape(beta.shape)
        ctx.save_for_backward(alpha, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        alpha, out = ctx.saved_tensors
        a, g = _as_rows(alpha), _as_rows(grad_out)
        if _use_numba(a):
            g_np = g.detach().contiguous().numpy()
            lam = np.empty_like(g_np)
            _adjoint_numba(a.detach().contiguous().numpy(), g_np, lam)
            lam = torch.from_numpy(lam)
        else:
            # the last sample has no successor; its factor multiplies a zero state, 1 avoids 0/0
            alpha_next = torch.nn.functional.pad(a[:, 1:], (0, 1), value=1.0)
            lam = _scan_torch(alpha_next.flip(-1), g.flip(-1)).flip(-1)
        lam = lam.reshape(out.shape)
        previous = torch.nn.functional.pad(out[..., :-1], (1, 0))
        return lam * previous, lam


def membrane_scan(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``u[n] = alpha[n] u[n-1] + beta[n]`` along the last axis with ``u[-1] = 0``.

    ``alpha``, ``beta``: real float tensors of equal shape ``(..., T)`` on one device.
    Differentiable in both.
    """
    if alpha.shape != beta.shape or alpha.dtype != beta.dtype:
        raise ValueError(f"alpha and beta must share shape and dtype, got {tuple(alpha.shape)} "
                         f"{alpha.dtype} and {tuple(beta.shape)} {beta.dtype}")
    return _MembraneScan.apply(alpha, beta)
