"""Instantaneous compressions (broken stick, power law), as AMT 1.4 ``king2019``.

The knee is a level in dB re the calibration: with ``dboffset`` dB SPL at amplitude 1, the
knee amplitude is ``10^((knee_db - dboffset)/20)`` (30 dB SPL at dboffset 100 -> 10^-3.5).
Both keep the sign of the input (they act on the gammatone output's fine structure).

References
----------
King, Varnet & Lorenzi (2019), J. Acoust. Soc. Am. 145, 2277-2293; AMT 1.4 ``king2019``.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench._validation import check_choice, check_range, check_real_array


def knee_amplitude(knee_db: float, dboffset: float) -> float:
    """Amplitude of a knee level at a calibration.

    Parameters
    ----------
    knee_db : float, dB SPL
        Knee level.
    dboffset : float, dB SPL
        Calibration: an rms of 1 is ``dboffset`` dB SPL.

    Returns
    -------
    float
        ``10^((knee_db - dboffset) / 20)``, in the signal's full-scale units.

    References
    ----------
    King et al. (2019), the knee in dB SPL; AMT 1.4 ``king2019``.

    Examples
    --------
    >>> round(knee_amplitude(30.0, 100.0), 8)  # 10^-3.5
    0.00031623
    """
    return 10.0 ** ((knee_db - dboffset) / 20.0)


def broken_stick(x: torch.Tensor, n, knee: float) -> torch.Tensor:
    """Broken-stick compression of King et al. (2019), sign kept.

    Linear up to ``|x| = knee``, then ``sign(x) knee (|x| / knee)^n``; continuous at the knee.

    Parameters
    ----------
    x : Tensor, full-scale units
        Gammatone output ``(..., T)``, usually ``(B, C, T)``.
    n : float or Tensor
        Exponent in (0, 1]; a tensor broadcasts against ``x``, e.g. ``(C, 1)`` for one
        exponent per channel (as AMT allows).
    knee : float, full-scale units
        Knee amplitude (:func:`knee_amplitude`).

    Returns
    -------
    Tensor
        Compressed signal, shape and units of ``x``. Gradients stay finite on both branches.

    See Also
    --------
    Compression : the Module ('brokenstick').
    power_law : the same power law without the linear part.
    workbench.stages.drnl.broken_stick : the DRNL's ``min(a|x|, b|x|^c)``, a different law.

    References
    ----------
    King et al. (2019); AMT 1.4 ``king2019`` ('brokenstick').

    Examples
    --------
    >>> broken_stick(torch.tensor([1e-4, 1.0]), 0.5, 1e-2)  # below the knee: unchanged
    tensor([1.0000e-04, 1.0000e-01])
    """
    mag = x.abs()
    # Clamp before the power so the unused branch never sees |x| < knee (no inf/NaN grads).
    compressed = knee * (mag.clamp_min(knee) / knee) ** n
    return torch.where(mag > knee, torch.sign(x) * compressed, x)


def power_law(x: torch.Tensor, n, knee: float) -> torch.Tensor:
    """Power-law compression ``sign(x) knee (|x| / knee)^n`` on the whole range.

    Below the knee it expands (AMT warns of this), unlike :func:`broken_stick`.

    Parameters
    ----------
    x : Tensor, full-scale units
        Gammatone output ``(..., T)``, usually ``(B, C, T)``.
    n : float or Tensor
        Exponent in (0, 1]; a tensor broadcasts against ``x`` (``(C, 1)``: one per channel).
    knee : float, full-scale units
        Amplitude where input and output are equal (:func:`knee_amplitude`).

    Returns
    -------
    Tensor
        Compressed signal, shape and units of ``x``.

    See Also
    --------
    Compression : the Module ('power').

    References
    ----------
    King et al. (2019); AMT 1.4 ``king2019`` ('power').

    Examples
    --------
    >>> power_law(torch.tensor([1e-4, -1.0]), 0.5, 1e-2)  # 1e-4 is raised to 1e-3
    tensor([ 0.0010, -0.1000])
    """
    tiny = torch.finfo(x.dtype).tiny
    return torch.sign(x) * knee * (x.abs().clamp_min(tiny) / knee) ** n


class Compression(nn.Module):
    """Broken-stick or power-law compression (:func:`broken_stick`, :func:`power_law`).

    Parameters
    ----------
    compression_type : {'brokenstick', 'power'}
    n : float or (C,) sequence
        Exponent (> 0), one per channel allowed; ``nn.Parameter`` when ``learnable``.
    knee_db : float, dB SPL
        Knee level.
    dboffset : float, dB SPL
        Calibration: an rms of 1 is ``dboffset`` dB SPL.
    learnable : bool
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``forward(x)``: ``(B, C, T)`` -> ``(B, C, T)``, same units, sign kept.

    References
    ----------
    King et al. (2019); AMT 1.4 ``king2019`` (``compression_type``).

    Examples
    --------
    >>> Compression(knee_db=40.0)(torch.tensor([1e-4, -1.0]))  # knee at 1e-3: only -1 is compressed
    tensor([ 1.0000e-04, -7.9433e-03])
    """

    about = "Cochlear compression: linear below the knee, a power law above it."

    def __init__(
        self,
        compression_type: str = "brokenstick",
        n=0.3,
        knee_db: float = 30.0,
        dboffset: float = 100.0,
        learnable: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.compression_type = check_choice(compression_type, ("brokenstick", "power"), "compression_type")
        n_t = check_real_array(n, "compression_n", "exponents").to(dtype)
        if n_t.numel() == 0 or bool(((n_t <= 0) | (n_t > 1)).any()):
            raise ValueError(
                "compression_n must lie in (0, 1] (a compressive exponent; a number or one per "
                f"channel), got {n_t.tolist() if n_t.numel() <= 8 else f'{n_t.numel()} values'}"
            )
        if n_t.dim() == 1:
            n_t = n_t[:, None]
        knee_db = check_range(knee_db, "compression_knee_db", -100.0, 200.0, "dB SPL")
        check_range(dboffset, "dboffset (dB SPL of an rms of 1)", 0.0, 200.0, open_low=True)
        if learnable:
            self.n = nn.Parameter(n_t)
        else:
            self.register_buffer("n", n_t)
        self.knee = knee_amplitude(knee_db, dboffset)
        self.knee_db, self.dboffset = float(knee_db), float(dboffset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fn = broken_stick if self.compression_type == "brokenstick" else power_law
        return fn(x, self.n.to(x.dtype), self.knee)

    def extra_repr(self) -> str:
        return f"type={self.compression_type}, knee_db={self.knee_db:g}, dboffset={self.dboffset:g}"
