"""Gammatone filterbank as AMT's auditoryfilterbank/gammatone build it.

AMT ``gammatone(fc, fs, n, betamul, 'complex')`` (all-pole, Lyon 1997): ``n`` coincident
complex poles ``p = exp(-2 pi beta / fs + i 2 pi fc / fs)`` with ``beta = betamul *
erb_bandwidth_hz(fc)`` and gain ``(1 - exp(-2 pi beta / fs))^n`` (0 dB at fc); the real
output is ``2 * real(.)``. The default ``betamul`` is Patterson's
``((n-1)!)^2 / (pi (2n-2)! 2^-(2n-2))`` (1.01859 for n = 4).

The filter runs as ``n`` cascaded first-order complex sections through
:func:`workbench.kernels.iir.lfilter`. Expanding ``(1 - p z^-1)^n`` into one polynomial is
numerically unstable in float32 for low centre frequencies (the rounded poles leave the unit
circle) and is never done.

References
----------
Patterson, Nimmo-Smith, Holdsworth & Rice (1987), An efficient auditory filterbank based on the
gammatone function, APU report 2341.
Lyon (1997), All-pole models of auditory filtering, in Diversity in Auditory Mechanics, 205-211.
Hohmann (2002), Acta Acust. 88, 433-442.
AMT ``gammatone`` and ``auditoryfilterbank``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench._validation import MAX_FILTER_ORDER, check_fs, check_int, check_positive, check_signal
from workbench.kernels.iir import section, sosfilt
from workbench.units import erb_bandwidth_hz


def default_bandwidth_factor(order: int) -> float:
    """Patterson's bandwidth factor ``betamul`` for a gammatone of order ``n``.

    ``((n-1)!)^2 / (pi (2n-2)! 2^-(2n-2))``: the bandwidth parameter ``beta``, in units of
    ``ERB(fc)``, at which the filter's equivalent rectangular bandwidth is ``ERB(fc)``.

    Parameters
    ----------
    order : int
        Gammatone order ``n`` >= 1.

    Returns
    -------
    float
        ``betamul``, ERB (1.01859 for n = 4).

    References
    ----------
    Patterson et al. (1987), the gammatone's bandwidth in ERBs; AMT ``gammatone``.

    Examples
    --------
    >>> round(default_bandwidth_factor(4), 5)
    1.01859
    """
    n = order
    return math.factorial(n - 1) ** 2 / (math.pi * math.factorial(2 * n - 2) * 2.0 ** (-(2 * n - 2)))


def gammatone_coefficients(center_freqs_hz: torch.Tensor, bandwidth_factor: torch.Tensor, fs: float):
    """One complex first-order all-pole section per channel of AMT's 'complex' gammatone.

    Pole ``exp(-2 pi beta / fs + i 2 pi fc / fs)`` with ``beta = bandwidth_factor
    ERB(fc)``, gain ``1 - exp(-2 pi beta / fs)``; ``order`` such sections in cascade are the
    filter. Differentiable in the centre frequencies and the bandwidth factor.

    Parameters
    ----------
    center_freqs_hz : Tensor, Hz
        ``(C,)``.
    bandwidth_factor : Tensor, ERB
        ``betamul``, a scalar or ``(C,)``.
    fs : float, Hz

    Returns
    -------
    b : Tensor
        ``(C, 1)`` complex numerator.
    a : Tensor
        ``(C, 2)`` complex denominator ``[1, -pole]``.

    References
    ----------
    Lyon (1997), the all-pole gammatone; Hohmann (2002); AMT ``gammatone`` ('complex').

    Examples
    --------
    >>> b, a = gammatone_coefficients(torch.tensor([500.0, 1000.0]), torch.tensor(1.019), 16000)
    >>> b.shape, a.shape, a.dtype
    (torch.Size([2, 1]), torch.Size([2, 2]), torch.complex64)
    """
    beta = bandwidth_factor * erb_bandwidth_hz(center_freqs_hz)
    radius = torch.exp(-2 * math.pi * beta / fs)
    pole = torch.polar(radius, 2 * math.pi * center_freqs_hz / fs)
    b = (1 - radius).to(pole.dtype).unsqueeze(-1)
    a = torch.stack([torch.ones_like(pole), -pole], dim=-1)
    return b, a


def gammatone_filterbank(
    x: torch.Tensor, center_freqs_hz: torch.Tensor, fs: float, order: int = 4, bandwidth_factor=None
) -> torch.Tensor:
    """Gammatone filterbank (pure form of :class:`GammatoneFilterbank`; filters designed on each
    call).

    Parameters
    ----------
    x : Tensor
        Signal ``(..., T)``, e.g. ``(B, T)``, any units.
    center_freqs_hz : array_like or Tensor, Hz
        ``(C,)`` channel centre frequencies, in (0, fs/2).
    fs : float, Hz
    order : int
        Gammatone order (4).
    bandwidth_factor : float or Tensor, ERB, optional
        ``betamul``, a scalar or ``(C,)``; default :func:`default_bandwidth_factor`.

    Returns
    -------
    Tensor
        ``(..., C, T)`` real channels (``2 real(.)`` of the complex output), the input's units,
        0 dB at each centre frequency.

    See Also
    --------
    GammatoneFilterbank : the Module (validation, filters designed once, learnable option).

    References
    ----------
    Patterson et al. (1987); Lyon (1997); Hohmann (2002); AMT ``gammatone``.

    Examples
    --------
    >>> t = torch.arange(16000) / 16000
    >>> y = gammatone_filterbank(torch.sin(2 * torch.pi * 1000 * t), [1000.0], 16000)
    >>> y.shape, round(float(y[..., 8000:].abs().max()), 3)  # a tone at fc passes at 0 dB
    (torch.Size([1, 16000]), 1.0)
    """
    factor = default_bandwidth_factor(order) if bandwidth_factor is None else bandwidth_factor
    fc = torch.as_tensor(center_freqs_hz, dtype=x.dtype, device=x.device)
    factor = torch.as_tensor(factor, dtype=x.dtype, device=x.device)
    return 2 * sosfilt(_gammatone_sections(fc, factor, fs, order), x.unsqueeze(-2)).real


def _gammatone_sections(
    center_freqs_hz: torch.Tensor, bandwidth_factor: torch.Tensor, fs: float, order: int
) -> torch.Tensor:
    """The ``order`` identical complex first-order sections per channel, ``(F, order, 6)``."""
    b, a = gammatone_coefficients(center_freqs_hz, bandwidth_factor, fs)
    return section(b, a).unsqueeze(-2).expand(*b.shape[:-1], order, 6)


class GammatoneFilterbank(nn.Module):
    """4th-order (by default) all-pole complex gammatone filterbank (AMT auditoryfilterbank).

    Parameters
    ----------
    fs : float, Hz
    center_freqs_hz : (C,) Hz
        Channel centre frequencies (e.g. ``erbspacebw(80, 8000, 1, 1000)``).
    order : int
        Gammatone order (AMT ``n``, spec ``n``), 4.
    bandwidth_factor : float, ERB
        AMT ``betamul`` (spec ``betamul``); default Patterson's value for ``order`` (1.01859
        for order 4, not 1.019).
    learnable : bool
        Centre frequencies and per-channel bandwidth factors become ``nn.Parameter``.
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: ``(B, T)`` or ``(T,)`` -> ``(B, C, T)`` or ``(C, T)``, the input's units
        (:func:`gammatone_filterbank` is the pure form).

    References
    ----------
    Patterson et al. (1987); Lyon (1997); Hohmann (2002); AMT ``auditoryfilterbank`` (the module
    docstring has the full references).

    Examples
    --------
    >>> fb = GammatoneFilterbank(16000, [500.0, 1000.0])
    >>> y = fb(torch.sin(2 * torch.pi * 1000 * torch.arange(1600) / 16000)[None])
    >>> y.shape, [round(float(peak), 2) for peak in y[0, :, 800:].abs().amax(-1)]  # 0 dB at fc
    (torch.Size([1, 2, 1600]), [0.0, 1.0])
    """

    about = "The basilar membrane as a bank of overlapping band-pass filters."

    def __init__(
        self,
        fs: float,
        center_freqs_hz,
        order: int = 4,
        bandwidth_factor: float | None = None,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.fs = check_fs(fs)
        self.order = check_int(order, "order (filterbank n)", 1, MAX_FILTER_ORDER)
        fc = torch.as_tensor(center_freqs_hz, dtype=torch.float64).reshape(-1)
        if fc.numel() == 0 or not bool(((fc > 0) & (fc < self.fs / 2)).all()):
            raise ValueError(
                f"center_freqs_hz must be non-empty and within (0, fs/2 = {self.fs / 2:g}) Hz, got {fc.tolist()}"
            )
        factor = (
            default_bandwidth_factor(order)
            if bandwidth_factor is None
            else check_positive(bandwidth_factor, "bandwidth_factor (betamul, in ERB)")
        )
        factor = torch.full_like(fc, factor)
        for name, value in (("center_freqs_hz", fc), ("bandwidth_factor", factor)):
            if learnable:
                setattr(self, name, nn.Parameter(value.to(dtype)))
            else:
                self.register_buffer(name, value.to(dtype))
        # fixed filters are designed once (in the module's dtype, as forward would)
        fixed = (
            None
            if learnable
            else _gammatone_sections(self.center_freqs_hz, self.bandwidth_factor, self.fs, order).contiguous()
        )
        self.register_buffer("_fixed_sections", fixed, persistent=False)

    @property
    def num_channels(self) -> int:
        return self.center_freqs_hz.numel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_signal(x, "x", max_dims=2)
        fixed = self._fixed_sections
        if fixed is not None and fixed.real.dtype == x.dtype:
            return 2 * sosfilt(fixed, x.unsqueeze(-2)).real
        return gammatone_filterbank(
            x, self.center_freqs_hz.to(x.dtype), self.fs, self.order, self.bandwidth_factor.to(x.dtype)
        )

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, num_channels={self.num_channels}, order={self.order}"
