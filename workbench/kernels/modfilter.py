"""Fused modulation band-pass bank: complex one-pole filters + AMT's post-processing.

For every (auditory channel c, band k) row: ``y[n] = g_k x_c[n] + p_k y[n-1]`` with a complex
pole ``p_k = rho_k exp(i theta_k)`` and real gain ``g_k`` (AMT ``2 * filter(efilt)``), then
``real(y)`` (mode 0) or ``factor_k * |y|`` (mode 1). Fusing filter and post-processing writes
each output row once instead of materialising complex intermediates for ~250 rows.

Differentiable w.r.t. ``x``, ``rho``, ``theta`` and ``g``: the backward pass recomputes each
row's complex output into a scratch buffer and runs the adjoint recursion
``Y[n] = ybar[n] + conj(p) Y[n+1]`` backwards (``ybar``: d out / d y as a complex number),
giving ``dx = g Re(Y)``, ``dg = sum Re(Y) x``, ``dp = sum Y conj(y[n-1])``. The device path
runs the same recursions in Triton (:mod:`workbench.kernels.triton_modfilter`, which
checkpoints the filter states instead of storing complex outputs); ``backend='torch'`` runs
them through :func:`workbench.kernels.iir.lfilter`'s torch reference recursion.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from workbench.kernels import _tiles as tiles
from workbench.kernels._lanes import (
    LANES,
    modulation_pole,
    modulation_pole_adjoint,
    modulation_pole_ri,
)
from workbench.kernels._numba import compiled, host_array, host_array64
from workbench.kernels.backend import (
    device_constant,
    load_triton_kernels,
    resolve_backend,
)
from workbench.kernels.memory import empty_output, empty_output_like_numpy

TILE = 256


@numba.njit(cache=True, fastmath=False)
def _start_group(first_row, g0, n_rows, band, rho, theta, gain, factor, mode, c, z):
    """Start the group of rows ``first_row + g0 + lane``: returns its first row ``i0`` and
    ``n_lanes``, zeroes the states ``z`` and sets ``c`` ``(5 LANES,)`` to the lanes' bands:
    pole (re, im), gain, envelope factor and envelope flag (1.0: ``mode`` 1, the factor times
    the magnitude), lane-minor (padding lanes: zeros)."""
    i0 = first_row + g0
    n_lanes = min(LANES, n_rows - g0)
    c[:] = 0.0
    z[:] = 0.0
    for lane in range(n_lanes):
        k = band[i0 + lane]
        c[lane] = rho[k] * np.cos(theta[k])
        c[LANES + lane] = rho[k] * np.sin(theta[k])
        c[2 * LANES + lane] = gain[k]
        c[3 * LANES + lane] = factor[k]
        c[4 * LANES + lane] = 1.0 if mode[k] == 1 else 0.0
    return i0, n_lanes


@numba.njit(cache=True, fastmath=False, parallel=True)
def _bank_kernel(xv, outv, src, dst, band, rho, theta, gain, factor, mode, n_batch):
    """The bank, LANES band rows side by side in time-major tiles (see ``_lanes.py``).

    Lane i filters input row ``src[i]`` with band ``band[i]`` into output row ``dst[i]``;
    the rows of batch item b are ``i`` in ``[b n, (b+1) n)``, one batch item per task. Per
    row the arithmetic is the former one-row kernel's (float64, bitwise).
    """
    n_rows = src.shape[0] // n_batch
    n_t = xv.shape[1]
    for b in numba.prange(n_batch):
        c = np.zeros(5 * LANES)
        z = np.zeros(2 * LANES)
        tile_re = np.zeros(TILE * LANES)
        tile_im = np.zeros(TILE * LANES)
        for g0 in range(0, n_rows, LANES):
            i0, n_lanes = _start_group(b * n_rows, g0, n_rows, band, rho, theta, gain, factor, mode, c, z)
            for t0 in range(0, n_t, TILE):
                nt = min(TILE, n_t - t0)
                tiles.load_indexed(xv, src, i0, n_lanes, t0, nt, n_t, 1, 0, False, tile_re)
                modulation_pole(tile_re, tile_im, nt, c[: 3 * LANES], z)
                for lane in range(n_lanes):  # envelope rows: factor |y|; the others: Re y (x 1.0, exact)
                    if c[4 * LANES + lane] != 0.0:
                        tiles.store_lane(tile_im, lane, outv, dst[i0 + lane], t0, nt, c[3 * LANES + lane])
                    else:
                        tiles.store_lane(tile_re, lane, outv, dst[i0 + lane], t0, nt, 1.0)


_bank = compiled(_bank_kernel)


@numba.njit(cache=True, fastmath=False, error_model="numpy", parallel=True)
def _bank_backward_kernel(
    gv, xv, src, dst, band, rho, theta, gain, factor, mode, n_batch, n_chan, gx, g_rho, g_theta, g_gain
):
    """Adjoint of :func:`_bank_kernel`, LANES band rows side by side: forward recursion into
    full-length time-major buffers, then the adjoint backwards over reversed tiles. ``gx``
    (float64, zeroed) accumulates every channel's band terms in band order and ``g_rho``,
    ``g_theta``, ``g_gain`` ``(batch * channels, bands)`` as the former per-channel kernel did
    (bitwise)."""
    n_rows = src.shape[0] // n_batch
    n_t = xv.shape[1]
    for b in numba.prange(n_batch):
        c = np.zeros(5 * LANES)
        z = np.zeros(5 * LANES)
        tile_x = np.zeros(TILE * LANES)
        tile_g = np.zeros(TILE * LANES)
        y_re = np.zeros((n_t + 1) * LANES)  # row t + 1: y at time t; row 0: y[-1] = 0
        y_im = np.zeros((n_t + 1) * LANES)
        for g0 in range(0, n_rows, LANES):
            i0, n_lanes = _start_group(b * n_rows, g0, n_rows, band, rho, theta, gain, factor, mode, c, z)
            for t0 in range(0, n_t, TILE):
                nt = min(TILE, n_t - t0)
                tiles.load_indexed(xv, src, i0, n_lanes, t0, nt, n_t, 1, 0, False, tile_x)
                modulation_pole_ri(tile_x, y_re, y_im, t0, nt, c[: 3 * LANES], z[: 2 * LANES])
            z[:] = 0.0
            tile_g[:] = 0.0
            for t_end in range(n_t, 0, -TILE):
                t0 = max(0, t_end - TILE)
                nt = t_end - t0
                tiles.load_indexed(xv, src, i0, n_lanes, t0, nt, n_t, 1, 0, False, tile_x)
                tiles.load_indexed(gv, dst, i0, n_lanes, t0, nt, n_t, 1, 0, False, tile_g)
                modulation_pole_adjoint(tile_g, tile_x, y_re, y_im, t0, nt, c, z)
                for lane in range(n_lanes):  # band order within each channel, as before
                    row = np.uint64(src[i0 + lane])
                    for n in range(nt):
                        gx[row, np.uint64(t0 + n)] += tile_g[np.uint64(n * LANES + lane)]
            for lane in range(n_lanes):
                k = band[i0 + lane]
                bc = src[i0 + lane]
                cos_t, sin_t = np.cos(theta[k]), np.sin(theta[k])
                sp_re, sp_im = z[2 * LANES + lane], z[3 * LANES + lane]
                g_rho[bc, k] += sp_re * cos_t + sp_im * sin_t
                g_theta[bc, k] += -sp_re * c[LANES + lane] + sp_im * c[lane]
                g_gain[bc, k] += z[4 * LANES + lane]


_bank_backward = compiled(_bank_backward_kernel)


def _bank_tables(layout, n_batch: int, n_chan: int, rho, theta, gain):
    """The kernels' row and band arguments: for every (batch, band row) the input row
    ``b * n_chan + channel`` it filters, the output row ``b * n_out + out_row`` it writes and
    its band (flattened over the batch), then the bands' float64 parameters and modes."""
    row_start, row_band, out_row, _, factor, mode, n_out = layout
    row_channel = np.repeat(np.arange(n_chan), np.diff(row_start))
    offsets = np.arange(n_batch)[:, None]
    src = (offsets * n_chan + row_channel).reshape(-1)
    dst = (offsets * n_out + out_row[None, :]).reshape(-1)
    band = np.tile(row_band, n_batch)
    return src, dst, band, host_array64(rho), host_array64(theta), host_array64(gain), factor, mode


class _ModFilterFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lowpassed, rho, theta, gain, layout):
        _, _, _, lp_row, _, _, n_out = layout
        n_batch, n_chan, n_t = x.shape
        out = empty_output(n_batch, n_out, n_t, dtype=x.dtype)
        out[:, torch.from_numpy(lp_row)] = lowpassed.to(x.dtype)
        _bank(
            host_array(x).reshape(n_batch * n_chan, n_t),
            out.numpy().reshape(n_batch * n_out, n_t),
            *_bank_tables(layout, n_batch, n_chan, rho, theta, gain),
            n_batch,
        )
        ctx.save_for_backward(x, rho, theta, gain)
        ctx.layout = layout
        return out

    @staticmethod
    def backward(ctx, gout):
        x, rho, theta, gain = ctx.saved_tensors
        _, _, _, lp_row, _, _, n_out = ctx.layout
        n_batch, n_chan, n_t = x.shape
        n_k = rho.shape[0]
        gx = empty_output_like_numpy(shape=(n_batch * n_chan, n_t), dtype=np.float64)
        gx[:] = 0.0
        g_rho, g_theta, g_gain = (np.zeros((n_batch * n_chan, n_k)) for _ in range(3))
        gout = gout.contiguous()
        _bank_backward(
            host_array(gout).reshape(n_batch * n_out, n_t),
            host_array(x).reshape(n_batch * n_chan, n_t),
            *_bank_tables(ctx.layout, n_batch, n_chan, rho, theta, gain),
            n_batch,
            n_chan,
            gx,
            g_rho,
            g_theta,
            g_gain,
        )
        as_t = lambda a, ref: torch.from_numpy(a).to(ref.dtype)  # noqa: E731
        g_lowpassed = gout.index_select(1, torch.from_numpy(lp_row))
        return (
            as_t(gx.reshape(x.shape), x),
            g_lowpassed,
            as_t(g_rho.sum(0), rho),
            as_t(g_theta.sum(0), theta),
            as_t(g_gain.sum(0), gain),
            None,
        )


class _ModFilterDevice(torch.autograd.Function):
    """Triton bank: inputs ``x``, ``lowpassed`` and the poles as real and imaginary parts with
    the gains (float64), so torch maps their gradients back to rho and theta."""

    @staticmethod
    def forward(ctx, x, lowpassed, pole_re, pole_im, gain, tables):
        lanes, lp_row, factor, envelope, mb, n_out = tables
        kernels = load_triton_kernels("modfilter")
        x = x.contiguous()
        out = x.new_empty(x.shape[0], n_out, x.shape[2])
        out.index_copy_(1, lp_row, lowpassed.to(x.dtype))
        coef = torch.stack((pole_re.detach(), pole_im.detach(), gain.detach(), factor, envelope), 1).contiguous()
        kernels.forward(x, out, lanes, coef, mb)
        ctx.save_for_backward(x, coef)
        ctx.tables = tables
        return out

    @staticmethod
    def backward(ctx, gout):
        x, coef = ctx.saved_tensors
        lanes, lp_row, _, _, mb, _ = ctx.tables
        gx, acc = load_triton_kernels("modfilter").backward(gout, x, lanes, coef, mb)
        # per-lane sums -> per band, deterministically (a one-hot product instead of atomics)
        bands = torch.arange(coef.shape[0], device=lanes.device)
        one_hot = (lanes[:, :1] == bands).to(acc.dtype)  # padding lanes (-1) match no band
        per_band = acc.sum(0).reshape(-1, 3).T @ one_hot  # (3, K)
        return gx, gout.index_select(1, lp_row), per_band[0], per_band[1], per_band[2], None


def _device_tables(row_channel, row_band, out_row, lp_row, factor, mode, n_out, n_chan, device):
    """The Triton bank's tables, cached on the device: per-channel lanes ``(C * MB, 2)`` (band,
    -1 for padding, and output row), the low-pass rows, and per band the envelope factor and
    flag (float64, 1.0: mode 1)."""
    counts = np.bincount(row_channel, minlength=n_chan)
    mb = 1 << max(int(counts.max(initial=1)) - 1, 0).bit_length()
    lanes = np.zeros((n_chan, mb, 2))
    lanes[:, :, 0] = -1.0
    starts = np.searchsorted(row_channel, np.arange(n_chan))
    for r, c in enumerate(row_channel):
        lanes[c, r - starts[c]] = row_band[r], out_row[r]
    return (
        device_constant(lanes.reshape(-1, 2), device).to(torch.int32),
        device_constant(lp_row, device).long(),
        device_constant(factor, device),
        device_constant(np.asarray(mode) == 1, device),
        mb,
        int(n_out),
    )


def modulation_bandpass_bank(
    x: torch.Tensor,
    lowpassed: torch.Tensor,
    rho: torch.Tensor,
    theta: torch.Tensor,
    gain: torch.Tensor,
    row_channel: np.ndarray,
    row_band: np.ndarray,
    out_row: np.ndarray,
    lp_row: np.ndarray,
    factor: np.ndarray,
    mode: np.ndarray,
    n_out: int,
    backend: str = "auto",
) -> torch.Tensor:
    """Assemble the ``(B, n_out, T)`` modulation-bank output from ``x`` ``(B, F, T)``.

    Output row ``lp_row[c]`` is ``lowpassed[:, c]``. Band row r filters channel
    ``row_channel[r]`` (non-decreasing) with band ``row_band[r]`` into output row
    ``out_row[r]``. Bands k: pole ``rho[k] e^{i theta[k]}``, gain ``gain[k]``, ``mode[k]`` 0
    (real part) or 1 (``factor[k] * |.|``). ``backend``: see :mod:`workbench.kernels.backend`
    ('torch' filters every row with :func:`workbench.kernels.iir.lfilter`'s torch recursion).
    """
    kind = resolve_backend(x, backend)
    if kind == "numba":
        row_start = np.searchsorted(row_channel, np.arange(x.shape[1] + 1)).astype(np.int64)
        layout = (
            row_start,
            row_band.astype(np.int64),
            out_row.astype(np.int64),
            lp_row.astype(np.int64),
            factor.astype(np.float64),
            mode.astype(np.int64),
            int(n_out),
        )
        return _ModFilterFunction.apply(x, lowpassed, rho, theta, gain, layout)
    if kind == "triton":
        tables = _device_tables(
            np.asarray(row_channel),
            np.asarray(row_band),
            np.asarray(out_row),
            np.asarray(lp_row),
            np.asarray(factor, dtype=np.float64),
            np.asarray(mode),
            n_out,
            x.shape[1],
            x.device,
        )
        rho64, theta64 = rho.to(torch.float64), theta.to(torch.float64)
        return _ModFilterDevice.apply(
            x, lowpassed, rho64 * torch.cos(theta64), rho64 * torch.sin(theta64), gain.to(torch.float64), tables
        )
    from workbench.kernels.iir import lfilter

    pole = torch.polar(rho.to(torch.float64), theta.to(torch.float64))
    b = gain.to(pole.dtype).unsqueeze(-1)
    a = torch.stack([torch.ones_like(pole), -pole], -1)
    band = torch.as_tensor(row_band, device=x.device)
    y = lfilter(b[band], a[band], x.index_select(1, torch.as_tensor(row_channel, device=x.device)), backend="torch")
    fac = torch.as_tensor(factor, dtype=torch.float64, device=x.device)[band].unsqueeze(-1)
    env = torch.as_tensor(mode, device=x.device)[band].unsqueeze(-1) == 1
    rows = torch.where(env, fac * y.abs(), y.real).to(x.dtype)  # the recursion ran in float64
    out = x.new_zeros(x.shape[0], n_out, x.shape[2])
    out = out.index_copy(1, torch.as_tensor(out_row, device=x.device), rows)
    return out.index_copy(1, torch.as_tensor(lp_row, device=x.device), lowpassed.to(x.dtype))
