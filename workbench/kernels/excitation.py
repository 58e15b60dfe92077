"""Level-dependent lower skirt of the roex excitation pattern (loudness models).

For rows ``r`` (frames), components ``j`` (ascending frequencies ``f_j``) and bands ``c``
(ascending centres ``fc_c``), over the pairs with ``f_j < fc_c``::

    E[r, c] = sum_j I[r, j] * (1 + v) * exp(-v),    v = (P_c - Q_c f_j) * s[r, j]

(``P_c = 4 fc / ERB(fc)``, ``Q_c = P_c / fc``, so ``P_c - Q_c f = p_c |g|``; ``s`` is the
per-frame slope factor of :class:`workbench.stages.loudness.RoexExcitation`).
``roex_lower(I, s, f, P, Q, fc)`` is differentiable in ``I`` and ``s``: with ``w = (1+v)e^-v``,
``dE/dI = w`` and ``dE/ds = -I (P - Q f) v e^-v``. Components with ``I == 0`` are absent
(structural zeros, as in a sparse spectrum): they contribute nothing and get no gradient
(in the loudness models they are the masked, irrelevant components anyway). The numba
kernel skips each row's absent
components (``I == 0``; the relevance threshold zeroes most of them for tonal
sounds) and, per component, runs a vectorisable loop over the bands above it, up to where
the component's contribution falls below 1e-8 (-80 dB SPL: no visible effect on specific
loudness, ~30 % fewer terms for noise). The device path: a chunked torch path over all pairs.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from workbench.kernels._numba import host_array
from workbench.kernels.backend import resolve_backend

__all__ = ["roex_lower", "lower_pairs"]


@numba.njit(cache=True, fastmath=False, inline="always")
def _exp_neg(v):
    """exp(-v) from a degree-11 Taylor polynomial of exp(-v/256) squared 8 times: only
    arithmetic, so the band loop vectorises (numba has no SIMD exp here). Relative error
    < 1e-13 for |v| <= 40; beyond that the weights are < 1e-17 and their error irrelevant."""
    r = v * (-1.0 / 256.0)
    p = 1.0 + r * (
        1.0
        + r
        * (
            1.0 / 2
            + r
            * (
                1.0 / 6
                + r
                * (
                    1.0 / 24
                    + r
                    * (
                        1.0 / 120
                        + r
                        * (
                            1.0 / 720
                            + r
                            * (
                                1.0 / 5040
                                + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800))))
                            )
                        )
                    )
                )
            )
        )
    )
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p


@numba.njit(cache=True, fastmath=False, inline="always")
def _band_end(pc, qc, f_j, lo, n_bands, i_j, s_j):
    """End of the band range where component j can still add >= 1e-8 (-80 dB SPL) to a band.

    ``w I < 1e-8`` once ``v >= v0 + 2 ln(2 + v0)``, ``v0 = ln(I / 1e-8)`` (a safe bound of
    (1 + v) e^-v); ``v`` grows with the band index, so bisect. Far skirts below -80 dB SPL
    change no specific loudness visibly (N ~ E^2.5 there)."""
    if i_j <= 1e-8:
        return lo
    if s_j <= 0.0:
        return n_bands
    v0 = math.log(i_j * 1e8)
    u_max = (v0 + 2.0 * math.log(2.0 + v0)) / s_j
    a, b = lo, n_bands
    while a < b:
        mid = (a + b) // 2
        if pc[mid] - qc[mid] * f_j < u_max:
            a = mid + 1
        else:
            b = mid
    return a


@numba.njit(cache=True, fastmath=False, parallel=True)
def _forward(inten, slope, freqs, p_c, q_c, first_band, out):
    rows, n_comp = inten.shape
    n_bands = p_c.shape[0]
    pc = p_c.astype(np.float64)
    qc = q_c.astype(np.float64)
    for r in numba.prange(rows):
        o = np.zeros(n_bands)  # private float64 accumulator: no aliasing, so the loop vectorises
        for j in range(n_comp):
            i_j = inten[r, j]
            if i_j == 0.0:  # absent component (below the relevance threshold)
                continue
            s_j = np.float64(slope[r, j])
            f_j = np.float64(freqs[j])
            i_j = np.float64(i_j)
            for cc in range(first_band[j], _band_end(pc, qc, f_j, first_band[j], n_bands, i_j, s_j)):
                c = np.uint64(cc)  # unsigned index: no negative-index wraparound, so SIMD
                v = (pc[c] - qc[c] * f_j) * s_j
                o[c] += i_j * (1.0 + v) * _exp_neg(v)
        for c in range(n_bands):
            out[r, c] = o[c]


@numba.njit(cache=True, fastmath=False, parallel=True)
def _backward(grad, inten, slope, freqs, p_c, q_c, first_band, g_inten, g_slope):
    rows, n_comp = inten.shape
    n_bands = p_c.shape[0]
    pc = p_c.astype(np.float64)
    qc = q_c.astype(np.float64)
    for r in numba.prange(rows):
        g = grad[r].astype(np.float64)
        t_i = np.zeros(n_bands)
        t_s = np.zeros(n_bands)
        for j in range(n_comp):
            g_inten[r, j] = 0.0
            g_slope[r, j] = 0.0
            if inten[r, j] == 0.0:  # absent component: structural zero, no gradient
                continue
            s_j = np.float64(slope[r, j])
            f_j = np.float64(freqs[j])
            lo = first_band[j]
            hi = _band_end(pc, qc, f_j, lo, n_bands, np.float64(inten[r, j]), s_j)
            for cc in range(lo, hi):  # vectorised products, then plain sums
                c = np.uint64(cc)
                u = pc[c] - qc[c] * f_j
                v = u * s_j
                e = _exp_neg(v)
                t_i[c] = g[c] * (1.0 + v) * e
                t_s[c] = g[c] * u * v * e
            acc_i = 0.0
            acc_s = 0.0
            for c in range(lo, hi):
                acc_i += t_i[c]
                acc_s += t_s[c]
            g_inten[r, j] = acc_i
            g_slope[r, j] = -acc_s * inten[r, j]


class _RoexLower(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inten, slope, freqs, p_c, q_c, fc):
        arrs = [host_array(t) for t in (inten, slope, freqs, p_c, q_c)]
        arrs.append(np.searchsorted(fc.detach().numpy(), arrs[2], side="right"))  # first band with fc > f
        out = np.zeros((arrs[0].shape[0], fc.shape[0]), dtype=arrs[0].dtype)
        _forward(*arrs, out)
        ctx.save_for_backward(inten, slope, freqs, p_c, q_c, fc)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):
        arrs = [host_array(t) for t in ctx.saved_tensors]
        arrs[5] = np.searchsorted(arrs[5], arrs[2], side="right")
        gi, gs = np.empty_like(arrs[0]), np.empty_like(arrs[0])
        _backward(host_array(grad).astype(arrs[0].dtype, copy=False), *arrs, gi, gs)
        return torch.from_numpy(gi), torch.from_numpy(gs), None, None, None, None


def _roex_lower_torch(inten, slope, freqs, p_c, q_c, fc, pairs=None, chunk_elems=2**22):
    """All pairs ``f_j < fc_c`` as torch ops (any device), in row chunks of bounded memory."""
    if pairs is None:
        comp, band = torch.nonzero(freqs[:, None] < fc[None, :], as_tuple=True)
    else:
        comp, band = pairs
    u = p_c[band] - q_c[band] * freqs[comp]
    step = max(1, chunk_elems // max(u.numel(), 1))
    parts = []
    for r0 in range(0, inten.shape[0], step):
        v = u * slope[r0 : r0 + step, comp]
        i_c = inten[r0 : r0 + step, comp]
        w = (1 + v) * torch.exp(-v) * torch.where(i_c != 0, i_c, torch.zeros_like(i_c))  # I == 0: absent
        out = torch.zeros(w.shape[0], fc.numel(), dtype=w.dtype, device=w.device)
        parts.append(out.index_add(1, band, w))
    return torch.cat(parts, 0)


def lower_pairs(freqs: torch.Tensor, fc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(component, band)`` of the pairs with ``f_j < fc_c``: computed once, on the
    host, by the stage that owns the frequencies (the device path needs them without a sync)."""
    comp, band = torch.nonzero(freqs.cpu()[:, None] < fc.cpu()[None, :], as_tuple=True)
    return comp.to(freqs.device), band.to(freqs.device)


def roex_lower(
    inten: torch.Tensor,
    slope: torch.Tensor,
    freqs: torch.Tensor,
    p_c: torch.Tensor,
    q_c: torch.Tensor,
    fc: torch.Tensor,
    pairs=None,
    backend: str = "auto",
) -> torch.Tensor:
    """Lower-skirt excitation ``(..., n_bands)`` from ``inten``/``slope`` ``(..., K)``.

    ``pairs``: :func:`lower_pairs` of ``freqs`` and ``fc`` (computed here when None; the
    device path should be given them). ``backend``: 'numba' (the kernel above, CPU) or, on
    the device path ('triton'/'torch'), all pairs as torch ops (no truncation of far skirts).
    """
    lead = inten.shape[:-1]
    i2, s2 = inten.reshape(-1, inten.shape[-1]), slope.reshape(-1, slope.shape[-1])
    consts = [t.to(inten) for t in (freqs, p_c, q_c, fc)]
    if resolve_backend(inten, backend) == "numba":
        out = _RoexLower.apply(i2, s2, *consts)
    else:
        out = _roex_lower_torch(i2, s2, *consts, pairs=pairs)
    return out.reshape(*lead, fc.numel())
