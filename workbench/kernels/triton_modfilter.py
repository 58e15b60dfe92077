"""Triton kernels: the fused modulation band-pass bank (complex one-pole filters with AMT's
real-part / envelope post-processing), forward and adjoint.

Twins of ``workbench.kernels.modfilter._bank_kernel``/``_bank_backward_kernel``. A program
takes ``BC`` auditory channels of one batch item; its lanes form a ``(BC, MB)`` tile, one
lane per band of a channel (``MB``: the most bands any channel has, rounded up to a power
of two), so the band outputs of a channel are reduced inside the tile to give the input
gradient. Arithmetic in float64. The backward pass keeps the complex filter states every
``CHUNK`` samples and recomputes each chunk before running the adjoint over it, so it needs
no stored complex outputs (those would be 16 bytes per band and sample).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from workbench.kernels.backend import interpreting, shape_only

CHUNK = 256  # samples between checkpoints on a GPU (one chunk of the whole signal when interpreting)


@triton.jit
def _program_lanes(lane_ptr, coef_ptr, n_chan, MB: tl.constexpr, BC: tl.constexpr):
    """The program's batch item, its ``(BC, MB)`` lanes (channel, slot, masks), each lane's output
    row (lane table ``(C * MB, 2)``: band, output row) and band parameters (coefficient table
    ``(K, 5)``: pole re, im, gain, envelope factor, envelope flag; invalid lanes: zeros). A nested
    call costs the interpreter ~0.1 ms, so only code outside the time loops is shared."""
    b = tl.program_id(0).to(tl.int64)
    chan = tl.program_id(1) * BC + tl.arange(0, BC)[:, None]
    slot = chan * MB + tl.arange(0, MB)[None, :]
    chan_ok = chan < n_chan
    band = tl.load(lane_ptr + 2 * slot, mask=chan_ok, other=-1)
    valid = band >= 0
    orow = tl.load(lane_ptr + 2 * slot + 1, mask=valid, other=0).to(tl.int64)
    coef = coef_ptr + 5 * tl.where(valid, band, 0)
    pr = tl.load(coef, mask=valid, other=0.0)
    pi = tl.load(coef + 1, mask=valid, other=0.0)
    g = tl.load(coef + 2, mask=valid, other=0.0)
    fac = tl.load(coef + 3, mask=valid, other=0.0)
    env = tl.load(coef + 4, mask=valid, other=0.0) == 1.0
    return b, chan, slot, chan_ok, valid, orow, pr, pi, g, fac, env


@triton.jit
def forward_kernel(
    x_ptr,
    out_ptr,
    lane_ptr,
    coef_ptr,
    n_chan,
    n_t,
    n_out,
    MB: tl.constexpr,
    BC: tl.constexpr,
):
    b, chan, slot, chan_ok, valid, orow, pr, pi, g, fac, env = _program_lanes(lane_ptr, coef_ptr, n_chan, MB, BC)
    x_row = x_ptr + (b * n_chan + chan.to(tl.int64)) * n_t
    out_row = out_ptr + (b * n_out + orow) * n_t
    yr = tl.zeros([BC, MB], dtype=tl.float64)
    yi = tl.zeros([BC, MB], dtype=tl.float64)
    for t in range(n_t):
        xn = tl.load(x_row + t, mask=chan_ok, other=0.0).to(tl.float64)
        yr, yi = g * xn + pr * yr - pi * yi, pr * yi + pi * yr  # y = g x + p y[n-1]
        val = tl.where(env, fac * tl.sqrt(yr * yr + yi * yi), yr)
        tl.store(out_row + t, val.to(out_ptr.dtype.element_ty), mask=valid)


@triton.jit
def backward_kernel(
    gout_ptr,
    x_ptr,
    gx_ptr,
    acc_ptr,
    ckpt_ptr,
    scratch_ptr,
    lane_ptr,
    coef_ptr,
    n_chan,
    n_t,
    n_out,
    n_chunks,
    MB: tl.constexpr,
    BC: tl.constexpr,
    CH: tl.constexpr,
):
    b, chan, slot, chan_ok, valid, orow, pr, pi, g, fac, env = _program_lanes(lane_ptr, coef_ptr, n_chan, MB, BC)
    row = b * n_chan + chan.to(tl.int64)
    x_row = x_ptr + row * n_t
    gx_row = gx_ptr + row * n_t
    gout_row = gout_ptr + (b * n_out + orow) * n_t
    lane = b * n_chan * MB + slot.to(tl.int64)
    ckpt = ckpt_ptr + lane * (n_chunks * 2)
    scratch = scratch_ptr + lane * ((CH + 1) * 2)
    # 1) forward pass keeping the state at the start of every chunk
    yr = tl.zeros([BC, MB], dtype=tl.float64)
    yi = tl.zeros([BC, MB], dtype=tl.float64)
    for c in range(n_chunks):
        tl.store(ckpt + 2 * c, yr, mask=valid)
        tl.store(ckpt + 2 * c + 1, yi, mask=valid)
        for i in range(CH):
            xn = tl.load(x_row + c * CH + i, mask=chan_ok & (chan * 0 + c * CH + i < n_t), other=0.0)
            xn = xn.to(tl.float64)
            yr, yi = g * xn + pr * yr - pi * yi, pr * yi + pi * yr  # y = g x + p y[n-1]
    # 2) chunks from the end: recompute the chunk's outputs, then the adjoint over it
    ar = tl.zeros([BC, MB], dtype=tl.float64)  # adjoint Y carried backwards in time
    ai = tl.zeros([BC, MB], dtype=tl.float64)
    sp_re = tl.zeros([BC, MB], dtype=tl.float64)  # sum_n Y[n] conj(y[n-1])
    sp_im = tl.zeros([BC, MB], dtype=tl.float64)
    sg = tl.zeros([BC, MB], dtype=tl.float64)  # sum_n Re(Y[n]) x[n]
    for cc in range(n_chunks):
        c = n_chunks - 1 - cc
        yr = tl.load(ckpt + 2 * c, mask=valid, other=0.0)
        yi = tl.load(ckpt + 2 * c + 1, mask=valid, other=0.0)
        tl.store(scratch, yr, mask=valid)
        tl.store(scratch + 1, yi, mask=valid)
        for i in range(CH):
            xn = tl.load(x_row + c * CH + i, mask=chan_ok & (chan * 0 + c * CH + i < n_t), other=0.0)
            xn = xn.to(tl.float64)
            yr, yi = g * xn + pr * yr - pi * yi, pr * yi + pi * yr  # y = g x + p y[n-1]
            tl.store(scratch + 2 * (i + 1), yr, mask=valid)
            tl.store(scratch + 2 * (i + 1) + 1, yi, mask=valid)
        for ii in range(CH):
            i = CH - 1 - ii
            t = c * CH + i
            ok = valid & (slot * 0 + t < n_t)
            y_re = tl.load(scratch + 2 * (i + 1), mask=ok, other=0.0)
            y_im = tl.load(scratch + 2 * (i + 1) + 1, mask=ok, other=0.0)
            p_re = tl.load(scratch + 2 * i, mask=ok, other=0.0)
            p_im = tl.load(scratch + 2 * i + 1, mask=ok, other=0.0)
            go = tl.load(gout_row + t, mask=ok, other=0.0).to(tl.float64)
            mag = tl.sqrt(y_re * y_re + y_im * y_im)
            sc = tl.where(mag > 0.0, fac * go / tl.where(mag > 0.0, mag, 1.0), 0.0)
            br = tl.where(env, sc * y_re, go)
            bi = tl.where(env, sc * y_im, 0.0)
            a_re = br + pr * ar + pi * ai  # Y[n] = ybar[n] + conj(p) Y[n+1]
            a_im = bi + pr * ai - pi * ar
            ar = tl.where(ok, a_re, ar)
            ai = tl.where(ok, a_im, ai)
            xn = tl.load(x_row + t, mask=chan_ok & (chan * 0 + t < n_t), other=0.0).to(tl.float64)
            sg = sg + tl.where(ok, a_re * xn, 0.0)
            sp_re = sp_re + tl.where(ok, a_re * p_re + a_im * p_im, 0.0)
            sp_im = sp_im + tl.where(ok, a_im * p_re - a_re * p_im, 0.0)
            grad = tl.sum(tl.where(ok, g * a_re, 0.0), axis=1)
            tl.store(gx_row + t, grad[:, None].to(gx_ptr.dtype.element_ty), mask=chan_ok & (chan * 0 + t < n_t))
    acc = acc_ptr + lane * 3
    tl.store(acc, sp_re, mask=valid)
    tl.store(acc + 1, sp_im, mask=valid)
    tl.store(acc + 2, sg, mask=valid)


def _tiles(n_chan: int, mb: int) -> int:
    """Channels per program: a warp of lanes on a GPU, every channel in the interpreter."""
    if interpreting():
        return 1 << max(n_chan - 1, 0).bit_length()
    return max(1, 32 // mb)


def forward(x, out, lanes, coef, mb: int):
    """Fill the band rows of ``out (B, n_out, T)`` from ``x (B, C, T)``. ``lanes`` ``(C * mb, 2)``
    int32: each lane's band (-1: padding) and output row; ``coef`` ``(K, 5)`` float64: each
    band's pole (re, im), gain, envelope factor and envelope flag (1.0: factor times |y|)."""
    n_batch, n_chan, n_t = x.shape
    if shape_only(x, out):
        return
    bc = _tiles(n_chan, mb)
    forward_kernel[(n_batch, triton.cdiv(n_chan, bc))](
        x, out, lanes, coef, n_chan, n_t, out.shape[1], MB=mb, BC=bc, num_warps=1
    )


def backward(gout, x, lanes, coef, mb: int):
    """Input gradient ``(B, C, T)`` and per-lane sums ``(B, C, mb, 3)`` = (dL/dRe p, dL/dIm p, dL/dg);
    tables as in :func:`forward`."""
    n_batch, n_chan, n_t = x.shape
    chunk = max(n_t, 1) if interpreting() else CHUNK
    n_chunks = triton.cdiv(n_t, chunk)
    n_lanes = n_batch * n_chan * mb
    ckpt = torch.empty((n_lanes, n_chunks, 2), dtype=torch.float64, device=x.device)
    scratch = torch.empty((n_lanes, chunk + 1, 2), dtype=torch.float64, device=x.device)
    acc = torch.zeros((n_batch, n_chan, mb, 3), dtype=torch.float64, device=x.device)
    gx = torch.empty_like(x)
    if shape_only(x, gout):
        return gx, acc
    bc = _tiles(n_chan, mb)
    backward_kernel[(n_batch, triton.cdiv(n_chan, bc))](
        gout.contiguous(),
        x,
        gx,
        acc,
        ckpt,
        scratch,
        lanes,
        coef,
        n_chan,
        n_t,
        gout.shape[1],
        n_chunks,
        MB=mb,
        BC=bc,
        CH=chunk,
        num_warps=1,
    )
    return gx, acc
