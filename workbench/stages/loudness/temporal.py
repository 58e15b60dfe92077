"""Temporal integration (attack/release AGCs) and binaural inhibition of the loudness models."""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench._validation import check_positive, check_range
from workbench.kernels.agc import agc


def _scalar(module: nn.Module, name: str, value: float, learnable: bool, dtype) -> None:
    """Register a model constant on ``module``: ``nn.Parameter`` when ``learnable``, else a
    buffer (both follow ``.to()``/``.double()``)."""
    t = torch.tensor(float(value), dtype=dtype)
    if learnable:
        setattr(module, name, nn.Parameter(t))
    else:
        module.register_buffer(name, t, persistent=False)


def alpha_from_tau(tau_s: float, hop_s: float = 1e-3, name: str = "tau") -> float:
    """AGC coefficient per frame of a time constant: ``1 - exp(-hop_s / tau_s)``.

    Glasberg & Moore (2002) give their attack as 0.045 per 1 ms frame (a time constant of
    about 22 ms).

    Parameters
    ----------
    tau_s : float, s
        Time constant, in (0, 3600].
    hop_s : float, s
        Frame hop (1 ms).
    name : str
        Name of ``tau_s`` in error messages.

    Returns
    -------
    float
        Coefficient in (0, 1).

    See Also
    --------
    AttackRelease : takes the coefficients.

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342.

    Examples
    --------
    >>> round(alpha_from_tau(0.022), 4)
    0.0444
    """
    tau_s = check_positive(tau_s, f"{name} (time constant in s)")
    if tau_s > 3600:
        raise ValueError(f"{name} (time constant in s) must lie in (0, 3600] s, got {tau_s:g}")
    return 1.0 - math.exp(-hop_s / tau_s)


class AttackRelease(nn.Module):
    """Attack/release AGC along the last axis (frames): ``y += a (x - y)`` with ``a = attack``
    where ``x > y`` and ``release`` otherwise; functional form :func:`workbench.kernels.agc.agc`.

    Parameters
    ----------
    attack, release : float
        Coefficients per frame in (0, 1] (:func:`alpha_from_tau`); ``nn.Parameter`` when
        ``learnable``.
    learnable : bool
    dtype : torch.dtype
    names : (str, str)
        Argument names used in error messages.

    Returns
    -------
    Tensor
        ``forward(x, initial=None)``: ``x`` ``(..., K)`` (``initial``: the state before frame
        0, ``(...)``, default zeros) -> ``(..., K)``.

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342; Moore et al. (2016).

    Examples
    --------
    >>> AttackRelease(0.5, 0.1)(torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64))
    tensor([0.5000, 0.7500, 0.6750], dtype=torch.float64)
    """

    def __init__(
        self,
        attack: float,
        release: float,
        learnable: bool = False,
        dtype=torch.float64,
        names: tuple[str, str] = ("attack", "release"),
    ):
        super().__init__()
        for attr, value, name in (("attack", attack, names[0]), ("release", release, names[1])):
            value = check_positive(value, f"{name} (AGC coefficient per frame)")
            if not value <= 1:
                raise ValueError(f"{name} must be an AGC coefficient per frame, 0 < {name} <= 1, got {value:g}")
            _scalar(self, attr, value, learnable, dtype)

    def forward(self, x: torch.Tensor, initial: torch.Tensor | None = None) -> torch.Tensor:
        return agc(x, self.attack, self.release, initial=initial)

    def extra_repr(self) -> str:
        return f"attack={float(self.attack.detach()):.4g}, release={float(self.release.detach()):.4g}"


def binaural_inhibition(
    spec_left: torch.Tensor,
    spec_right: torch.Tensor,
    p: float = 1.5978,
    smoothing: float = 0.08,
    cam_step: float = 0.25,
    half_width_cam: float = 18.0,
):
    """Binaural inhibition of the specific loudness of both ears (pure form of
    :class:`BinauralInhibition`).

    Each ear's specific loudness is smoothed across bands with ``exp(-(smoothing g)^2)``,
    ``g = -18:0.25:18`` Cam (normalised, centred), then inhibited by the other ear:
    ``N_L / (2 / (1 + sech(S_R / S_L)^p))``. The loudness of an ear is the sum of its result
    times ``cam_step``.

    Parameters
    ----------
    spec_left, spec_right : Tensor, sone/Cam
        ``(..., Z)`` specific loudness of each ear, e.g. ``(B, K, Z)``.
    p : float or Tensor
        Inhibition exponent (1.5978).
    smoothing : float, 1/Cam
        Width parameter of the smoothing (0.08).
    cam_step : float, Cam
        Band spacing (0.25).
    half_width_cam : float, Cam
        Half length of the smoothing kernel (18).

    Returns
    -------
    (Tensor, Tensor)
        The inhibited specific loudness of the left and the right ear, ``(..., Z)``, sone/Cam.

    See Also
    --------
    BinauralInhibition : the stage.

    References
    ----------
    Moore et al. (2016), Trends Hear. 20, binaural inhibition; AMT 1.4
    ``moore2016_binauralloudness``.

    Examples
    --------
    >>> ones = torch.ones(150, dtype=torch.float64)
    >>> left, right = binaural_inhibition(ones, ones)  # diotic: each ear x 3/4, together 1.5
    >>> round(float(left[75]), 4)
    0.75
    """
    g = torch.arange(
        -half_width_cam, half_width_cam + cam_step / 2, cam_step, dtype=spec_left.dtype, device=spec_left.device
    )
    kernel = torch.exp(-((smoothing * g) ** 2))
    kernel = kernel / kernel.sum()
    n, half = spec_left.shape[-1], (kernel.numel() - 1) // 2
    idx = torch.arange(n, device=g.device)
    lag = idx[:, None] - idx[None, :] + half  # Toeplitz: 'same' convolution
    smooth = torch.where(
        (lag >= 0) & (lag < kernel.numel()),
        kernel[lag.clamp(0, kernel.numel() - 1)],
        torch.zeros((), dtype=kernel.dtype, device=kernel.device),
    )
    # 1e-13 (sone/Cam) as AMT's moore2016_binauralloudness: keeps the ratio finite where an
    # ear is silent (far below any audible specific loudness)
    sl = spec_left @ smooth + 1e-13
    sr = spec_right @ smooth + 1e-13

    def inhibition(ratio):  # 2 / (1 + sech(ratio)^p), sech via exp(-r) for large ratios
        e = torch.exp(-ratio)
        return 2 / (1 + (2 * e / (1 + e * e)) ** p)

    return spec_left / inhibition(sr / sl), spec_right / inhibition(sl / sr)


class BinauralInhibition(nn.Module):
    """Binaural inhibition of the specific loudness of both ears (:func:`binaural_inhibition`).

    Parameters
    ----------
    p : float
        Inhibition exponent (1.5978); ``nn.Parameter`` when ``learnable``.
    sigma : float, 1/Cam
        Smoothing width across bands (0.08).
    cam_step : float, Cam
        Band spacing.
    learnable : bool
    dtype : torch.dtype

    Returns
    -------
    (Tensor, Tensor)
        ``forward(left, right)``: specific loudness ``(..., Z)`` sone/Cam of each ear ->
        the inhibited pair, same shapes.

    References
    ----------
    Moore, Glasberg, Varathanathan & Schlittenlacher (2016), Trends Hear. 20.

    Examples
    --------
    >>> left, right = BinauralInhibition()(torch.ones(150, dtype=torch.float64), torch.zeros(150, dtype=torch.float64))
    >>> float(right.abs().max())
    0.0
    """

    def __init__(
        self,
        p: float = 1.5978,
        sigma: float = 0.08,
        cam_step: float = 0.25,
        learnable: bool = False,
        dtype=torch.float64,
    ):
        super().__init__()
        sigma = check_range(sigma, "sigma (smoothing, 1/Cam)", 1e-6, 10.0)
        p = check_range(p, "p (inhibition exponent)", 1e-6, 100.0)
        _scalar(self, "p", p, learnable, dtype)
        self.sigma, self.cam_step = float(sigma), float(cam_step)

    def forward(self, left: torch.Tensor, right: torch.Tensor):
        return binaural_inhibition(left, right, p=self.p, smoothing=self.sigma, cam_step=self.cam_step)

    def extra_repr(self) -> str:
        return f"p={float(self.p.detach()):.5g}, sigma={self.sigma:g}"
