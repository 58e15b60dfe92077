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


def butter(order: int, cutoff_hz, fs: float, btype: str = "low", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Digital Butterworth filter(s) as second-order sections.

    Parameters
    ----------
    order : int
        Filter order N of the low/high-pass (band-pass: 2N poles, as MATLAB).
    cutoff_hz : float or Tensor, Hz
        -3 dB frequency, shape ``(...)`` for 'low'/'high' or band edges ``(..., 2)`` for
        'bandpass' (leading dims design several filters at once); differentiable.
    fs : float, Hz
    btype : {'low', 'high', 'bandpass'}
    dtype : torch.dtype
        Of the result (the design runs in float64).

    Returns
    -------
    Tensor
        ``sos`` ``(..., n_sections, 6)`` rows ``[b0 b1 b2 1 a1 a2]`` on the cutoff's device;
        the overall gain sits in the first section.

    Notes
    -----
    Poles are paired into sections by their index in the analog prototype (pole ``k`` with
    its conjugate ``N - 1 - k``), not by their values, so the design never reads data on the
    host and runs on any device. The range check of the cutoffs reads them and so runs for
    CPU tensors only.

    References
    ----------
    Butterworth (1930), Wireless Engineer 7, 536-541; MATLAB ``butter`` and
    ``scipy.signal.butter``, whose designs this reproduces.

    Examples
    --------
    >>> sos = butter(2, 1000.0, 16000)
    >>> sos.shape, round(float(sos[0, :3].sum() / sos[0, 3:].sum()), 12)  # unit gain at DC
    (torch.Size([1, 6]), 1.0)
    """
    fs = check_fs(fs)
    check_choice(btype, ("low", "high", "bandpass"), "btype")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    out_dtype, dtype = dtype, torch.float64  # design in float64 (pole pairing), cast at the end
    wc = _as_cutoff(cutoff_hz, dtype)
    if btype == "bandpass" and (wc.dim() == 0 or wc.shape[-1] != 2):
        raise ValueError(f"bandpass cutoff_hz must be (..., 2) band edges (f1, f2), got shape {tuple(wc.shape)}")
    if wc.device.type == "cpu":
        if bool(((wc <= 0) | (wc >= fs / 2)).any()):
            raise ValueError(f"cutoff_hz must lie in (0, fs/2 = {fs / 2:g}) Hz, got {wc.tolist()}")
        if btype == "bandpass" and not bool((wc[..., 0] < wc[..., 1]).all()):
            raise ValueError(f"bandpass cutoff_hz must be (f1, f2) with f1 < f2, got {wc.tolist()}")
    fs2 = 2.0 * fs
    warped = fs2 * torch.tan(math.pi * wc / fs)  # pre-warped analog frequencies (rad/s)
    k = torch.arange(order, dtype=dtype, device=wc.device)
    proto = torch.polar(torch.ones_like(k), math.pi * (2 * k + order + 1) / (2 * order))  # (N,)
    if btype == "bandpass":
        bw = (warped[..., 1] - warped[..., 0])[..., None]
        w0sq = (warped[..., 0] * warped[..., 1])[..., None]
        half = proto * bw / 2
        root = torch.sqrt(half * half - w0sq)
        poles = torch.cat([half + root, half - root], -1)  # (..., 2N)
        gain = bw[..., 0] ** order
        zeros = [-1.0] * order + [1.0] * order
        pairs = [(j, order - 1 - j, True) for j in range(order // 2)]
        pairs = pairs + [(a + order, b + order, True) for a, b, _ in pairs]
        if order % 2:  # the middle prototype pole gives a pair of its own (conjugate or real)
            pairs.append((order // 2, order // 2 + order, False))
        singles = []
        n_origin = order
    else:
        w = warped[..., None]
        poles = proto * w if btype == "low" else w / proto  # (..., N)
        gain = warped**order if btype == "low" else torch.ones_like(warped)
        zeros = [-1.0] * order if btype == "low" else [1.0] * order
        pairs = [(j, order - 1 - j, True) for j in range(order // 2)]
        if btype == "high":  # same sections in the order value-based pairing gives (scipy's)
            pairs = pairs[::-1]
        singles = [order // 2] if order % 2 else []
        n_origin = 0 if btype == "low" else order
    # Bilinear transform: s -> z = (fs2 + s) / (fs2 - s); zeros at infinity go to z = -1.
    zpoles = (fs2 + poles) / (fs2 - poles)
    gain = gain * torch.real(fs2**n_origin / torch.prod(fs2 - poles, -1))
    return _sections(zeros, zpoles, pairs, singles, gain).to(out_dtype)


def _sections(zeros: list[float], poles: torch.Tensor, pairs, singles, gain: torch.Tensor) -> torch.Tensor:
    """Sections ``(..., S, 6)`` from pole pairs ``(i, j, conjugate)`` and single real poles,
    taking the real zeros in order; the gain goes into the first section. A pair of prototype
    conjugates uses ``p_i`` and its exact conjugate; the middle band-pass pair (conjugate or
    two real poles) its two poles as they are."""
    rows, zi = [], 0
    one = torch.ones_like(gain)
    for i, j, conjugate in pairs:
        z1, z2 = zeros[zi], zeros[zi + 1]
        zi += 2
        p = poles[..., i]
        if conjugate:
            a1, a2 = -2 * p.real, p.real**2 + p.imag**2
        else:
            q = poles[..., j]
            a1, a2 = -(p + q).real, (p * q).real
        rows.append(torch.stack([one, one * -(z1 + z2), one * (z1 * z2), one, a1, a2], -1))
    for i in singles:
        z1 = zeros[zi]
        zi += 1
        rows.append(torch.stack([one, one * -z1, 0 * one, one, -poles[..., i].real, 0 * one], -1))
    sos = torch.stack(rows, -2)
    first = torch.cat([sos[..., :1, :3] * gain[..., None, None], sos[..., :1, 3:]], -1)
    return torch.cat([first, sos[..., 1:, :]], -2)


def first_order_lowpass(cutoff_hz, fs: float, dtype: torch.dtype = torch.float64):
    """1st-order Butterworth low-pass ``(b, a)``, as MATLAB ``butter(1, fc / (fs/2))``.

    Bilinear transform with pre-warping, in closed form; differentiable in the cutoff.

    Parameters
    ----------
    cutoff_hz : float or Tensor, Hz
        Cutoff(s), shape ``(...)``, in (0, fs/2).
    fs : float, Hz
    dtype : torch.dtype
        Of the coefficients (a tensor cutoff is cast to it).

    Returns
    -------
    b, a : Tensor
        ``(..., 2)`` each, ``a[..., 0] = 1``; unit gain at DC.

    See Also
    --------
    butter : any order and type, as second-order sections.

    References
    ----------
    Butterworth (1930), Wireless Engineer 7, 536-541; MATLAB ``butter``; AMT ``ihcenvelope``,
    which cascades it.

    Examples
    --------
    >>> b, a = first_order_lowpass(1000.0, 16000)
    >>> round(float(b.sum() / a.sum()), 12)  # DC gain
    1.0
    """
    fs = check_fs(fs)
    k = torch.tan(math.pi * _as_cutoff(cutoff_hz, dtype) / fs)
    b0 = k / (1 + k)
    b = torch.stack([b0, b0], dim=-1)
    a = torch.stack([torch.ones_like(k), (k - 1) / (k + 1)], dim=-1)
    return b, a
