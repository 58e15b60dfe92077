"""Channel grids on the ERB-number scale: AMT's ``erbspace`` and ``erbspacebw``.

The scale itself (AMT ``freqtoerb``/``erbtofreq``, bandwidth ``audfiltbw``) is in
:mod:`workbench.units`. Both functions return float64 tensors of centre frequencies in Hz.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.units import erb_number_to_hz, hz_to_erb_number


def _erb(freqs_hz) -> torch.Tensor:
    return hz_to_erb_number(torch.as_tensor(np.asarray(freqs_hz, dtype=np.float64)))


MAX_CHANNELS = 1000
"""Most auditory channels a grid may have (AMT's models use 30 to 50)."""


def erbspace(flow: float, fhigh: float, num: int) -> torch.Tensor:
    """``num`` frequencies equally spaced on the ERB-number scale from ``flow`` to ``fhigh``.

    Parameters
    ----------
    flow, fhigh : float, Hz
        First and last frequency (both included).
    num : int
        Number of frequencies.

    Returns
    -------
    Tensor
        ``(num,)`` float64 frequencies in Hz, equally spaced in ERB number.

    References
    ----------
    Glasberg & Moore (1990), Hear. Res. 47, 103-138 (the ERB-number scale); AMT ``erbspace``.

    Examples
    --------
    >>> erbspace(100, 8000, 3)
    tensor([ 100.0000, 1416.1325, 8000.0000], dtype=torch.float64)
    """
    lo, hi = (float(v) for v in _erb([flow, fhigh]))
    return erb_number_to_hz(torch.linspace(lo, hi, int(num), dtype=torch.float64))


def erbspacebw(
    flow: float, fhigh: float, bw: float = 1.0, basef: float | None = None, bw_name: str = "bw"
) -> torch.Tensor:
    """Frequencies spaced ``bw`` ERB apart between ``flow`` and ``fhigh``, as AMT's ``erbspacebw``.

    With ``basef`` the grid is anchored so that ``basef`` is one of the points and the grid
    extends in whole steps down to >= flow and up to <= fhigh (AMT dau1997: flow 80, fhigh
    8000, basef 1000 -> 30 channels, 107.7 .. 7469.7 Hz). Without ``basef`` the grid is
    centred so that the unused remainder is split equally at both ends.

    Parameters
    ----------
    flow, fhigh : float, Hz
        Range, ``0 <= flow < fhigh``.
    bw : float, ERB
        Spacing (> 0); at most :data:`MAX_CHANNELS` points.
    basef : float, Hz, optional
        A frequency the grid must contain, in ``[flow, fhigh]``.
    bw_name : str
        Name of ``bw`` in error messages (the caller's keyword).

    Returns
    -------
    Tensor
        ``(C,)`` float64 centre frequencies, Hz, increasing.

    References
    ----------
    Glasberg & Moore (1990), Hear. Res. 47, 103-138 (the ERB-number scale); AMT
    ``erbspacebw``; Dau, Kollmeier & Kohlrausch (1997), J. Acoust. Soc. Am. 102, 2892-2905.

    Examples
    --------
    >>> fc = erbspacebw(80, 8000, 1.0, 1000.0)
    >>> fc.numel(), round(float(fc[0]), 1), round(float(fc[-1]), 1)
    (30, 107.7, 7469.7)
    """
    if not (bw > 0 and math.isfinite(bw)):
        raise ValueError(f"{bw_name} must be a positive number of ERBs, got {bw}")
    if not 0 <= flow < fhigh:
        raise ValueError(f"need 0 <= flow < fhigh, got flow={flow}, fhigh={fhigh}")
    n_max = (float(_erb([fhigh])[0]) - float(_erb([flow])[0])) / bw + 1
    if n_max > MAX_CHANNELS:
        raise ValueError(
            f"{bw_name} = {bw:g} ERB from {flow:g} to {fhigh:g} Hz gives {n_max:.0f} channels, more "
            f"than {MAX_CHANNELS}: use a larger spacing"
        )
    if basef is None:
        lo, hi = (float(v) for v in _erb([flow, fhigh]))
        n = math.floor((hi - lo) / bw)
        remainder = (hi - lo) - n * bw
        points = lo + np.arange(n + 1) * bw + remainder / 2
    else:
        if not flow <= basef <= fhigh:
            raise ValueError(f"basef must lie in [flow, fhigh] = [{flow}, {fhigh}], got {basef}")
        lo, hi, base = (float(v) for v in _erb([flow, fhigh, basef]))
        n_low = math.floor((base - lo) / bw)
        n_high = math.floor((hi - base) / bw)
        points = np.arange(-n_low, n_high + 1) * bw + base
    return erb_number_to_hz(torch.as_tensor(points))
