"""ERB-rate scale utilities (Glasberg & Moore 1990) and AMT's erbspace/erbspacebw.

The ERB-number scale is the one AMT/LTFAT call ``'erb'`` (``freqtoerb``/``erbtofreq``):
``E(f) = 9.2645 * sign(f) * ln(1 + 0.00437 |f|)``. The filter bandwidth is AMT's
``audfiltbw``: ``24.7 + f / 9.265`` Hz.

Every function accepts Python floats, numpy arrays or torch tensors; numbers and numpy input
give float64 torch tensors, tensor input keeps its dtype/device (and autograd graph).
"""

from __future__ import annotations

import math

import numpy as np
import torch

_ERB_A = 9.2645   # ERB-number scale factor (AMT freqtoerb)
_ERB_B = 0.00437  # 1 / 228.8 Hz


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.double()
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def fc_to_erb_number(freq_hz):
    """Frequency in Hz -> ERB number (Cams)."""
    f = _as_tensor(freq_hz)
    return _ERB_A * torch.sign(f) * torch.log1p(f.abs() * _ERB_B)


def erb_number_to_fc(erb_number):
    """ERB number (Cams) -> frequency in Hz (inverse of :func:`fc_to_erb_number`)."""
    e = _as_tensor(erb_number)
    return torch.sign(e) * torch.expm1(e.abs() / _ERB_A) / _ERB_B


def erb_bandwidth_hz(freq_hz):
    """Equivalent rectangular bandwidth in Hz at ``freq_hz`` (AMT ``audfiltbw``)."""
    return 24.7 + _as_tensor(freq_hz) / 9.265


def erbspace(flow: float, fhigh: float, num: int) -> torch.Tensor:
    """``num`` frequencies (Hz) equally spaced on the ERB-number scale from flow to fhigh."""
    lo, hi = (float(v) for v in fc_to_erb_number([flow, fhigh]))
    return erb_number_to_fc(torch.linspace(lo, hi, int(num), dtype=torch.float64))


def erbspacebw(flow: float, fhigh: float, bw: float = 1.0, basef: float | None = None) -> torch.Tensor:
    """Frequencies (Hz) spaced ``bw`` ERB apart between flow and fhigh, as AMT's erbspacebw.

    With ``basef`` the grid is anchored so that ``basef`` is one of the points and the grid
    extends in whole steps down to >= flow and up to <= fhigh (AMT dau1997: flow 80, fhigh
    8000, basef 1000 -> 30 channels, 107.7 .. 7469.7 Hz). Without ``basef`` the grid is
    centred so that the unused remainder is split equally at both ends.
    """
    if not (bw > 0 and math.isfinite(bw)):
        raise ValueError(f"bw must be a positive number of ERBs, got {bw}")
    if not 0 <= flow < fhigh:
        raise ValueError(f"need 0 <= flow < fhigh, got flow={flow}, fhigh={fhigh}")
    if basef is None:
        lo, hi = (float(v) for v in fc_to_erb_number([flow, fhigh]))
        n = math.floor((hi - lo) / bw)
        remainder = (hi - lo) - n * bw
        points = lo + np.arange(n + 1) * bw + remainder / 2
    else:
        if not flow <= basef <= fhigh:
            raise ValueError(f"basef must lie in [flow, fhigh] = [{flow}, {fhigh}], got {basef}")
        lo, hi, base = (float(v) for v in fc_to_erb_number([flow, fhigh, basef]))
        n_low = math.floor((base - lo) / bw)
        n_high = math.floor((hi - base) / bw)
        points = np.arange(-n_low, n_high + 1) * bw + base
    return erb_number_to_fc(points)
