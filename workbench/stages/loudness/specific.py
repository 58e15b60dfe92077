"""Specific loudness (ANSI S3.4-2007) and the sone <-> phon relation of the stationary model."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from workbench._validation import check_positive, check_range
from workbench.stages.loudness.ear import ansi_tables
from workbench.stages.loudness.excitation import RoexExcitation


def specific_loudness(excitation: torch.Tensor, C, threshold, gain, alpha, a) -> torch.Tensor:
    """ANSI S3.4-2007 specific loudness of an excitation (pure form of :class:`SpecificLoudness`).

    ``N' = C ((G E + A)^alpha - A^alpha)`` for ``E_thrq < E < 1e10``; times
    ``(2 E / (E + E_thrq))^1.5`` at and below threshold; ``C (E / 1.0707)^0.2`` from 1e10 up;
    0 below 1e-10 (-100 dB SPL).

    Parameters
    ----------
    excitation : Tensor, (20 uPa)^2
        ``(..., Z)``, e.g. ``(B, K, Z)``.
    C : float or Tensor, sone/Cam
        Scale (Moore et al. 2016: 0.0631; ANSI: 0.046871).
    threshold : Tensor, (20 uPa)^2
        ``(Z,)`` excitation at threshold ``E_thrq``.
    gain : Tensor
        ``(Z,)`` low-frequency gain ``G`` (linear, power).
    alpha, a : Tensor
        ``(Z,)`` the exponent ``alpha(G)`` and the additive term ``A(G)`` (in (20 uPa)^2).

    Returns
    -------
    Tensor
        ``(..., Z)``, sone/Cam.

    See Also
    --------
    SpecificLoudness : computes ``threshold``, ``gain``, ``alpha`` and ``a`` from the ANSI
        tables.

    References
    ----------
    ANSI S3.4-2007, the specific-loudness equations; Moore, Glasberg & Baer (1997).

    Examples
    --------
    >>> sl = SpecificLoudness([1000.0])
    >>> specific_loudness(torch.tensor([0.0, 1e4], dtype=torch.float64), sl.C, sl.threshold, sl.gain, sl.alpha, sl.a)
    tensor([0.0000, 0.3121], dtype=torch.float64)
    """
    # below -100 dB SPL the specific loudness (~1e-27) is set to 0: the same to all digits
    # that matter, and float32 would otherwise crawl through denormal numbers
    audible = excitation > 1e-10
    e = excitation.clamp_min(1e-10)
    mid = (gain * e + a) ** alpha - a**alpha
    low = (2 * e / (e + threshold)) ** 1.5 * mid
    high = (e.clamp_min(1e10) / 1.0707) ** 0.2
    out = torch.where(e >= 1e10, high, torch.where(e > threshold, mid, low))
    return C * torch.where(audible, out, torch.zeros((), dtype=out.dtype, device=out.device))


class SpecificLoudness(nn.Module):
    """ANSI S3.4-2007 specific loudness per band (:func:`specific_loudness`).

    ``E_thrq(f)``: the excitation threshold table (linear interpolation, constant
    ``threshold_db_above_500`` from 500 Hz), ``G = E_thrq(500) / E_thrq(f)``, ``alpha(G)`` by
    linear interpolation (clamped) and ``A(G)`` by pchip *with* extrapolation (MATLAB
    ``interp1`` behaviour; the lowest band lies just outside the table).

    Parameters
    ----------
    center_freqs_hz : array (Z,), Hz
    C : float
        Scale (sone/Cam): Moore et al. (2016) 0.0631, ANSI S3.4-2007 0.046871;
        ``nn.Parameter`` when ``learnable``.
    threshold_db_above_500 : float, dB
        Excitation at threshold from 500 Hz up (Moore et al. 2016: 3.63, ANSI: 3.73).
    learnable : bool
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(excitation)``: ``(..., Z)`` in (20 uPa)^2 -> ``(..., Z)`` sone/Cam.

    References
    ----------
    ANSI S3.4-2007; Moore, Glasberg & Baer (1997), J. Audio Eng. Soc. 45, 224-240.

    Examples
    --------
    >>> sl = SpecificLoudness([1000.0])
    >>> round(float(sl(torch.tensor([1e4], dtype=torch.float64))), 3)
    0.312
    """

    def __init__(
        self,
        center_freqs_hz,
        C: float = 0.0631,
        threshold_db_above_500: float = 3.63,
        learnable: bool = False,
        dtype=torch.float64,
    ):
        super().__init__()
        from scipy.interpolate import PchipInterpolator

        C = check_positive(C, "C")
        if C > 10:
            raise ValueError(f"C must lie in (0, 10] sone/Cam (ANSI: 0.046871), got {C:g}")
        threshold_db_above_500 = check_range(threshold_db_above_500, "threshold_db_above_500", -50.0, 100.0, "dB")
        t = ansi_tables()
        fc = np.asarray(center_freqs_hz, dtype=np.float64)
        tf, tq = t["threshold_excitation_freqs_hz"], t["threshold_excitation_db"].copy()
        tq[tf >= 500] = threshold_db_above_500
        thr_db = np.where(fc < 500, np.interp(fc, tf, tq), threshold_db_above_500)
        gain_db = threshold_db_above_500 - thr_db
        alpha = np.interp(gain_db, t["gain_to_alpha_gain_db"], t["gain_to_alpha"])
        a = PchipInterpolator(t["gain_to_a_gain_db"], t["gain_to_a"], extrapolate=True)(gain_db)
        as_t = lambda v: torch.as_tensor(v, dtype=dtype)  # noqa: E731
        self.register_buffer("threshold", as_t(10 ** (thr_db / 10)), persistent=False)
        self.register_buffer("gain", as_t(10 ** (gain_db / 10)), persistent=False)
        self.register_buffer("alpha", as_t(alpha), persistent=False)
        self.register_buffer("a", as_t(a), persistent=False)
        if learnable:
            self.C = nn.Parameter(as_t(C))
        else:
            self.register_buffer("C", as_t(C), persistent=False)

    def forward(self, excitation: torch.Tensor) -> torch.Tensor:
        return specific_loudness(excitation, self.C, self.threshold, self.gain, self.alpha, self.a)


class LoudnessLevelTable(nn.Module):
    """Loudness (sone) <-> loudness level (phon) of the ANSI S3.4-2007 stationary model.

    The loudness level is the level of the equally loud 1 kHz tone (free field). The table
    is computed as ANSI's Table 7 is: one component at 1 kHz (0 dB ear transfer there),
    ANSI constants (C = 0.046871, threshold 3.73 dB), ``binaural_factor`` x the monaural
    loudness (2: binaural/diotic, 1: one ear). It reproduces Table 7 (40 phon = 0.997 sone,
    60 phon = 4.166, 80 phon = 15.98). Conversions interpolate linearly in (phon, log sone)
    on a 0.05 phon grid from 0 to 140 phon; differentiable.

    Parameters
    ----------
    binaural_factor : float
        Loudness of the two ears re one (2: a diotic sound; 1: one ear).

    Returns
    -------
    LoudnessLevelTable
        ``sone_to_phon(sone)`` and ``phon_to_sone(phon)``: tensors of any shape -> the same
        shape in phon or sone.

    See Also
    --------
    loudness_level_table : the shared, cached instance.

    References
    ----------
    ANSI S3.4-2007, Table 7; Moore, Glasberg & Baer (1997), J. Audio Eng. Soc. 45, 224-240.

    Examples
    --------
    >>> table = LoudnessLevelTable()
    >>> round(float(table.phon_to_sone(torch.tensor(40.0))), 3)
    0.997
    """

    def __init__(self, binaural_factor: float = 2.0):
        super().__init__()
        levels = np.arange(0.0, 140.01, 0.05)
        one = RoexExcitation([1000.0])
        ansi = SpecificLoudness(one.center_freqs_hz.numpy(), C=0.046871, threshold_db_above_500=3.73)
        with torch.no_grad():
            exc = one(torch.as_tensor(10 ** (levels / 10))[:, None])
            sone = (binaural_factor * 0.25 * ansi(exc).sum(-1)).numpy()
        keep = np.concatenate([[True], np.diff(sone) > 0]) & (sone > 0)
        self.register_buffer("phon", torch.as_tensor(levels[keep]), persistent=False)
        self.register_buffer("log_sone", torch.as_tensor(np.log(sone[keep])), persistent=False)

    @staticmethod
    def _interp(x, xp, fp):
        i = torch.searchsorted(xp, x.detach().contiguous()).clamp(1, xp.numel() - 1)
        x0, x1, y0, y1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def sone_to_phon(self, sone: torch.Tensor) -> torch.Tensor:
        """Loudness (sone, any shape) -> loudness level (phon); below the table: its lowest phon."""
        sone = torch.as_tensor(sone)
        sone = sone if sone.is_floating_point() else sone.double()
        xp, fp = self.log_sone.to(sone), self.phon.to(sone)
        tiny = torch.exp(xp[0])
        log_s = torch.log(torch.where(sone > tiny, sone, tiny))
        return torch.where(sone > tiny, self._interp(log_s, xp, fp), fp[0])

    def phon_to_sone(self, phon: torch.Tensor) -> torch.Tensor:
        """Loudness level (phon, any shape, clamped to 0..140) -> loudness (sone)."""
        phon = torch.as_tensor(phon)
        phon = phon if phon.is_floating_point() else phon.double()
        xp, fp = self.phon.to(phon), self.log_sone.to(phon)
        return torch.exp(self._interp(phon.clamp(xp[0], xp[-1]), xp, fp))


@functools.lru_cache(maxsize=4)
def loudness_level_table(binaural_factor: float = 2.0) -> LoudnessLevelTable:
    """Shared (cached) :class:`LoudnessLevelTable`."""
    return LoudnessLevelTable(binaural_factor)
