"""Units and frequency scales, each defined once: the 20 uPa reference, dB SPL, pascals and
AMT full scale, the ERB-number and Cam scales, and the one conversion that feeds any model.

Calibration: a model takes pascals (``model.input_unit == 'pa'``) or AMT full scale
(``'amt'``): an rms of 1 is ``model.dboffset`` dB SPL (AMT's convention, 100 dB SPL: 1 Pa rms
is 93.98 dB SPL, so ``x_amt = x_pa / 2.0`` up to the reference).

Two ERB-rate scales are in use and differ in the fourth digit, so both are here, by name:

* the ERB number of AMT/LTFAT (``freqtoerb``, Glasberg & Moore 1990 as AMT writes it):
  ``E(f) = 9.2645 sign(f) ln(1 + 0.00437 |f|)``, bandwidth ``24.7 + f / 9.265`` Hz
  (``audfiltbw``); the AMT models' channel grids use it;
* the Cam scale of the loudness papers (Glasberg & Moore 2002; Moore et al. 2016):
  ``Cam(f) = 21.366 log10(4.368e-3 f + 1)``, bandwidth ``24.673 (4.368e-3 f + 1)`` Hz.

Scale functions take numbers, numpy arrays or tensors and return the same kind (float64
numpy for numbers and arrays; tensors keep dtype, device and autograd graph).

>>> float(pa_to_db(db_to_pa(60.0)))
60.0
>>> round(float(hz_to_cam(1000.0)), 3)
15.593
"""

from __future__ import annotations

import numpy as np
import torch

from workbench._messages import show
from workbench._validation import check_numbers

P_REF_PA = 20e-6
"""Reference sound pressure (Pa) of 0 dB SPL."""

AMT_DBOFFSET = 100.0
"""AMT's default calibration: an rms of 1 is 100 dB SPL."""

ATMOSPHERE_PEAK_DB_SPL = 194.09
"""Peak level (dB SPL) of a pressure swing of one standard atmosphere (101325 Pa): the
largest undistorted sound in air, the default top of a model's input range."""


def db_to_pa(level_db_spl) -> torch.Tensor:
    """RMS sound pressure (Pa, float64) of a level in dB SPL: ``20e-6 * 10**(L/20)``."""
    out = P_REF_PA * 10.0 ** (check_numbers(level_db_spl, "level_db_spl") / 20.0)
    if out.device.type == "cpu" and bool(torch.isinf(out).any()):
        raise ValueError(
            f"level_db_spl must be below about 6400 dB (the pressure overflows float64), got {show(level_db_spl)}"
        )
    return out


def pa_to_db(pressure_pa) -> torch.Tensor:
    """Level in dB SPL (float64) of an rms pressure in Pa (``-inf`` for 0, the sign is ignored)."""
    return 20.0 * torch.log10(check_numbers(pressure_pa, "pressure_pa").abs() / P_REF_PA)


def db_to_amt(level_db_spl, dboffset: float = AMT_DBOFFSET) -> torch.Tensor:
    """RMS in AMT full scale (float64) of a level in dB SPL: ``10**((L - dboffset)/20)``."""
    return 10.0 ** ((torch.as_tensor(level_db_spl, dtype=torch.float64) - dboffset) / 20.0)


def pa_per_amt_unit(dboffset: float = AMT_DBOFFSET) -> float:
    """Pascals of one AMT full-scale unit: the rms pressure of ``dboffset`` dB SPL."""
    return P_REF_PA * 10.0 ** (float(dboffset) / 20.0)


def to_model_input(x_pa, model, ears: str | None = "diotic") -> torch.Tensor:
    """Sound pressure in Pa -> what ``model`` takes (the one conversion every consumer uses).

    Parameters
    ----------
    x_pa : Tensor, ``(..., T)`` Pa
        Mono sound pressure (or ``(..., 2, T)`` left/right with ``ears=None``).
    model : AuditoryModel
        Read for ``input_unit`` ('pa' or 'amt' at ``dboffset``) and ``input_axes``.
    ears : {'diotic', 'left', 'right'} or None
        For a binaural model (``'E'`` in ``input_axes``) how a mono signal is presented;
        None: ``x_pa`` already holds both ears. Ignored for monaural models.

    Returns
    -------
    Tensor
        ``(..., T)``, or ``(..., 2, T)`` for a binaural model, in the model's input unit.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> amt_model = SimpleNamespace(input_unit="amt", dboffset=100.0, input_axes="BT")
    >>> to_model_input(torch.ones(3), amt_model)
    tensor([0.5000, 0.5000, 0.5000])
    """
    x = torch.as_tensor(x_pa)
    if model.input_unit == "amt":
        x = x / pa_per_amt_unit(model.dboffset)
    return present_to_ears(x, ears) if "E" in model.input_axes and ears is not None else x


def present_to_ears(x, ears: str = "diotic") -> torch.Tensor:
    """Mono ``(..., T)`` -> ``(..., 2, T)`` [left, right]: 'diotic' (both ears), 'left' or
    'right' (the other ear silent)."""
    x = torch.as_tensor(x)
    if ears not in ("diotic", "left", "right"):
        raise ValueError(f"ears must be 'diotic', 'left' or 'right', got {ears!r}")
    silent = torch.zeros_like(x)
    return torch.stack({"diotic": [x, x], "left": [x, silent], "right": [silent, x]}[ears], dim=-2)


def _kind(x):
    """(array module, x as float array) so one formula serves numpy and torch."""
    if isinstance(x, torch.Tensor):
        return torch, x if x.is_floating_point() else x.double()
    return np, np.asarray(x, dtype=np.float64)


def hz_to_erb_number(freq_hz):
    """Frequency (Hz) -> ERB number on AMT's scale (``freqtoerb``)."""
    xp, f = _kind(freq_hz)
    return 9.2645 * xp.sign(f) * xp.log1p(xp.abs(f) * 0.00437)


def erb_number_to_hz(erb_number):
    """ERB number (AMT's scale) -> frequency in Hz; inverse of :func:`hz_to_erb_number`."""
    xp, e = _kind(erb_number)
    return xp.sign(e) * xp.expm1(xp.abs(e) / 9.2645) / 0.00437


def erb_bandwidth_hz(freq_hz):
    """Equivalent rectangular bandwidth (Hz) at ``freq_hz`` on AMT's scale (``audfiltbw``)."""
    return 24.7 + _kind(freq_hz)[1] / 9.265


def hz_to_cam(freq_hz):
    """Frequency (Hz) -> ERB rate in Cam, the loudness papers' scale."""
    xp, f = _kind(freq_hz)
    return 21.366 * xp.log10(4.368e-3 * f + 1.0)


def cam_to_hz(cam):
    """ERB rate (Cam) -> frequency in Hz; inverse of :func:`hz_to_cam`."""
    _, c = _kind(cam)
    return (10.0 ** (c / 21.366) - 1.0) / 4.368e-3


def cam_bandwidth_hz(freq_hz):
    """ERB (Hz) at ``freq_hz`` on the loudness papers' scale: ``24.673 (4.368e-3 f + 1)``."""
    return 24.673 * (4.368e-3 * _kind(freq_hz)[1] + 1.0)
