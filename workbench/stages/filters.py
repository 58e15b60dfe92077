"""Filter design in torch, differentiable in the cutoff frequencies.

``butter`` designs digital Butterworth filters exactly as MATLAB/scipy ``butter`` do
(analog prototype, frequency pre-warping, bilinear transform), returned as second-order
sections ``(n_sections, 6)`` rows ``[b0 b1 b2 1 a1 a2]`` for
``workbench.kernels.iir.sosfilt``. The cutoff may be a tensor that requires grad: the
coefficients are built with torch ops only, so gradients reach it.
"""

from __future__ import annotations

import math

import torch

from workbench._validation import check_choice, check_fs


def _as_cutoff(cutoff_hz, dtype) -> torch.Tensor:
    if isinstance(cutoff_hz, torch.Tensor):
        return cutoff_hz.to(dtype)
    return torch.as_tensor(cutoff_hz, dtype=dtype)


def butter(order: int, cutoff_hz, fs: float, btype: str = "low",
           dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Digital Butterworth filter as second-order sections.

    Parameters
    ----------
    order : filter order N of the low/high-pass (band-pass: 2N poles, as MATLAB).
    cutoff_hz : -3 dB frequency in Hz (scalar) or ``(f1, f2)`` band edges for 'bandpass';
        float or tensor (differentiable).
    fs : sampling rate in Hz.
    btype : 'low', 'high' or 'bandpass'.

    Returns ``sos`` of shape ``(n_sections, 6)``; the overall gain sits in the first section.
    """
    fs = check_fs(fs)
    check_choice(btype, ("low", "high", "bandpass"), "btype")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    out_dtype, dtype = dtype, torch.float64  # design in float64 (pole pairing), cast at the end
    wc = _as_cutoff(cutoff_hz, dtype)
    if bool(((wc <= 0) | (wc >= fs / 2)).any()):
        raise ValueError(f"cutoff_hz must lie in (0, fs/2 = {fs / 2:g}) Hz, got {wc.tolist()}")
    cdtype = torch.complex128
    fs2 = 2.0 * fs
    warped = fs2 * torch.tan(math.pi * wc / fs)  # pre-warped analog frequencies (rad/s)
    k = torch.arange(order, dtype=dtype)
    proto = torch.polar(torch.ones_like(k), math.pi * (2 * k + order + 1) / (2 * order)).to(cdtype)
    if btype == "low":
        poles, gain = proto * warped, warped ** order
        n_zeros_inf, n_zeros_origin = order, 0
    elif btype == "high":
        poles, gain = warped / proto, torch.ones((), dtype=dtype)
        n_zeros_inf, n_zeros_origin = 0, order
    else:
        if wc.numel() != 2 or not bool(wc[0] < wc[1]):
            raise ValueError(f"bandpass cutoff_hz must be (f1, f2) with f1 < f2, got {wc.tolist()}")
        bw = warped[1] - warped[0]
        w0sq = warped[0] * warped[1]
        half = proto * bw / 2
        root = torch.sqrt(half * half - w0sq)
        poles = torch.cat([half + root, half - root])
        gain = bw ** order
        n_zeros_inf, n_zeros_origin = order, order
    # Bilinear transform: s -> z = (fs2 + s) / (fs2 - s); zeros at infinity go to z = -1.
    zpoles = (fs2 + poles) / (fs2 - poles)
    gain = gain * torch.real(fs2 ** n_zeros_origin / torch.prod(fs2 - poles))
    zeros = [-1.0] * n_zeros_inf + [1.0] * n_zeros_origin
    return _zpk_to_sos(zeros, zpoles, gain, dtype).to(out_dtype)


def _zpk_to_sos(zeros: list[float], poles: torch.Tensor, gain: torch.Tensor, dtype) -> torch.Tensor:
    """Pair real zeros with poles into sections. Poles come in conjugate pairs (upper half
    first is not assumed: pairs are found by sorting on the imaginary part), plus at most one
    real pole."""
    n_poles = poles.numel()
    upper = poles[poles.imag > 1e-12 * poles.abs().clamp_min(1.0)]
    real = poles[poles.imag.abs() <= 1e-12 * poles.abs().clamp_min(1.0)].real
    rows = []
    zi = 0
    for p in upper:
        z1, z2 = zeros[zi], zeros[zi + 1]
        zi += 2
        b = torch.tensor([1.0, -(z1 + z2), z1 * z2], dtype=dtype)
        a = torch.stack([torch.ones((), dtype=dtype), -2 * p.real, p.real ** 2 + p.imag ** 2])
        rows.append(torch.cat([b, a]))
    for r in range(0, real.numel(), 2):
        pr = real[r:r + 2]
        if pr.numel() == 2:
            z1, z2 = zeros[zi], zeros[zi + 1]
            zi += 2
            b = torch.tensor([1.0, -(z1 + z2), z1 * z2], dtype=dtype)
            a = torch.stack([torch.ones((), dtype=dtype), -(pr[0] + pr[1]), pr[0] * pr[1]])
        else:
            z1 = zeros[zi]
            zi += 1
            b = torch.tensor([1.0, -z1, 0.0], dtype=dtype)
            a = torch.stack([torch.ones((), dtype=dtype), -pr[0], torch.zeros((), dtype=dtype)])
        rows.append(torch.cat([b, a]))
    assert 2 * len(upper) + real.numel() == n_poles, "poles must come in conjugate pairs"
    sos = torch.stack(rows)
    scale = torch.ones(sos.shape[0], 1, dtype=dtype)
    scale = torch.cat([gain.reshape(1, 1), scale[1:]])
    return torch.cat([sos[:, :3] * scale, sos[:, 3:]], dim=1)


def first_order_lowpass(cutoff_hz, fs: float, dtype: torch.dtype = torch.float64):
    """1st-order Butterworth low-pass ``(b, a)``, each of shape ``(..., 2)``, for a scalar or
    a tensor of cutoffs (``butter(1, fc/(fs/2))`` in MATLAB)."""
    fs = check_fs(fs)
    k = torch.tan(math.pi * _as_cutoff(cutoff_hz, dtype) / fs)
    b0 = k / (1 + k)
    b = torch.stack([b0, b0], dim=-1)
    a = torch.stack([torch.ones_like(k), (k - 1) / (k + 1)], dim=-1)
    return b, a
