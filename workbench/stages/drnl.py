"""Dual-resonance nonlinear (DRNL) filterbank (Lopez-Poveda & Meddis 2001; Paulick2024).

Follows AMT 1.6 ``paulick2024_drnl``: per channel a linear path (gain, gammatone, cascaded
2nd-order Butterworth lowpasses) plus a nonlinear path (gammatone, broken-stick compression,
the same gammatone again, lowpasses); the output is their sum (basilar-membrane velocity in
m/s when the input is the middle-ear output). The gammatone is AMT's 'classic' real
mixed pole-zero design of order n (n identical biquads, one pole pair and one real zero each),
run as second-order sections because the expanded polynomial is unstable in float32.
The nonlinear-path a, b are frozen at their 1500 Hz values above 1 kHz, as AMT does.

References
----------
Lopez-Poveda & Meddis (2001), J. Acoust. Soc. Am. 110, 3107-3118.
Jepsen, Ewert & Dau (2008), J. Acoust. Soc. Am. 124, 422-438.
Paulick, Relano-Iborra & Dau (2024), Hear. Res.
AMT 1.6 ``paulick2024_drnl``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench._validation import check_choice, check_dtype, check_fs
from workbench.kernels.broken_stick import broken_stick as fused_broken_stick
from workbench.kernels.iir import sosfilt

# (gammatones linear path, lowpasses linear path, gammatones nonlinear path, lowpasses nonlinear)
_SECTION_COUNTS = {"paulick2024": (2, 4, 2, 1), "jepsen2008": (3, 4, 3, 3)}
_COMPRESSION_EXPONENT = 10**-0.60206  # c = 0.25 in both models
_FREEZE_ABOVE_HZ, _FROZEN_AT_HZ = 1000.0, 1500.0


def drnl_parameters(center_freqs_hz, model: str = "paulick2024", subject: str = "NH") -> dict:
    """Per-channel DRNL parameters from AMT's regressions on the centre frequency.

    Each parameter is ``10^(p0 + m log10(cf))`` with the (p0, m) of Lopez-Poveda & Meddis
    (2001, Table III, normal hearing) as AMT 1.6 ``paulick2024_drnl`` carries them; for
    'NH' the nonlinear-path ``a`` and ``b`` use ``cf = 1500`` Hz above 1 kHz, as AMT does;
    ``c`` is ``10^-0.60206 = 0.25``.

    Parameters
    ----------
    center_freqs_hz : array_like, Hz
        ``(C,)`` channel centre frequencies.
    model : {'paulick2024', 'jepsen2008'}
        Both use the same regressions (they differ in the section counts).
    subject : {'NH', 'HIx'}
        Normal hearing, or AMT's example without compression (``a = 0``).

    Returns
    -------
    dict of str to Tensor
        float64 ``(C,)`` tensors: ``cf_lin``, ``bw_lin``, ``lp_lin`` (Hz), ``gain_lin``,
        ``cf_nlin``, ``bw_nlin``, ``lp_nlin`` (Hz), ``a``, ``b``, ``c`` (the broken stick's).

    References
    ----------
    Lopez-Poveda & Meddis (2001), the parameters as regressions on the centre frequency,
    refitted by Jepsen et al. (2008); AMT 1.6 ``paulick2024_drnl``.

    Examples
    --------
    >>> p = drnl_parameters([1000.0])
    >>> round(float(p["cf_lin"][0]), 1), round(float(p["bw_nlin"][0]), 1), round(float(p["c"][0]), 6)
    (961.1, 189.7, 0.25)
    """
    check_choice(model, _SECTION_COUNTS, "model")
    check_choice(subject, ("NH", "HIx"), "subject")
    cf = torch.as_tensor(center_freqs_hz, dtype=torch.float64)
    lcf = torch.log10(cf)
    frozen = torch.where(cf <= _FREEZE_ABOVE_HZ, lcf, torch.full_like(lcf, math.log10(_FROZEN_AT_HZ)))
    p = {
        "cf_lin": 10 ** (-0.06762 + 1.01679 * lcf),
        "bw_lin": 10 ** (0.03728 + 0.75 * lcf),
        "lp_lin": 10 ** (-0.06762 + 1.01 * lcf),
        "gain_lin": 10 ** (4.20405 - 0.47909 * lcf),
        "cf_nlin": 10 ** (-0.05252 + 1.01650 * lcf),
        "bw_nlin": 10 ** (-0.03193 + 0.77 * lcf),
        "lp_nlin": 10 ** (-0.05252 + 1.01650 * lcf),
        "c": torch.full_like(cf, _COMPRESSION_EXPONENT if subject == "NH" else 0.25),
    }
    if subject == "NH":
        p["a"] = 10 ** (1.40298 + 0.81916 * frozen)
        p["b"] = 10 ** (1.61912 - 0.81867 * frozen)
    else:
        p["a"] = torch.zeros_like(cf)
        p["b"] = 10 ** (1.61912 - 0.81867 * lcf)
    return p


def _gammatone_classic_sos(center_freqs_hz, bandwidths_hz, fs: float, order: int) -> torch.Tensor:
    """AMT 'classic' real gammatone as ``order`` identical biquads, shape ``(C, order, 6)``.

    Each section: poles at exp(-phi +- i theta), a real zero at the poles' real part, gain
    a0 chosen (as in AMT) so the cascade has 0 dB at the centre frequency.
    """
    theta = 2 * math.pi * torch.as_tensor(center_freqs_hz, dtype=torch.float64) / fs
    phi = 2 * math.pi * torch.as_tensor(bandwidths_hz, dtype=torch.float64) / fs
    radius = torch.exp(-phi)
    alpha = -radius * torch.cos(theta)
    z1, z2 = torch.exp(-1j * theta), torch.exp(-2j * theta)
    a0 = torch.abs((1 + 2 * alpha * z1 + radius**2 * z2) / (1 + alpha * z1))
    ones, zeros = torch.ones_like(theta), torch.zeros_like(theta)
    section = torch.stack([a0, a0 * alpha, zeros, ones, 2 * alpha, radius**2], dim=-1)
    return section.unsqueeze(-2).expand(-1, order, -1).contiguous()


def butter2_lowpass_sos(cutoff_hz, fs: float, count: int) -> torch.Tensor:
    """2nd-order Butterworth low-passes as MATLAB ``butter(2, fc/(fs/2))`` designs them, repeated.

    Bilinear transform with pre-warping, the coefficients in closed form (float64).

    Parameters
    ----------
    cutoff_hz : array_like, Hz
        ``(C,)`` cutoffs, one per channel (1-D).
    fs : float, Hz
    count : int
        Number of identical sections in each channel's cascade.

    Returns
    -------
    Tensor
        ``(C, count, 6)`` float64 sections ``[b0 b1 b2 1 a1 a2]``, unit gain at DC.

    See Also
    --------
    workbench.stages.filters.butter : Butterworth designs of any order and type.

    References
    ----------
    MATLAB ``butter``; the low-passes of both DRNL paths (Lopez-Poveda & Meddis 2001).

    Examples
    --------
    >>> sos = butter2_lowpass_sos([1000.0], 16000, 2)
    >>> sos.shape, round(float(sos[0, 0, :3].sum() / sos[0, 0, 3:].sum()), 12)
    (torch.Size([1, 2, 6]), 1.0)
    """
    k = torch.tan(math.pi * torch.as_tensor(cutoff_hz, dtype=torch.float64) / fs)
    norm = 1 / (1 + math.sqrt(2) * k + k**2)
    one = torch.ones_like(k)
    section = torch.stack(
        [k**2 * norm, 2 * k**2 * norm, k**2 * norm, one, 2 * (k**2 - 1) * norm, (1 - math.sqrt(2) * k + k**2) * norm],
        dim=-1,
    )
    return section.unsqueeze(-2).expand(-1, count, -1).contiguous()


def broken_stick(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The DRNL's compressive nonlinearity ``sign(x) min(a|x|, b|x|^c)``.

    The power is taken on a floored magnitude so that its gradient stays finite at x = 0
    (there the linear branch is the smaller one and is selected anyway). One fused pass on
    CPU (:func:`workbench.kernels.broken_stick.broken_stick`).

    Parameters
    ----------
    x : Tensor, m/s
        Output of the nonlinear path's first gammatone, ``(B, C, T)``.
    a, b, c : Tensor
        ``(C,)`` per channel (:func:`drnl_parameters`): linear gain, compressive gain and
        exponent.

    Returns
    -------
    Tensor
        ``(B, C, T)``, m/s.

    See Also
    --------
    workbench.stages.compression.broken_stick : King et al.'s broken stick (a knee level).

    References
    ----------
    Lopez-Poveda & Meddis (2001), the nonlinear path's compression; Jepsen et al. (2008).

    Examples
    --------
    >>> one = lambda v: torch.tensor([v], dtype=torch.float64)
    >>> broken_stick(torch.tensor([[[1e-3, -10.0]]], dtype=torch.float64), one(1.0), one(1.0), one(0.25))
    tensor([[[ 1.0000e-03, -1.7783e+00]]], dtype=torch.float64)
    """
    return fused_broken_stick(x, a, b, c)


def drnl(
    x: torch.Tensor,
    linear_sos: torch.Tensor,
    nonlinear_pre_sos: torch.Tensor,
    nonlinear_post_sos: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
) -> torch.Tensor:
    """Dual-resonance nonlinear filterbank on designed sections (pure form of
    :class:`DRNLFilterbank`).

    Per channel: ``linear_sos(x) + nonlinear_post_sos(broken_stick(nonlinear_pre_sos(x)))``.

    Parameters
    ----------
    x : Tensor, m/s
        Stapes velocity ``(B, T)`` (the middle-ear output).
    linear_sos : Tensor
        ``(C, n, 6)`` sections of the linear path: gammatones (the linear gain folded into the
        first section) then low-passes.
    nonlinear_pre_sos : Tensor
        ``(C, n, 6)`` gammatone before the broken stick.
    nonlinear_post_sos : Tensor
        ``(C, n, 6)`` gammatone and low-passes after it.
    a, b, c : Tensor
        ``(C,)`` broken-stick parameters (:func:`broken_stick`).

    Returns
    -------
    Tensor
        Basilar-membrane velocity ``(B, C, T)``, m/s, in the dtype of ``x`` and the sections
        (:class:`DRNLFilterbank` runs it in float64).

    See Also
    --------
    DRNLFilterbank : designs the sections from the centre frequencies.

    References
    ----------
    Lopez-Poveda & Meddis (2001); Jepsen et al. (2008); Paulick et al. (2024); AMT 1.6
    ``paulick2024_drnl``.

    Examples
    --------
    >>> fb = DRNLFilterbank(16000, [500.0, 1000.0])
    >>> f64 = lambda t: t.to(torch.float64)
    >>> y = drnl(torch.zeros(1, 160, dtype=torch.float64), fb.linear_sos, fb.nonlinear_pre_sos,
    ...          fb.nonlinear_post_sos, f64(fb.a), f64(fb.b), f64(fb.c))
    >>> y.shape
    torch.Size([1, 2, 160])
    """
    channels = linear_sos.shape[0]
    x = x.unsqueeze(-2).expand(x.shape[0], channels, x.shape[-1])
    linear = sosfilt(linear_sos, x)
    nonlinear = broken_stick(sosfilt(nonlinear_pre_sos, x), a, b, c)
    return linear + sosfilt(nonlinear_post_sos, nonlinear)


class DRNLFilterbank(nn.Module):
    """DRNL filterbank stage (AMT 1.6 ``paulick2024_drnl``; pure form :func:`drnl`).

    Parameters
    ----------
    fs : float, Hz
    center_freqs_hz : (C,) Hz
    model : {'paulick2024', 'jepsen2008'}
        2 gammatones per path, 4 linear / 1 nonlinear lowpasses; or 3 gammatones, 4 / 3.
    subject : {'NH', 'HIx'}
        Normal hearing, or AMT's example without compression (a = 0).
    learnable : bool
        a, b, c and the linear gain become parameters (filter shapes stay fixed).
    dtype : torch.dtype
        Of ``a``, ``b``, ``c``, the gains and the output; the sections are float64 and the
        filtering runs in float64 whatever the dtype (float32 coefficients are not accurate
        enough for the low channels).

    Returns
    -------
    Tensor
        ``forward(x)``: stapes velocity ``(B, T)`` (m/s, the middle-ear output) -> basilar
        membrane velocity ``(B, C, T)`` m/s.

    References
    ----------
    Lopez-Poveda & Meddis (2001); Jepsen et al. (2008); Paulick et al. (2024) (the module
    docstring has the full references).

    Examples
    --------
    >>> bank = DRNLFilterbank(16000, [500.0, 1000.0])
    >>> tone = torch.sin(2 * torch.pi * 1000 * torch.arange(1600) / 16000)[None]  # m/s
    >>> bank(tone).shape
    torch.Size([1, 2, 1600])
    >>> quiet, loud = (float(bank(a * tone)[0, 1, 800:].abs().max()) for a in (1e-6, 1e-4))
    >>> round(loud / quiet, 1)  # 100 times the input, 5 times the output: compression
    5.1
    """

    about = "Dual-resonance nonlinear filter: a linear and a compressive path summed."

    def __init__(
        self,
        fs: float,
        center_freqs_hz,
        model: str = "paulick2024",
        subject: str = "NH",
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.fs = check_fs(fs)
        dtype = check_dtype(dtype)
        cf = torch.as_tensor(center_freqs_hz, dtype=torch.float64).reshape(-1)
        if cf.numel() < 1 or not bool(((cf > 0) & (cf < self.fs / 2)).all()):
            raise ValueError(f"center_freqs_hz must be non-empty and inside (0, fs/2 = {self.fs / 2:g}) Hz")
        self.model, self.subject = model, subject
        p = drnl_parameters(cf, model, subject)
        n_gt_lin, n_lp_lin, n_gt_nlin, n_lp_nlin = _SECTION_COUNTS[model]
        gt_lin = _gammatone_classic_sos(p["cf_lin"], p["bw_lin"], self.fs, n_gt_lin)
        gt_nlin = _gammatone_classic_sos(p["cf_nlin"], p["bw_nlin"], self.fs, n_gt_nlin)
        self.register_buffer("center_freqs_hz", cf.to(dtype))
        # The sections stay float64 (and so run in float64, see forward). Rounded to float32,
        # the coefficients of the low channels (poles and zero 0.01 inside the unit circle at
        # 250 Hz and 44.1 kHz; b0 + b1 nearly cancel) alone change the output by 2.4e-4 of
        # its peak (4e-4 to 6e-4 through the model), which the adaptation loops pass on.
        self.register_buffer(
            "linear_sos", torch.cat([gt_lin, butter2_lowpass_sos(p["lp_lin"], self.fs, n_lp_lin)], dim=1)
        )
        self.register_buffer("nonlinear_pre_sos", gt_nlin)
        self.register_buffer(
            "nonlinear_post_sos", torch.cat([gt_nlin, butter2_lowpass_sos(p["lp_nlin"], self.fs, n_lp_nlin)], dim=1)
        )
        for name in ("gain_lin", "a", "b", "c"):
            value = p[name].to(dtype)
            if learnable:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, T)`` -> ``(B, C, T)`` in ``x``'s dtype, computed in float64 (``dtype``)."""
        f64 = torch.float64
        sos = self.linear_sos.to(f64)
        linear_sos = torch.cat([sos[:, :1, :3] * self.gain_lin[:, None, None].to(f64), sos[:, :1, 3:]], dim=-1)
        linear_sos = torch.cat([linear_sos, sos[:, 1:]], dim=1)
        y = drnl(
            x.to(f64),
            linear_sos,
            self.nonlinear_pre_sos.to(f64),
            self.nonlinear_post_sos.to(f64),
            self.a.to(f64),
            self.b.to(f64),
            self.c.to(f64),
        )
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, channels={self.center_freqs_hz.numel()}, model={self.model!r}"
