"""Excitation patterns of the loudness models: rounded-exponential filters on a Cam grid."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from workbench._validation import check_finite, check_positive, check_range
from workbench.kernels.backend import uses_device_path
from workbench.kernels.excitation import lower_pairs, roex_lower
from workbench.units import cam_bandwidth_hz, cam_to_hz, hz_to_cam

MAX_BANDS = 2000  # the default grid has 150 bands (0.25 Cam); 2000 is 0.02 Cam apart


def cam_grid(erb_lower: float = 1.75, erb_upper: float = 39.0, erb_step: float = 0.25) -> np.ndarray:
    """Band centres on the Cam (ERB-number) scale: ``erb_lower:erb_step:erb_upper`` as MATLAB's
    colon.

    Parameters
    ----------
    erb_lower, erb_upper : float, Cam
        First and last centre, ``0 < erb_lower <= erb_upper <=`` the Cam of 16 kHz.
    erb_step : float, Cam
        Spacing in (0, 1] (0.25); at most :data:`MAX_BANDS` bands.

    Returns
    -------
    numpy.ndarray
        ``(Z,)`` float64 band centres, Cam (150 with the defaults, 1.75 to 39).

    References
    ----------
    Glasberg & Moore (2002), J. Audio Eng. Soc. 50, 331-342; Moore et al. (2016), Trends Hear.
    20; ANSI S3.4-2007.

    Examples
    --------
    >>> cam_grid().size, cam_grid(2.0, 3.0, 0.5).tolist()
    (150, [2.0, 2.5, 3.0])
    """
    top = float(hz_to_cam(16000.0))
    erb_lower, erb_upper = check_finite(erb_lower, "erb_lower (Cam)"), check_finite(erb_upper, "erb_upper (Cam)")
    erb_step = check_positive(erb_step, "erb_step (Cam)")
    if erb_step > 1:  # the loudness is sum(N') x erb_step: a coarser grid no longer samples N'
        raise ValueError(f"erb_step must lie in (0, 1] Cam, got {erb_step:g}")
    if not (0 < erb_lower <= erb_upper <= top):
        raise ValueError(
            f"band centres must satisfy 0 < erb_lower <= erb_upper <= {top:.2f} Cam (16 kHz) and "
            f"erb_step > 0 (Hz limits f_min/f_max: 0 < f_min <= f_max <= 16000), got erb_lower="
            f"{erb_lower:g}, erb_upper={erb_upper:g}, erb_step={erb_step:g}"
        )
    n = int(math.floor((erb_upper - erb_lower) / erb_step + 1e-9)) + 1
    if n > MAX_BANDS:
        raise ValueError(
            f"erb_lower = {erb_lower:g} to erb_upper = {erb_upper:g} Cam in erb_step = {erb_step:g} "
            f"gives {n} bands, more than {MAX_BANDS}: use a larger erb_step"
        )
    return erb_lower + erb_step * np.arange(n)


class RoexExcitation(nn.Module):
    """Excitation pattern from discrete spectral components (Moore et al. 1997; ANSI S3.4-2007).

    For each band centre ``fc`` and component ``f`` with ``g = (f - fc)/fc``: weight
    ``(1 + p|g|) exp(-p|g|)``, zero for ``g > 4``. Upper side (``f >= fc``):
    ``p = 4 fc / ERB(fc)``; lower side: ``p = p_u - level_slope (p_u / p_1000) (X - 51)``,
    where ``X`` is the input level per ERB at the component (the component intensities
    weighted by each component's own symmetric roex filter). The upper side and the input
    levels are fixed matrices; the level-dependent lower side is evaluated on the pairs with
    ``f < fc`` only (:mod:`workbench.kernels.excitation`).

    Range: ``p_l`` reaches 0 at ``X = pivot_level_db + p_1000 / level_slope`` (137.3 dB SPL
    per ERB with the defaults, :attr:`max_level_per_erb_db`); above it the formula would make
    ``p_l`` negative (a lower skirt rising with distance, then negative excitation), so
    ``p_l`` is held at 0 there (a flat lower skirt). The excitation, and so the loudness,
    then still rises with level; below that level the result is the published formula's.

    Parameters
    ----------
    component_freqs_hz : array (F,), Hz
    cams : array (Z,), Cam
        Band centres (default 1.75:0.25:39, :func:`cam_grid`).
    level_slope : float
        Change of ``p_l / p_1000`` per dB (0.35).
    pivot_level_db : float, dB SPL
        Level per ERB at which the lower slope equals the upper one (51).
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(intensity, mask=None)``: ``(..., F)`` in (20 uPa)^2 (``mask`` drops
        components) -> excitation ``(..., Z)`` in (20 uPa)^2 (``10 log10``: dB SPL, ``-inf``
        in bands no component reaches: the upper skirt ends at ``g = 4``, so for a tone the
        bands below about a fifth of its frequency, and every band in silence).

    References
    ----------
    Moore, Glasberg & Baer (1997), J. Audio Eng. Soc. 45, 224-240; ANSI S3.4-2007.

    Examples
    --------
    >>> excitation = RoexExcitation([1000.0])
    >>> level = 10 * torch.log10(excitation(torch.tensor([[1e6]], dtype=torch.float64)))
    >>> round(float(level.max()), 1)  # the band at 1 kHz: about the component's level
    59.8
    """

    def __init__(
        self,
        component_freqs_hz,
        cams=None,
        level_slope: float = 0.35,
        pivot_level_db: float = 51.0,
        dtype=torch.float64,
    ):
        super().__init__()
        level_slope = check_range(level_slope, "level_slope (change of p_l / p_1000 per dB)", 0.0, 10.0)
        pivot_level_db = check_range(pivot_level_db, "pivot_level_db", -100.0, 200.0, "dB SPL")
        f = np.asarray(component_freqs_hz, dtype=np.float64)
        cams = np.arange(1.75, 39.0 + 1e-9, 0.25) if cams is None else np.asarray(cams, dtype=np.float64)
        fc = cam_to_hz(cams)
        p_of = lambda freq: 4 * freq / cam_bandwidth_hz(freq)  # noqa: E731
        self.cams = cams
        self.level_slope_per_db = float(level_slope)  # as given (change of p_l / p_1000 per dB)
        self.level_slope, self.pivot_level_db = level_slope / p_of(1000.0), pivot_level_db
        self.max_level_per_erb_db = (pivot_level_db + 1 / self.level_slope) if level_slope > 0 else math.inf
        # input level per ERB: X_j = sum_i W(p_i, (f_j - f_i)/f_i) I_i, g <= 4
        g_in = (f[None, :] - f[:, None]) / f[:, None]
        pg_in = p_of(f)[:, None] * np.abs(g_in)
        m_in = np.where(g_in <= 4, (1 + pg_in) * np.exp(-pg_in), 0.0)
        g = (f[:, None] - fc[None, :]) / fc[None, :]  # (K, C)
        pu_g = p_of(fc)[None, :] * np.abs(g)
        upper = (f[:, None] >= fc[None, :]) & (g <= 4)
        w_up = np.where(upper, (1 + pu_g) * np.exp(-pu_g), 0.0)
        self.register_buffer("freqs_hz", torch.as_tensor(f, dtype=dtype), persistent=False)
        self.register_buffer("center_freqs_hz", torch.as_tensor(fc, dtype=dtype), persistent=False)
        # weights below 1e-30 (far skirts) are set to 0: negligible next to the on-frequency
        # weight 1, and they would be float32 denormals (slow arithmetic)
        m_in[m_in < 1e-30], w_up[w_up < 1e-30] = 0.0, 0.0
        self.register_buffer("input_matrix", torch.as_tensor(m_in, dtype=dtype), persistent=False)
        self.register_buffer("upper_matrix", torch.as_tensor(w_up, dtype=dtype), persistent=False)
        self.register_buffer("p_upper", torch.as_tensor(p_of(fc), dtype=dtype), persistent=False)
        self.register_buffer("p_per_hz", torch.as_tensor(p_of(fc) / fc, dtype=dtype), persistent=False)
        comp, band = lower_pairs(self.freqs_hz, self.center_freqs_hz)  # lower-skirt pairs f < fc
        self.register_buffer("_lower_comp", comp, persistent=False)
        self.register_buffer("_lower_band", band, persistent=False)

    def forward(self, intensity: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            intensity = torch.where(mask, intensity, torch.zeros((), dtype=intensity.dtype, device=intensity.device))
        freqs, m_in, w_up = self.freqs_hz, self.input_matrix, self.upper_matrix
        pairs = (self._lower_comp, self._lower_band)
        if not uses_device_path(intensity):  # CPU: skip the components absent in every frame
            used = (intensity.detach() != 0).reshape(-1, intensity.shape[-1]).any(0)
            if not bool(used.any()):  # silence: no component anywhere (keeps the autograd graph)
                return intensity @ torch.zeros_like(w_up)
            if int(used.sum()) < 3 * used.numel() // 4:  # sparse (tonal) input: drop absent components
                idx = torch.nonzero(used).squeeze(1)
                intensity, freqs, m_in, w_up = intensity[..., idx], freqs[idx], m_in[idx][:, idx], w_up[idx]
                pairs = None
        level_in = intensity @ m_in
        present = intensity > 0
        one = torch.ones((), dtype=level_in.dtype, device=level_in.device)
        level_db = 10 * torch.log10(torch.where(present, level_in, one))
        # lower-slope factor p_l / p_u per component (1 where the component is absent), held
        # at >= 0: above max_level_per_erb_db the published formula gives p_l < 0, a skirt that
        # rises away from the band and, a few dB higher, negative excitation (NaN in dB)
        slope = torch.where(present, 1 - self.level_slope * (level_db - self.pivot_level_db), one).clamp_min(0.0)
        lower = roex_lower(intensity, slope, freqs, self.p_upper, self.p_per_hz, self.center_freqs_hz, pairs)
        return intensity @ w_up + lower


def roex_excitation(intensity: torch.Tensor, component_freqs_hz, cams=None, mask=None, **kwargs) -> torch.Tensor:
    """Excitation pattern from spectral components (pure form of :class:`RoexExcitation`;
    the filters are built on each call).

    Parameters
    ----------
    intensity : Tensor, (20 uPa)^2
        Component intensities ``(..., F)``, e.g. ``(B, K, F)``.
    component_freqs_hz : array_like, Hz
        ``(F,)`` frequencies of the components.
    cams : array_like, Cam, optional
        ``(Z,)`` band centres (default :func:`cam_grid`).
    mask : Tensor, optional
        Bool, shape of ``intensity``: the components kept (e.g.
        :func:`~workbench.stages.loudness.relevance_mask`).
    **kwargs
        ``level_slope``, ``pivot_level_db`` of :class:`RoexExcitation`.

    Returns
    -------
    Tensor
        Excitation ``(..., Z)``, (20 uPa)^2 (``10 log10``: dB SPL; ``-inf`` where no component
        reaches a band).

    See Also
    --------
    RoexExcitation : the stage (filters built once for fixed component frequencies).

    References
    ----------
    Moore, Glasberg & Baer (1997), J. Audio Eng. Soc. 45, 224-240; ANSI S3.4-2007.

    Examples
    --------
    >>> roex_excitation(torch.tensor([[1e6]], dtype=torch.float64), [1000.0]).shape  # 60 dB SPL at 1 kHz
    torch.Size([1, 150])
    """
    stage = RoexExcitation(component_freqs_hz, cams, dtype=intensity.dtype, **kwargs).to(intensity.device)
    return stage(intensity, mask)
