"""Level-dependent lower skirt of the roex excitation pattern (loudness models).

For rows ``r`` (frames), components ``j`` (ascending frequencies ``f_j``) and bands ``c``
(ascending centres ``fc_c``), over the pairs with ``f_j < fc_c``::

    E[r, c] = sum_j I[r, j] * (1 + v) * exp(-v),    v = (P_c - Q_c f_j) * s[r, j]

(``P_c = 4 fc / ERB(fc)``, ``Q_c = P_c / fc``, so ``P_c - Q_c f = p_c |g|``; ``s`` is the
per-frame slope factor of :class:`workbench.stages.loudness.RoexExcitation`).
``roex_lower(I, s, f, P, Q, fc)`` is differentiable in ``I`` and ``s``: with ``w = (1+v)e^-v``,
``dE/dI = w`` and ``dE/ds = -I (P - Q f) v e^-v``. The numba kernel first compacts each
row's present components (``I != 0``; the relevance threshold zeroes most of them for tonal
sounds), then runs contiguous inner loops. Other devices: a chunked torch path.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

__all__ = ["roex_lower"]


@numba.njit(cache=False, fastmath=False, parallel=True)
def _forward(inten, slope, freqs, p_c, q_c, fc, out):
    rows, n_comp = inten.shape
    n_bands = fc.shape[0]
    for r in numba.prange(rows):
        ci = np.empty(n_comp)
        cs = np.empty(n_comp)
        cf = np.empty(n_comp)
        n = 0
        for j in range(n_comp):
            if inten[r, j] != 0.0:
                ci[n] = inten[r, j]
                cs[n] = slope[r, j]
                cf[n] = freqs[j]
                n += 1
        m = 0
        for c in range(n_bands):
            while m < n and cf[m] < fc[c]:
                m += 1
            acc = 0.0
            for q in range(m):
                v = (p_c[c] - q_c[c] * cf[q]) * cs[q]
                acc += ci[q] * (1.0 + v) * math.exp(-v)
            out[r, c] = acc


@numba.njit(cache=False, fastmath=False, parallel=True)
def _backward(grad, inten, slope, freqs, p_c, q_c, fc, g_inten, g_slope):
    rows, n_comp = inten.shape
    n_bands = fc.shape[0]
    for r in numba.prange(rows):
        idx = np.empty(n_comp, dtype=np.int64)
        gi = np.zeros(n_comp)
        gs = np.zeros(n_comp)
        n = 0
        for j in range(n_comp):
            g_inten[r, j] = 0.0
            g_slope[r, j] = 0.0
            if inten[r, j] != 0.0:
                idx[n] = j
                n += 1
        # absent components (I == 0) still get dE/dI = w; the slope is irrelevant there
        for c in range(n_bands):
            g = grad[r, c]
            for j in range(n_comp):
                if freqs[j] >= fc[c]:
                    break
                u = p_c[c] - q_c[c] * freqs[j]
                v = u * slope[r, j]
                e = math.exp(-v)
                g_inten[r, j] += g * (1.0 + v) * e
                g_slope[r, j] -= g * u * v * e * inten[r, j]


class _RoexLower(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inten, slope, freqs, p_c, q_c, fc):
        arrs = [t.detach().contiguous().numpy() for t in (inten, slope, freqs, p_c, q_c, fc)]
        out = np.zeros((arrs[0].shape[0], arrs[5].shape[0]), dtype=arrs[0].dtype)
        _forward(*arrs, out)
        ctx.save_for_backward(inten, slope, freqs, p_c, q_c, fc)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):
        arrs = [t.detach().contiguous().numpy() for t in ctx.saved_tensors]
        gi, gs = np.empty_like(arrs[0]), np.empty_like(arrs[0])
        _backward(grad.detach().contiguous().numpy().astype(arrs[0].dtype, copy=False), *arrs, gi, gs)
        return torch.from_numpy(gi), torch.from_numpy(gs), None, None, None, None


def _roex_lower_torch(inten, slope, freqs, p_c, q_c, fc, chunk_elems=2 ** 22):
    comp, band = torch.nonzero(freqs[:, None] < fc[None, :], as_tuple=True)
    u = p_c[band] - q_c[band] * freqs[comp]
    step = max(1, chunk_elems // max(u.numel(), 1))
    parts = []
    for r0 in range(0, inten.shape[0], step):
        v = u * slope[r0:r0 + step, comp]
        w = (1 + v) * torch.exp(-v) * inten[r0:r0 + step, comp]
        out = torch.zeros(w.shape[0], fc.numel(), dtype=w.dtype, device=w.device)
        parts.append(out.index_add(1, band, w))
    return torch.cat(parts, 0)


def roex_lower(inten: torch.Tensor, slope: torch.Tensor, freqs: torch.Tensor, p_c: torch.Tensor,
               q_c: torch.Tensor, fc: torch.Tensor) -> torch.Tensor:
    """Lower-skirt excitation ``(..., n_bands)`` from ``inten``/``slope`` ``(..., K)``."""
    lead = inten.shape[:-1]
    i2, s2 = inten.reshape(-1, inten.shape[-1]), slope.reshape(-1, slope.shape[-1])
    consts = [t.to(inten) for t in (freqs, p_c, q_c, fc)]
    if inten.device.type == "cpu":
        out = _RoexLower.apply(i2, s2, *consts)
    else:
        out = _roex_lower_torch(i2, s2, *consts)
    return out.reshape(*lead, fc.numel())
